r"""Space-time samplers: points $z = (x, t)$ with time **last**, shape `(batch, dim + 1)`."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Key, Points
from .base import AbstractSampler


def _check_interval(t0: float, t1: float) -> None:
    if not t1 > t0:
        raise ValueError(f"the time interval needs t0 < t1, got t0={t0}, t1={t1}")


def _times(key: Key, batch: int, t0: float, t1: float, dtype) -> jax.Array:
    return jax.random.uniform(key, (batch, 1), dtype=dtype, minval=t0, maxval=t1)


class Brownian(AbstractSampler):
    r"""Points along the paths of $X_t = x_0 + \sqrt{2}\, W_t$, a Brownian motion from $x_0$.

    Each point is $z = (x, t)$ (time last) with $t \sim U[t_0, t_1]$ and
    $x \sim N(x_0, 2 t\, I_d)$: the law of $X_t$. These are the points that matter for the
    value $u(0, x_0)$ of a backward problem $u_t + \Delta u + f(u) = 0$: by the Feynman–Kac
    formula $u(0, x_0)$ is an expectation over exactly these paths. This is how the STDE
    paper's space-time PINN draws its residual points. Points are independent draws of
    $(t, X_t)$ (the marginal law of a path at a uniform time), not whole paths.

    With `time` set, every point has that time and $x \sim N(x_0, 2\,\text{time}\, I_d)$: the
    end points of the paths, e.g. for a terminal condition at $t = T$.

    **Arguments:**

    - `space_dim`: $d$, the space dimension; points have `space_dim + 1` coordinates.
    - `t1`: the end of the time interval (the horizon $T$).
    - `t0`: the start of the time interval (default 0).
    - `time`: a fixed time for every point, or `None` (default) for $t \sim U[t_0, t_1]$.
    - `origin`: the start $x_0$ of the paths; `None` (default) for $0$.
    """

    space_dim: int = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    time: float | None = eqx.field(static=True)
    origin: jax.Array | None

    def __init__(
        self,
        space_dim: int,
        t1: float,
        t0: float = 0.0,
        time: float | None = None,
        origin: jax.Array | None = None,
    ):
        self.space_dim = space_dim
        self.t1 = float(t1)
        self.t0 = float(t0)
        self.time = None if time is None else float(time)
        self.origin = origin

    def __check_init__(self):
        if not isinstance(self.space_dim, int) or self.space_dim < 1:
            raise ValueError(f"space_dim must be a positive integer, got {self.space_dim!r}")
        _check_interval(self.t0, self.t1)
        if self.t0 < 0:
            raise ValueError(f"Brownian paths start at time 0: t0 must be >= 0, got {self.t0}")
        if self.time is not None and self.time < 0:
            raise ValueError(f"time must be >= 0, got {self.time}")
        if self.origin is not None and jnp.shape(self.origin) != (self.space_dim,):
            raise ValueError(
                f"origin must have shape ({self.space_dim},), got {jnp.shape(self.origin)}"
            )

    @property
    def dim(self) -> int:
        return self.space_dim + 1

    def __call__(self, key: Key, batch: int) -> Points:
        dtype = jnp.zeros(()).dtype
        time_key, space_key = jax.random.split(key)
        if self.time is None:
            t = _times(time_key, batch, self.t0, self.t1, dtype)
        else:
            t = jnp.full((batch, 1), self.time, dtype)
        noise = jax.random.normal(space_key, (batch, self.space_dim), dtype)
        x = jnp.sqrt(2 * t) * noise
        if self.origin is not None:
            x = x + jnp.asarray(self.origin, dtype)
        return jnp.concatenate([x, t], axis=1)


class CylinderSampler(AbstractSampler):
    r"""Points of a space-time cylinder $\Omega \times [t_0, t_1]$: $x$ from a space sampler,
    $t \sim U[t_0, t_1]$ independently, returned as $z = (x, t)$ with time last.

    **Arguments:**

    - `space`: an [`pinnkit.AbstractSampler`][] of points in $\Omega$, e.g.
      `UniformSampler(Box(...))`.
    - `t0`, `t1`: the time interval.
    """

    space: AbstractSampler
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)

    def __init__(self, space: AbstractSampler, t0: float, t1: float):
        self.space = space
        self.t0 = float(t0)
        self.t1 = float(t1)

    def __check_init__(self):
        if not isinstance(self.space, AbstractSampler):
            raise TypeError(f"space must be an AbstractSampler, got {type(self.space).__name__}")
        _check_interval(self.t0, self.t1)

    @property
    def dim(self) -> int:
        return self.space.dim + 1

    def __call__(self, key: Key, batch: int) -> Points:
        time_key, space_key = jax.random.split(key)
        x = self.space(space_key, batch)
        t = _times(time_key, batch, self.t0, self.t1, x.dtype)
        return jnp.concatenate([x, t], axis=1)
