r"""Space-time samplers: points $z = (x, t)$ with time **last**, shape `(batch, dim + 1)`."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._operator.parabolic import AbstractParabolicPDE
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
    - `variance_rate`: $s^2$ for the paths $x_0 + s W_t$, $x \sim N(x_0, s^2 t I)$
      (default 2, the $\sqrt2 W$ of $u_t + \Delta u + \dots = 0$).
    """

    time_last: ClassVar[bool] = True

    space_dim: int = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    time: float | None = eqx.field(static=True)
    origin: jax.Array | None
    variance_rate: float = eqx.field(static=True)

    def __init__(
        self,
        space_dim: int,
        t1: float,
        t0: float = 0.0,
        time: float | None = None,
        origin: jax.Array | None = None,
        variance_rate: float = 2.0,
    ):
        self.space_dim = space_dim
        self.t1 = float(t1)
        self.t0 = float(t0)
        self.time = None if time is None else float(time)
        self.origin = origin
        self.variance_rate = float(variance_rate)

    def __check_init__(self):
        if not isinstance(self.space_dim, int) or self.space_dim < 1:
            raise ValueError(f"space_dim must be a positive integer, got {self.space_dim!r}")
        _check_interval(self.t0, self.t1)
        if self.t0 < 0:
            raise ValueError(f"Brownian paths start at time 0: t0 must be >= 0, got {self.t0}")
        if self.time is not None and self.time < 0:
            raise ValueError(f"time must be >= 0, got {self.time}")
        if not self.variance_rate > 0:
            raise ValueError(f"variance_rate must be > 0, got {self.variance_rate}")
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
        x = jnp.sqrt(self.variance_rate * t) * noise
        if self.origin is not None:
            x = x + jnp.asarray(self.origin, dtype)
        return jnp.concatenate([x, t], axis=1)


class SDEPaths(AbstractSampler):
    r"""Points $z = (x, t)$ (time last) along the paths of the forward SDE
    $dX = \mu\,dt + \sigma\,dW$, $X_0 = x_0$, of an [`pinnkit.AbstractParabolicPDE`][]:
    $t \sim U[0, T]$ (or the fixed `time`) and $x$ the Euler–Maruyama value of $X_t$ after
    `steps` steps of size $t/\text{steps}$. These are the points where the answer
    $u(0, x_0)$ is decided (the law of $X_t$), for drifts and state-dependent $\sigma$ where
    [`pinnkit.Brownian`][] does not apply.

    **Arguments:**

    - `equation`: the spec.
    - `time`: a fixed time for every point, or `None` (default) for $t \sim U[0, T]$.
    - `steps`: Euler–Maruyama steps per point (default 16).
    """

    time_last: ClassVar[bool] = True

    equation: AbstractParabolicPDE
    time: float | None = eqx.field(static=True)
    steps: int = eqx.field(static=True)

    def __init__(self, equation: AbstractParabolicPDE, time: float | None = None, steps: int = 16):
        self.equation = equation
        self.time = None if time is None else float(time)
        self.steps = steps

    def __check_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if self.time is not None and not 0 <= self.time <= self.equation.T:
            raise ValueError(f"time must lie in [0, T = {self.equation.T}], got {self.time}")

    @property
    def dim(self) -> int:
        return self.equation.dim + 1

    def _point(self, key: Key, t: jax.Array) -> jax.Array:
        equation = self.equation
        x0 = jnp.asarray(equation.origin(), t.dtype)
        h = t / self.steps
        k = equation.structure().noise_dim
        noise = jax.random.normal(key, (self.steps, k), t.dtype) * jnp.sqrt(h)

        def step(x, inputs):
            n, dw = inputs
            s = n * h
            mu = equation.drift(s, x)
            drift = jnp.zeros_like(x) if mu is None else jnp.asarray(mu, x.dtype) * h
            return x + drift + equation.sigma_times(s, x, dw), None

        x, _ = jax.lax.scan(step, x0, (jnp.arange(self.steps, dtype=t.dtype), noise))
        return jnp.concatenate([x, t[None]])

    def __call__(self, key: Key, batch: int) -> Points:
        dtype = jnp.zeros(()).dtype
        time_key, path_key = jax.random.split(key)
        if self.time is None:
            t = _times(time_key, batch, 0.0, self.equation.T, dtype)[:, 0]
        else:
            t = jnp.full((batch,), self.time, dtype)
        return jax.vmap(self._point)(jax.random.split(path_key, batch), t)


class CylinderSampler(AbstractSampler):
    r"""Points of a space-time cylinder $\Omega \times [t_0, t_1]$: $x$ from a space sampler,
    $t \sim U[t_0, t_1]$ independently, returned as $z = (x, t)$ with time last.

    **Arguments:**

    - `space`: an [`pinnkit.AbstractSampler`][] of points in $\Omega$, e.g.
      `UniformSampler(Box(...))`.
    - `t0`, `t1`: the time interval.
    """

    time_last: ClassVar[bool] = True

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
