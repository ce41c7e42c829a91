"""PINNSolver: train a network on a loss with an optax optimizer."""

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, PyTree

from .._loss.losses import AbstractLoss
from .._network.base import AbstractNetwork
from .._types import Key
from .reference import TestSet


class RESULTS(eqx.Enumeration):
    """How a solve ended. `Solution.result` holds one of these."""

    successful = ""
    nonfinite_loss = (
        "The loss or its gradient became non-finite. The network from the last finite step is "
        "kept. Likely causes: a learning rate too large for this problem, a network output that "
        "overflows (check the initialization and the input scale), or a PDE residual that is "
        "undefined for some inputs. Try a smaller learning rate."
    )


class Solution(eqx.Module):
    """The outcome of [`pinnkit.PINNSolver.solve`][].

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
    result: Any
    message: str
    steps: int
    wall_s: float
    loss_state: PyTree = None


def linear_decay_adam(learning_rate: float, steps: int) -> optax.GradientTransformation:
    """Adam with the learning rate decayed linearly from `learning_rate` to 0 over `steps`."""
    return optax.adam(optax.linear_schedule(learning_rate, 0.0, max(steps, 1)))


def _all_finite(tree: PyTree) -> Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


_LOSS_STATE_FOLD = 2**31 - 1
"""`loss.init_state` gets `fold_in(key, _LOSS_STATE_FOLD)`; step n's keys come from
`fold_in(key, n)`, so the two never meet for any practical number of steps."""


def _select(pred: Array, a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


class PINNSolver(eqx.Module):
    """Trains a network by minimising a loss with an optax optimizer.

    Steps run on the device in jit-compiled chunks of `log_every` steps (a `lax.scan`), so the
    host is visited only to log, evaluate and update the progress bar. The batch and the
    estimator's random draws for step `n` come from `fold_in(key, n)`: the same key gives the
    same numbers, however the steps are chunked.

    **Arguments:**

    - `loss`: the [`pinnkit.AbstractLoss`][] to minimise.
    - `optimizer`: an optax optimizer, or `None` (default) for Adam with the learning rate
      decayed linearly to 0 over the run (the recipe of the STDE experiments).
    - `learning_rate`: the initial learning rate of the default optimizer (default 1e-3).
    - `log_every`: steps per compiled chunk; the loss history keeps every step (default 100).
    - `eval_every`: steps between test-set evaluations (default 1,000; rounded up to a
      multiple of `log_every`).
    - `mesh`: a `jax.sharding.Mesh` for data-parallel training, or `None` (default) for one
      device. Every array in the batch drawn by `loss.sample` is split along its leading
      (batch) axis across all the mesh's devices; the parameters and optimizer state are
      replicated on each. The loss and its gradient are then computed shard by shard and
      summed across devices by the compiler. Every batch size must be divisible by the
      number of devices in the mesh. The "Scaling out" page of the docs has examples.
    """

    loss: AbstractLoss
    optimizer: optax.GradientTransformation | None = eqx.field(default=None, static=True)
    learning_rate: float = eqx.field(default=1e-3, static=True)
    log_every: int = eqx.field(default=100, static=True)
    eval_every: int = eqx.field(default=1000, static=True)
    mesh: Mesh | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.log_every < 1 or self.eval_every < 1:
            raise ValueError("log_every and eval_every must be >= 1")
        if self.mesh is not None and not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh or None, got {type(self.mesh)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    def solve(
        self,
        network: AbstractNetwork,
        steps: int,
        key: Key,
        *,
        test_set: TestSet | None = None,
        progress: bool = True,
        throw: bool = False,
        callback: Callable[[int, dict[str, float]], None] | None = None,
    ) -> Solution:
        """Train `network` for `steps` steps.

        **Arguments:**

        - `network`: the initial network.
        - `steps`: the number of optimizer steps.
        - `key`: the PRNG key for batches and estimator draws.
        - `test_set`: a [`pinnkit.TestSet`][] to report relative errors on, or `None`.
        - `progress`: show a progress bar with the loss and the error.
        - `throw`: raise `RuntimeError` if training stops early, instead of returning a
          `Solution` whose `result` says why (a warning is issued either way).
        - `callback`: called on the host as `callback(step, logs)` after each evaluation.

        **Returns:** a [`pinnkit.Solution`][].
        """
        if not isinstance(network, AbstractNetwork):
            raise TypeError(f"network must be an AbstractNetwork, got {type(network).__name__}")
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        start = time.perf_counter()
        if self.mesh is not None:
            # Check the batch shapes before compiling anything.
            _split_batch(jax.eval_shape(self.loss.sample, key), self.mesh)
        optimizer = self.optimizer or linear_decay_adam(self.learning_rate, steps)
        params, static = eqx.partition(network, eqx.is_inexact_array)
        # Copy, so that donating buffers to the training step leaves the caller's network intact.
        params = jax.tree_util.tree_map(jnp.copy, params)
        loss_state = self.loss.init_state(jax.random.fold_in(key, _LOSS_STATE_FOLD))
        state = (params, optimizer.init(params), loss_state)
        previous = jax.tree_util.tree_map(jnp.copy, state)
        if self.mesh is not None:
            state, previous, key = _replicate((state, previous, key), self.mesh)
            params = state[0]
        chunk_fn = _make_chunk(self.loss, optimizer, static, self.mesh)
        eval_every = math.ceil(self.eval_every / self.log_every) * self.log_every

        history: dict[str, list] = {
            "step": [],
            "loss": [],
            "eval_step": [],
            "rel_l2": [],
            "rel_l1": [],
        }
        logs: dict[str, float] = {}

        def evaluate(step: int) -> None:
            if test_set is None:
                return
            errors = test_set.errors(eqx.combine(params, static))
            history["eval_step"].append(step)
            for name in ("rel_l2", "rel_l1"):
                logs[name] = float(errors[name])
                history[name].append(logs[name])
            if callback is not None:
                callback(step, dict(logs))

        bar = _progress_bar(steps, progress)
        done, result, message = 0, RESULTS.successful, ""
        while done < steps:
            n = min(self.log_every, steps - done)
            state, previous, losses, bad_step = chunk_fn(key, state, previous, done, n)
            params = state[0]
            losses = np.asarray(losses)
            bad = int(bad_step)
            kept = n if bad < 0 else bad - done
            history["step"].extend(range(done, done + kept))
            history["loss"].extend(losses[:kept].tolist())
            done += kept
            if kept:
                logs["loss"] = float(losses[kept - 1])
            if bar is not None:
                bar.update(kept)
                bar.set_postfix({k: f"{v:.3e}" for k, v in logs.items()}, refresh=False)
            if bad >= 0:
                result = RESULTS.nonfinite_loss
                message = (
                    f"training stopped at step {bad}: {RESULTS[result]} "
                    f"(last finite loss: {logs.get('loss', float('nan')):.3e})"
                )
                break
            if done % eval_every == 0 or done == steps:
                evaluate(done)
        if bar is not None:
            bar.close()
        if test_set is not None and (not history["eval_step"] or history["eval_step"][-1] != done):
            evaluate(done)
        if message:
            if throw:
                raise RuntimeError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        metrics = {name: logs[name] for name in ("rel_l2", "rel_l1") if name in logs}
        return Solution(
            network=eqx.combine(params, static),
            history={k: np.asarray(v) for k, v in history.items()},
            metrics=metrics,
            result=result,
            message=message,
            steps=done,
            wall_s=time.perf_counter() - start,
            loss_state=state[2],
        )


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", dynamic_ncols=True, mininterval=0.5)


def _replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Copy every array of `tree` onto every device of `mesh`. Each process passes the same
    values (as a host-local array), so this also works when the mesh spans several processes,
    where `jax.device_put` cannot reach the other processes' devices."""
    replicated = NamedSharding(mesh, PartitionSpec())
    dynamic, static = eqx.partition(tree, eqx.is_array)
    dynamic = jax.jit(lambda x: x, out_shardings=replicated)(dynamic)
    return eqx.combine(dynamic, static)


def _split_batch(batch: PyTree, mesh: Mesh) -> PyTree:
    """Constrain every array of `batch` with a leading axis to be split along that axis across
    all the devices of `mesh`; scalars are replicated. Also checks the shapes, so it can be
    called on `jax.eval_shape` output.
    """
    devices = mesh.size
    split = NamedSharding(mesh, PartitionSpec(mesh.axis_names))
    replicated = NamedSharding(mesh, PartitionSpec())

    def one(path, x):
        if not hasattr(x, "shape"):
            return x
        if x.ndim == 0:
            sharding = replicated
        elif x.shape[0] % devices:
            where = jax.tree_util.keystr(path) or "the batch"
            raise ValueError(
                f"data-parallel training over {devices} devices needs every batch size to be "
                f"divisible by {devices}, but {where} from loss.sample has {x.shape[0]} rows; "
                f"choose a batch_size that is a multiple of {devices}, or a mesh with fewer "
                "devices"
            )
        else:
            sharding = split
        if isinstance(x, jax.ShapeDtypeStruct):
            return x
        return jax.lax.with_sharding_constraint(x, sharding)

    return jax.tree_util.tree_map_with_path(one, batch)


def _make_chunk(
    loss: AbstractLoss,
    optimizer: optax.GradientTransformation,
    static: PyTree,
    mesh: Mesh | None = None,
):
    """A function running `n` steps from step `start`, stopping updates at a NaN."""
    run = _make_run(loss, optimizer, static, mesh)

    def chunk_fn(key, state, previous, start: int, n: int):
        return run(key, state, previous, jnp.asarray(start), jnp.arange(n))

    return chunk_fn


def _make_run(
    loss: AbstractLoss,
    optimizer: optax.GradientTransformation,
    static: PyTree,
    mesh: Mesh | None,
):
    """The jitted `run(key, state, previous, start, indices)` behind `_make_chunk`.

    With a `mesh`, the batch of each step is split across its devices and the training state
    is kept replicated.
    """

    def loss_of_params(params: PyTree, batch: PyTree, key: Key) -> Array:
        return loss(eqx.combine(params, static), batch, key)

    def step(carry, step_index):
        (params, opt_state, loss_state), previous, base_key, bad_step = carry
        sample_key, loss_key = jax.random.split(jax.random.fold_in(base_key, step_index))
        model = eqx.combine(jax.lax.stop_gradient(params), static)
        batch, new_loss_state = loss.next_batch(model, loss_state, sample_key)
        if mesh is not None:
            batch = _split_batch(batch, mesh)
        value, grads = jax.value_and_grad(loss_of_params)(params, batch, loss_key)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        ok = jnp.isfinite(value) & _all_finite(grads)
        first_failure = (bad_step < 0) & ~ok
        # On success, step forward and remember where we came from. On the first failure, go
        # back to the previous state: its loss (the last one recorded) was finite. Afterwards,
        # stay put.
        current = (params, opt_state, loss_state)
        advanced = (new_params, new_opt_state, new_loss_state)
        state = _select((bad_step < 0) & ok, advanced, _select(first_failure, previous, current))
        previous = _select((bad_step < 0) & ok, current, previous)
        bad_step = jnp.where(first_failure, step_index, bad_step)
        return (state, previous, base_key, bad_step), value

    # The key is not donated; the training state is updated in place where the backend
    # supports it.
    @eqx.filter_jit(donate="all-except-first")
    def run(key, state, previous, start, indices):
        init = (state, previous, key, jnp.array(-1))
        (state, previous, _, bad_step), losses = jax.lax.scan(step, init, start + indices)
        if mesh is not None:
            replicated = NamedSharding(mesh, PartitionSpec())
            state, previous = jax.lax.with_sharding_constraint((state, previous), replicated)
        return state, previous, losses, bad_step

    return run
