"""Data-parallel training: splitting the batch across devices changes nothing but the speed.

JAX fixes its device count when it is imported, so the checks run in a subprocess started with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (four CPU devices).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

import pinnkit as pk
from pinnkit.problems import get_problem


DEVICES = 4

SCRIPT = textwrap.dedent(
    """
    import json

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from internals import make_run, split_batch

    import pinnkit as pk
    from pinnkit.problems import get_problem

    jax.config.update("jax_enable_x64", True)
    assert jax.device_count() == 4, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    key = jax.random.key(0)
    problem_key, network_key, train_key = jax.random.split(key, 3)
    problem = get_problem("poisson-two-body", 4, problem_key)
    network = problem.network(network_key, width=16, depth=1)
    report = {}

    def leaves(tree):
        return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]

    for name, estimator in (("exact", pk.Exact()), ("stde", pk.STDE(2))):
        loss = problem.loss(estimator, batch_size=8)
        one, many = (
            pk.PINNSolver(loss, learning_rate=1e-2, log_every=4, mesh=m).solve(
                network, 8, train_key, progress=False
            )
            for m in (None, mesh)
        )
        loss_one, loss_many = one.history["loss"], many.history["loss"]
        report[name] = {
            "steps": [one.steps, many.steps],
            "loss_rel": float(np.max(np.abs(loss_many - loss_one) / np.abs(loss_one))),
            "params_abs": max(
                float(np.max(np.abs(a - b)))
                for a, b in zip(leaves(one.network), leaves(many.network))
            ),
            "loss_moved": float(abs(loss_one[-1] - loss_one[0]) / abs(loss_one[0])),
            "params_devices": sorted(
                {len(x.sharding.device_set) for x in jax.tree_util.tree_leaves(
                    eqx.filter(many.network, eqx.is_array))}
            ),
            "params_replicated": all(
                x.sharding.is_fully_replicated
                for x in jax.tree_util.tree_leaves(eqx.filter(many.network, eqx.is_array))
            ),
        }

    # The batch as the solver places it: each device holds a quarter of every array.
    loss = problem.loss(batch_size=8)
    batch = jax.jit(lambda k: split_batch(loss.sample(k), mesh))(train_key)
    report["batch"] = [
        {
            "split": x.sharding.is_equivalent_to(
                NamedSharding(mesh, PartitionSpec("batch")), x.ndim
            ),
            "devices": len(x.sharding.device_set),
            "shards": sorted({tuple(s.data.shape) for s in x.addressable_shards}),
        }
        for x in jax.tree_util.tree_leaves(batch)
    ]

    # The compiled training step sums the gradient across devices.
    params, static = eqx.partition(network, eqx.is_inexact_array)
    optimizer = pk.linear_decay_adam(1e-2, 8)
    state = (params, optimizer.init(params), loss.init_state(train_key))
    args = (train_key, state, jnp.asarray(0), jnp.arange(2))
    run = make_run(loss, optimizer, static, mesh)
    report["all_reduce"] = "all-reduce" in run.lower(*args).compile().compiled.as_text()
    print("REPORT" + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    tests = str(Path(__file__).resolve().parent)  # where `internals` lives
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line.removeprefix("REPORT"))


@pytest.mark.parametrize("estimator", ["exact", "stde"])
def test_sharded_training_matches_one_device(report, estimator):
    r = report[estimator]
    assert r["steps"] == [8, 8]
    assert r["loss_moved"] > 1e-3  # training did something, so agreement means something
    assert r["loss_rel"] < 1e-10, r
    assert r["params_abs"] < 1e-10, r
    assert r["params_devices"] == [DEVICES] and r["params_replicated"]


def test_batch_is_split_across_devices(report):
    assert len(report["batch"]) == 2  # points and source values
    for leaf in report["batch"]:
        assert leaf["devices"] == DEVICES
        assert leaf["split"]
        assert len(leaf["shards"]) == 1 and leaf["shards"][0][0] == 8 // DEVICES


def test_gradient_is_summed_across_devices(report):
    assert report["all_reduce"]


def test_batch_not_divisible_by_devices_raises():
    problem = get_problem("poisson-two-body", 4, jax.random.key(0))
    network = problem.network(jax.random.key(1), width=8, depth=1)
    devices = np.array(jax.devices()[:1] * 3)  # three "devices": only the count matters here
    mesh = Mesh(devices.reshape(3), ("batch",))
    solver = pk.PINNSolver(problem.loss(batch_size=8), mesh=mesh)
    with pytest.raises(ValueError, match="divisible by 3"):
        solver.solve(network, 1, jax.random.key(2), progress=False)


def test_mesh_must_be_a_mesh():
    problem = get_problem("poisson-two-body", 4, jax.random.key(0))
    # Under the test run's runtime type checking, jaxtyping catches this first.
    with pytest.raises(TypeError, match="mesh"):
        pk.PINNSolver(problem.loss(), mesh=4)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "devices, message",
    [("0", "--devices must be an integer >= 1"), ("999", "--devices must be between 1 and the")],
)
def test_cli_devices_out_of_range_exits_2(devices, message, capsys, tmp_path):
    from pinnkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["solve", "poisson-two-body", "--devices", devices, "--out", str(tmp_path)])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "result.json").exists()
