"""L-BFGS refinement on one fixed batch: the loop behind [`pinnkit.PINNSolver.refine`][]."""

import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jaxtyping import Array, PyTree

from .._loss.losses import AbstractLoss
from .._network.base import AbstractNetwork
from .._types import Key
from .parallel import replicate, split_batch
from .reference import TestSet
from .solution import (
    HISTORY,
    LOSS_STATE_FOLD,
    RESULTS,
    Solution,
    advance_bar,
    all_finite,
    close_bar,
    finish,
    make_solution,
    progress_bar,
    record_errors,
    select,
)


def refine(
    loss: AbstractLoss,
    network: AbstractNetwork,
    steps: int,
    key: Key,
    *,
    mesh: Mesh | None,
    log_every: int,
    loss_state: PyTree,
    test_set: TestSet | None,
    memory_size: int,
    max_linesearch_steps: int,
    patience: int,
    progress: bool,
    callback: Callable[[int, dict[str, float]], None] | None,
    throw: bool = False,
) -> Solution:
    """Refine `network` on `loss` with L-BFGS: [`pinnkit.PINNSolver.refine`][], which
    documents the arguments, with the solver's `mesh` and `log_every` (iterations per
    compiled chunk) passed in."""
    _check_arguments(network, steps, memory_size, max_linesearch_steps, patience)
    start = time.perf_counter()
    params, static = eqx.partition(network, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(jnp.copy, params)
    if loss_state is None:
        loss_state = loss.init_state(jax.random.fold_in(key, LOSS_STATE_FOLD))
    sample_key, loss_key = jax.random.split(key)
    batch, _ = eqx.filter_jit(loss.next_batch)(network, loss_state, sample_key)
    optimizer = optax.lbfgs(
        memory_size=memory_size,
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"
        ),
    )
    if mesh is not None:
        split_batch(batch, mesh)  # checks the shapes
        params, batch, loss_key = replicate((params, batch, loss_key), mesh)
    run = _make_lbfgs_run(loss, optimizer, static, patience, mesh)
    history: dict[str, list] = {name: [] for name in HISTORY}
    logs: dict[str, float] = {}
    carry, done, status, where = _iterate(
        run, batch, loss_key, _lbfgs_init(params, optimizer), steps, log_every, progress, history
    )
    if history["loss"]:
        logs["loss"] = float(carry[2] if status else min(carry[2], _final_value(carry)))
    result, message = _outcome(status, where, patience, logs)
    model = eqx.combine(_lbfgs_best(carry, status), static)
    if test_set is not None:
        record_errors(test_set, model, done, history, logs, callback)
    solution = make_solution(
        model,
        history,
        logs,
        result=result,
        message=message,
        steps=done,
        wall_s=time.perf_counter() - start,
        loss_state=loss_state,
    )
    return finish(solution, throw, stacklevel=3)  # to the caller of PINNSolver.refine


def _check_arguments(
    network: AbstractNetwork,
    steps: int,
    memory_size: int,
    max_linesearch_steps: int,
    patience: int,
) -> None:
    if not isinstance(network, AbstractNetwork):
        raise TypeError(f"network must be an AbstractNetwork, got {type(network).__name__}")
    for name, value, least in (
        ("steps", steps, 0),
        ("memory_size", memory_size, 1),
        ("max_linesearch_steps", max_linesearch_steps, 1),
        ("patience", patience, 1),
    ):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")


def _iterate(
    run: Callable,
    batch: PyTree,
    key: Key,
    carry: tuple,
    steps: int,
    log_every: int,
    progress: bool,
    history: dict[str, list],
) -> tuple[tuple, int, int, int]:
    """Run L-BFGS in chunks of `log_every` iterations until `steps` or a stop, recording the
    losses in `history`; return the carry, the iterations done, and the stop reason and
    iteration (0 and -1 when it did not stop)."""
    bar = progress_bar(steps, progress)
    logs: dict[str, float] = {}
    done, status, where = 0, 0, -1
    while done < steps and status == 0:
        n = min(log_every, steps - done)
        carry, losses, (status, where) = run(batch, key, carry, jnp.arange(done, done + n))
        status, where = int(status), int(where)
        kept = n if status == 0 else where - done + 1
        history["step"].extend(range(done, done + kept))
        history["loss"].extend(np.asarray(losses)[:kept].tolist())
        done += kept
        logs["loss"] = history["loss"][-1]
        advance_bar(bar, kept, logs)
    close_bar(bar, logs)
    return carry, done, status, where


def _outcome(status: int, where: int, patience: int, logs: dict[str, float]) -> tuple[RESULTS, str]:
    """The result and message of a run that stopped for `status` at iteration `where`."""
    if status == _NONFINITE:
        result = RESULTS.nonfinite_loss
        return result, f"L-BFGS stopped at iteration {where}: {RESULTS[result]}"
    if status in (_LINESEARCH, _NO_DECREASE):
        result = RESULTS.lbfgs_stalled
        why = (
            "its line search found no step that decreases the loss"
            if status == _LINESEARCH
            else f"the loss did not decrease for {patience} iterations"
        )
        return result, (
            f"L-BFGS stalled at iteration {where}: {why} (lowest loss {logs['loss']:.3e}); "
            f"the network with the lowest loss is kept. {RESULTS[result]}"
        )
    return RESULTS.successful, ""


_NONFINITE, _LINESEARCH, _NO_DECREASE = 1, 2, 3
"""Why L-BFGS stopped early (0: it did not)."""


def _lbfgs_init(params: PyTree, optimizer: optax.GradientTransformation) -> tuple:
    """The L-BFGS carry: parameters, optimizer state, lowest loss, its parameters, iterations
    since it last decreased, and the stop reason and iteration."""
    inf = jnp.array(jnp.inf, jax.tree_util.tree_leaves(params)[0].dtype)
    copy = jax.tree_util.tree_map(jnp.copy, params)
    return (params, optimizer.init(params), inf, copy, jnp.array(0), jnp.array(0), jnp.array(-1))


def _lbfgs_best(carry: tuple, status: int) -> PyTree:
    """The parameters with the lowest loss seen, including the last iterate when L-BFGS ran
    to the end (its value is in the line search's state)."""
    params, _, best, best_params, *_ = carry
    if status == 0 and bool(_final_value(carry) < best):
        return params
    return best_params


def _final_value(carry: tuple) -> Array:
    value = optax.tree.get(carry[1], "value")
    return jnp.where(jnp.isfinite(value), value, jnp.inf)


def _make_lbfgs_run(
    loss: AbstractLoss,
    optimizer: optax.GradientTransformationExtraArgs,
    static: PyTree,
    patience: int,
    mesh: Mesh | None,
):
    """The jitted `run(batch, key, carry, indices)` behind `refine`: L-BFGS
    iterations on a fixed batch and key, stopping (holding the parameters) at a non-finite
    loss, a failed line search, or `patience` iterations without a decrease."""

    @eqx.filter_jit
    def run(batch, key, carry, indices):
        if mesh is not None:
            batch = split_batch(batch, mesh)

        def value_fn(params):
            return loss(eqx.combine(params, static), batch, key)

        value_and_grad = optax.value_and_grad_from_state(value_fn)

        def step(carry, index):
            params, opt_state, best, best_params, since, status, where = carry
            value, grad = value_and_grad(params, state=opt_state)
            updates, new_opt_state = optimizer.update(
                grad, opt_state, params, value=value, grad=grad, value_fn=value_fn
            )
            new_params = optax.apply_updates(params, updates)
            finite = jnp.isfinite(value) & all_finite(grad)
            improved = finite & (value < best)
            best = jnp.where(improved, value, best)
            best_params = select(improved, params, best_params)
            since = jnp.where(improved, 0, since + 1)
            info = optax.tree.get(new_opt_state, "info")
            failed = info.decrease_error > 0
            reason = jnp.where(
                ~finite,
                _NONFINITE,
                jnp.where(failed, _LINESEARCH, jnp.where(since >= patience, _NO_DECREASE, 0)),
            )
            running = status == 0
            stop = running & (reason != 0)
            advance = running & ~stop
            params, opt_state = select(advance, (new_params, new_opt_state), (params, opt_state))
            status = jnp.where(stop, reason, status)
            where = jnp.where(stop, index, where)
            carry = (params, opt_state, best, best_params, since, status, where)
            return carry, value

        carry, values = jax.lax.scan(step, carry, indices)
        return carry, values, (carry[5], carry[6])

    return run
