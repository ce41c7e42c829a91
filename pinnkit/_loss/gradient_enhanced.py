r"""The gradient-enhanced PINN loss (gPINN): the residual and the gradient of the residual.

The amortized version estimates $\partial_i R$ for a few sampled coordinates $i$ with Taylor
jets. For $R$ involving $\Delta u$ that needs $\partial_i \Delta u = \sum_j \partial_i
\partial_j^2 u$, a sum of mixed third-order partials. Each is the third derivative tensor
applied to $(e_j, e_j, e_i)$, which one jet gives when $e_j$ and $e_i$ are placed in tangent
slots chosen so that only one partition of the jet order uses them (docs/math.md, "Mixed
partial derivatives from one jet"); the slots and the Faà di Bruno constant come from
`pinnkit._taylor.partitions.slot_pattern`.
Because the slot structure alone isolates the term, the same jet is right when $j = i$.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float, Int, PyTree

from .._estimator.exact import Exact
from .._estimator.sampling import sample_coordinates, signed_factors
from .._network.taylor import directional_jet
from .._operator.base import (
    AbstractOperator,
    Diagonal,
    Diffusion,
    Gradient,
    Laplacian,
    Partial,
    SpatialLaplacian,
    TimeDerivative,
    Value,
    linear_terms,
)
from .._taylor.partitions import polarization, slot_pattern
from .._types import Key, Point, Points, Scalar, ScalarField, Values
from .losses import AbstractLoss, CollocationBatch, ResidualLoss


_JET_ATOMS = (
    Value,
    Gradient,
    Laplacian,
    SpatialLaplacian,
    Diffusion,
    Diagonal,
    Partial,
    TimeDerivative,
)


def multilinear_derivative(
    fn: ScalarField,
    x: Point,
    vectors: tuple[Float[Array, " dim"], ...],
    multiplicities: tuple[int, ...],
) -> Float[Array, ""]:
    r"""$D^m u(x)[v_1^{\otimes k_1}, \dots, v_n^{\otimes k_n}]$, $m = \sum_l k_l$, from jets.

    With a [slot pattern](../math.md#mixed-partials) for the multiplicities
    $(k_1, \dots, k_n)$: one jet with $v_l$ in slot $s_l$ and zeros elsewhere, whose top
    output is the wanted term times the pattern's constant. The pattern depends only on the
    multiplicities, so the result is right for any vectors, equal ones included. Without a
    pattern of order at most 12, the polarization identity ($2^{m-1}$ jets of order $m$).

    **Arguments:**

    - `fn`: the scalar field $u$.
    - `x`: the point, shape `(dim,)`.
    - `vectors`: $v_1, \dots, v_n$, each of shape `(dim,)`.
    - `multiplicities`: $k_1, \dots, k_n \ge 1$ (static).

    **Returns:** the scalar derivative.
    """
    if len(vectors) != len(multiplicities):
        raise ValueError(
            f"need one multiplicity per vector, got {len(vectors)} vectors and "
            f"multiplicities {multiplicities}"
        )
    pattern = slot_pattern(tuple(multiplicities))
    if pattern is not None:
        series = [jnp.zeros_like(x)] * pattern.order
        for v, slot in zip(vectors, pattern.slots, strict=True):
            series[slot - 1] = v
        _, outputs = jet.jet(fn, (x,), (tuple(series),))
        return outputs[-1] / pattern.coefficient
    expanded = [v for v, k in zip(vectors, multiplicities, strict=True) for _ in range(k)]
    total = jnp.zeros((), x.dtype)
    for signs, weight in polarization(len(expanded)):
        direction = sum((s * v for s, v in zip(signs, expanded, strict=True)), jnp.zeros_like(x))
        total = total + weight * directional_jet(fn, x, direction, len(expanded))[1][-1]
    return total


class GradientBatch(eqx.Module):
    """Collocation points with the PDE's source term and its gradient at each.

    **Attributes:**

    - `points`: shape `(batch, dim)`.
    - `source`: $f(x_n)$, shape `(batch,)`.
    - `source_gradient`: $\\nabla f(x_n)$, shape `(batch, dim)`.
    """

    points: Points
    source: Values
    source_gradient: Points


class GradientEnhanced(AbstractLoss):
    r"""The gradient-enhanced PINN loss (gPINN):
    $\frac1N \sum_n \big[R(x_n)^2 + w \,\|\nabla R(x_n)\|^2\big]$.

    Penalising the gradient of the residual $R$ as well as $R$ makes the residual flat
    around the collocation points, which often lowers the error of the solution at the same
    number of points.

    The residual term is the wrapped [`pinnkit.ResidualLoss`][] (its estimator, sampling and
    `unbiased` option apply). The gradient term has two versions:

    - **exact** (`num_coordinates=None`, default): $\nabla R$ by nested automatic
      differentiation through [`pinnkit.Exact`][], $O(d)$ passes of third order per
      point. For low $d$.
    - **amortized** (`num_coordinates=` $|I|$): draw $|I|$ coordinates without replacement
      and use $\frac{d}{|I|}\sum_{i \in I} (\partial_i R)^2$. By the chain rule
      $\partial_i R = R_{x_i} + R_u\, \partial_i u + \sum_k R_{L_k}\, \partial_i L_k u +
      R_f\, \partial_i f$, with the residual's partials by one vector-Jacobian product and
      each $\partial_i L_k u$ from Taylor jets ([`pinnkit.multilinear_derivative`][]):
      $\partial_i u = Du[e_i]$; $\partial_i \Delta u = \sum_j D^3u[e_j, e_j, e_i]$, with
      $j$ over $|J|$ = `num_samples` sampled coordinates (scale $d/|J|$) or all of them;
      likewise [`pinnkit.SpatialLaplacian`][], [`pinnkit.Diffusion`][] (columns of a
      factor of $C$), [`pinnkit.Diagonal`][]; $\partial_i$ of a [`pinnkit.Partial`][],
      of $\partial_t u$ and of $\nabla u$ (contracted with $R_{\nabla u}$) exactly. One
      draw of $I$ and $J$ per step is shared by all points. The estimate of each
      $\partial_i R$ is unbiased; its square, like the squared residual of a stochastic
      estimator, is biased upward by the variance of the $J$ sum (none when
      `num_samples=None`).

    The source's gradient $\nabla f$ is computed once per point when the batch is drawn.

    **Arguments:**

    - `residual`: the [`pinnkit.ResidualLoss`][] giving the PDE, sampler, estimator and
      batch size. Its state, if any, is carried as the state of this loss.
    - `weight`: $w$, the weight of the gradient term (default 1).
    - `num_coordinates`: $|I|$ for the amortized version, or `None` (default) for the exact
      gradient.
    - `num_samples`: $|J|$ for the sums over coordinates inside second-order (and
      `Diagonal`) operators in the amortized version, or `None` for all coordinates
      (default 16).

    **Reference:** Yu, Lu, Meng, Karniadakis, "Gradient-enhanced physics-informed neural
    networks for forward and inverse PDE problems", CMAME (2022); for the amortized
    derivatives, Shi, Hu, Lin, Kawaguchi, "Stochastic Taylor Derivative Estimator",
    NeurIPS (2024).
    """

    residual: ResidualLoss
    weight: float = eqx.field(default=1.0, static=True)
    num_coordinates: int | None = eqx.field(default=None, static=True)
    num_samples: int | None = eqx.field(default=16, static=True)

    def __check_init__(self):
        if not isinstance(self.residual, ResidualLoss):
            raise TypeError(
                f"GradientEnhanced wraps a ResidualLoss, got {type(self.residual).__name__}"
            )
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")
        for name in ("num_coordinates", "num_samples"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
        if self.num_coordinates is not None:
            for op in self.residual.pde.operators:
                for _, atom in linear_terms(op):
                    if not isinstance(atom, _JET_ATOMS):
                        able = ", ".join(t.__name__ for t in _JET_ATOMS)
                        raise ValueError(
                            f"the amortized gradient (num_coordinates={self.num_coordinates}) "
                            f"cannot differentiate {type(atom).__name__}; it supports {able}. "
                            "Use num_coordinates=None for the exact gradient"
                        )

    # -- batches and state: those of the residual loss, plus the source's gradient ----------

    def _with_gradient(self, batch: CollocationBatch) -> GradientBatch:
        source_gradient = jax.vmap(jax.grad(self.residual.pde.source))(batch.points)
        return GradientBatch(batch.points, batch.source, source_gradient)

    def sample(self, key: Key) -> GradientBatch:
        return self._with_gradient(self.residual.sample(key))

    def init_state(self, key: Key) -> PyTree:
        return self.residual.init_state(key)

    def next_batch(
        self, model: Callable[[Point], Scalar], state: PyTree, key: Key
    ) -> tuple[GradientBatch, PyTree]:
        batch, state = self.residual.next_batch(model, state, key)
        return self._with_gradient(batch), state

    # -- the gradient of the residual ----------------------------------------------------

    def residual_gradient(
        self,
        model: Callable[[Point], Scalar],
        x: Point,
        source: Scalar,
        source_gradient: Point,
    ) -> Float[Array, " dim"]:
        r"""$\nabla R(x)$ exactly, by automatic differentiation of the residual built with
        [`pinnkit.Exact`][] (the source enters through its value and gradient at `x`)."""
        pde = self.residual.pde

        def residual_at(y: Point) -> Scalar:
            u, derivatives = Exact()(model, y, pde.operators, jax.random.key(0))
            f = source + jnp.dot(source_gradient, y - x)
            return pde.residual(y, u, derivatives, f)

        return jax.grad(residual_at)(x)

    def residual_partials(
        self,
        model: Callable[[Point], Scalar],
        x: Point,
        source: Scalar,
        source_gradient: Point,
        coordinates: Int[Array, " n"],
        key: Key,
    ) -> Float[Array, " n"]:
        r"""Estimates of $\partial_i R(x)$ for $i$ in `coordinates`, from Taylor jets (the
        amortized version; exact when `num_samples=None`).

        The residual's own partials use $u$ and the operator values from the residual
        loss's estimator, drawn with `key`; the sums inside second-order operators use
        `num_samples` coordinates drawn with `key` as well.
        """
        pde = self.residual.pde
        dim = x.shape[0]
        value_key, inner_key = jax.random.split(key)
        u, derivatives = self.residual.estimator(model, x, pde.operators, value_key)
        _, pullback = jax.vjp(pde.residual, x, u, derivatives, source)
        r_x, r_u, r_derivatives, r_f = pullback(jnp.ones((), u.dtype))
        basis = lambda i: jax.nn.one_hot(i, dim, dtype=x.dtype)  # noqa: E731

        def sampled(count: int) -> tuple[Array, float]:
            if self.num_samples is None:
                return jnp.arange(count), 1.0
            return sample_coordinates(inner_key, count, self.num_samples), count / self.num_samples

        def partial_of_atom(atom: AbstractOperator, cotangent: Array, i: Array) -> Array:
            e_i = basis(i)
            if isinstance(atom, Value):
                return cotangent * multilinear_derivative(model, x, (e_i,), (1,))
            if isinstance(atom, Gradient):
                return multilinear_derivative(model, x, (cotangent, e_i), (1, 1))
            if isinstance(atom, TimeDerivative):
                last = basis(jnp.asarray(dim - 1))
                return cotangent * multilinear_derivative(model, x, (last, e_i), (1, 1))
            if isinstance(atom, Partial):
                atom.check_dimension(dim)
                coords = sorted(set(atom.indices))
                counts = tuple(atom.indices.count(c) for c in coords) + (1,)
                vectors = tuple(basis(jnp.asarray(c)) for c in coords) + (e_i,)
                return cotangent * multilinear_derivative(model, x, vectors, counts)
            if isinstance(atom, Diffusion):
                index, scale = sampled(dim)
                total = jnp.zeros((), x.dtype)
                for sign, factor in zip((1.0, -1.0), signed_factors(atom.matrix), strict=True):
                    columns = factor[:, index].T
                    third = jax.vmap(lambda a: multilinear_derivative(model, x, (a, e_i), (2, 1)))(
                        columns
                    )
                    total = total + sign * jnp.sum(third)
                return cotangent * scale * total
            if isinstance(atom, Laplacian | SpatialLaplacian | Diagonal):
                if isinstance(atom, SpatialLaplacian):
                    atom.check_dimension(dim)
                count = atom.dims if isinstance(atom, SpatialLaplacian) else dim
                k = atom.order
                index, scale = sampled(count)
                pure = jax.vmap(lambda j: multilinear_derivative(model, x, (basis(j), e_i), (k, 1)))
                return cotangent * scale * jnp.sum(pure(index))
            raise AssertionError(atom)  # pragma: no cover - refused in __check_init__

        def one(i: Array) -> Array:
            total = r_x[i] + r_f * source_gradient[i]
            total = total + r_u * multilinear_derivative(model, x, (basis(i),), (1,))
            for op, cotangent in zip(pde.operators, r_derivatives, strict=True):
                for coef, atom in linear_terms(op):
                    total = total + coef * partial_of_atom(atom, cotangent, i)
            return total

        return jax.vmap(one)(coordinates)

    def penalties(self, model: Callable[[Point], Scalar], batch: GradientBatch, key: Key) -> Values:
        r"""$\|\nabla R(x_n)\|^2$ at every point, exact or estimated by
        $\frac{d}{|I|}\sum_{i\in I} (\partial_i R)^2$."""
        if self.num_coordinates is None:
            gradients = jax.vmap(lambda x, f, g: self.residual_gradient(model, x, f, g))(
                batch.points, batch.source, batch.source_gradient
            )
            return jnp.sum(gradients**2, axis=1)
        dim = batch.points.shape[1]
        count = self.num_coordinates
        coordinate_key, partial_key = jax.random.split(key)
        coordinates = sample_coordinates(coordinate_key, dim, count)

        def one(x: Point, f: Scalar, g: Point) -> Scalar:
            partials = self.residual_partials(model, x, f, g, coordinates, partial_key)
            return dim / count * jnp.sum(partials**2)

        return jax.vmap(one)(batch.points, batch.source, batch.source_gradient)

    def __call__(self, model: Callable[[Point], Scalar], batch: GradientBatch, key: Key) -> Scalar:
        residual_key, gradient_key = jax.random.split(key)
        collocation = CollocationBatch(batch.points, batch.source)
        residual = self.residual(model, collocation, residual_key)
        if self.weight == 0:
            return residual
        return residual + self.weight * jnp.mean(self.penalties(model, batch, gradient_key))
