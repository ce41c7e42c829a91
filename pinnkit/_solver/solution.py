"""What every solver returns, and what the training loops share.

Every solver of pinnkit (`PINNSolver.solve` and `refine`, `MethodOfLines.solve`,
`NeuralGalerkin.solve` and `fit_initial`) returns an `AbstractSolution` whose `result` is
a `RESULTS` item and whose `message` says what went wrong and what to change, and
takes `throw` (default `False`): with `throw=False` a failed solve warns and returns what it
has, with `throw=True` it raises (see `finish`). The rest of this module is shared by
`PINNSolver.solve` (`pinn.py`, `training.py`) and `PINNSolver.refine` (`lbfgs.py`): the
`Solution` and its history layout, the key of the loss state, the progress bar and
two tree helpers.
"""

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from equinox import AbstractVar
from jaxtyping import Array, PyTree

from .._network.base import AbstractNetwork
from .reference import TestSet


class RESULTS(eqx.Enumeration):
    """How a solve ended. Every solution's `result` holds one of these.

    Each item's message starts with its name, so an item prints as, for example,
    `RESULTS<successful: ...>`; [`pinnkit.result_name`][] gives the name alone. A solution's
    `message` contains its item's message, with where the solve stopped.
    """

    successful = "successful: every requested step was completed."
    nonfinite_loss = (
        "nonfinite_loss: The loss or its gradient became non-finite. The network with the last "
        "finite loss is kept (for L-BFGS, the one with the lowest loss). Likely causes: a step "
        "too large for this problem (try a smaller learning rate), a network output that "
        "overflows (check the initialization and the input scale), or a PDE residual that is "
        "undefined for some inputs."
    )
    interrupted = (
        "interrupted: Training was interrupted (Ctrl-C / SIGINT) after the last completed chunk "
        "of steps. With a checkpoint folder, that state was saved; solve again with resume=True "
        "(`pinnkit solve ... --resume`) to continue."
    )
    lbfgs_stalled = (
        "lbfgs_stalled: L-BFGS stopped making progress: its line search found no step that "
        "decreases the loss, or the loss did not decrease for `patience` iterations. The network "
        "with the lowest loss is kept. This is expected once the loss on the fixed points is "
        "near its floor in the working precision; float64 (`--x64`) or more points may help."
    )
    max_steps_reached = (
        "max_steps_reached: The time integration used up `max_steps` steps before reaching t1. "
        "Raise max_steps; a stiff problem (a fine grid) with an explicit solver takes tiny "
        "steps, so use an implicit solver (Kvaerno5, the default) or loosen rtol/atol."
    )
    time_integration_failed = (
        "time_integration_failed: diffrax could not complete a time step: the implicit "
        "solver's nonlinear iteration diverged or its linear solve was singular, or the step "
        "size fell below its minimum. Loosen rtol/atol, give a smaller dt0, or try another "
        "solver (Kvaerno5, or KenCarp4 with imex=True)."
    )
    nonfinite_values = (
        "nonfinite_values: The method of lines' nodal values became non-finite. Likely causes: "
        "constant steps (adaptive=False) too large for an explicit solver on a stiff problem "
        "(reduce dt0, use an implicit solver, or adaptive=True), or a reaction that blows up "
        "for these data."
    )
    nonfinite_parameters = (
        "nonfinite_parameters: Neural Galerkin's network parameters became non-finite. Likely "
        "causes: a time step too large for the problem (reduce dt), too little regularization "
        "for an ill-conditioned Jacobian (raise regularization), or too few points (raise "
        "num_points)."
    )


def result_name(result: Any) -> str:
    """The name of a [`pinnkit.RESULTS`][] item, such as `"successful"` or `"nonfinite_loss"`.

    **Arguments:**

    - `result`: a `RESULTS` item, such as `Solution.result`.

    **Returns:**

    The item's name, as written after `RESULTS.`; `result.json` records it under `"result"`.
    """
    if not isinstance(result, RESULTS):
        raise ValueError(f"result_name expects a pinnkit.RESULTS item, got {result!r}")
    message = RESULTS[result]
    name, sep, _ = message.partition(":")
    if not sep or not name.isidentifier():
        raise ValueError(f"result_name needs a concrete RESULTS item, got {result!r}")
    return name


class AbstractSolution(eqx.Module):
    """What every solver of pinnkit returns: how the solve ended and how long it took.

    [`pinnkit.Solution`][] (`PINNSolver.solve` and `refine`, `NeuralGalerkin.fit_initial`),
    [`pinnkit.MOLSolution`][] and [`pinnkit.GalerkinSolution`][] are its subclasses.

    **Attributes:**

    - `result`: a [`pinnkit.RESULTS`][] item; `RESULTS.successful` unless the solve stopped
      early.
    - `message`: why the solve stopped early, where, and what to change; empty when
      successful. It contains the `result` item's message, so it starts its explanation with
      the item's name.
    - `wall_s`: seconds spent in the solve, compilation included.
    """

    result: AbstractVar[RESULTS]
    message: AbstractVar[str]
    wall_s: AbstractVar[float]


class SolveError(RuntimeError):
    """Raised by a solver called with `throw=True` when its result is not successful.

    Its text is the solution's `message`. **Attributes:** `result` (the
    [`pinnkit.RESULTS`][] item) and `solution` (the partial solution that `throw=False` would
    have returned).
    """

    def __init__(self, solution: AbstractSolution):
        super().__init__(solution.message)
        self.result = solution.result
        self.solution = solution

    def __reduce__(self):
        return type(self), (self.solution,)


S = TypeVar("S", bound=AbstractSolution)


def finish(solution: S, throw: bool, stacklevel: int) -> S:
    """Return `solution`, or raise because it failed and `throw` is set.

    A successful solution is returned as it is. Otherwise, with `throw=True`, an interrupted
    one re-raises `KeyboardInterrupt` and any other raises `SolveError`; with
    `throw=False` it is returned after a `RuntimeWarning` with its message (pointing
    `stacklevel` frames above this call), except `lbfgs_stalled`, an expected end of L-BFGS.
    """
    result = solution.result
    if result == RESULTS.successful:
        return solution
    if throw:
        if result == RESULTS.interrupted:
            raise KeyboardInterrupt(solution.message)
        raise SolveError(solution)
    if result != RESULTS.lbfgs_stalled:
        warnings.warn(solution.message, RuntimeWarning, stacklevel=stacklevel + 1)
    return solution


class Solution(AbstractSolution):
    """The outcome of [`pinnkit.PINNSolver.solve`][] and [`pinnkit.PINNSolver.refine`][].

    **Attributes:**

    - `network`: the trained network (the last one with a finite loss).
    - `history`: a dict of NumPy arrays: `step` and `loss` for every step; `eval_step`,
      `rel_l2`, `rel_l1` at each evaluation when a test set was given.
    - `metrics`: the final errors on the test set (empty without one).
    - `result`: a `RESULTS` item; `RESULTS.successful` unless training stopped early.
    - `message`: why training stopped early, naming the step; empty when successful.
    - `steps`: the number of completed steps.
    - `wall_s`: seconds spent in `solve`, compilation and evaluation included.
    - `loss_state`: the loss's state after the last step (see
      [`pinnkit.AbstractLoss.init_state`][]; `None` for stateless losses).
    """

    network: AbstractNetwork
    history: dict[str, np.ndarray]
    metrics: dict[str, float]
    result: RESULTS
    message: str
    steps: int
    wall_s: float
    loss_state: PyTree = None


HISTORY = {
    "step": np.int64,
    "loss": np.float64,
    "eval_step": np.int64,
    "rel_l2": np.float64,
    "rel_l1": np.float64,
}
"""The per-run history lists and the dtypes they are stored with (losses and errors are
Python floats on the host, so float64 holds them exactly)."""

LOSS_STATE_FOLD = 2**31 - 1
"""`loss.init_state` gets `fold_in(key, LOSS_STATE_FOLD)`; step n's keys come from
`fold_in(key, n)`, so the two never meet for any practical number of steps."""


def all_finite(tree: PyTree) -> Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def select(pred: Array, a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def progress_bar(total: int, enabled: bool, initial: int = 0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5)


def advance_bar(bar: Any, kept: int, logs: dict[str, float]) -> None:
    """Move the progress bar (if any) on by `kept` steps and show the latest `logs`."""
    if bar is not None:
        bar.update(kept)
        bar.set_postfix({k: f"{v:.3e}" for k, v in logs.items()}, refresh=False)


def close_bar(bar: Any, logs: dict[str, float]) -> None:
    """Show the final `logs` on the progress bar (if any) and close it, so that it ends on
    the values the summary reports, not on the previous evaluation's."""
    if bar is not None:
        bar.set_postfix({k: f"{v:.3e}" for k, v in logs.items()}, refresh=True)
        bar.close()


def record_errors(
    test_set: TestSet,
    model: AbstractNetwork,
    step: int,
    history: dict[str, list],
    logs: dict[str, float],
    callback: Callable[[int, dict[str, float]], None] | None,
) -> None:
    """Evaluate `model` on `test_set` at `step`: append the errors to `history`, put them in
    `logs`, then call `callback(step, logs)` if there is one."""
    errors = test_set.errors(model)
    history["eval_step"].append(step)
    for name in ("rel_l2", "rel_l1"):
        logs[name] = float(errors[name])
        history[name].append(logs[name])
    if callback is not None:
        callback(step, dict(logs))


def make_solution(
    network: AbstractNetwork,
    history: dict[str, list],
    logs: dict[str, float],
    *,
    result: RESULTS,
    message: str,
    steps: int,
    wall_s: float,
    loss_state: PyTree,
) -> Solution:
    """The [`pinnkit.Solution`][] of a run: `history` stored with the dtypes of `HISTORY`, and
    the last errors in `logs` as its metrics."""
    metrics = {name: logs[name] for name in ("rel_l2", "rel_l1") if name in logs}
    return Solution(
        network=network,
        history={k: np.asarray(v, HISTORY[k]) for k, v in history.items()},
        metrics=metrics,
        result=result,
        message=message,
        steps=steps,
        wall_s=wall_s,
        loss_state=loss_state,
    )
