"""The method of lines: a spatial discretization integrated in time by diffrax."""

import time
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float

from .._solver.solution import RESULTS, AbstractSolution, finish
from .discretization import AbstractDiscretization, PointFunction


_IMEX_SOLVERS = (diffrax.KenCarp3, diffrax.KenCarp4, diffrax.KenCarp5, diffrax.Sil3)


class _Linear(eqx.Module):
    discretization: AbstractDiscretization

    def __call__(self, t, y, args):
        del t, args
        return self.discretization.linear(y)


class _Reaction(eqx.Module):
    reaction: Callable

    def __call__(self, t, y, args):
        del t, args
        return jnp.vectorize(self.reaction)(y)


class _Full(eqx.Module):
    discretization: AbstractDiscretization
    reaction: Callable

    def __call__(self, t, y, args):
        del t, args
        return self.discretization.linear(y) + jnp.vectorize(self.reaction)(y)


class MOLSolution(AbstractSolution):
    """The outcome of [`pinnkit.MethodOfLines.solve`][].

    **Attributes:**

    - `ts`: the saved times, shape `(times,)`.
    - `values`: the nodal values at those times, shape `(times, *grid)`. After a failure,
      the times the solve did not reach hold `inf` (as diffrax leaves them).
    - `discretization`: the [`pinnkit.AbstractDiscretization`][] the values live on.
    - `result`: a [`pinnkit.RESULTS`][] item: `successful`, `max_steps_reached`,
      `time_integration_failed` (diffrax's other failures) or `nonfinite_values`.
    - `message`: why the solve stopped early and what to change (with diffrax's own
      reason); empty when successful.
    - `stats`: diffrax's statistics (`num_steps`, `num_accepted_steps`, ...), as ints.
    - `wall_s`: seconds spent in `solve`, compilation included.
    """

    ts: Float[Array, " times"]
    values: Float[Array, " times *grid"]
    discretization: AbstractDiscretization
    result: RESULTS
    message: str
    stats: dict[str, int]
    wall_s: float

    def interpolate(self, x: Float[Array, " dim"], index: int = -1) -> Float[Array, ""]:
        """The solution at the point `x` and the saved time `ts[index]` (default: the last).

        **Arguments:**

        - `x`: a point of shape `(dim,)`.
        - `index`: which saved time.

        **Returns:** a scalar.
        """
        return self.discretization.interpolate(self.values[index], jnp.asarray(x))


class MethodOfLines(eqx.Module):
    r"""Solves $u_t = L u + f(u)$, $u(t_0) = u_0$, by the method of lines.

    The discretization turns $L$ into a matrix-like map $L_h$ on nodal values $U$, and
    `diffrax.diffeqsolve` integrates $U' = L_h U + f(U)$. $L_h$ is stiff, so the default
    solver is the implicit `diffrax.Kvaerno5` with an adaptive `diffrax.PIDController`.
    With `imex=True` the reaction is treated explicitly and $L_h$ implicitly, through
    `diffrax.MultiTerm(ODETerm(reaction), ODETerm(linear))` and an IMEX solver
    (default `diffrax.KenCarp4`). Implicit solvers build the dense Jacobian of the right-hand
    side, so this path suits grids of up to a few thousand nodes: low dimensions, or
    radially symmetric problems through [`pinnkit.Radial`][].

    **Arguments:**

    - `discretization`: an [`pinnkit.AbstractDiscretization`][].
    - `reaction`: the function $f$, applied to each nodal value, or `None` for $f = 0$.
    - `solver`: a diffrax solver; `None` (default) for `Kvaerno5`, or `KenCarp4` when
      `imex=True`.
    - `rtol`, `atol`: tolerances of the step-size controller (and of the implicit solver's
      Newton iteration); defaults 1e-8 and 1e-10.
    - `dt0`: the initial step, or the step when `adaptive=False`; `None` lets diffrax choose
      (adaptive only).
    - `max_steps`: the most steps `diffeqsolve` may take (default 100,000).
    - `adaptive`: adaptive steps with a `PIDController` (default), or constant steps of
      `dt0`.
    - `imex`: split the right-hand side into an explicit reaction and an implicit linear part.
    """

    discretization: AbstractDiscretization
    reaction: Callable[[Float[Array, ""]], Float[Array, ""]] | None = None
    solver: diffrax.AbstractSolver | None = None
    rtol: float = eqx.field(default=1e-8, static=True)
    atol: float = eqx.field(default=1e-10, static=True)
    dt0: float | None = eqx.field(default=None, static=True)
    max_steps: int = eqx.field(default=100_000, static=True)
    adaptive: bool = eqx.field(default=True, static=True)
    imex: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        if not isinstance(self.discretization, AbstractDiscretization):
            raise TypeError(
                "discretization must be an AbstractDiscretization (FiniteDifference, Fourier, "
                f"Radial), got {type(self.discretization).__name__}"
            )
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError(f"rtol and atol must be positive, got {self.rtol}, {self.atol}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.dt0 is not None and not self.dt0 > 0:
            raise ValueError(f"dt0 must be positive, got {self.dt0}")
        if not self.adaptive and self.dt0 is None:
            raise ValueError("adaptive=False takes constant steps of dt0: pass dt0=...")
        is_imex_solver = isinstance(self.solver, _IMEX_SOLVERS)
        if self.imex:
            if self.solver is not None and not is_imex_solver:
                raise ValueError(
                    f"imex=True needs an IMEX solver, got {type(self.solver).__name__}; use "
                    "solver=diffrax.KenCarp4() (or KenCarp3, KenCarp5, Sil3), or set imex=False"
                )
            if self.reaction is None:
                raise ValueError(
                    "imex=True splits off the reaction, but reaction is None; set imex=False"
                )
        elif is_imex_solver:
            raise ValueError(
                f"{type(self.solver).__name__} is an IMEX solver and needs the split right-hand "
                "side: set imex=True, or use a fully implicit solver such as diffrax.Kvaerno5()"
            )
        if self.solver is not None and not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(f"solver must be a diffrax solver, got {type(self.solver).__name__}")

    def _solver(self) -> diffrax.AbstractSolver:
        solver = self.solver
        if solver is None:
            solver = diffrax.KenCarp4() if self.imex else diffrax.Kvaerno5()
        if not isinstance(solver, diffrax.AbstractImplicitSolver):
            return solver
        finder = solver.root_finder
        # Tolerances left to the step-size controller hold a placeholder, not a number.
        if isinstance(getattr(finder, "rtol", None), float):
            return solver  # configured by the user: keep it
        if not self.adaptive:
            # No controller to take tolerances from. Newton: diffrax 0.7.2's VeryChord was
            # measured to diverge at large constant steps on stiff heat problems.
            finder = optx.Newton(rtol=self.rtol, atol=self.atol)
        elif self.imex and isinstance(finder, diffrax.VeryChord):
            # Measured with diffrax 0.7.2: the KenCarp solvers with their default VeryChord
            # reject nearly every step even on the plain heat equation; Newton converges in
            # one iteration on the (linear) implicit part.
            finder = diffrax.with_stepsize_controller_tols(optx.Newton)()
        return eqx.tree_at(lambda s: s.root_finder, solver, finder)

    def _terms(self) -> diffrax.AbstractTerm:
        # Modules, not closures: equal configurations hit diffeqsolve's compilation cache.
        linear = diffrax.ODETerm(_Linear(self.discretization))
        if self.reaction is None:
            return linear
        reaction = diffrax.ODETerm(_Reaction(self.reaction))
        if self.imex:
            return diffrax.MultiTerm(reaction, linear)
        return diffrax.ODETerm(_Full(self.discretization, self.reaction))

    def solve(
        self,
        initial: PointFunction | Float[Array, "*grid"] | np.ndarray,
        t1: float,
        *,
        t0: float = 0.0,
        saveat_ts: Float[Array, " times"] | np.ndarray | list[float] | None = None,
        throw: bool = False,
    ) -> MOLSolution:
        """Integrate from `t0` to `t1`.

        **Arguments:**

        - `initial`: the initial data: a function of one point $x$ (projected with
          `discretization.project`), or nodal values of shape `discretization.shape`.
        - `t1`: the final time (> `t0`).
        - `t0`: the initial time (default 0).
        - `saveat_ts`: the times to save, in `[t0, t1]`; `None` (default) saves `t1` only.
        - `throw`: when the solve fails, `False` (default, as for every solver of pinnkit)
          warns and returns the solution, whose `result` and `message` say why; `True`
          raises a `RuntimeError` (a `SolveError`, whose `solution` is the partial one) with
          that message.

        **Returns:** a [`pinnkit.MOLSolution`][].
        """
        start = time.perf_counter()
        if not t1 > t0:
            raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
        y0 = self._initial_values(initial)
        if self.adaptive:
            controller = diffrax.PIDController(rtol=self.rtol, atol=self.atol)
        else:
            controller = diffrax.ConstantStepSize()
        solution = diffrax.diffeqsolve(
            self._terms(),
            self._solver(),
            jnp.asarray(t0, dtype=y0.dtype),
            jnp.asarray(t1, dtype=y0.dtype),
            None if self.dt0 is None else jnp.asarray(self.dt0, dtype=y0.dtype),
            y0,
            saveat=_saveat(saveat_ts, t0, t1, y0.dtype),
            stepsize_controller=controller,
            max_steps=self.max_steps,
            throw=False,  # failures are reported below, with pinnkit's result codes
        )
        assert solution.ts is not None and solution.ys is not None
        values = jax.block_until_ready(solution.ys)
        stats = {k: int(v) for k, v in solution.stats.items() if jnp.ndim(v) == 0}
        result, message = _outcome(solution.result, values, stats)
        if result != RESULTS.successful:
            message += _stopped_at(solution.ts, t1, values.dtype, self.rtol, self.atol)
        mol_solution = MOLSolution(
            ts=solution.ts,
            values=values,
            discretization=self.discretization,
            result=result,
            message=message,
            stats=stats,
            wall_s=time.perf_counter() - start,
        )
        return finish(mol_solution, throw, stacklevel=2)

    def _initial_values(
        self, initial: PointFunction | Float[Array, "*grid"] | np.ndarray
    ) -> Float[Array, "*grid"]:
        """The nodal values of `initial`, checked against the grid and made floating-point."""
        discretization = self.discretization
        if callable(initial):
            y0 = discretization.project(initial)
        else:
            y0 = jnp.asarray(initial)
        if y0.shape != tuple(discretization.shape):
            raise ValueError(
                f"initial values must have the grid's shape {discretization.shape}, got {y0.shape}"
            )
        if not jnp.issubdtype(y0.dtype, jnp.floating):
            y0 = y0.astype(jnp.result_type(float))
        return y0


def _saveat(
    saveat_ts: Float[Array, " times"] | np.ndarray | list[float] | None,
    t0: float,
    t1: float,
    dtype: Any,
) -> diffrax.SaveAt:
    if saveat_ts is None:
        return diffrax.SaveAt(t1=True)
    ts = np.asarray(saveat_ts, dtype=float)
    if ts.ndim != 1 or ts.size == 0 or ts.min() < t0 or ts.max() > t1:
        raise ValueError(f"saveat_ts must be a 1-D array of times in [{t0}, {t1}]")
    return diffrax.SaveAt(ts=jnp.asarray(ts, dtype=dtype))


def _stopped_at(ts: Array, t1: float, dtype: Any, rtol: float, atol: float) -> str:
    """Where a failed solve stopped (a value saved at that time is from there, not from
    `t1`; later saved times hold `inf`), and, for float32 values with tolerances below its
    resolution, that float64 is needed."""
    finite = np.asarray(ts)[np.isfinite(np.asarray(ts))]
    reached = float(finite.max()) if finite.size else float("nan")
    text = f". It stopped at t = {reached:.3g} of t1 = {t1:.3g}"
    eps = float(jnp.finfo(dtype).eps)
    if eps > 1e-10 and min(rtol, atol) < 10 * eps:
        text += (
            f"; the values are {jnp.dtype(dtype).name}, whose resolution ({eps:.1e}) is "
            f"coarser than rtol={rtol:g}, atol={atol:g}: solve in float64 "
            "(`with jax.enable_x64(True):`, or `pinnkit solve --x64`) or loosen the tolerances"
        )
    return text


def _outcome(outcome: diffrax.RESULTS, values: Array, stats: dict[str, int]) -> tuple[RESULTS, str]:
    """diffrax's result mapped onto pinnkit's, and the message: `max_steps_reached` is
    itself, diffrax's other failures are `time_integration_failed`, and a success whose
    values are not finite (possible with constant steps) is `nonfinite_values`."""
    steps = stats.get("num_steps", 0)
    if outcome == diffrax.RESULTS.successful:
        if bool(jnp.all(jnp.isfinite(values))):
            return RESULTS.successful, ""
        result = RESULTS.nonfinite_values
        return result, f"the method of lines reached t1 in {steps} steps: {RESULTS[result]}"
    if outcome == diffrax.RESULTS.max_steps_reached:
        result = RESULTS.max_steps_reached
    else:
        result = RESULTS.time_integration_failed
    return result, (
        f"the method of lines stopped at step {steps}: {RESULTS[result]} "
        f"(diffrax: {diffrax.RESULTS[outcome]})"
    )
