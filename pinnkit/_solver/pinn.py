"""PINNSolver: train a network on a loss with an optax optimizer."""

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, PyTree

from .._loss.losses import AbstractLoss
from .._network.base import AbstractNetwork
from .._sampler.base import AbstractSampler
from .._types import Key
from . import lbfgs
from .checkpoint import digest, module_types
from .optimizers import make_optimizer
from .parallel import replicate, split_batch
from .reference import TestSet
from .solution import (
    LOSS_STATE_FOLD,
    RESULTS as RESULTS,
    Solution as Solution,
    all_finite,
    finish,
)
from .training import Training, round_up


_split_batch = split_batch  # the name tests/test_sharding.py imports from here


def linear_decay_adam(learning_rate: float, steps: int) -> optax.GradientTransformation:
    """Adam with the learning rate decayed linearly from `learning_rate` to 0 over `steps`."""
    return make_optimizer("adam", learning_rate, steps, "linear")


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
        - `throw`: when training stops early, `False` (default, as for every solver of
          pinnkit) warns and returns the `Solution`, whose `result` and `message` say why;
          `True` raises a `RuntimeError` with that message (a `SolveError`, whose `solution`
          is the partial one), or re-raises `KeyboardInterrupt` after a Ctrl-C.
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
        _check_solve_arguments(network, steps, checkpoint_every, resume, checkpoint_dir)
        check_dimensions(self.loss, network, test_set)
        if test_set is not None:
            test_set.check_solution()
        training = self._start(network, steps, key, time.perf_counter())
        training.test_set, training.callback = test_set, callback
        if checkpoint_every is not None:
            training.checkpoint_every = round_up(checkpoint_every, self.log_every)
        if checkpoint_dir is not None:
            training.folder = Path(checkpoint_dir)
            fingerprint = self._fingerprint(training.state, network, steps, key, config)
            training.resume(fingerprint, resume)
        if self.mesh is not None:
            training.state, training.back, training.key = replicate(
                (training.state, training.back, training.key), self.mesh
            )
        result, message = training.run(progress)
        return finish(training.solution(result, message), throw, stacklevel=2)

    def _start(self, network: AbstractNetwork, steps: int, key: Key, start: float) -> Training:
        """The training of `network` for `steps` steps from its first step, before any
        checkpoint is resumed."""
        if self.mesh is not None:
            # Check the batch shapes before compiling anything.
            split_batch(jax.eval_shape(self.loss.sample, key), self.mesh)
        optimizer = self.optimizer or linear_decay_adam(self.learning_rate, steps)
        params, static = eqx.partition(network, eqx.is_inexact_array)
        # Copy, so that donating buffers to the training step leaves the caller's network intact.
        params = jax.tree_util.tree_map(jnp.copy, params)
        loss_state = self.loss.init_state(jax.random.fold_in(key, LOSS_STATE_FOLD))
        state = (params, optimizer.init(params), loss_state)
        return Training(
            chunk_fn=_make_chunk(self.loss, optimizer, static, self.mesh),
            key=key,
            static=static,
            steps=steps,
            log_every=self.log_every,
            eval_every=round_up(self.eval_every, self.log_every),
            checkpoint_every=round_up(self.eval_every, self.log_every),
            state=state,
            back=jax.tree_util.tree_map(jnp.copy, state),
            start=start,
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
        throw: bool = False,
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
        - `throw`: when L-BFGS stops early, `False` (default) returns the `Solution`, whose
          `result` and `message` say why (with a warning, except for `lbfgs_stalled`, an
          expected end); `True` raises a `RuntimeError` (a `SolveError`) with that message,
          `lbfgs_stalled` included.

        **Returns:** a [`pinnkit.Solution`][] whose `history` holds the loss on the fixed
        batch at every iteration and whose `network` is the one with the lowest loss. Its
        `result` is `RESULTS.lbfgs_stalled` when L-BFGS stopped early because its line
        search failed or the loss stopped decreasing (the `message` says which, and at
        which iteration), `RESULTS.nonfinite_loss` at a non-finite loss or gradient, and
        `RESULTS.successful` when it ran all `steps`.
        """
        return lbfgs.refine(
            self.loss,
            network,
            steps,
            key,
            mesh=self.mesh,
            log_every=self.log_every,
            loss_state=loss_state,
            test_set=test_set,
            memory_size=memory_size,
            max_linesearch_steps=max_linesearch_steps,
            patience=patience,
            progress=progress,
            callback=callback,
            throw=throw,
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
            "network": digest(network, values=True),
            "loss": digest(self.loss, values=True),
            "loss_types": module_types(self.loss),
            "network_types": module_types(network),
            "batch": digest(jax.eval_shape(self.loss.sample, key), values=False),
            "optimizer_state": digest(state[1], values=False),
            "loss_state": digest(state[2], values=False),
            "key": digest(key, values=True),
            "config": config,
        }


def _check_solve_arguments(
    network: Any,
    steps: int,
    checkpoint_every: int | None,
    resume: bool,
    checkpoint_dir: str | os.PathLike | None,
) -> None:
    """The errors of `PINNSolver.solve` that its arguments alone show."""
    if not isinstance(network, AbstractNetwork):
        raise TypeError(f"network must be an AbstractNetwork, got {type(network).__name__}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs a checkpoint_dir to resume from")


def check_dimensions(loss: AbstractLoss, network: Any, test_set: TestSet | None) -> None:
    """Raise `ValueError` when a sampler of the loss (or the test set) draws points of
    another dimension than the network takes: known before any step."""
    in_size = getattr(network, "in_size", None)
    if not isinstance(in_size, int):
        return
    samplers = jax.tree_util.tree_leaves(
        (loss, test_set), is_leaf=lambda node: isinstance(node, AbstractSampler)
    )
    for sampler in samplers:
        if isinstance(sampler, AbstractSampler) and sampler.dim != in_size:
            raise ValueError(
                f"the {type(sampler).__name__} draws points of dimension {sampler.dim}, but "
                f"the network takes {in_size}: give the sampler's domain the problem's "
                "dimension (for a space-time network, space plus one)"
            )


def _make_chunk(
    loss: AbstractLoss,
    optimizer: optax.GradientTransformation,
    static: PyTree,
    mesh: Mesh | None = None,
):
    """A function running `n` steps from step `start`, stopping updates at a NaN."""
    run = _make_run(loss, optimizer, static, mesh)

    def chunk_fn(key, state, start: int, n: int):
        return run(key, state, jnp.asarray(start), jnp.arange(n))

    return chunk_fn


def _make_run(
    loss: AbstractLoss,
    optimizer: optax.GradientTransformation,
    static: PyTree,
    mesh: Mesh | None,
):
    """The jitted `run(key, state, start, indices)` behind `_make_chunk`.

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

    def __call__(self, key, state, start, indices):
        return _run((*self.fixed, key), state, start, indices)

    def lower(self, key, state, start, indices):
        return _run.lower((*self.fixed, key), state, start, indices)  # pyright: ignore[reportFunctionMemberAccess]


# The fixed parts and the key (the first argument) are not donated; the training state is
# updated in place where the backend supports it.
@eqx.filter_jit(donate="all-except-first")
def _run(fixed, state, start, indices):
    """Steps `start + indices` from `state`. At the first step whose loss or gradient is not
    finite (`bad_step`, else -1), the state stops changing: it is the state whose loss failed.
    `solve` then recomputes the state of the step before from a state it kept, rather than
    every step selecting between the new state and the old one (which reads and writes the
    parameters and both Adam moments several times a step: 12-26% of a step at d = 100,000)."""
    loss, optimizer, static, mesh, key = fixed

    def loss_of_params(params: PyTree, batch: PyTree, key: Key) -> Array:
        return loss(eqx.combine(params, static), batch, key)

    def step(carry, step_index):
        current, base_key, bad_step = carry
        params, opt_state, loss_state = current
        sample_key, loss_key = jax.random.split(jax.random.fold_in(base_key, step_index))
        model = eqx.combine(jax.lax.stop_gradient(params), static)
        batch, new_loss_state = loss.next_batch(model, loss_state, sample_key)
        if mesh is not None:
            batch = split_batch(batch, mesh)
        value, grads = jax.value_and_grad(loss_of_params)(params, batch, loss_key)
        ok = jnp.isfinite(value) & all_finite(grads)

        def advance():
            updates, new_opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), new_opt_state, new_loss_state

        # Only the branch taken runs: after a failure the state is left as it is.
        state = jax.lax.cond((bad_step < 0) & ok, advance, lambda: current)
        bad_step = jnp.where((bad_step < 0) & ~ok, step_index, bad_step)
        return (state, base_key, bad_step), value

    init = (state, key, jnp.array(-1))
    (state, _, bad_step), losses = jax.lax.scan(step, init, start + indices)
    if mesh is not None:
        state = jax.lax.with_sharding_constraint(state, NamedSharding(mesh, PartitionSpec()))
    return state, losses, bad_step
