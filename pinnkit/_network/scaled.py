"""A network that reads and writes in a problem's own scales."""

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
    """

    network: AbstractNetwork
    origin: Float[Array, " d"]
    spread: Float[Array, " d"]
    horizon: float = eqx.field(static=True)
    shift: float = eqx.field(static=True)
    scale: float = eqx.field(static=True)

    def __init__(
        self,
        network: AbstractNetwork,
        origin: Float[Array, " d"],
        spread: Float[Array, " d"],
        horizon: float,
        shift: float = 0.0,
        scale: float = 1.0,
    ):
        self.network = network
        self.origin = origin
        self.spread = spread
        self.horizon = float(horizon)
        self.shift = float(shift)
        self.scale = float(scale)

    def __check_init__(self):
        d = self.network.in_size - 1
        if jnp.shape(self.origin) != (d,) or jnp.shape(self.spread) != (d,):
            raise ValueError(
                f"origin and spread must have shape ({d},) for a network of {d + 1} inputs, "
                f"got {jnp.shape(self.origin)} and {jnp.shape(self.spread)}"
            )
        if not self.horizon > 0 or not self.scale != 0:
            raise ValueError(f"horizon and scale must be nonzero, got {self.horizon}, {self.scale}")

    @property
    def in_size(self) -> int:
        return self.network.in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        check_input(self, x)
        inputs = jnp.concatenate([(x[:-1] - self.origin) / self.spread, x[-1:] / self.horizon])
        return self.shift + self.scale * self.network(inputs)
