r"""The gradient-enhanced PINN loss (gPINN): the residual and the gradient of the residual.

The gradient of the residual $R$ is taken through an estimator: $R(y)$ is built from the
estimator's $u(y)$ and $L_k u(y)$, and automatic differentiation in $y$ goes through the
estimator's own computation (its jets, Hessians or forward Laplacian, with its random draw
held fixed). For an unbiased estimator $\widehat{L u}$ that is linear in $u$, the derivative
$\partial_i \widehat{L u}$ is an unbiased estimate of $\partial_i L u$, so exact and
stochastic estimators serve alike.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from .._estimator.base import AbstractEstimator, refusal_message
from .._estimator.exact import Exact
from .._estimator.sampling import sample_coordinates
from .._operator.base import linear_terms
from .._types import Key, Point, Points, Scalar, Values
from .losses import AbstractLoss, CollocationBatch, ResidualLoss


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
    `unbiased` option apply). The gradient term differentiates the residual through
    `estimator` ([`pinnkit.Exact`][] by default), in one of two ways:

    - **full gradient** (`num_coordinates=None`, default): $\nabla R$ by reverse-mode
      automatic differentiation of $y \mapsto R(y)$, with $R(y)$ built from `estimator`'s
      values at $y$. With [`pinnkit.Exact`][] that is nested autodiff, $O(d)$ passes of
      third order per point: for low $d$.
    - **amortized** (`num_coordinates=` $|I|$): draw $|I|$ coordinates without replacement
      and use $\frac{d}{|I|}\sum_{i \in I} (\partial_i R)^2$. By the chain rule
      $\partial_i R = R_{x_i} + R_u\, \partial_i u + \sum_k R_{L_k}\, \partial_i L_k u +
      R_f\, \partial_i f$, with the partials of $R$ at the residual loss's estimator's
      values and $(\partial_i u, \partial_i L_k u)$ one forward-mode derivative of
      `estimator` along $e_i$. A stochastic `estimator` such as [`pinnkit.STDE`][] makes
      the operators' sums over coordinates cheap in high dimensions: $\partial_i \Delta u$
      is estimated from the same $|J|$ sampled coordinates as $\Delta u$. One draw of $I$
      and of the estimator's key per step is shared by all points; the residual's values
      use an independent key. The estimate of each $\partial_i R$ is unbiased; its square,
      like the squared residual of a stochastic estimator, is biased upward by the
      estimator's variance (none for an exact estimator). With $|I| = d$ every coordinate
      is used: the exact gradient by $d$ forward-mode passes, the cheaper way in very low
      dimension.

    The source's gradient $\nabla f$ is computed once per point when the batch is drawn.

    **Arguments:**

    - `residual`: the [`pinnkit.ResidualLoss`][] giving the PDE, sampler, estimator and
      batch size. Its state, if any, is carried as the state of this loss.
    - `weight`: $w$, the weight of the gradient term (default 1).
    - `num_coordinates`: $|I|$ for the amortized version, or `None` (default) for the full
      gradient.
    - `estimator`: the [`pinnkit.AbstractEstimator`][] the gradient is taken through
      (default [`pinnkit.Exact`][]); it must support every operator of the PDE.

    **Reference:** Yu, Lu, Meng, Karniadakis, "Gradient-enhanced physics-informed neural
    networks for forward and inverse PDE problems", CMAME (2022); for the amortized
    derivatives, Shi, Hu, Lin, Kawaguchi, "Stochastic Taylor Derivative Estimator",
    NeurIPS (2024).
    """

    residual: ResidualLoss
    weight: float = eqx.field(default=1.0, static=True)
    num_coordinates: int | None = eqx.field(default=None, static=True)
    estimator: AbstractEstimator = Exact()

    def __check_init__(self):
        if not isinstance(self.residual, ResidualLoss):
            raise TypeError(
                f"GradientEnhanced wraps a ResidualLoss, got {type(self.residual).__name__}"
            )
        if not isinstance(self.estimator, AbstractEstimator):
            raise TypeError(
                f"estimator must be an AbstractEstimator, got {type(self.estimator).__name__}"
            )
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")
        count = self.num_coordinates
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"num_coordinates must be None or an integer >= 1, got {count!r}")
        for op in self.residual.pde.operators:
            for _, atom in linear_terms(op):
                if not self.estimator.supports(atom):
                    raise ValueError(
                        "GradientEnhanced differentiates the residual through its estimator: "
                        + refusal_message(self.estimator, atom)
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
        key: Key,
    ) -> Float[Array, " dim"]:
        r"""$\nabla R(x)$ by reverse-mode automatic differentiation of the residual built
        with `estimator` (drawing from `key`); the source enters through its value and
        gradient at `x`."""
        pde = self.residual.pde

        def residual_at(y: Point) -> Scalar:
            u, derivatives = self.estimator(model, y, pde.operators, key)
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
        r"""$\partial_i R(x)$ for $i$ in `coordinates` by the chain rule (the amortized
        version): the partials of $R$ at $u$ and the operator values from the residual
        loss's estimator, and $\partial_i u$, $\partial_i L_k u$ by forward-mode
        differentiation of `estimator` along $e_i$. Both draw from keys split from `key`.
        """
        pde = self.residual.pde
        value_key, derivative_key = jax.random.split(key)
        u, derivatives = self.residual.estimator(model, x, pde.operators, value_key)

        def evaluate(y: Point) -> tuple[Array, tuple[Array, ...]]:
            return self.estimator(model, y, pde.operators, derivative_key)

        def one(i: Array) -> Array:
            e_i = jax.nn.one_hot(i, x.shape[0], dtype=x.dtype)
            _, (u_i, derivatives_i) = jax.jvp(evaluate, (x,), (e_i,))
            primals = (x, u, derivatives, source)
            tangents = (e_i, u_i, derivatives_i, source_gradient[i])
            return jax.jvp(pde.residual, primals, tangents)[1]

        return jax.vmap(one)(coordinates)

    def penalties(self, model: Callable[[Point], Scalar], batch: GradientBatch, key: Key) -> Values:
        r"""$\|\nabla R(x_n)\|^2$ at every point, from the full gradient or estimated by
        $\frac{d}{|I|}\sum_{i\in I} (\partial_i R)^2$."""
        if self.num_coordinates is None:
            gradients = jax.vmap(lambda x, f, g: self.residual_gradient(model, x, f, g, key))(
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
