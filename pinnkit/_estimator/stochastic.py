"""Stochastic estimators: SDGD, Hutchinson (HTE), and STDE (sparse and dense).

Each returns an unbiased estimate of the operators it supports, with cost independent of
$d^2$. See docs/math.md, "Estimators" for the formulas; every one is tested against nested
autodiff.
"""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.base import (
    AbstractOperator,
    Biharmonic,
    Diagonal,
    Diffusion,
    Gradient,
    Laplacian,
    Partial,
    SpatialLaplacian,
    TimeDerivative,
    Value,
)
from .._operator.state import Drift, StateDiffusion
from .._taylor.base import coordinate_jets, coordinate_line, directional_jets
from .._taylor.multilinear import mixed_partial
from .._types import Key, Point, ScalarField
from .base import AbstractStochasticEstimator
from .sampling import (
    Distribution,
    padded_directions,
    sample_coordinates,
    sample_directions,
    signed_factors,
)
from .state import TRACE_OPERATORS, state_tangents, weighted_curvatures


def _check_samples(num_samples: int) -> None:
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")


def _hvp_quadratic(fn: ScalarField, x: Point, v: Array) -> Array:
    """$v^\\top D^2 u\\, v$ by a forward-over-reverse Hessian-vector product."""
    return jnp.dot(v, jax.jvp(jax.grad(fn), (x,), (v,))[1])


class SDGD(AbstractStochasticEstimator):
    r"""Stochastic dimension gradient descent: sampled coordinates, backward-mode derivatives.

    The Laplacian is estimated by $\frac{d}{|J|} \sum_{j \in J} \partial_j^2 u$ over $|J|$
    coordinates drawn without replacement; each $\partial_j^2 u$ is the second derivative of
    $t \mapsto u(x + t e_j)$ by reverse-over-reverse autodiff. Also covers
    [`pinnkit.Diagonal`][] (pure $k$-th derivatives), pure partials, and
    [`pinnkit.Diffusion`][] (sampled Hessian columns $H e_j$, weighted by $C_{j,:}$),
    [`pinnkit.StateDiffusion`][] with a scalar or diagonal $\sigma(x)$
    ($\frac{d}{|J|}\sum_{j \in J} \sigma_j(x)^2 \partial_j^2 u$) and [`pinnkit.Drift`][]
    (exactly, one JVP).

    **Arguments:**

    - `num_samples`: $|J|$, coordinates per estimate (default 16).

    **Reference:** Hu, Shukla, Karniadakis, Kawaguchi, "Tackling the curse of dimensionality
    with physics-informed neural networks", Neural Networks (2024).
    """

    num_samples: int = eqx.field(default=16, static=True)

    def __check_init__(self):
        _check_samples(self.num_samples)

    def supports(self, operator: AbstractOperator) -> bool:
        if isinstance(operator, Partial):
            return len(set(operator.indices)) == 1
        if isinstance(operator, StateDiffusion):
            return operator.kind != "dense"
        return isinstance(
            operator,
            Value
            | Gradient
            | Laplacian
            | Diagonal
            | Diffusion
            | SpatialLaplacian
            | TimeDerivative
            | Drift,
        )

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        dim = x.shape[0]
        index = sample_coordinates(key, dim, self.num_samples)
        scale = dim / self.num_samples

        def pure(j: Array, order: int) -> Array:
            g = coordinate_line(fn, x, j)
            for _ in range(order):
                g = jax.grad(g)
            return g(jnp.zeros((), x.dtype))

        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian | Diagonal):
                order = 2 if isinstance(atom, Laplacian) else atom.order
                values.append(scale * jnp.sum(jax.vmap(lambda j, k=order: pure(j, k))(index)))
            elif isinstance(atom, SpatialLaplacian):  # coordinates among the first `dims`
                atom.check_dimension(dim)
                space = sample_coordinates(key, atom.dims, self.num_samples)
                curvatures = jax.vmap(lambda j: pure(j, 2))(space)
                values.append(atom.dims / self.num_samples * jnp.sum(curvatures))
            elif isinstance(atom, Diffusion):

                def column_term(j: Array, matrix: Array = atom.matrix) -> Array:
                    e = jax.nn.one_hot(j, dim, dtype=x.dtype)
                    return jnp.dot(matrix[j], jax.jvp(jax.grad(fn), (x,), (e,))[1])

                values.append(scale * jnp.sum(jax.vmap(column_term)(index)))
            elif isinstance(atom, StateDiffusion):  # sigma_j(x)^2 d_jj u, sampled j
                weights = atom.coordinate_weights(atom.factor(x), index)
                curvatures = jax.vmap(lambda j: pure(j, 2))(index)
                values.append(scale * jnp.dot(weights, curvatures))
            elif isinstance(atom, Partial):
                values.append(pure(jnp.asarray(atom.indices[0]), atom.order))
            else:
                values.append(atom.exact(fn, x))
        return fn(x), tuple(values)


class HTE(AbstractStochasticEstimator):
    r"""Hutchinson's trace estimator: $\operatorname{tr}(C D^2 u) \approx \frac1V \sum_v
    v^\top A^\top D^2 u\, A v$ with $E[v v^\top] = I$ and $A A^\top = C$.

    The same with the point's own factor estimates [`pinnkit.StateDiffusion`][]:
    tangents $\sigma(x) v$ for a scalar, diagonal or dense $\sigma(x)$.
    [`pinnkit.Drift`][] is exact (one JVP).

    **Arguments:**

    - `num_samples`: $V$, random vectors per estimate (default 16).
    - `distribution`: `"rademacher"` (default; the lowest variance for a trace) or
      `"gaussian"`.
    - `method`: `"jet"` (default; a 2-jet $(v, 0)$ gives $v^\top D^2 u\, v$ in one forward
      pass) or `"hvp"` (forward-over-reverse Hessian-vector products, which also take
      functions built on primitives that Taylor mode has no rule for, such as `jnp.sort`
      or `jnp.linalg.solve`).

    **Reference:** Hutchinson, "A stochastic estimator of the trace of the influence matrix
    for Laplacian smoothing splines" (1990); Hu, Shi, Karniadakis, Kawaguchi, "Hutchinson
    trace estimation for high-dimensional and high-order physics-informed neural
    networks", CMAME (2024).
    """

    num_samples: int = eqx.field(default=16, static=True)
    distribution: Distribution = eqx.field(default="rademacher", static=True)
    method: Literal["jet", "hvp"] = eqx.field(default="jet", static=True)

    def __check_init__(self):
        _check_samples(self.num_samples)
        if self.distribution not in ("rademacher", "gaussian"):
            raise ValueError(
                f"distribution must be 'rademacher' or 'gaussian', got {self.distribution!r}"
            )
        if self.method not in ("jet", "hvp"):
            raise ValueError(f"method must be 'jet' or 'hvp', got {self.method!r}")

    def supports(self, operator: AbstractOperator) -> bool:
        return isinstance(operator, TRACE_OPERATORS)

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        directions = sample_directions(
            key, self.num_samples, x.shape[0], self.distribution, x.dtype
        )

        def mean_quadratic(vectors: Array) -> tuple[Array, Array]:
            """u(x) and the mean of v^T D^2 u v over the rows of `vectors`."""
            if self.method == "hvp":
                return fn(x), jnp.mean(jax.vmap(lambda v: _hvp_quadratic(fn, x, v))(vectors))
            primal, (_, total) = directional_jets(fn, x, vectors, 2, collapse=True)
            return primal, total / vectors.shape[0]

        primal = None
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian):
                primal, value = mean_quadratic(directions)
                values.append(value)
            elif isinstance(atom, SpatialLaplacian):
                atom.check_dimension(x.shape[0])
                primal, value = mean_quadratic(
                    padded_directions(key, self.num_samples, atom.dims, x, self.distribution)
                )
                values.append(value)
            elif isinstance(atom, Diffusion):
                positive, negative = signed_factors(atom.matrix)
                primal, plus = mean_quadratic(directions @ positive.T)
                _, minus = mean_quadratic(directions @ negative.T)
                values.append(plus - minus)
            elif isinstance(atom, StateDiffusion):  # tangents sigma(x) xi
                tangents = state_tangents(
                    atom, atom.factor(x), key, self.num_samples, self.distribution, x
                )
                primal, value = mean_quadratic(tangents)
                values.append(value)
            else:
                values.append(atom.exact(fn, x))
        return (fn(x) if primal is None else primal), tuple(values)


class STDE(AbstractStochasticEstimator):
    r"""Stochastic Taylor derivative estimator: random tangents pushed through Taylor-mode AD.

    **Sparse** (`sparse=True`, default): draw $|J|$ coordinates without replacement and push
    the $k$-jet with tangents $(e_j, 0, \dots, 0)$; its $k$-th output is $\partial_j^k u$, so
    $\frac{d}{|J|}\sum_{j\in J}$ estimates [`pinnkit.Laplacian`][] ($k = 2$) and
    [`pinnkit.Diagonal`][] (any $k$). Tangents are never formed: the network is restricted to
    the coordinate line (the first layer's tangent is the gathered column $W_{:,j}$), so the
    cost per sample does not grow with $d$. [`pinnkit.Diffusion`][] uses the columns of a
    factor $A$ of its coefficients, $C = A A^\top$; [`pinnkit.StateDiffusion`][] with a scalar
    or diagonal $\sigma(x)$ weights $\partial_j^2 u$ by $\sigma_j(x)^2$ (dense: use
    `sparse=False`). Dense STDE takes every [`pinnkit.StateDiffusion`][] with tangents
    $\sigma(x) v$. [`pinnkit.Drift`][] is exact (one JVP) in both modes.

    **Dense** (`sparse=False`): $V$ random vectors. Second order: 2-jets $(v, 0)$ with
    Rademacher (default) or Gaussian $v$, mean of the second output, no factor $d$.
    [`pinnkit.Biharmonic`][]: 4-jets $(v, 0, 0, 0)$ with **Gaussian** $v$, for which
    $E[\text{output}_4] = 3 \Delta^2 u$; Rademacher vectors are biased there and refused.

    [`pinnkit.Partial`][] is computed exactly from jets with slot patterns derived by
    enumerating partitions (or by polarization), with no nested autodiff. The value $u(x)$
    comes from the same jets as the estimate.

    **Arguments:**

    - `num_samples`: $|J|$ or $V$ (default 16).
    - `sparse`: sampled coordinates (default) or dense random vectors.
    - `distribution`: for dense tangents, `"rademacher"` or `"gaussian"`; `None` (default)
      picks Rademacher for second order and Gaussian for the biharmonic.

    **Reference:** Shi, Hu, Lin, Kawaguchi, "Stochastic Taylor Derivative Estimator:
    Efficient amortization for arbitrary differential operators", NeurIPS (2024).
    """

    num_samples: int = eqx.field(default=16, static=True)
    sparse: bool = eqx.field(default=True, static=True)
    distribution: Distribution | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        _check_samples(self.num_samples)
        if self.distribution not in (None, "rademacher", "gaussian"):
            raise ValueError(
                f"distribution must be None, 'rademacher' or 'gaussian', got {self.distribution!r}"
            )

    def supports(self, operator: AbstractOperator) -> bool:
        if isinstance(
            operator,
            Value
            | Gradient
            | Laplacian
            | Diffusion
            | Partial
            | SpatialLaplacian
            | TimeDerivative
            | Drift,
        ):
            return True
        if isinstance(operator, StateDiffusion):
            return not self.sparse or operator.kind != "dense"
        if self.sparse:
            return isinstance(operator, Diagonal)
        if isinstance(operator, Biharmonic):
            return self.distribution != "rademacher"
        return isinstance(operator, Diagonal) and operator.order == 2

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        dim = x.shape[0]
        primals: list[Array] = []
        values = []
        for atom in atoms:
            if isinstance(
                atom,
                Laplacian | Diagonal | Biharmonic | Diffusion | SpatialLaplacian | StateDiffusion,
            ):
                primal, value = (
                    self._sparse(fn, x, atom, key) if self.sparse else self._dense(fn, x, atom, key)
                )
                primals.append(primal)
                values.append(value)
            elif isinstance(atom, Partial):
                atom.check_dimension(dim)
                values.append(mixed_partial(fn, x, atom.indices))
            else:
                values.append(atom.exact(fn, x))
        return (primals[0] if primals else fn(x)), tuple(values)

    def _sparse(
        self, fn: ScalarField, x: Point, atom: AbstractOperator, key: Key
    ) -> tuple[Array, Array]:
        dim = x.shape[0]
        index = sample_coordinates(key, dim, self.num_samples)
        scale = dim / self.num_samples
        if isinstance(atom, Diffusion):
            # tr(C H) = sum_j (A+ e_j)^T H (A+ e_j) - (A- e_j)^T H (A- e_j)
            positive, negative = signed_factors(atom.matrix)
            primal, (_, plus) = directional_jets(fn, x, positive[:, index].T, 2, collapse=True)
            _, (_, minus) = directional_jets(fn, x, negative[:, index].T, 2, collapse=True)
            return primal, scale * (plus - minus)
        if isinstance(atom, StateDiffusion):  # sigma_j(x)^2 d_jj u, sampled j
            primal, value = weighted_curvatures(fn, x, atom, atom.factor(x), index)
            return primal, scale * value
        if isinstance(atom, SpatialLaplacian):  # coordinates among the first `dims` only
            atom.check_dimension(dim)
            space = sample_coordinates(key, atom.dims, self.num_samples)
            primal, derivatives = coordinate_jets(fn, x, space, 2, collapse=True)
            return primal, atom.dims / self.num_samples * derivatives[-1]
        order = 2 if isinstance(atom, Laplacian) else atom.order
        primal, derivatives = coordinate_jets(fn, x, index, order, collapse=True)
        return primal, scale * derivatives[-1]

    def _dense(
        self, fn: ScalarField, x: Point, atom: AbstractOperator, key: Key
    ) -> tuple[Array, Array]:
        dim = x.shape[0]
        n = self.num_samples
        if isinstance(atom, Biharmonic):
            # E[output 4] = 3 (Laplacian^2 u) for Gaussian tangents.
            directions = sample_directions(key, n, dim, "gaussian", x.dtype)
            primal, derivatives = directional_jets(fn, x, directions, 4, collapse=True)
            return primal, derivatives[-1] / (3.0 * n)
        distribution = self.distribution or "rademacher"
        if isinstance(atom, StateDiffusion):  # tangents sigma(x) xi
            tangents = state_tangents(atom, atom.factor(x), key, n, distribution, x)
            primal, (_, total) = directional_jets(fn, x, tangents, 2, collapse=True)
            return primal, total / n
        if isinstance(atom, SpatialLaplacian):
            atom.check_dimension(dim)
            directions = padded_directions(key, n, atom.dims, x, distribution)
            primal, (_, total) = directional_jets(fn, x, directions, 2, collapse=True)
            return primal, total / n
        directions = sample_directions(key, n, dim, distribution, x.dtype)
        if isinstance(atom, Diffusion):
            positive, negative = signed_factors(atom.matrix)
            primal, (_, plus) = directional_jets(fn, x, directions @ positive.T, 2, collapse=True)
            _, (_, minus) = directional_jets(fn, x, directions @ negative.T, 2, collapse=True)
            return primal, (plus - minus) / n
        primal, (_, total) = directional_jets(fn, x, directions, 2, collapse=True)
        return primal, total / n
