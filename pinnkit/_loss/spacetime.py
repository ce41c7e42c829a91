r"""Losses on a time slice of a space-time network $u(z)$, $z = (x, t)$ with time last."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._sampler.base import AbstractSampler
from .._types import Key, Point, Points, Scalar, Values
from .losses import AbstractLoss


class SliceBatch(eqx.Module):
    """Space-time points on one time slice, with the data $g$ (and $\\nabla g$) there."""

    points: Points
    targets: Values
    gradients: Float[Array, "batch space"]


class _AbstractSliceLoss(AbstractLoss):
    """The loss of [`pinnkit.TerminalLoss`][] and [`pinnkit.InitialLoss`][]: data on the time
    slice `time`, with an optional gradient term. Subclasses declare the fields (with their
    own defaults)."""

    target: eqx.AbstractVar[Callable[[Point], Scalar]]
    sampler: eqx.AbstractVar[AbstractSampler]
    time: eqx.AbstractVar[float]
    gradient_weight: eqx.AbstractVar[float]
    batch_size: eqx.AbstractVar[int]

    def __check_init__(self):
        if not isinstance(self.sampler, AbstractSampler):
            raise TypeError(
                f"sampler must be an AbstractSampler, got {type(self.sampler).__name__}"
            )
        if not self.sampler.time_last:
            raise ValueError(
                f"{type(self).__name__} sets the last coordinate of its points to the slice's "
                f"time, so it needs a sampler of space-time points z = (x, t) with time last "
                f"(Brownian, CylinderSampler, SDEPaths, or one with time_last = True); got a "
                f"{type(self.sampler).__name__} of dimension {self.sampler.dim}: wrap a space "
                "sampler as CylinderSampler(sampler, t0, t1)"
            )
        if self.sampler.dim < 2:
            raise ValueError(
                f"the sampler must draw space-time points z = (x, t) of dimension >= 2, "
                f"got dimension {self.sampler.dim}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.gradient_weight >= 0:
            raise ValueError(f"gradient_weight must be >= 0, got {self.gradient_weight}")

    def sample(self, key: Key) -> SliceBatch:
        z = self.sampler(key, self.batch_size)
        z = z.at[:, -1].set(self.time)
        x = z[:, :-1]
        targets = jax.vmap(self.target)(x)
        if self.gradient_weight > 0:
            gradients = jax.vmap(jax.grad(self.target))(x)
        else:
            gradients = jnp.zeros((self.batch_size, 0), z.dtype)
        return SliceBatch(z, targets, gradients)

    def __call__(self, model: Callable[[Point], Scalar], batch: SliceBatch, key: Key) -> Scalar:
        del key
        value = jnp.mean((jax.vmap(model)(batch.points) - batch.targets) ** 2)
        if self.gradient_weight == 0:
            return value
        # The gradient in space: drop the time component of the gradient in z = (x, t).
        gradients = jax.vmap(jax.grad(model))(batch.points)[:, :-1]
        return value + self.gradient_weight * jnp.mean((gradients - batch.gradients) ** 2)


class TerminalLoss(_AbstractSliceLoss):
    r"""Terminal data $u(T, x) = g(x)$ of a backward problem, with an optional gradient term:

    $$\frac1N \sum_n \big(u(x_n, T) - g(x_n)\big)^2
      + \lambda\, \frac{1}{N d} \sum_n \big|\nabla_x u(x_n, T) - \nabla g(x_n)\big|^2 .$$

    The network takes $z = (x, t)$ with time last. Points come from `sampler` (space-time
    points, e.g. [`pinnkit.Brownian`][] with `time=T`) with their time set to `time`; $g$ and
    $\nabla g$ are evaluated when the batch is drawn, outside the differentiated loss. The
    gradient term (mean over points and coordinates) is the one of the STDE paper's
    space-time PINN, which uses $\lambda = 0.05$ and weighs this loss by 20 against the
    residual.

    **Arguments:**

    - `target`: $g$ at one space point of shape `(d,)`.
    - `sampler`: draws space-time points of dimension `d + 1`.
    - `time`: $T$.
    - `gradient_weight`: $\lambda$ (default 0: no gradient term).
    - `batch_size`: points per step (default 100).
    """

    target: Callable[[Point], Scalar]
    sampler: AbstractSampler
    time: float = eqx.field(static=True)
    gradient_weight: float = eqx.field(default=0.0, static=True)
    batch_size: int = eqx.field(default=100, static=True)


class InitialLoss(_AbstractSliceLoss):
    r"""Initial data $u(x, t_0) = g(x)$ of a forward problem, with an optional gradient term:
    the same loss as [`pinnkit.TerminalLoss`][] on the slice $t = t_0$.

    **Arguments:**

    - `target`: $g$ at one space point of shape `(d,)`.
    - `sampler`: draws space-time points of dimension `d + 1`, e.g.
      [`pinnkit.CylinderSampler`][]; their time is set to `time`.
    - `time`: $t_0$ (default 0).
    - `gradient_weight`: weight of the mean squared gradient mismatch (default 0).
    - `batch_size`: points per step (default 100).
    """

    target: Callable[[Point], Scalar]
    sampler: AbstractSampler
    time: float = eqx.field(default=0.0, static=True)
    gradient_weight: float = eqx.field(default=0.0, static=True)
    batch_size: int = eqx.field(default=100, static=True)
