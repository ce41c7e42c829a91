"""The host side of [`pinnkit.PINNSolver.solve`][]: chunks of steps, the rollback at a
non-finite loss, evaluations, checkpoints and Ctrl-C, in named steps.

`PINNSolver.solve` checks its arguments, builds the initial training state and a
`Training`, and calls `Training.run`; the compiled steps themselves are `pinn._run`.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from .._types import Key
from .checkpoint import (
    GracefulInterrupt,
    check_fingerprint,
    checkpoint_metadata,
    load_checkpoint,
    save_checkpoint,
)
from .reference import TestSet
from .solution import (
    HISTORY,
    RESULTS,
    Solution,
    advance_bar,
    close_bar,
    make_solution,
    progress_bar,
    record_errors,
)


def round_up(n: int, multiple: int) -> int:
    return math.ceil(n / multiple) * multiple


@dataclass
class Training:
    """One run of `PINNSolver.solve` on the host: the training state and its history.

    `state` is `(params, opt_state, loss_state)`. `back` is the state at step `back_step`,
    from which the state one step before any step of the coming chunk can be recomputed (the
    chunk's steps are deterministic): that is how a non-finite loss is rolled back.
    `chunk_fn(key, state, start, n)` runs `n` steps from step `start` and returns the new
    state, the `n` losses and the first step with a non-finite loss (or -1).
    """

    chunk_fn: Callable
    key: Key
    static: PyTree
    steps: int
    log_every: int
    eval_every: int
    checkpoint_every: int
    state: tuple
    back: tuple
    test_set: TestSet | None = None
    callback: Callable[[int, dict[str, float]], None] | None = None
    folder: Path | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)
    back_step: int = 0
    done: int = 0
    elapsed: float = 0.0
    saved_step: int | None = None
    history: dict[str, list] = field(default_factory=lambda: {name: [] for name in HISTORY})
    logs: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------
    # Resuming and saving
    # ------------------------------------------------------------------------------------

    def resume(self, fingerprint: dict[str, Any], resume: bool) -> None:
        """Remember the configuration's `fingerprint` for checkpoints and, with `resume`,
        continue from the checkpoint in `folder` if there is one (checking that it was
        written by the same configuration)."""
        assert self.folder is not None
        self.fingerprint = fingerprint
        record = checkpoint_metadata(self.folder) if resume else None
        if record is None:
            return
        check_fingerprint(self.folder, record.get("fingerprint", {}), fingerprint)
        template = {
            "state": self.state,
            "previous": self.back,
            "history": {
                name: np.zeros(record["history"][name], dtype) for name, dtype in HISTORY.items()
            },
        }
        tree, record = load_checkpoint(self.folder, template)
        self.state, self.back = tree["state"], tree["previous"]
        self.history = {name: value.tolist() for name, value in tree["history"].items()}
        self.done = self.saved_step = int(record["step"])
        self.elapsed = float(record["wall_s"])
        # Checkpoints written before `previous_step` existed kept the state one step back.
        self.back_step = int(record.get("previous_step", self.done - 1))
        for name in ("loss", "rel_l2", "rel_l1"):
            if self.history[name]:
                self.logs[name] = self.history[name][-1]

    def save(self, step: int) -> None:
        """Write a checkpoint of the state at `step` (once per step, on process 0)."""
        if self.folder is None or self.saved_step == step or jax.process_index() != 0:
            return
        arrays = {
            "state": self.state,
            "previous": self.back,
            "history": {
                name: np.asarray(self.history[name], dtype) for name, dtype in HISTORY.items()
            },
        }
        metadata = {
            "step": step,
            "steps": self.steps,
            "wall_s": self.wall_s(),
            "previous_step": self.back_step,
            "history": {name: len(self.history[name]) for name in HISTORY},
            "fingerprint": self.fingerprint,
        }
        save_checkpoint(self.folder, arrays, metadata)
        self.saved_step = step

    # ------------------------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------------------------

    def run(self, progress: bool) -> tuple[RESULTS, str]:
        """Train up to `steps`; return the result and its message (empty when successful)."""
        bar = progress_bar(self.steps, progress, self.done)
        result, message = RESULTS.successful, ""
        with GracefulInterrupt() as interrupt:
            while self.done < self.steps:
                bad = self.advance(bar)
                if bad is not None:
                    result, message = RESULTS.nonfinite_loss, self.nonfinite_message(bad)
                    break
                self.after_chunk()
                if interrupt.requested and self.done < self.steps:
                    self.save(self.done)
                    result, message = RESULTS.interrupted, self.interrupt_message()
                    break
        eval_steps = self.history["eval_step"]
        if self.test_set is not None and (not eval_steps or eval_steps[-1] != self.done):
            self.evaluate(self.done)
        close_bar(bar, self.logs)
        return result, message

    def advance(self, bar: Any) -> int | None:
        """Run one chunk of steps and record its losses. At a non-finite loss, keep the state
        of the step before and return the failing step; otherwise return `None`."""
        done = self.done
        n = min(self.log_every, self.steps - done)
        # The chunk's training state is donated (updated in place); keep its start.
        chunk_start = jax.tree_util.tree_map(jnp.copy, self.state)
        self.state, losses, bad_step = self.chunk_fn(self.key, self.state, done, n)
        losses = np.asarray(losses)
        bad = int(bad_step)
        kept = n if bad < 0 else bad - done
        self.history["step"].extend(range(done, done + kept))
        self.history["loss"].extend(losses[:kept].tolist())
        if bad >= 0:
            self.roll_back(bad, chunk_start)
        else:
            self.back, self.back_step = chunk_start, done
        self.done += kept
        if kept:
            self.logs["loss"] = float(losses[kept - 1])
        advance_bar(bar, kept, self.logs)
        return bad if bad >= 0 else None

    def roll_back(self, bad: int, chunk_start: tuple) -> None:
        """Step `bad` met a non-finite loss: set the state of the step before (its loss, the
        last one recorded, was finite), recomputed from the start of this chunk or, for a
        chunk's first step, of the one before."""
        target = max(bad - 1, 0)
        if target >= self.done:
            origin, origin_step = chunk_start, self.done
        else:
            origin, origin_step = self.back, self.back_step
        self.state = origin
        if target > origin_step:
            self.state = self.chunk_fn(self.key, origin, origin_step, target - origin_step)[0]

    def after_chunk(self) -> None:
        """Evaluate and write a checkpoint when one is due."""
        done = self.done
        if done % self.eval_every == 0 or done == self.steps:
            self.evaluate(done)
        if done % self.checkpoint_every == 0 or done == self.steps:
            self.save(done)

    def evaluate(self, step: int) -> None:
        if self.test_set is not None:
            model = eqx.combine(self.state[0], self.static)
            record_errors(self.test_set, model, step, self.history, self.logs, self.callback)

    # ------------------------------------------------------------------------------------
    # The outcome
    # ------------------------------------------------------------------------------------

    def nonfinite_message(self, bad: int) -> str:
        message = (
            f"training stopped at step {bad}: {RESULTS[RESULTS.nonfinite_loss]} "
            f"(last finite loss: {self.logs.get('loss', float('nan')):.3e})"
        )
        if self.saved_step is not None:
            message += (
                f" The last good checkpoint (step {self.saved_step}) is kept in {self.folder}."
            )
        return message

    def interrupt_message(self) -> str:
        return f"training interrupted at step {self.done} of {self.steps}: " + (
            f"a checkpoint was saved in {self.folder}; solve again with resume=True "
            "(or `pinnkit solve ... --resume`) to continue"
            if self.folder is not None
            else "no checkpoint_dir was given, so nothing was saved"
        )

    def wall_s(self) -> float:
        """Seconds of training: those of the run resumed from, and of this one."""
        return self.elapsed + time.perf_counter() - self.start

    def solution(self, result: RESULTS, message: str) -> Solution:
        return make_solution(
            eqx.combine(self.state[0], self.static),
            self.history,
            self.logs,
            result=result,
            message=message,
            steps=self.done,
            wall_s=self.wall_s(),
            loss_state=self.state[2],
        )
