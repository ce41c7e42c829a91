"""A network that reads and writes in a problem's own scales."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Point
from .base import AbstractNetwork, check_input


class Normalized(AbstractNetwork):
    r"""$u(z) = m + s\,\mathrm{net}\big((x - x_0)/s_x,\ t/T\big)$ for a space-time point
    $z = (x, t)$ (time last): the inner network sees inputs and gives outputs of order one
    whatever the problem's scales (a Black–Scholes price near $x_0 = (100, \dots)$, a value
    of 77).

    **Arguments:**

    - `network`: the inner network, on `in_size` $= d + 1$ inputs.
    - `origin`: $x_0$, shape `(d,)`.
    - `spread`: $s_x$, shape `(d,)` (positive).
    - `horizon`: $T$.
    - `shift`, `scale`: $m$ and $s$ of the output (default 0 and 1).
    - `feature`: an optional function $\phi(x)$ of the spatial point (shape `(d,)`) returning
      a scalar, given to the inner network as one more input, $(\phi(x) - m_\phi)/s_\phi$,
      after $x$ and before $t$; the inner network then has $d + 2$ inputs. With the terminal
      data $g$ as $\phi$, a solution that grows with $g$ (Black–Scholes–Barenblatt's
      $e^{c(T - t)} g(x)$) is a smooth function of two of the network's inputs instead of a
      quadratic form of all $d$ of them.
    - `feature_shift`, `feature_scale`: $m_\phi$ and $s_\phi$ (default 0 and 1).
    """

    network: AbstractNetwork
    origin: Float[Array, " d"]
    spread: Float[Array, " d"]
    horizon: float = eqx.field(static=True)
    shift: float = eqx.field(static=True)
    scale: float = eqx.field(static=True)
    feature: Callable[[Point], Float[Array, ""]] | None = None
    feature_shift: float = eqx.field(default=0.0, static=True)
    feature_scale: float = eqx.field(default=1.0, static=True)

    def __init__(
        self,
        network: AbstractNetwork,
        origin: Float[Array, " d"],
        spread: Float[Array, " d"],
        horizon: float,
        shift: float = 0.0,
        scale: float = 1.0,
        feature: Callable[[Point], Float[Array, ""]] | None = None,
        feature_shift: float = 0.0,
        feature_scale: float = 1.0,
    ):
        self.network = network
        self.origin = origin
        self.spread = spread
        self.horizon = float(horizon)
        self.shift = float(shift)
        self.scale = float(scale)
        self.feature = feature
        self.feature_shift = float(feature_shift)
        self.feature_scale = float(feature_scale)

    def __check_init__(self):
        if self.in_size < 2:
            raise ValueError(
                f"the inner network has {self.network.in_size} inputs: too few for a space-time "
                f"point{' and the feature' if self.feature is not None else ''}"
            )
        d = self.in_size - 1
        if jnp.shape(self.origin) != (d,) or jnp.shape(self.spread) != (d,):
            raise ValueError(
                f"origin and spread must have shape ({d},) for a network of {d + 1} inputs, "
                f"got {jnp.shape(self.origin)} and {jnp.shape(self.spread)}"
            )
        if not self.horizon > 0 or not self.scale != 0 or not self.feature_scale != 0:
            raise ValueError(
                "horizon, scale and feature_scale must be nonzero, got "
                f"{self.horizon}, {self.scale}, {self.feature_scale}"
            )

    @property
    def in_size(self) -> int:
        return self.network.in_size - (self.feature is not None)

    def __call__(self, x: Point) -> Float[Array, ""]:
        check_input(self, x)
        space = [(x[:-1] - self.origin) / self.spread]
        if self.feature is not None:
            value = (self.feature(x[:-1]) - self.feature_shift) / self.feature_scale
            space.append(jnp.reshape(value, (1,)))
        inputs = jnp.concatenate([*space, x[-1:] / self.horizon])
        return self.shift + self.scale * self.network(inputs)
