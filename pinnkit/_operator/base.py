"""Linear differential operators: what to differentiate, not how."""

import abc
from collections.abc import Iterator

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Point, ScalarField


class AbstractOperator(eqx.Module):
    r"""A linear differential operator $L$, applied to a scalar field $u$ at a point $x$.

    An operator only *describes* the contraction $L u(x) = \sum_k \langle C_k, D^k u(x)\rangle$;
    an [`pinnkit.AbstractEstimator`][] decides how to compute (or estimate) it. Every operator
    also knows its reference value by nested automatic differentiation, [`exact`][], which the
    tests use to check every estimator.

    Operators compose linearly: `2.0 * Laplacian() + Partial((0,))` is an operator too.
    """

    @property
    @abc.abstractmethod
    def order(self) -> int:
        """The highest derivative order the operator involves."""

    @abc.abstractmethod
    def exact(self, fn: ScalarField, x: Point) -> Array:
        """The operator applied to `fn` at `x` by nested automatic differentiation.

        **Arguments:**

        - `fn`: the scalar field $u: \\mathbb{R}^d \\to \\mathbb{R}$, acting on one point.
        - `x`: the point, shape `(dim,)`.

        **Returns:** $L u(x)$: a scalar, or shape `(dim,)` for [`pinnkit.Gradient`][].
        """

    def __add__(self, other: "AbstractOperator") -> "AbstractOperator":
        if not isinstance(other, AbstractOperator):
            return NotImplemented
        return Sum((self, other))

    def __mul__(self, scale: int | float) -> "AbstractOperator":
        if not isinstance(scale, int | float):
            return NotImplemented
        return Scaled(self, float(scale))

    __rmul__ = __mul__

    def __neg__(self) -> "AbstractOperator":
        return Scaled(self, -1.0)

    def __sub__(self, other: "AbstractOperator") -> "AbstractOperator":
        if not isinstance(other, AbstractOperator):
            return NotImplemented
        return Sum((self, Scaled(other, -1.0)))


def check_point(x: Array, dim: int | None = None) -> None:
    """Raise a clear error when `x` is not a single point (of dimension `dim`)."""
    if x.ndim != 1:
        raise ValueError(
            f"operators act on one point of shape (dim,), got shape {x.shape}; "
            "vmap over a batch of points instead"
        )
    if dim is not None and x.shape[0] != dim:
        raise ValueError(
            f"this operator is defined in dimension {dim}, got a point of shape {x.shape}"
        )


class Value(AbstractOperator):
    """The identity operator: $u(x)$ itself (order 0)."""

    @property
    def order(self) -> int:
        return 0

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        return fn(x)


class Gradient(AbstractOperator):
    r"""The gradient $\nabla u(x)$, a vector of shape `(dim,)` (order 1)."""

    @property
    def order(self) -> int:
        return 1

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, " dim"]:
        check_point(x)
        return jax.grad(fn)(x)


class Laplacian(AbstractOperator):
    r"""The Laplacian $\Delta u = \sum_i \partial_i^2 u$ (order 2)."""

    @property
    def order(self) -> int:
        return 2

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        return jnp.trace(jax.hessian(fn)(x))


class Diffusion(AbstractOperator):
    r"""A general second-order operator $\operatorname{tr}(C D^2 u)$.

    In coordinates, $\sum_{ij} C_{ij}\, \partial_i \partial_j u$.

    **Arguments:**

    - `matrix`: the coefficient matrix $C$, shape `(dim, dim)`. Only its symmetric part
      matters. For the diffusion of an SDE $dX = \sigma\, dW$ pass $C = \sigma\sigma^\top / 2$.
    """

    matrix: Float[Array, "dim dim"]

    def __init__(self, matrix: Float[Array, "dim dim"]):
        matrix = jnp.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(
                f"Diffusion needs a square (dim, dim) matrix, got shape {matrix.shape}"
            )
        self.matrix = matrix

    @property
    def order(self) -> int:
        return 2

    @property
    def dim(self) -> int:
        return self.matrix.shape[0]

    def symmetric(self) -> Float[Array, "dim dim"]:
        """The symmetric part $(C + C^\\top)/2$ of the coefficient matrix."""
        return 0.5 * (self.matrix + self.matrix.T)

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x, self.dim)
        return jnp.sum(self.matrix * jax.hessian(fn)(x))


class Partial(AbstractOperator):
    r"""A partial derivative $\partial_{i_1}\partial_{i_2}\cdots\partial_{i_k} u$.

    **Arguments:**

    - `indices`: the coordinates to differentiate along, one entry per derivative, so
      `Partial((0, 0, 1))` is $\partial_0^2 \partial_1 u$ and `Partial((2,))` is $\partial_2 u$.
    """

    indices: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, indices: tuple[int, ...] | list[int]):
        indices = tuple(int(i) for i in indices)
        if len(indices) == 0:
            raise ValueError("Partial needs at least one index; use Value() for u itself")
        if min(indices) < 0:
            raise ValueError(f"Partial indices must be non-negative coordinates, got {indices}")
        self.indices = tuple(sorted(indices))

    @property
    def order(self) -> int:
        return len(self.indices)

    def check_dimension(self, dim: int) -> None:
        """Raise a clear error when a coordinate index is out of range for `dim`."""
        if max(self.indices) >= dim:
            raise ValueError(f"Partial{self.indices} needs dim > {max(self.indices)}, got {dim}")

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        self.check_dimension(x.shape[0])
        g = fn
        for i in self.indices:
            g = _derivative_along(g, jnp.zeros_like(x).at[i].set(1.0))
        return g(x)


def _derivative_along(g: ScalarField, direction: Array) -> ScalarField:
    def dg(x: Point) -> Array:
        return jax.jvp(g, (x,), (direction,))[1]

    return dg


class Scaled(AbstractOperator):
    """A constant multiple `scale * operator` of an operator."""

    operator: AbstractOperator
    scale: float = eqx.field(static=True)

    @property
    def order(self) -> int:
        return self.operator.order

    def exact(self, fn: ScalarField, x: Point) -> Array:
        return self.scale * self.operator.exact(fn, x)


class Sum(AbstractOperator):
    """The sum of several operators (all scalar-valued, or all vector-valued)."""

    terms: tuple[AbstractOperator, ...]

    def __init__(self, terms: tuple[AbstractOperator, ...]):
        flat: list[AbstractOperator] = []
        for t in terms:
            flat.extend(t.terms if isinstance(t, Sum) else (t,))
        if not flat:
            raise ValueError("Sum needs at least one operator")
        self.terms = tuple(flat)

    @property
    def order(self) -> int:
        return max(t.order for t in self.terms)

    def exact(self, fn: ScalarField, x: Point) -> Array:
        return sum((t.exact(fn, x) for t in self.terms[1:]), start=self.terms[0].exact(fn, x))


def linear_terms(op: AbstractOperator) -> Iterator[tuple[float, AbstractOperator]]:
    """Expand sums and scalings: yield `(coefficient, atom)` with `op = sum coef * atom`."""
    if isinstance(op, Sum):
        for t in op.terms:
            yield from linear_terms(t)
    elif isinstance(op, Scaled):
        for c, atom in linear_terms(op.operator):
            yield op.scale * c, atom
    else:
        yield 1.0, op


class Biharmonic(AbstractOperator):
    r"""The biharmonic $\Delta^2 u = \sum_{i,j} \partial_i^2 \partial_j^2 u$ (order 4)."""

    @property
    def order(self) -> int:
        return 4

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        laplacian = Laplacian()
        return laplacian.exact(lambda y: laplacian.exact(fn, y), x)


class Diagonal(AbstractOperator):
    r"""The sum of pure $k$-th derivatives $\sum_i \partial_i^k u$ (order $k$).

    `Diagonal(2)` is the Laplacian; higher orders appear in high-order PDEs and are what
    sparse STDE estimates with one $k$-jet per sampled coordinate.

    **Arguments:**

    - `order`: $k \ge 1$.
    """

    k: int = eqx.field(static=True)

    def __init__(self, order: int):
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"Diagonal needs an integer order >= 1, got {order!r}")
        self.k = order

    @property
    def order(self) -> int:
        return self.k

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)

        def pure(direction: Array) -> Array:
            g = fn
            for _ in range(self.k):
                g = _derivative_along(g, direction)
            return g(x)

        # A reference for tests: builds the (dim, dim) identity.
        return jnp.sum(jax.vmap(pure)(jnp.eye(x.shape[0], dtype=x.dtype)))


# ---------------------------------------------------------------------------------------------
# Space-time operators. A network of u(t, x) takes one input vector z = (x, t): the space
# coordinates first, time LAST, so z has dimension d + 1 and t = z[-1].


class TimeDerivative(AbstractOperator):
    r"""The time derivative $\partial u / \partial t$ of a space-time field (order 1).

    Space-time networks in pinnkit take one input $z = (x, t) \in \mathbb{R}^{d + 1}$ with
    **time last**, so this is the partial derivative along the last coordinate of $z$:
    one forward-mode derivative, $O(1)$ passes in any $d$.
    """

    @property
    def order(self) -> int:
        return 1

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        last = jnp.zeros_like(x).at[-1].set(1.0)
        return jax.jvp(fn, (x,), (last,))[1]


class SpatialLaplacian(AbstractOperator):
    r"""The Laplacian over the first `dims` coordinates only: $\sum_{i < \text{dims}}
    \partial_i^2 u$ (order 2).

    For a space-time field $u(z)$, $z = (x, t)$ with time last, `SpatialLaplacian(d)` is
    $\Delta_x u$: the time coordinate is left out. Every estimator evaluates it the way it
    evaluates [`pinnkit.Laplacian`][], in the first `dims` coordinates: sparse STDE and SDGD
    sample coordinates among the first `dims` only (scale `dims / |J|`), dense STDE and HTE
    draw random vectors whose remaining entries are zero, so no $d \times d$ matrix is built.

    **Arguments:**

    - `dims`: how many leading coordinates form space ($\ge 1$).
    """

    dims: int = eqx.field(static=True)

    def __init__(self, dims: int):
        if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
            raise ValueError(f"SpatialLaplacian needs an integer dims >= 1, got {dims!r}")
        self.dims = dims

    @property
    def order(self) -> int:
        return 2

    def check_dimension(self, dim: int) -> None:
        """Raise a clear error when the point has fewer than `dims` coordinates."""
        if self.dims > dim:
            raise ValueError(
                f"SpatialLaplacian({self.dims}) needs points with at least {self.dims} "
                f"coordinates, got {dim}"
            )

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        check_point(x)
        self.check_dimension(x.shape[0])
        k = self.dims

        def space(y: Array) -> Array:
            return fn(jnp.concatenate([y, x[k:]]))

        return jnp.trace(jax.hessian(space)(x[:k]))
