"""Checkpoints: atomic writes, bit-for-bit resumes (after SIGKILL, Ctrl-C, or in process), the
loss state restored, the last good checkpoint kept at a NaN, and clear errors."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnkit as pk
from pinnkit.cli import main


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "shape")]


# --- the acceptance test: `pinnkit solve` killed midway, resumed with --resume -------------

# A real `pinnkit solve`, slowed down at each evaluation so that the test can act between two
# checkpoints however fast the machine is (evaluation at step k happens just before the
# checkpoint at step k is written).
THROTTLED = """
import signal, sys, time
# Ctrl-C as in an interactive session, even if the test run was started with SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
import pinnkit as pk
errors = pk.TestSet.errors
def slow(self, model):
    time.sleep(float(sys.argv[1]))
    return errors(self, model)
pk.TestSet.errors = slow
from pinnkit.cli import main
sys.exit(main(sys.argv[2:]))
"""

SOLVE = (
    "solve poisson-two-body --dim 3 --steps 300 --batch 8 --width 8 --depth 1 "
    "--test-size 64 --eval-every 100 --checkpoint-every 100 --lr 1e-2 --seed 3 --no-progress"
).split()


def _launch(tmp_path, name):
    script = tmp_path / "throttled.py"
    script.write_text(THROTTLED)
    out = tmp_path / name
    process = subprocess.Popen(
        [sys.executable, str(script), "3", *SOLVE, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, out


def _step(out):
    path = out / "checkpoint" / "checkpoint.json"
    return json.loads(path.read_text())["step"] if path.exists() else None


def _result(out):
    result = json.loads((out / "result.json").read_text())
    # Where it ran and whether it resumed are not results.
    result["config"] = {k: v for k, v in result["config"].items() if k not in ("out", "resume")}
    return {k: v for k, v in result.items() if k not in ("wall_s", "steps_per_s", "peak_rss_mb")}


def test_killed_or_interrupted_run_resumes_to_the_same_numbers(tmp_path, capsys):
    runs = {sig: _launch(tmp_path, sig.name) for sig in (signal.SIGKILL, signal.SIGINT)}
    seen = {}
    try:
        # Signal each run as soon as its first checkpoint is on disk: SIGKILL one, Ctrl-C the
        # other.
        deadline = time.monotonic() + 240
        while len(seen) < 2 and time.monotonic() < deadline:
            for sig, (process, out) in runs.items():
                if sig not in seen and _step(out) is not None:
                    process.send_signal(sig)
                    seen[sig] = _step(out)
                assert process.poll() is None or sig in seen, process.communicate()
            time.sleep(0.02)
        assert len(seen) == 2, "no checkpoint appeared in time"
        killed, killed_out = runs[signal.SIGKILL]
        stopped, stopped_out = runs[signal.SIGINT]
        killed.wait(timeout=60)
        _, err = stopped.communicate(timeout=240)
    finally:
        for process, _ in runs.values():
            if process.poll() is None:
                process.kill()
    # SIGKILL: the last checkpoint is intact, midway.
    assert seen[signal.SIGKILL] <= (_step(killed_out) or 0) < 300
    assert not (killed_out / "result.json").exists()
    # Ctrl-C: the chunk in flight finished, was saved, and the CLI exits 130.
    at = _step(stopped_out) or 0
    assert stopped.returncode == 130, err
    assert seen[signal.SIGINT] <= at < 300
    assert f"interrupted at step {at}" in err and "--resume" in err
    assert json.loads((stopped_out / "result.json").read_text())["result"] == "interrupted"

    # The uninterrupted run, in this process, and the two resumed ones.
    assert main([*SOLVE, "--out", str(tmp_path / "whole")]) == 0
    whole = _result(tmp_path / "whole")
    for out in (killed_out, stopped_out):
        assert main([*SOLVE, "--out", str(out), "--resume"]) == 0
        resumed = _result(out)
        assert resumed["result"] == "successful" and resumed["steps"] == 300
        np.testing.assert_allclose(resumed["rel_l2"], whole["rel_l2"], rtol=1e-6)
        assert resumed == whole  # in fact bit for bit, history included
    capsys.readouterr()


# --- atomic writes -------------------------------------------------------------------------


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    tree = {"a": jnp.arange(3.0), "b": np.int64(7), "key": jax.random.key(4)}
    pk.save_checkpoint(tmp_path, tree, {"step": 1, "note": "first"})
    newer = {"a": jnp.arange(3.0) + 10, "b": np.int64(8), "key": jax.random.key(5)}
    real_replace = os.replace
    for failing in ("checkpoint-000000002.eqx", "checkpoint.json"):
        # A "kill" in the middle of one of the two writes: the data is on disk in the
        # temporary file, the rename never happens.
        def replace(src, dst, failing=failing):
            if str(dst).endswith(failing):
                raise KeyboardInterrupt("killed during the write")
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(KeyboardInterrupt):
            pk.save_checkpoint(tmp_path, newer, {"step": 2, "note": "second"})
        monkeypatch.setattr(os, "replace", real_replace)
        loaded, metadata = pk.load_checkpoint(tmp_path, tree)
        assert metadata["step"] == 1 and metadata["note"] == "first"
        np.testing.assert_array_equal(loaded["a"], tree["a"])
        assert loaded["b"] == 7
        np.testing.assert_array_equal(
            jax.random.key_data(loaded["key"]), jax.random.key_data(tree["key"])
        )
        assert not list(tmp_path.glob("*.tmp"))
    # A completed write replaces it and removes the old array file.
    pk.save_checkpoint(tmp_path, newer, {"step": 2})
    loaded, metadata = pk.load_checkpoint(tmp_path, tree)
    assert metadata["step"] == 2 and loaded["b"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-000000002.eqx",
        "checkpoint.json",
    ]


def test_corrupt_or_mismatched_checkpoints_raise(tmp_path):
    tree = {"a": jnp.arange(3.0)}
    with pytest.raises(pk.CheckpointError, match="no checkpoint"):
        pk.load_checkpoint(tmp_path, tree)
    pk.save_checkpoint(tmp_path, tree, {"step": 5})
    with pytest.raises(pk.CheckpointError, match="shape"):
        pk.load_checkpoint(tmp_path, {"a": jnp.arange(4.0)})
    (tmp_path / "checkpoint-000000005.eqx").write_bytes(b"garbage")
    with pytest.raises(pk.CheckpointError, match="checksum"):
        pk.load_checkpoint(tmp_path, tree)


# --- the solver: resume in process, the loss state, NaN, mismatches -----------------------


class _StatefulLoss(pk.AbstractLoss):
    """Its state counts steps, carries a PRNG key and remembers the model's value at 0; its
    batch depends on the state (a point drawn from the carried key)."""

    def sample(self, key):
        return jax.random.uniform(key, (2,))

    def init_state(self, key):
        return {"count": jnp.array(0), "key": key, "u0": jnp.array(0.0)}

    def next_batch(self, model, state, key):
        carried, new = jax.random.split(state["key"])
        u0 = model(jnp.zeros(2))
        return self.sample(carried), {"count": state["count"] + 1, "key": new, "u0": u0}

    def __call__(self, model, batch, key):
        return (model(batch) - 1.0) ** 2


def _stateful_run(tmp_path, *, interrupt_at=None, resume=False):
    network = pk.MLP(2, 8, 1, key=jax.random.key(3))
    solver = pk.PINNSolver(_StatefulLoss(), optimizer=optax.adam(1e-2), log_every=5, eval_every=5)
    test_set = pk.TestSet(
        pk.UniformSampler(pk.Ball(2)), lambda x: 1.0 + x[0], jax.random.key(1), size=8, chunk_size=8
    )

    def callback(step, logs):
        if step == interrupt_at:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C after step 10

    return solver.solve(
        network,
        30,
        jax.random.key(0),
        test_set=test_set,
        progress=False,
        callback=callback,
        checkpoint_dir=tmp_path / "ck",
        checkpoint_every=10,
        resume=resume,
    )


def test_interrupt_then_resume_restores_the_loss_state(tmp_path, ctrl_c):
    whole = _stateful_run(tmp_path / "whole")
    with pytest.warns(RuntimeWarning, match="interrupted at step 5 of 30"):
        stopped = _stateful_run(tmp_path, interrupt_at=5)
    assert stopped.result == pk.RESULTS.interrupted and stopped.steps == 5
    assert int(stopped.loss_state["count"]) == 5
    # Saved at step 5, although checkpoint_every is 10.
    assert json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["step"] == 5
    resumed = _stateful_run(tmp_path, resume=True)
    assert resumed.result == pk.RESULTS.successful and resumed.steps == 30
    assert int(resumed.loss_state["count"]) == 30
    np.testing.assert_array_equal(
        jax.random.key_data(resumed.loss_state["key"]), jax.random.key_data(whole.loss_state["key"])
    )
    np.testing.assert_array_equal(resumed.loss_state["u0"], whole.loss_state["u0"])
    for name in ("step", "loss", "eval_step", "rel_l2"):
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])
    for a, b in zip(leaves(resumed.network), leaves(whole.network), strict=True):
        np.testing.assert_array_equal(a, b)
    # Resuming a finished run changes nothing.
    again = _stateful_run(tmp_path, resume=True)
    np.testing.assert_array_equal(again.history["loss"], whole.history["loss"])


class _ExplodingLoss(pk.AbstractLoss):
    """sqrt(1 - u(0)): minimizing it drives u(0) past 1, where the loss becomes NaN."""

    def sample(self, key):
        return jnp.zeros(2)

    def __call__(self, model, batch, key):
        return jnp.sqrt(1.0 - model(batch))


def test_nonfinite_loss_keeps_the_last_good_checkpoint(tmp_path):
    network = pk.MLP(2, 8, 1, key=jax.random.key(3))
    solver = pk.PINNSolver(_ExplodingLoss(), optimizer=optax.sgd(0.05), log_every=4)
    with pytest.warns(RuntimeWarning, match="training stopped at step") as record:
        solution = solver.solve(
            network,
            400,
            jax.random.key(0),
            progress=False,
            checkpoint_dir=tmp_path,
            checkpoint_every=4,
        )
    bad = solution.steps
    assert solution.result == pk.RESULTS.nonfinite_loss and 4 < bad < 400
    # The last checkpoint is the one at the end of the last chunk without a non-finite loss;
    # nothing was written after it.
    good = (bad // 4) * 4
    metadata = json.loads((tmp_path / "checkpoint.json").read_text())
    assert metadata["step"] == good
    assert f"last good checkpoint (step {good})" in str(record[0].message)
    # Resuming replays the same steps from there and stops at the same step.
    with pytest.warns(RuntimeWarning, match=f"training stopped at step {bad}"):
        again = solver.solve(
            network, 400, jax.random.key(0), progress=False, checkpoint_dir=tmp_path, resume=True
        )
    assert again.steps == bad
    np.testing.assert_array_equal(again.history["loss"], solution.history["loss"])
    assert all(np.all(np.isfinite(x)) for x in leaves(again.network))


def test_resume_with_another_configuration_fails_clearly(tmp_path):
    network = pk.MLP(2, 4, 1, key=jax.random.key(3))
    solver = pk.PINNSolver(_StatefulLoss(), optimizer=optax.sgd(0.01), log_every=5)

    def run(steps, seed=0, net=network, config=None):
        return solver.solve(
            net,
            steps,
            jax.random.key(seed),
            progress=False,
            checkpoint_dir=tmp_path,
            resume=True,
            config=config,
        )

    # No checkpoint yet: resume starts afresh.
    first = run(10)
    assert first.steps == 10 and (tmp_path / "checkpoint.json").exists()
    with pytest.raises(ValueError, match=r"what differs: steps \(checkpoint: 10, now: 20\)"):
        run(20)
    with pytest.raises(ValueError, match="what differs: key"):
        run(10, seed=1)
    with pytest.raises(ValueError, match="what differs: network"):
        run(10, net=pk.MLP(2, 4, 1, key=jax.random.key(4)))
    with pytest.raises(
        ValueError, match=r"what differs: config\['lr'\] \(checkpoint: None, now: 1\)"
    ):
        run(10, config={"lr": 1})
    # A setting at None counts as unset: an option added after the checkpoint was written
    # (default None) still resumes it.
    assert run(10, config={"added_later": None}).steps == 10
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        solver.solve(network, 10, jax.random.key(0), resume=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Without resume, the checkpoint is replaced by a fresh run.
        fresh = solver.solve(
            network, 20, jax.random.key(0), progress=False, checkpoint_dir=tmp_path
        )
    assert fresh.steps == 20
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 20


def _poisson_and_allen_cahn(tmp_path):
    """Two losses with the same arrays and layout (the same seed and dimension) but
    different PDEs, and a checkpoint written with the first."""
    from pinnkit.problems import get_problem

    poisson = get_problem("poisson-two-body", 3, jax.random.key(0))
    allen_cahn = get_problem("allen-cahn-two-body", 3, jax.random.key(0))
    network = poisson.network(jax.random.key(1), width=8, depth=1)
    kwargs = dict(progress=False, checkpoint_dir=tmp_path)
    pk.PINNSolver(poisson.loss(batch_size=8), log_every=5).solve(
        network, 10, jax.random.key(2), **kwargs
    )
    return allen_cahn, network, kwargs


def test_resume_with_the_loss_of_another_pde_fails_clearly(tmp_path):
    allen_cahn, network, kwargs = _poisson_and_allen_cahn(tmp_path)
    solver = pk.PINNSolver(allen_cahn.loss(batch_size=8), log_every=5)
    with pytest.raises(ValueError, match="what differs: loss_types"):
        solver.solve(network, 10, jax.random.key(2), resume=True, **kwargs)


def test_an_edited_checkpoint_record_is_refused(tmp_path):
    _, network, kwargs = _poisson_and_allen_cahn(tmp_path)
    path = tmp_path / "checkpoint.json"
    record = json.loads(path.read_text())
    record["step"] = 5  # as if edited by hand: the arrays are those of step 10
    path.write_text(json.dumps(record))
    with pytest.raises(pk.CheckpointError, match="does not match its own checksum"):
        pk.checkpoint_metadata(tmp_path)


def test_resume_with_another_learning_rate_fails_clearly(tmp_path):
    """Without an optimizer of its own the solver's learning rate is part of the run."""
    network = pk.MLP(2, 4, 1, key=jax.random.key(3))
    kwargs = dict(progress=False, checkpoint_dir=tmp_path)
    pk.PINNSolver(_StatefulLoss(), learning_rate=1e-3, log_every=5).solve(
        network, 10, jax.random.key(0), **kwargs
    )
    solver = pk.PINNSolver(_StatefulLoss(), learning_rate=2e-3, log_every=5)
    with pytest.raises(ValueError, match=r"what differs: learning_rate \(checkpoint: 0.001"):
        solver.solve(network, 10, jax.random.key(0), resume=True, **kwargs)
