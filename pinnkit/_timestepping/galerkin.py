r"""Neural Galerkin: a network's parameters evolved in time by diffrax.

For $u_t = F(u)$ and a network $u(x; \theta)$, Neural Galerkin asks $\theta(t)$ to follow the
PDE at sample points: at every right-hand-side evaluation it solves the least-squares problem
$\min_{\dot\theta} \frac1n \sum_i (\nabla_\theta u(x_i; \theta) \cdot \dot\theta - F(u)(x_i))^2$
and hands $\dot\theta$ to `diffrax.diffeqsolve`. The operator inside $F$ is evaluated by any
estimator, so its cost in $d$ is the estimator's.
"""

import time
from collections.abc import Callable, Sequence
from typing import Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PyTree

from .._estimator.base import AbstractEstimator, AbstractStochasticEstimator
from .._estimator.exact import Exact
from .._loss.losses import DataLoss
from .._network.base import AbstractNetwork
from .._operator.pde import AbstractPDE
from .._sampler.base import AbstractSampler
from .._solver.pinn import PINNSolver, Solution
from .._solver.solution import RESULTS, AbstractSolution, finish
from .._types import Key, Point, Points, Scalar
from .lstsq import regularized_lstsq as regularized_lstsq
from .schedule import save_times, step_schedule


class GalerkinSolution(AbstractSolution):
    """The outcome of [`pinnkit.NeuralGalerkin.solve`][].

    **Attributes:**

    - `ts`: the saved times, shape `(times,)`.
    - `networks`: the network at every saved time, as one network whose parameter arrays
      carry a leading `times` axis; [`network`][] picks one out. After a failure, the times
      from the failing step on hold the parameters of the last finite step.
    - `num_steps`: the number of time steps completed (all of them unless the solve failed).
    - `wall_s`: seconds spent in `solve`, compilation included.
    - `result`: a [`pinnkit.RESULTS`][] item: `successful`, or `nonfinite_parameters` when
      the parameters became non-finite.
    - `message`: why the solve stopped early, at which step and time, and what to change;
      empty when successful.
    """

    ts: Float[Array, " times"]
    networks: AbstractNetwork
    num_steps: int
    wall_s: float
    result: RESULTS
    message: str

    def network(self, index: int = -1) -> AbstractNetwork:
        """The network at the saved time `ts[index]` (default: the last)."""
        params, static = eqx.partition(self.networks, eqx.is_inexact_array)
        return eqx.combine(jax.tree_util.tree_map(lambda a: a[index], params), static)

    def values(self, x: Point) -> Float[Array, " times"]:
        """$u(t, x)$ at every saved time, for one point `x` of shape `(dim,)`."""
        params, static = eqx.partition(self.networks, eqx.is_inexact_array)
        return jax.vmap(lambda p: eqx.combine(p, static)(x))(params)


class _Field(eqx.Module):
    """The vector field $\\dot\\theta(\\theta)$ of one time step; `args` is the step's key."""

    galerkin: "NeuralGalerkin"
    unravel: Callable = eqx.field(static=True)
    static: PyTree

    def __call__(self, t, theta, args):
        del t
        return self.galerkin._flat_velocity(theta, self.unravel, self.static, args, throw=False)


class NeuralGalerkin(eqx.Module):
    r"""Solves $u_t = F(u)$ by evolving the parameters $\theta(t)$ of a network $u(x; \theta)$.

    **The right-hand side** is a [`pinnkit.AbstractPDE`][] read as an evolution equation:
    $F(u)(x)$ is the PDE's `residual(x, u, derivatives, source(x))`, with `derivatives` the
    values of its `operators` at $x$ from the estimator. So the heat equation $u_t = \Delta u$
    is a PDE with `operators = (Laplacian(),)` whose residual returns the Laplacian, and
    $u_t = \Delta u + f(u)$ returns `laplacian + f(u)`. The right-hand side must not depend on
    $t$ explicitly.

    **Each evaluation** of $\dot\theta$ draws `num_points` points $x_i$ from `sampler`,
    evaluates $F_i = F(u)(x_i)$ through `estimator` and the Jacobian
    $J_{ij} = \partial u(x_i; \theta) / \partial \theta_j$ by reverse-mode autodiff, and
    returns the solution of
    $\min_{\dot\theta} \frac1n \|J \dot\theta - F\|^2 + \lambda \|\dot\theta\|^2$ computed by
    [`pinnkit.regularized_lstsq`][]: an augmented system factored by `lineax.QR`, never the
    normal equations, so the conditioning is not squared. $\theta$ is every inexact array
    leaf of the network, flattened with `jax.flatten_util.ravel_pytree`.

    **Time stepping** uses constant steps of (at most) `dt` with any diffrax solver (default
    `diffrax.Heun`). Each step is one `diffrax.diffeqsolve` call whose right-hand side is
    deterministic within the step: the points, the estimator's random draws and the parameter
    subset of step $n$ all come from `fold_in(key, n)`, shared by every stage of the solver,
    so a run is reproducible from its key and a multi-stage solver integrates one sampled
    problem per step. Across steps they are redrawn. (A random right-hand side rules out
    adaptive step control.)

    **Randomized sparse updates** (`subset_size=s`): each step draws $s$ of the $p$
    parameters without replacement and solves the least-squares problem for those columns
    of $J$ only; the other parameters stay unchanged during that step. This cuts the cost
    from $O(n p \min(n, p))$ to $O(n s \min(n, s))$ and, as Berman and Peherstorfer observe,
    reduces overfitting of $\dot\theta$ to the sample points.

    **Arguments:**

    - `pde`: the right-hand side, as described above.
    - `sampler`: an [`pinnkit.AbstractSampler`][] for the points; it should cover where the
      solution matters at all times (e.g. `UniformSampler(Ball(d, R))`, uniform in radius).
    - `estimator`: evaluates the PDE's operators (default [`pinnkit.Exact`][]);
      [`pinnkit.STDE`][] or [`pinnkit.HTE`][] make high $d$ affordable.
    - `num_points`: points per step, $n$ (default 500).
    - `dt`: the largest time step (default 1e-2); each interval between saved times is split
      into equal steps of at most `dt`.
    - `solver`: a diffrax solver (default `diffrax.Heun()`; e.g. `diffrax.Tsit5()` or
      `diffrax.Euler()`).
    - `regularization`: $\lambda \ge 0$ (default 1e-8). The objective uses the mean over
      points, so $\lambda$ does not depend on `num_points`.
    - `subset_size`: parameters updated per step, or `None` (default) for all.
    - `sharing`: for stochastic estimators, `"batch"` (default: one draw per step shared by
      all points) or `"point"` (an independent draw per point).
    - `linear_solver`: the `lineax` solver for the augmented least-squares system (default
      `lineax.QR()`; `lineax.SVD()` also handles rank-deficient systems when $\lambda = 0$).

    **References:** Bruna, Peherstorfer, Vanden-Eijnden, "Neural Galerkin schemes with active
    learning for high-dimensional evolution equations", J. Comput. Phys. (2024); Berman,
    Peherstorfer, "Randomized sparse Neural Galerkin schemes for solving evolution equations
    with deep networks", NeurIPS (2023).
    """

    pde: AbstractPDE
    sampler: AbstractSampler
    estimator: AbstractEstimator = Exact()
    num_points: int = eqx.field(default=500, static=True)
    dt: float = eqx.field(default=1e-2, static=True)
    solver: diffrax.AbstractSolver = diffrax.Heun()
    regularization: float = eqx.field(default=1e-8, static=True)
    subset_size: int | None = eqx.field(default=None, static=True)
    sharing: Literal["batch", "point"] = eqx.field(default="batch", static=True)
    linear_solver: lx.AbstractLinearSolver = lx.QR()

    def __check_init__(self):
        if not isinstance(self.pde, AbstractPDE):
            raise TypeError(f"pde must be an AbstractPDE, got {type(self.pde).__name__}")
        if not isinstance(self.sampler, AbstractSampler):
            raise TypeError(
                f"sampler must be an AbstractSampler, got {type(self.sampler).__name__}"
            )
        if not isinstance(self.estimator, AbstractEstimator):
            raise TypeError(
                f"estimator must be an AbstractEstimator, got {type(self.estimator).__name__}"
            )
        if not isinstance(self.num_points, int) or self.num_points < 1:
            raise ValueError(f"num_points must be a positive integer, got {self.num_points!r}")
        if not self.dt > 0:
            raise ValueError(f"dt must be positive, got {self.dt}")
        if not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(
                f"solver must be a diffrax solver such as diffrax.Heun(), got "
                f"{type(self.solver).__name__}"
            )
        if not self.regularization >= 0:
            raise ValueError(f"regularization must be >= 0, got {self.regularization}")
        if self.subset_size is not None and (
            not isinstance(self.subset_size, int) or self.subset_size < 1
        ):
            raise ValueError(
                f"subset_size must be a positive integer or None, got {self.subset_size!r}"
            )
        if self.sharing not in ("batch", "point"):
            raise ValueError(f"sharing must be 'batch' or 'point', got {self.sharing!r}")

    # ----------------------------------------------------------------------------------
    # One right-hand-side evaluation
    # ----------------------------------------------------------------------------------

    def rhs(self, network: AbstractNetwork, points: Points, key: Key) -> Float[Array, " n"]:
        """The evolution's right-hand side $F(u)(x_i)$ at each of `points`.

        **Arguments:**

        - `network`: the current $u$.
        - `points`: shape `(n, dim)`.
        - `key`: feeds a stochastic estimator.

        **Returns:** shape `(n,)`.
        """
        pde, estimator = self.pde, self.estimator

        def one(x: Point, k: Key) -> Scalar:
            u, derivatives = estimator(network, x, pde.operators, k)
            return pde.residual(x, u, derivatives, pde.source(x))

        n = points.shape[0]
        if self.sharing == "point" and isinstance(estimator, AbstractStochasticEstimator):
            return jax.vmap(one)(points, jax.random.split(key, n))
        return jax.vmap(one, in_axes=(0, None))(points, key)

    def _flat_velocity(
        self,
        theta: Float[Array, " p"],
        unravel: Callable,
        static: PyTree,
        key: Key,
        throw: bool = True,
    ) -> Float[Array, " p"]:
        """`velocity` on flat parameters. `throw=False` lets a non-finite right-hand side
        through as a non-finite velocity (for `solve` to report) instead of raising lineax's
        error."""
        point_key, estimator_key, subset_key = jax.random.split(key, 3)
        points = self.sampler(point_key, self.num_points)
        if points.shape[0] != self.num_points or points.ndim != 2:
            raise ValueError(
                f"the sampler returned shape {points.shape}, expected ({self.num_points}, dim)"
            )

        def value(th: Array, x: Point) -> Scalar:
            return eqx.combine(unravel(th), static)(x)

        forcing = self.rhs(eqx.combine(unravel(theta), static), points, estimator_key)
        jacobian = jax.vmap(jax.grad(value), in_axes=(None, 0))(theta, points)
        p = theta.shape[0]
        if self.subset_size is None:
            return regularized_lstsq(
                jacobian, forcing, self.regularization, self.linear_solver, throw=throw
            )
        subset = jax.random.choice(subset_key, p, (self.subset_size,), replace=False)
        partial = regularized_lstsq(
            jacobian[:, subset], forcing, self.regularization, self.linear_solver, throw=throw
        )
        return jnp.zeros_like(theta).at[subset].set(partial)

    def _check_network(self, network: AbstractNetwork) -> tuple[Array, Callable, PyTree]:
        if not isinstance(network, AbstractNetwork):
            raise TypeError(f"network must be an AbstractNetwork, got {type(network).__name__}")
        if network.in_size != self.sampler.dim:
            raise ValueError(
                f"the network takes points of dimension {network.in_size} but the sampler "
                f"draws dimension {self.sampler.dim}"
            )
        params, static = eqx.partition(network, eqx.is_inexact_array)
        theta, unravel = ravel_pytree(params)
        if theta.size == 0:
            raise ValueError("the network has no inexact array parameters to evolve")
        if self.subset_size is not None and self.subset_size > theta.size:
            raise ValueError(
                f"subset_size={self.subset_size} exceeds the network's {theta.size} parameters; "
                f"choose 1 <= subset_size <= {theta.size}, or None to update all"
            )
        return theta, unravel, static

    def velocity(self, network: AbstractNetwork, key: Key) -> Float[Array, " p"]:
        r"""The parameter velocity $\dot\theta$ of one right-hand-side evaluation.

        **Arguments:**

        - `network`: the current network.
        - `key`: the key of the evaluation (points, estimator draws and subset).

        **Returns:** $\dot\theta$ flattened like `ravel_pytree(eqx.filter(network,
        eqx.is_inexact_array))`, shape `(p,)`.
        """
        self._check_network(network)
        params, static = eqx.partition(network, eqx.is_inexact_array)
        return _velocity(self, params, static, key)

    # ----------------------------------------------------------------------------------
    # The initial fit and the solve
    # ----------------------------------------------------------------------------------

    def fit_initial(
        self,
        network: AbstractNetwork,
        initial: Callable[[Point], Scalar],
        key: Key,
        *,
        steps: int = 2000,
        num_points: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        optimizer=None,
        progress: bool = False,
        throw: bool = False,
    ) -> Solution:
        r"""Fit `network` to the initial data $u_0$ with [`pinnkit.PINNSolver`][].

        Draws `num_points` points from the sampler once, and minimises the mean squared
        mismatch with $u_0$ there (a [`pinnkit.DataLoss`][]) by Adam with a linearly
        decaying learning rate (or `optimizer`). In high dimension, use many more points than
        the network has parameters, or the fit is good only at the points.

        **Arguments:**

        - `network`: the initial guess.
        - `initial`: $u_0$ at one point.
        - `key`: the PRNG key for the points.
        - `steps`: optimizer steps (default 2,000).
        - `num_points`: data points; `None` (default) for `4 * num_points`.
        - `batch_size`: data points per optimizer step; `None` (default) for all.
        - `learning_rate`: for the default optimizer (default 1e-3).
        - `optimizer`: an optax optimizer, or `None`.
        - `progress`: show a progress bar.
        - `throw`: when the fit stops early (a non-finite loss), `False` (default) warns and
          returns the `Solution`, whose `result` and `message` say why; `True` raises a
          `RuntimeError` with that message (see [`pinnkit.PINNSolver.solve`][]).

        **Returns:** the [`pinnkit.Solution`][]; its `network` is $u(\cdot; \theta(0))$.
        """
        self._check_network(network)
        count = 4 * self.num_points if num_points is None else num_points
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"num_points must be a positive integer, got {num_points!r}")
        point_key, train_key = jax.random.split(key)
        points = self.sampler(point_key, count)
        values = jax.vmap(initial)(points)
        if values.shape != (count,):
            raise ValueError(
                f"initial must return a scalar at one point, got shape {values.shape[1:]}"
            )
        if batch_size is not None and not 1 <= batch_size <= count:
            raise ValueError(f"batch_size must be in [1, {count}] or None, got {batch_size!r}")
        loss = DataLoss(points, values, batch_size)
        trainer = PINNSolver(
            loss,
            optimizer=optimizer,
            learning_rate=learning_rate,
            log_every=max(1, min(100, steps)),
            eval_every=max(1, steps),
        )
        return trainer.solve(network, steps, train_key, progress=progress, throw=throw)

    def solve(
        self,
        network: AbstractNetwork,
        t1: float | int,
        key: Key,
        *,
        t0: float | int = 0.0,
        saveat: diffrax.SaveAt | Sequence[float] | np.ndarray | Array | None = None,
        throw: bool = False,
    ) -> GalerkinSolution:
        """Evolve `network` (fitted to the initial data at `t0`) up to `t1`.

        **Arguments:**

        - `network`: $u(\\cdot; \\theta(t_0))$, e.g. from [`fit_initial`][].
        - `t1`: the final time (> `t0`).
        - `key`: the PRNG key of the run; the same key gives the same result.
        - `t0`: the initial time (default 0).
        - `saveat`: the times to save: a sequence of times in `[t0, t1]`, or a
          `diffrax.SaveAt` with `t0`, `t1` and/or `ts`; `None` (default) saves `t1` only.
          Steps land exactly on every saved time.
        - `throw`: when the parameters become non-finite, `False` (default, as for every
          solver of pinnkit) keeps those of the last finite step, warns, and returns the
          solution, whose `result` and `message` name the step; `True` stops the compiled
          loop at that step with `equinox.error_if`, raising a `RuntimeError`
          (`equinox.EquinoxRuntimeError`) whose message is `RESULTS.nonfinite_parameters`'.

        **Returns:** a [`pinnkit.GalerkinSolution`][].
        """
        start = time.perf_counter()
        theta, unravel, static = self._check_network(network)
        t0, t1 = float(t0), float(t1)
        if not t1 > t0:
            raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
        save_ts = save_times(saveat, t0, t1)
        starts, sizes, slots = step_schedule(t0, save_ts, self.dt)
        dtype = theta.dtype
        params = eqx.filter(network, eqx.is_inexact_array)
        steps = (jnp.asarray(starts, dtype), jnp.asarray(sizes, dtype), jnp.asarray(slots))
        saved, bad = _evolve(
            self, params, static, key, steps, len(save_ts), save_ts[0] == t0, throw
        )
        saved = jax.block_until_ready(saved)
        bad = int(bad)
        result, message = RESULTS.successful, ""
        if bad >= 0:
            result, message = RESULTS.nonfinite_parameters, _nonfinite_message(bad, starts, sizes)
        solution = GalerkinSolution(
            ts=jnp.asarray(save_ts, dtype),
            networks=eqx.combine(jax.vmap(unravel)(saved), static),
            num_steps=len(starts) if bad < 0 else bad,
            wall_s=time.perf_counter() - start,
            result=result,
            message=message,
        )
        return finish(solution, throw, stacklevel=2)


def _nonfinite_message(bad: int, starts: np.ndarray, sizes: np.ndarray) -> str:
    t_start, t_end = float(starts[bad]), float(starts[bad] + sizes[bad])
    return (
        f"Neural Galerkin stopped at step {bad} (t = {t_start:.6g} to {t_end:.6g}): "
        f"{RESULTS[RESULTS.nonfinite_parameters]} The networks saved from t = {t_end:.6g} on "
        f"hold the parameters of the last finite step (t = {t_start:.6g})."
    )


@eqx.filter_jit
def _velocity(galerkin: NeuralGalerkin, params: PyTree, static: PyTree, key: Key) -> Array:
    theta, unravel = ravel_pytree(params)
    return galerkin._flat_velocity(theta, unravel, static, key)


@eqx.filter_jit
def _evolve(
    galerkin: NeuralGalerkin,
    params: PyTree,
    static: PyTree,
    key: Key,
    steps: tuple[Array, Array, Array],
    num_saved: int,
    save_initial: bool,
    throw: bool,
) -> tuple[Array, Array]:
    """The flat parameters at the saved times, one `diffeqsolve` per step in a `lax.scan`,
    and the first step whose parameters are not finite (-1 for none).

    `steps` holds each step's start, size and saved slot (see `step_schedule`). From the
    first non-finite step on, the parameters stay those of the step before; with `throw`,
    `eqx.error_if` stops the loop there instead. A module-level filtered jit, so that solves
    with equal configurations and network structures reuse one compilation.
    """
    theta, unravel = ravel_pytree(params)
    field = _Field(galerkin, unravel, static)
    buffer = jnp.zeros((num_saved, theta.size), theta.dtype)
    if save_initial:
        buffer = buffer.at[0].set(theta)

    def step(carry, inputs):
        theta, buffer, bad = carry
        index, t_start, h, slot = inputs
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            galerkin.solver,
            t_start,
            t_start + h,
            h,
            theta,
            args=jax.random.fold_in(key, index),
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.ConstantStepSize(),
            max_steps=4,
        )
        assert solution.ys is not None
        new_theta = solution.ys[-1]
        finite = jnp.all(jnp.isfinite(new_theta))
        if throw:
            message = RESULTS[RESULTS.nonfinite_parameters]
            new_theta = eqx.error_if(new_theta, ~finite, message)
        failed = (bad < 0) & ~finite
        bad = jnp.where(failed, index, bad)
        theta = jnp.where(bad < 0, new_theta, theta)
        where = jnp.maximum(slot, 0)
        buffer = buffer.at[where].set(jnp.where(slot >= 0, theta, buffer[where]))
        return (theta, buffer, bad), None

    starts, sizes, slots = steps
    indices = jnp.arange(starts.shape[0])
    init = (theta, buffer, jnp.array(-1))
    (_, buffer, bad), _ = jax.lax.scan(step, init, (indices, starts, sizes, slots))
    return buffer, bad
