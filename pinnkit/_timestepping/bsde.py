r"""Deep BSDE (Han, Jentzen & E, PNAS 2018) for any [`pinnkit.AbstractParabolicPDE`][].

The solution of $u_t + \mu\cdot\nabla u + \tfrac12\operatorname{tr}(\sigma\sigma^\top D^2 u)
+ f(t, x, u, \sigma^\top\nabla u) = 0$, $u(T) = g$, along the paths of
$dX = \mu\,dt + \sigma\,dW$, $X_0 = x_0$, is $Y_t = u(t, X_t)$ with
$dY = -f(t, X, Y, Z)\,dt + Z\cdot dW$, $Z = \sigma^\top\nabla u(t, X)$ (Itô). On the grid
$t_n = nT/N$ the Euler scheme is

$$Y_{n+1} = Y_n - f(t_n, X_n, Y_n, Z_n)\,\Delta t + Z_n\cdot\Delta W_n,$$

and Deep BSDE learns $Y_0 \approx u(0, x_0)$ (one number) and $Z_n \approx
\mathcal{Z}_\theta(t_n, X_n)$ (one network of $(x, t)$) by minimising
$\mathbb{E}\,|Y_N - g(X_N)|^2$. The paths $X$ do not depend on the parameters, so they are
drawn outside the differentiated loss, with `diffrax.diffeqsolve`: an `Euler` solve of the
SDE with a `ControlTerm` on the Brownian path, whose vector field is a `lineax` diagonal
operator for a scalar or diagonal $\sigma$ (no $d \times d$ matrix) and a matrix for a dense
one. The cost per step is linear in $d$.
"""

import math
from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, Float, PRNGKeyArray

from .._loss.losses import AbstractLoss
from .._network.base import AbstractNetwork
from .._network.layers import resolve_activation
from .._operator.parabolic import AbstractParabolicPDE
from .._types import Key, Point, Scalar


class BSDEPaths(eqx.Module):
    """One batch of forward paths on the time grid.

    **Fields:**

    - `x`: $X_{t_n}$, shape `(batch, N + 1, dim)`.
    - `dw`: the Brownian increments $\\Delta W_n$, shape `(batch, N, k)`.
    """

    x: Float[Array, "batch steps1 dim"]
    dw: Float[Array, "batch steps k"]


class PathScales(NamedTuple):
    """A parabolic problem's scales, from [`DeepBSDE.scales`][pinnkit.DeepBSDE.scales].

    **Fields:** `origin` ($x_0$), `spread` ($s_x$, per coordinate), `value_shift` ($m_g$),
    `value_scale` ($s_g$), `terminal_rate` ($m_T$, the mean of $u_t(T, X_T)$)."""

    origin: Float[Array, " dim"]
    spread: Float[Array, " dim"]
    value_shift: float
    value_scale: float
    terminal_rate: float = 0.0


class BSDENetwork(AbstractNetwork):
    r"""The unknowns of Deep BSDE: $Y_0 = u(0, x_0)$ and the network
    $\mathcal{Z}_\theta(t, x) \approx \sigma^\top\nabla u(t, x)$.

    Both are scaled by the problem (set by [`DeepBSDE.network`][pinnkit.DeepBSDE.network]
    from a pilot batch of paths): $Y_0 = m_g + s_g\, y$ with $y$ the trained number and
    $m_g$, $s_g$ the mean and spread of $g(X_T)$; the network reads
    $((x - x_0)/s_x, t/T)$ and its output is multiplied by $s_g / \sqrt{kT}$.

    As a network of $z = (x, t)$ it is the constant $Y_0$: Deep BSDE learns the value at
    $x_0$ only, so `__call__` is $Y_0$ wherever it is asked.
    """

    y: Float[Array, ""]
    mlp: eqx.nn.MLP
    value_shift: float = eqx.field(static=True)
    value_scale: float = eqx.field(static=True)
    origin: Float[Array, " dim"]
    spread: Float[Array, " dim"]
    horizon: float = eqx.field(static=True)
    gradient_scale: float = eqx.field(static=True)
    in_size: int = eqx.field(static=True)

    @property
    def value(self) -> Scalar:
        """$Y_0$, the estimate of $u(0, x_0)$."""
        return self.value_shift + self.value_scale * self.y

    def gradient_term(self, t: Scalar, x: Point) -> Float[Array, " k"]:
        r"""$\mathcal{Z}_\theta(t, x)$, the estimate of $\sigma^\top\nabla u(t, x)$."""
        inputs = jnp.concatenate([(x - self.origin) / self.spread, (t / self.horizon)[None]])
        return self.gradient_scale * self.mlp(inputs)

    def __call__(self, x: Point) -> Float[Array, ""]:
        del x
        return self.value


class DeepBSDE(AbstractLoss):
    r"""The Deep BSDE loss $\mathbb{E}\,|Y_N - g(X_N)|^2$ of an
    [`pinnkit.AbstractParabolicPDE`][] (module docstring), trained like any loss by
    [`pinnkit.PINNSolver`][] (checkpoints, resume, data-parallel meshes) on the network of
    [`network`][pinnkit.DeepBSDE.network]; the answer is the trained network's
    [`value`][pinnkit.BSDENetwork.value].

    **Arguments:**

    - `equation`: the spec.
    - `num_steps`: $N$, time steps of the Euler scheme (default 20, as the paper's Allen–Cahn
      and HJB runs).
    - `batch_size`: paths per step (default 64, as the paper).
    """

    equation: AbstractParabolicPDE
    num_steps: int = eqx.field(default=20, static=True)
    batch_size: int = eqx.field(default=64, static=True)

    def __check_init__(self):
        if not isinstance(self.equation, AbstractParabolicPDE):
            raise TypeError(
                f"equation must be an AbstractParabolicPDE, got {type(self.equation).__name__}"
            )
        if not isinstance(self.num_steps, int) or self.num_steps < 1:
            raise ValueError(f"num_steps must be an integer >= 1, got {self.num_steps!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        self.equation.structure()  # every shape checked before any work

    @property
    def times(self) -> Float[Array, " steps1"]:
        """The grid $t_n = nT/N$, $n = 0, \\dots, N$."""
        return jnp.linspace(0.0, self.equation.T, self.num_steps + 1)

    def _diffusion_operator(self, t: Scalar, x: Point) -> lx.AbstractLinearOperator:
        sigma = jnp.asarray(self.equation.diffusion(t, x), x.dtype)
        if sigma.ndim == 2:
            return lx.MatrixLinearOperator(sigma)
        return lx.DiagonalLinearOperator(jnp.broadcast_to(sigma, x.shape))

    def _drift(self, t: Scalar, x: Point) -> Point:
        mu = self.equation.drift(t, x)
        return jnp.zeros_like(x) if mu is None else jnp.asarray(mu, x.dtype)

    def path(self, key: Key) -> tuple[Float[Array, "steps1 dim"], Float[Array, "steps k"]]:
        """One path $X_{t_0}, \\dots, X_{t_N}$ and its increments $\\Delta W_n$: an Euler
        solve of the SDE by `diffrax.diffeqsolve`, driven by the Brownian path through the
        drawn increments (linear between grid times, so each Euler step sees exactly its
        $\\Delta W_n$)."""
        equation = self.equation
        times = self.times
        k = equation.structure().noise_dim
        x0 = jnp.asarray(equation.origin(), times.dtype)
        steps = jnp.sqrt(jnp.diff(times))[:, None]
        dw = steps * jax.random.normal(key, (self.num_steps, k), times.dtype)
        brownian = diffrax.LinearInterpolation(
            ts=times, ys=jnp.concatenate([jnp.zeros((1, k), times.dtype), jnp.cumsum(dw, 0)])
        )
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda t, x, args: self._drift(jnp.asarray(t), x)),
            diffrax.ControlTerm(
                lambda t, x, args: self._diffusion_operator(jnp.asarray(t), x), brownian
            ),
        )
        solution = diffrax.diffeqsolve(
            terms,
            diffrax.Euler(),
            t0=times[0],
            t1=times[-1],
            dt0=None,
            y0=x0,
            saveat=diffrax.SaveAt(ts=times),
            stepsize_controller=diffrax.StepTo(ts=times),
            max_steps=self.num_steps,
        )
        assert solution.ys is not None
        return solution.ys, dw

    def scales(self, key: Key, pilot: int = 1024) -> "PathScales":
        r"""The problem's scales from `pilot` paths (a [`pinnkit.PathScales`][]): $x_0$, the
        spread $s_x$ of $X_T - x_0$ per coordinate, the spread $s_g$ of $g(X_T)$,
        $m_g$, the mean of $g(X_T) + \sum_n f(t_n, X_n, E\,g, 0)\,\Delta t$ (one Picard step
        from $u \equiv E\,g(X_T)$), and $m_T$, the mean of $u_t(T, X_T) =
        -(\mathcal{L}g + f(T, X_T, g, \sigma^\top\nabla g))$ read from the PDE at $T$
        ($\mathcal{L}$ its linear part, averaged by Dynkin's formula over the last step)."""
        x, dw = jax.vmap(self.path)(jax.random.split(key, pilot))
        x_end = x[:, -1]
        g = jax.vmap(self.equation.terminal)(x_end)
        value_shift = float(jnp.mean(g + self._picard_start(x, g)))
        value_scale = float(jnp.std(g)) or max(abs(value_shift), 1.0)
        x0 = jnp.asarray(self.equation.origin(), x_end.dtype)
        spread = jnp.sqrt(jnp.mean((x_end - x0) ** 2, axis=0))
        spread = jnp.where(spread > 0, spread, 1.0)
        return PathScales(x0, spread, value_shift, value_scale, self._terminal_rate(x, dw, g))

    def _terminal_rate(
        self,
        x: Float[Array, "pilot steps1 dim"],
        dw: Float[Array, "pilot steps k"],
        g: Float[Array, " pilot"],
    ) -> float:
        r"""The mean of $u_t(T, X_T) = -(\mathcal{L}g + f(T, X_T, g, \sigma^\top\nabla g))$
        over the pilot paths. $E\,\mathcal{L}g$ comes from Dynkin's formula on the last
        step, $E[g(X_N) - g(X_{N-1}) - \nabla g(X_{N-1})^\top\sigma\,\Delta W_{N-1}] /
        \Delta t$: no second derivatives of $g$, and the subtracted martingale term (mean
        zero) removes the noise of the step (all of it for a linear $g$)."""
        equation, times = self.equation, self.times
        horizon, step = times[-1], times[-1] - times[-2]
        terminal_gradient = jax.grad(equation.terminal)

        def martingale(point: Float[Array, " dim"], noise: Float[Array, " k"]) -> Scalar:
            z = equation.sigma_transpose(times[-2], point, terminal_gradient(point))
            return jnp.dot(z, noise)

        before = x[:, -2]
        increments = (
            g - jax.vmap(equation.terminal)(before) - jax.vmap(martingale)(before, dw[:, -1])
        )
        generator = jnp.mean(increments) / step

        def f_of_g(point: Float[Array, " dim"], value: Scalar) -> Scalar:
            z = equation.sigma_transpose(horizon, point, terminal_gradient(point))
            return equation.nonlinearity(horizon, point, value, z)

        return -float(generator + jnp.mean(jax.vmap(f_of_g)(x[:, -1], g)))

    def _picard_start(
        self, x: Float[Array, "pilot steps1 dim"], g: Float[Array, " pilot"]
    ) -> Float[Array, " pilot"]:
        r"""$\sum_n f(t_n, X_n, \bar g, 0)\,\Delta t$ along each pilot path."""
        equation, times = self.equation, self.times
        mean = jnp.mean(g)
        k = equation.structure().noise_dim
        zero = jnp.zeros((k,), x.dtype)

        def along(path: Float[Array, "steps1 dim"]) -> Scalar:
            f = jax.vmap(lambda t, x_n: equation.nonlinearity(t, x_n, mean, zero))(
                times[:-1], path[:-1]
            )
            return jnp.sum(f * jnp.diff(times))

        return jax.vmap(along)(x)

    def sample(self, key: Key) -> BSDEPaths:
        x, dw = jax.vmap(self.path)(jax.random.split(key, self.batch_size))
        return BSDEPaths(x, dw)

    def terminal_values(self, model: BSDENetwork, paths: BSDEPaths) -> Float[Array, " batch"]:
        """$Y_N$ for each path, from $Y_0$ and the network along the path."""
        equation, times = self.equation, self.times
        dt = jnp.diff(times)

        def one(x: Float[Array, "steps1 dim"], dw: Float[Array, "steps k"]) -> Scalar:
            z = jax.vmap(model.gradient_term)(times[:-1], x[:-1])

            def step(y, inputs):
                t, h, x_n, z_n, dw_n = inputs
                f = equation.nonlinearity(t, x_n, y, z_n)
                return y - f * h + jnp.dot(z_n, dw_n), None

            y_end, _ = jax.lax.scan(step, model.value, (times[:-1], dt, x[:-1], z, dw))
            return y_end

        return jax.vmap(one)(paths.x, paths.dw)

    def __call__(self, model, batch: BSDEPaths, key: Key) -> Scalar:
        del key
        if not isinstance(model, BSDENetwork):
            raise TypeError(f"DeepBSDE trains a BSDENetwork, got {type(model).__name__}")
        g = jax.vmap(self.equation.terminal)(batch.x[:, -1])
        return jnp.mean((self.terminal_values(model, batch) - g) ** 2)

    def network(
        self,
        key: PRNGKeyArray,
        width: int | None = None,
        depth: int = 2,
        activation: str = "tanh",
        pilot: int = 1024,
    ) -> BSDENetwork:
        r"""A [`pinnkit.BSDENetwork`][] scaled to the problem from `pilot` paths (drawn
        from `fold_in(key, 1)`): $Y_0$ starts at one Picard step from $u \equiv E\,g(X_T)$,
        the mean of $g(X_T) + \sum_n f(t_n, X_n, E\,g, 0)\,\Delta t$, and the network
        $\mathcal{Z}_\theta$ is an MLP of `depth` hidden layers of `width` neurons (default
        $d + 10$, the paper's) from $(x, t)$ to $\mathbb{R}^k$."""
        equation = self.equation
        d, k = equation.dim, equation.structure().noise_dim
        scales = self.scales(jax.random.fold_in(key, 1), pilot)
        value_shift, value_scale = scales.value_shift, scales.value_scale
        x0, spread = scales.origin, scales.spread
        mlp = eqx.nn.MLP(
            d + 1,
            k,
            width or d + 10,
            depth,
            activation=resolve_activation(activation, "DeepBSDE"),
            key=key,
        )
        return BSDENetwork(
            y=jnp.zeros(()),
            mlp=mlp,
            value_shift=value_shift,
            value_scale=value_scale,
            origin=x0,
            spread=spread,
            horizon=float(equation.T),
            gradient_scale=value_scale / math.sqrt(k * equation.T),
            in_size=d + 1,
        )
