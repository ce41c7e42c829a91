"""PINNSolver: train a network on a loss with an optax optimizer."""

import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
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
from .checkpoint import CheckpointError, checkpoint_metadata, load_checkpoint, save_checkpoint
from .optimizers import make_optimizer
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
    interrupted = (
        "Training was interrupted (Ctrl-C / SIGINT) after the last completed chunk of steps. "
        "With a checkpoint folder, that state was saved; solve again with resume=True "
        "(`pinnkit solve ... --resume`) to continue."
    )
    lbfgs_stalled = (
        "L-BFGS stopped making progress: its line search found no step that decreases the "
        "loss, or the loss did not decrease for `patience` iterations. The network with the "
        "lowest loss is kept. This is expected once the loss on the fixed points is near its "
        "floor in the working precision; float64 (`--x64`) or more points may help."
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
    return make_optimizer("adam", learning_rate, steps, "linear")


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
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
        config: dict[str, Any] | None = None,
    ) -> Solution:
        """Train `network` for `steps` steps.

        **Arguments:**

        - `network`: the initial network.
        - `steps`: the number of optimizer steps.
        - `key`: the PRNG key for batches and estimator draws.
        - `test_set`: a [`pinnkit.TestSet`][] to report relative errors on, or `None`.
        - `progress`: show a progress bar with the loss and the error.
        - `throw`: raise `RuntimeError` if training stops at a non-finite loss (and re-raise
          `KeyboardInterrupt` after an interrupt), instead of returning a `Solution` whose
          `result` says why (a warning is issued either way).
        - `callback`: called on the host as `callback(step, logs)` after each evaluation.
        - `checkpoint_dir`: a folder to write checkpoints to, or `None` (default) for none.
          A checkpoint holds everything needed to continue bit for bit: the parameters, the
          optimizer state, the loss state, the state kept for the non-finite rollback, the
          step, the history so far and a fingerprint of the configuration (see
          [`pinnkit.save_checkpoint`][]; it is written atomically).
        - `checkpoint_every`: steps between checkpoints (default `eval_every`; rounded up to a
          multiple of `log_every`). A checkpoint is also written at the last step, and when
          training is interrupted.
        - `resume`: continue from the checkpoint in `checkpoint_dir` if there is one (and start
          afresh if there is none). The run then gives the same numbers as one that was never
          stopped. Resuming with another configuration (steps, network, loss, key, optimizer
          state layout, `config`) raises `ValueError` naming what differs. Without `resume`, an
          existing checkpoint is replaced.
        - `config`: a JSON-serialisable dict of settings that the fingerprint should also cover
          (the command line passes its arguments).

        **Returns:** a [`pinnkit.Solution`][].

        A non-finite loss stops training (`RESULTS.nonfinite_loss`); the last checkpoint,
        written before it, is kept. Ctrl-C (SIGINT, when `solve` runs in the main thread)
        stops training after the chunk of steps in flight, writes a checkpoint of it, and
        returns with `RESULTS.interrupted` (a second Ctrl-C stops at once, keeping the last
        checkpoint).
        """
        if not isinstance(network, AbstractNetwork):
            raise TypeError(f"network must be an AbstractNetwork, got {type(network).__name__}")
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir to resume from")
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
        eval_every = _round_up(self.eval_every, self.log_every)
        every = _round_up(checkpoint_every or self.eval_every, self.log_every)

        history: dict[str, list] = {name: [] for name in _HISTORY}
        logs: dict[str, float] = {}
        done, elapsed, saved_step = 0, 0.0, None
        folder = None if checkpoint_dir is None else Path(checkpoint_dir)
        fingerprint: dict[str, Any] = {}
        if folder is not None:
            fingerprint = self._fingerprint(state, network, steps, key, config)
            record = checkpoint_metadata(folder) if resume else None
            if record is not None:
                _check_fingerprint(folder, record.get("fingerprint", {}), fingerprint)
                template = {
                    "state": state,
                    "previous": previous,
                    "history": {
                        name: np.zeros(record["history"][name], dtype)
                        for name, dtype in _HISTORY.items()
                    },
                }
                tree, record = load_checkpoint(folder, template)
                state, previous = tree["state"], tree["previous"]
                history = {name: value.tolist() for name, value in tree["history"].items()}
                done, elapsed, saved_step = (
                    int(record["step"]),
                    float(record["wall_s"]),
                    int(record["step"]),
                )
                if history["loss"]:
                    logs["loss"] = history["loss"][-1]
                for name in ("rel_l2", "rel_l1"):
                    if history[name]:
                        logs[name] = history[name][-1]
        if self.mesh is not None:
            state, previous, key = _replicate((state, previous, key), self.mesh)
        params = state[0]
        chunk_fn = _make_chunk(self.loss, optimizer, static, self.mesh)

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

        def save(step: int) -> None:
            nonlocal saved_step
            if folder is None or saved_step == step or jax.process_index() != 0:
                return
            arrays = {
                "state": state,
                "previous": previous,
                "history": {
                    name: np.asarray(history[name], dtype) for name, dtype in _HISTORY.items()
                },
            }
            metadata = {
                "step": step,
                "steps": steps,
                "wall_s": elapsed + time.perf_counter() - start,
                "history": {name: len(history[name]) for name in _HISTORY},
                "fingerprint": fingerprint,
            }
            save_checkpoint(folder, arrays, metadata)
            saved_step = step

        bar = _progress_bar(steps, progress, done)
        result, message = RESULTS.successful, ""
        with _GracefulInterrupt() as interrupt:
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
                    if saved_step is not None:
                        message += (
                            f" The last good checkpoint (step {saved_step}) is kept in {folder}."
                        )
                    break
                if done % eval_every == 0 or done == steps:
                    evaluate(done)
                if done % every == 0 or done == steps:
                    save(done)
                if interrupt.requested and done < steps:
                    save(done)
                    result = RESULTS.interrupted
                    message = f"training interrupted at step {done} of {steps}: " + (
                        f"a checkpoint was saved in {folder}; solve again with resume=True "
                        "(or `pinnkit solve ... --resume`) to continue"
                        if folder is not None
                        else "no checkpoint_dir was given, so nothing was saved"
                    )
                    break
        if bar is not None:
            bar.close()
        if test_set is not None and (not history["eval_step"] or history["eval_step"][-1] != done):
            evaluate(done)
        if message:
            if throw:
                if result == RESULTS.interrupted:
                    raise KeyboardInterrupt(message)
                raise RuntimeError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        metrics = {name: logs[name] for name in ("rel_l2", "rel_l1") if name in logs}
        return Solution(
            network=eqx.combine(params, static),
            history={k: np.asarray(v, _HISTORY[k]) for k, v in history.items()},
            metrics=metrics,
            result=result,
            message=message,
            steps=done,
            wall_s=elapsed + time.perf_counter() - start,
            loss_state=state[2],
        )

    def refine(
        self,
        network: AbstractNetwork,
        steps: int,
        key: Key,
        *,
        loss_state: PyTree = None,
        test_set: TestSet | None = None,
        memory_size: int = 20,
        max_linesearch_steps: int = 20,
        patience: int = 20,
        progress: bool = True,
        callback: Callable[[int, dict[str, float]], None] | None = None,
    ) -> Solution:
        """Refine `network` with L-BFGS on one fixed batch, typically after Adam.

        The batch (collocation points, and for stochastic estimators the random draws) is
        drawn once, so the loss is a deterministic function of the parameters, as
        quasi-Newton methods need. Each iteration is optax's L-BFGS direction with its zoom
        line search (sufficient decrease and curvature conditions), reusing the value and
        gradient the line search computed (`optax.value_and_grad_from_state`).

        **Arguments:**

        - `network`: the network to refine, e.g. `solution.network` from [`solve`][].
        - `steps`: the most L-BFGS iterations to run.
        - `key`: the PRNG key for the fixed batch and the estimator's fixed draws.
        - `loss_state`: the loss state to draw the batch with (e.g. `solution.loss_state`
          for an adaptive sampler); `None` starts from `loss.init_state`.
        - `test_set`: a [`pinnkit.TestSet`][] to report relative errors on at the end.
        - `memory_size`: the number of past steps L-BFGS keeps (default 20).
        - `max_linesearch_steps`: the most loss evaluations per line search (default 20).
        - `patience`: stop when the loss has not decreased for this many iterations
          (default 20).
        - `progress`: show a progress bar.
        - `callback`: called as `callback(iteration, logs)` after the final evaluation.

        **Returns:** a [`pinnkit.Solution`][] whose `history` holds the loss on the fixed
        batch at every iteration and whose `network` is the one with the lowest loss. Its
        `result` is `RESULTS.lbfgs_stalled` when L-BFGS stopped early because its line
        search failed or the loss stopped decreasing (the `message` says which, and at
        which iteration), `RESULTS.nonfinite_loss` at a non-finite loss or gradient, and
        `RESULTS.successful` when it ran all `steps`.
        """
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
        start = time.perf_counter()
        params, static = eqx.partition(network, eqx.is_inexact_array)
        params = jax.tree_util.tree_map(jnp.copy, params)
        if loss_state is None:
            loss_state = self.loss.init_state(jax.random.fold_in(key, _LOSS_STATE_FOLD))
        sample_key, loss_key = jax.random.split(key)
        batch, _ = eqx.filter_jit(self.loss.next_batch)(network, loss_state, sample_key)
        optimizer = optax.lbfgs(
            memory_size=memory_size,
            linesearch=optax.scale_by_zoom_linesearch(
                max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"
            ),
        )
        if self.mesh is not None:
            _split_batch(batch, self.mesh)  # checks the shapes
            params, batch, loss_key = _replicate((params, batch, loss_key), self.mesh)
        run = _make_lbfgs_run(self.loss, optimizer, static, patience, self.mesh)
        carry = _lbfgs_init(params, optimizer)
        history: dict[str, list] = {name: [] for name in _HISTORY}
        logs: dict[str, float] = {}
        bar = _progress_bar(steps, progress)
        done, status, where = 0, 0, -1
        while done < steps and status == 0:
            n = min(self.log_every, steps - done)
            carry, losses, (status, where) = run(batch, loss_key, carry, jnp.arange(done, done + n))
            status, where = int(status), int(where)
            kept = n if status == 0 else where - done + 1
            history["step"].extend(range(done, done + kept))
            history["loss"].extend(np.asarray(losses)[:kept].tolist())
            done += kept
            logs["loss"] = history["loss"][-1]
            if bar is not None:
                bar.update(kept)
                bar.set_postfix({k: f"{v:.3e}" for k, v in logs.items()}, refresh=False)
        if bar is not None:
            bar.close()
        params = _lbfgs_best(carry, status)
        if history["loss"]:
            logs["loss"] = float(carry[2] if status else min(carry[2], _final_value(carry)))
        result, message = RESULTS.successful, ""
        if status == _NONFINITE:
            result = RESULTS.nonfinite_loss
            message = (
                f"L-BFGS stopped at iteration {where}: the loss or its gradient became "
                "non-finite; the network with the lowest loss is kept"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        elif status in (_LINESEARCH, _NO_DECREASE):
            result = RESULTS.lbfgs_stalled
            why = (
                "its line search found no step that decreases the loss"
                if status == _LINESEARCH
                else f"the loss did not decrease for {patience} iterations"
            )
            message = (
                f"L-BFGS stalled at iteration {where}: {why} "
                f"(lowest loss {logs['loss']:.3e}); the network with the lowest loss is kept"
            )
        model = eqx.combine(params, static)
        if test_set is not None:
            errors = test_set.errors(model)
            history["eval_step"].append(done)
            for name in ("rel_l2", "rel_l1"):
                logs[name] = float(errors[name])
                history[name].append(logs[name])
            if callback is not None:
                callback(done, dict(logs))
        metrics = {name: logs[name] for name in ("rel_l2", "rel_l1") if name in logs}
        return Solution(
            network=model,
            history={k: np.asarray(v, _HISTORY[k]) for k, v in history.items()},
            metrics=metrics,
            result=result,
            message=message,
            steps=done,
            wall_s=time.perf_counter() - start,
            loss_state=loss_state,
        )

    def _fingerprint(
        self, state: PyTree, network: AbstractNetwork, steps: int, key: Key, config: Any
    ) -> dict[str, Any]:
        """What a checkpoint must agree with to be resumed: short digests, compared by name."""
        try:
            config = json.loads(json.dumps(config, sort_keys=True, default=str))
        except (TypeError, ValueError) as error:
            raise ValueError(f"config must be JSON-serialisable: {error}") from error
        return {
            "steps": steps,
            "log_every": self.log_every,
            "eval_every": self.eval_every,
            "learning_rate": self.learning_rate if self.optimizer is None else None,
            "network": _digest(network, values=True),
            "loss": _digest(self.loss, values=True),
            "batch": _digest(jax.eval_shape(self.loss.sample, key), values=False),
            "optimizer_state": _digest(state[1], values=False),
            "loss_state": _digest(state[2], values=False),
            "key": _digest(key, values=True),
            "config": config,
        }


_HISTORY = {
    "step": np.int64,
    "loss": np.float64,
    "eval_step": np.int64,
    "rel_l2": np.float64,
    "rel_l1": np.float64,
}
"""The per-run history lists and the dtypes they are stored with (losses and errors are
Python floats on the host, so float64 holds them exactly)."""


def _round_up(n: int, multiple: int) -> int:
    return math.ceil(n / multiple) * multiple


def _digest(tree: PyTree, *, values: bool) -> str:
    """A short digest of the layout of `tree` (paths, shapes, dtypes, leaf types) and, with
    `values`, of the values of its arrays."""
    h = hashlib.sha256()
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    h.update(str(treedef.num_leaves).encode())
    for path, leaf in leaves:
        h.update(jax.tree_util.keystr(path).encode())
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if eqx.is_array_like(leaf) or isinstance(leaf, jax.ShapeDtypeStruct):
            h.update(f"{tuple(leaf.shape)}{np.dtype(leaf.dtype)}".encode())
            if values and not isinstance(leaf, jax.ShapeDtypeStruct):
                h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
        else:
            h.update(type(leaf).__qualname__.encode())
    return h.hexdigest()[:16]


def _check_fingerprint(folder: Path, saved: dict[str, Any], now: dict[str, Any]) -> None:
    differ = [name for name in sorted(set(saved) | set(now)) if saved.get(name) != now.get(name)]
    if differ:
        details = ", ".join(
            f"{name} (checkpoint: {saved.get(name)!r}, now: {now.get(name)!r})" for name in differ
        )
        raise CheckpointError(
            f"cannot resume from the checkpoint in {folder}: it was written by a different "
            f"configuration; what differs: {details}. Resume with the same settings, or use "
            "another checkpoint folder (or resume=False to start over)."
        )


class _GracefulInterrupt:
    """Within the block, the first SIGINT sets `requested` instead of raising; the default
    handler is back for a second one. Only installed in the main thread, and only over
    Python's default handler."""

    def __init__(self):
        self.requested = False
        self._installed = False

    def _handler(self, signum, frame):
        del signum, frame
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print(
            "\npinnkit: interrupt received; stopping after the current chunk of steps and "
            "saving a checkpoint (press Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> "_GracefulInterrupt":
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _progress_bar(total: int, enabled: bool, initial: int = 0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5)


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
    """The jitted `run(batch, key, carry, indices)` behind `PINNSolver.refine`: L-BFGS
    iterations on a fixed batch and key, stopping (holding the parameters) at a non-finite
    loss, a failed line search, or `patience` iterations without a decrease."""

    @eqx.filter_jit
    def run(batch, key, carry, indices):
        if mesh is not None:
            batch = _split_batch(batch, mesh)

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
            finite = jnp.isfinite(value) & _all_finite(grad)
            improved = finite & (value < best)
            best = jnp.where(improved, value, best)
            best_params = _select(improved, params, best_params)
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
            params, opt_state = _select(advance, (new_params, new_opt_state), (params, opt_state))
            status = jnp.where(stop, reason, status)
            where = jnp.where(stop, index, where)
            carry = (params, opt_state, best, best_params, since, status, where)
            return carry, value

        carry, values = jax.lax.scan(step, carry, indices)
        return carry, values, (carry[5], carry[6])

    return run


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
    is kept replicated. The compiled code is cached on the layout of its arguments (the
    loss's arrays are traced, its other parts hashed), so solving again with the same loss,
    optimizer and network shape does not compile again.
    """
    return _BoundRun((loss, optimizer, static, mesh))


class _BoundRun:
    """`_run` with its fixed parts bound; `lower` as on a jitted function."""

    def __init__(self, fixed: tuple):
        self.fixed = fixed

    def __call__(self, key, state, previous, start, indices):
        return _run((*self.fixed, key), state, previous, start, indices)

    def lower(self, key, state, previous, start, indices):
        return _run.lower((*self.fixed, key), state, previous, start, indices)  # pyright: ignore[reportFunctionMemberAccess]


# The fixed parts and the key (the first argument) are not donated; the training state is
# updated in place where the backend supports it.
@eqx.filter_jit(donate="all-except-first")
def _run(fixed, state, previous, start, indices):
    loss, optimizer, static, mesh, key = fixed

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

    init = (state, previous, key, jnp.array(-1))
    (state, previous, _, bad_step), losses = jax.lax.scan(step, init, start + indices)
    if mesh is not None:
        replicated = NamedSharding(mesh, PartitionSpec())
        state, previous = jax.lax.with_sharding_constraint((state, previous), replicated)
    return state, previous, losses, bad_step
