r"""The Korteweg–de Vries equation in one space dimension, as a space-time PINN.

$$u_t + 6 u u_x + u_{xxx} = 0, \qquad (x, t) \in [-L, L] \times [0, T],$$

with the one-soliton exact solution
$u^*(x, t) = \frac{c}{2} \operatorname{sech}^2\!\big(\tfrac{\sqrt c}{2} (x - c t - x_0)\big)$,
initial data $u^*(x, 0)$ and Dirichlet data $u^*(\pm L, t)$ on the two ends. The network takes
$z = (x, t)$, time last; the derivatives are [`pinnkit.Partial`][] operators
(`Partial((0, 0, 0))` is $u_{xxx}$).

The gradient-enhanced variant (gPINN) adds $w_g \cdot \frac1N \sum_n (\partial_x R)^2 +
(\partial_t R)^2$ at the collocation points, with $R$ the residual: the penalty of
[`pinnkit.GradientEnhanced`][] over both coordinates, by forward-mode differentiation through
the residual's estimator (the right tool in two variables).
"""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._domain.domains import Box
from .._estimator.base import AbstractEstimator
from .._estimator.exact import Exact
from .._loss.gradient_enhanced import GradientBatch, GradientEnhanced
from .._loss.losses import (
    AbstractLoss,
    BoundaryLoss,
    ResidualLoss,
    WeightedSum,
)
from .._network.base import AbstractNetwork
from .._operator.base import AbstractOperator, Partial
from .._operator.pde import AbstractPDE
from .._sampler.base import AbstractSampler, UniformSampler
from .._solver.reference import TestSet
from .._types import Key, Point, Points, Scalar
from ._problem import AbstractProblem, plain_network


class KdVPDE(AbstractPDE):
    r"""$u_t + 6 u u_x + u_{xxx} = 0$ for $u(x, t)$, the point being $z = (x, t)$.

    Its operators are `Partial((1,))` ($u_t$), `Partial((0,))` ($u_x$) and
    `Partial((0, 0, 0))` ($u_{xxx}$); there is no source.
    """

    operators: tuple[AbstractOperator, ...] = (Partial((1,)), Partial((0,)), Partial((0, 0, 0)))

    def source(self, x: Point) -> Scalar:
        return jnp.zeros((), x.dtype)

    def residual(
        self, x: Point, u: Scalar, derivatives: tuple[Array, ...], source: Scalar
    ) -> Scalar:
        u_t, u_x, u_xxx = derivatives
        return u_t + 6.0 * u * u_x + u_xxx - source


def kdv_soliton(z: Float[Array, "2"], speed: float, shift: float) -> Scalar:
    r"""The one-soliton solution $\frac{c}{2}\operatorname{sech}^2(\frac{\sqrt c}{2}(x-ct-x_0))$.

    **Arguments:**

    - `z`: the point $(x, t)$, shape `(2,)`.
    - `speed`: $c > 0$ (the amplitude is $c/2$).
    - `shift`: $x_0$, the crest's position at $t = 0$.

    **Returns:** $u^*(x, t)$, a scalar.
    """
    x, t = z[0], z[1]
    return 0.5 * speed / jnp.cosh(0.5 * jnp.sqrt(speed) * (x - speed * t - shift)) ** 2


class _InitialAndEnds(AbstractSampler):
    """Points on $t = 0$ (`initial`) or on the ends $x = \\pm L$ (`ends`) of the space-time box."""

    length: float = eqx.field(static=True)
    duration: float = eqx.field(static=True)
    where: Literal["initial", "ends"] = eqx.field(static=True)

    def __init__(self, length: float, duration: float, where: Literal["initial", "ends"]):
        self.length = length
        self.duration = duration
        self.where = where

    @property
    def dim(self) -> int:
        return 2

    def __call__(self, key: Key, batch: int) -> Points:
        u = jax.random.uniform(key, (batch,))
        if self.where == "initial":
            return jnp.stack([self.length * (2 * u - 1), jnp.zeros_like(u)], axis=1)
        side = jnp.where(jnp.arange(batch) % 2 == 0, -self.length, self.length).astype(u.dtype)
        return jnp.stack([side, self.duration * u], axis=1)


class _ResidualGradientLoss(AbstractLoss):
    r"""The gPINN term $\frac1N \sum_n |\nabla_z R(z_n)|^2$ alone: the penalty of a
    [`pinnkit.GradientEnhanced`][] over both coordinates $z = (x, t)$, through the residual
    loss's estimator."""

    gradient: GradientEnhanced

    def sample(self, key: Key) -> GradientBatch:
        return self.gradient.sample(key)

    def __call__(self, model: Callable[[Point], Scalar], batch: GradientBatch, key: Key) -> Scalar:
        return jnp.mean(self.gradient.penalties(model, batch, key))


class KdVProblem(AbstractProblem):
    r"""The KdV one-soliton problem on $[-L, L] \times [0, T]$, registered as `"kdv"`
    (space dimension 1; the network takes $z = (x, t)$).

    **Arguments:**

    - `speed`: the soliton's speed $c$ (default 2: amplitude 1).
    - `shift`: its crest at $t = 0$, $x_0$ (default $-1$).
    - `length`: $L$, the half-width of the space interval (default 5).
    - `duration`: $T$ (default 1).
    """

    speed: float = eqx.field(default=2.0, static=True)
    shift: float = eqx.field(default=-1.0, static=True)
    length: float = eqx.field(default=5.0, static=True)
    duration: float = eqx.field(default=1.0, static=True)
    name: str = eqx.field(default="kdv", static=True, init=False)
    dim: int = eqx.field(default=1, static=True, init=False)

    def __check_init__(self):
        if not (self.speed > 0 and self.length > 0 and self.duration > 0):
            raise ValueError(
                "KdVProblem needs speed, length and duration > 0, got "
                f"{self.speed}, {self.length}, {self.duration}"
            )

    @property
    def pde(self) -> KdVPDE:
        """The equation, [`KdVPDE`][pinnkit.problems.KdVPDE]."""
        return KdVPDE()

    @property
    def sampler(self) -> UniformSampler:
        """Uniform collocation (and test) points $z = (x, t)$ in the space-time box."""
        box = Box((-self.length, 0.0), (self.length, self.duration))
        return UniformSampler(box)  # pyright: ignore[reportArgumentType]

    def solution(self, z: Point) -> Scalar:
        """The exact soliton $u^*(x, t)$ at $z = (x, t)$."""
        return kdv_soliton(z, self.speed, self.shift)

    def network(
        self,
        key: PRNGKeyArray,
        width: int = 64,
        depth: int = 4,
        activation: str = "tanh",
        block_size: int | None = None,
    ) -> AbstractNetwork:
        """A [`pinnkit.MLP`][] on $z = (x, t)$ (default 64 wide, 4 hidden layers, tanh);
        with a `block_size` (1 or 2), a [`pinnkit.SharedFirstLayerMLP`][] instead."""
        return plain_network(2, width, depth, activation, block_size, key)

    def loss(
        self,
        estimator: AbstractEstimator | None = None,
        batch_size: int = 500,
        boundary_batch_size: int = 100,
        gradient_weight: float = 0.0,
        data_weight: float = 10.0,
    ) -> WeightedSum:
        r"""The PINN loss: residual, initial condition and Dirichlet ends, optionally gPINN.

        **Arguments:**

        - `estimator`: evaluates the partial derivatives (default [`pinnkit.Exact`][]; any
          estimator that supports `Partial` works for the plain loss; the gradient term
          differentiates through it and wants an exact one).
        - `batch_size`: collocation points per step (default 500).
        - `boundary_batch_size`: points per step on $t = 0$ and on $x = \pm L$ each (100).
        - `gradient_weight`: $w_g$ of the gPINN term; 0 (default) leaves it out.
        - `data_weight`: the weight of the initial and end terms (default 10).

        **Returns:** a [`pinnkit.WeightedSum`][] with terms `"residual"`, `"initial"`,
        `"ends"` and, when `gradient_weight > 0`, `"gradient"`.
        """
        if gradient_weight < 0 or data_weight < 0:
            raise ValueError(
                f"weights must be >= 0, got gradient_weight={gradient_weight}, "
                f"data_weight={data_weight}"
            )
        residual = ResidualLoss(self.pde, self.sampler, estimator or Exact(), batch_size=batch_size)
        terms: dict[str, AbstractLoss] = {"residual": residual}
        weights = {"initial": data_weight, "ends": data_weight}
        for where in ("initial", "ends"):
            edges = _InitialAndEnds(length=self.length, duration=self.duration, where=where)
            terms[where] = BoundaryLoss(edges, self.solution, batch_size=boundary_batch_size)
        if gradient_weight > 0:
            gradient = GradientEnhanced(residual, num_coordinates=2, estimator=residual.estimator)
            terms["gradient"] = _ResidualGradientLoss(gradient)
            weights["gradient"] = gradient_weight
        return WeightedSum(terms, weights)

    def test_set(self, key: PRNGKeyArray, size: int = 10_000) -> TestSet:
        """A fixed set of `size` uniform points in the space-time box."""
        return TestSet(self.sampler, self.solution, key, size=size)


def kdv_problem(dim: int, key: PRNGKeyArray) -> KdVProblem:
    """The registry's builder: the default [`KdVProblem`][pinnkit.problems.KdVProblem] (space
    dimension `dim` = 1; it has no random coefficients, so `key` is unused)."""
    del key
    if dim != 1:
        raise ValueError(f"the KdV problem has one space dimension, got dim={dim}")
    return KdVProblem()
