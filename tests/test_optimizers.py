"""Optimizers and schedules by name, and L-BFGS refinement on fixed points."""

import json
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from internals import tail_average

import pinnkit as pk
from pinnkit import SolveError
from pinnkit.cli import main


@pytest.mark.parametrize("name", list(pk.OPTIMIZERS))
def test_every_optimizer_by_name_descends(name):
    """A few steps of each named optimizer on a quadratic lower it."""
    optimizer = pk.make_optimizer(name, 1e-2, 20, "constant")
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    f = lambda p: jnp.sum((p["w"] - 0.25) ** 2)
    state = optimizer.init(params)
    start = f(params)
    for _ in range(5):
        updates, state = optimizer.update(jax.grad(f)(params), state, params)
        params = optax.apply_updates(params, updates)
    assert f(params) < start


def test_schedules_by_name():
    lr, steps = 0.1, 100

    def at(name, *ts):
        schedule = pk.make_schedule(name, lr, steps)
        return np.array([np.asarray(schedule(t)) for t in ts])

    np.testing.assert_allclose(at("constant", 0, 50, 100), [lr] * 3)
    np.testing.assert_allclose(at("linear", 0, 50, 100), [lr, lr / 2, 0])
    np.testing.assert_allclose(at("cosine", 0, 50, 100), [lr, lr / 2, 0], atol=1e-7)
    np.testing.assert_allclose(at("exponential", 0, 50, 100), [lr, lr / 10, lr / 100], rtol=1e-5)
    np.testing.assert_allclose(at("warmup-cosine", 0, 5, 100), [0, lr, 0], atol=1e-7)
    assert 0 < at("warmup-cosine", 2)[0] < lr


def test_default_optimizer_is_adam_with_linear_decay():
    a, b = pk.make_optimizer(), pk.linear_decay_adam(1e-3, 1)
    params = jnp.array([1.0, 2.0])
    grads = jnp.array([0.3, -0.1])
    ua, _ = a.update(grads, a.init(params), params)
    ub, _ = b.update(grads, b.init(params), params)
    np.testing.assert_array_equal(ua, ub)
    assert np.abs(np.asarray(ua)).max() > 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pk.make_optimizer("adamm"), "unknown optimizer 'adamm'"),
        (lambda: pk.make_optimizer("adam", schedule="cosin"), "unknown schedule 'cosin'"),
        (lambda: pk.make_schedule("linear", 0.0, 10), "learning_rate must be positive"),
    ],
)
def test_bad_names_list_the_valid_ones(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    if "unknown optimizer" in message:
        assert all(name in str(info.value) for name in pk.OPTIMIZERS)
    if "unknown schedule" in message:
        assert all(name in str(info.value) for name in pk.SCHEDULES)


@pytest.mark.parametrize(
    "flag, value, names",
    [("--optimizer", "adamm", pk.OPTIMIZERS), ("--schedule", "x", pk.SCHEDULES)],
)
def test_cli_bad_names_exit_2(flag, value, names, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["solve", "poisson-two-body", "--dim", "3", flag, value, "--out", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{value!r}" in err and all(name in err for name in names)


def _fit():
    """A tiny regression: fit sin(3x) on 32 fixed points with an MLP 1 -> 8 -> 1."""
    x = jnp.linspace(-1.0, 1.0, 32)[:, None]
    loss = pk.DataLoss(x, jnp.sin(3 * x[:, 0]))
    network = pk.MLP(1, 8, 1, key=jax.random.key(0))
    return loss, network


def test_lbfgs_lowers_the_loss_below_adam(x64):
    loss, network = _fit()
    solver = pk.PINNSolver(loss, optimizer=optax.adam(1e-2), log_every=100)
    adam = solver.solve(network, 200, jax.random.key(0), progress=False)
    adam_loss = float(loss(adam.network, loss.sample(jax.random.key(0)), jax.random.key(0)))
    refined = solver.refine(adam.network, 60, jax.random.key(1), progress=False)
    assert refined.result in (pk.RESULTS.successful, pk.RESULTS.lbfgs_stalled)
    history = refined.history["loss"]
    assert history.shape == (refined.steps,) and refined.steps > 10
    np.testing.assert_allclose(history[0], adam_loss, rtol=1e-10)
    final = float(loss(refined.network, loss.sample(jax.random.key(0)), jax.random.key(0)))
    assert final < 0.1 * adam_loss, (adam_loss, final)
    assert final <= history.min() * (1 + 1e-9)  # the best network is kept
    # The caller's network is untouched.
    same = [np.asarray(a) for a in jax.tree_util.tree_leaves(eqx.filter(network, eqx.is_array))]
    again = [np.asarray(a) for a in jax.tree_util.tree_leaves(eqx.filter(_fit()[1], eqx.is_array))]
    for a, b in zip(same, again, strict=True):
        np.testing.assert_array_equal(a, b)


class _FlatLoss(pk.AbstractLoss):
    """The loss does not depend on the network: no iteration can decrease it."""

    def sample(self, key):
        return jnp.zeros(1)

    def __call__(self, model, batch, key):
        return 0.0 * model(batch) + 1.0


def test_a_stall_is_reported():
    """A stall is an expected end of L-BFGS: reported without a warning by default, raised
    (`lbfgs_stalled` included) with `throw=True`."""
    network = pk.MLP(1, 4, 1, key=jax.random.key(0))
    solver = pk.PINNSolver(_FlatLoss())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solution = solver.refine(network, 50, jax.random.key(0), patience=3, progress=False)
    assert solution.result == pk.RESULTS.lbfgs_stalled
    assert solution.steps < 50
    assert "L-BFGS stalled at iteration" in solution.message
    assert "lbfgs_stalled: " in solution.message
    with pytest.raises(SolveError, match="L-BFGS stalled at iteration") as info:
        solver.refine(network, 50, jax.random.key(0), patience=3, progress=False, throw=True)
    assert info.value.result == pk.RESULTS.lbfgs_stalled
    assert info.value.solution.steps == solution.steps
    # The same fit runs to the end when it keeps decreasing.
    loss, network = _fit()
    fine = pk.PINNSolver(loss).refine(network, 5, jax.random.key(0), progress=False)
    assert fine.result == pk.RESULTS.successful and fine.steps == 5 and fine.message == ""
    assert np.all(np.diff(fine.history["loss"]) < 0)


def test_cli_optimizer_schedule_and_lbfgs(tmp_path, capsys):
    args = "solve poisson-two-body --dim 3 --steps 20 --batch 8 --width 8 --depth 1"
    args += " --test-size 64 --eval-every 10 --no-progress --optimizer adamw --schedule cosine"
    code = main(
        [*args.split(), "--lbfgs-steps", "5", "--lbfgs-batch", "16", "--out", str(tmp_path)]
    )
    assert code == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["config"]["optimizer"] == "adamw" and result["config"]["schedule"] == "cosine"
    lbfgs = result["details"]["lbfgs"]
    assert lbfgs["batch"] == 16 and 1 <= lbfgs["steps"] <= 5
    assert lbfgs["result"] in ("successful", "lbfgs_stalled")
    assert lbfgs["final_loss"] < lbfgs["initial_loss"]
    assert lbfgs["rel_l2_before"] == result["history"]["rel_l2"][-1]
    assert result["rel_l2"] != lbfgs["rel_l2_before"]  # the reported error is after L-BFGS
    # A resume after the optimizer's last checkpoint (as after a kill during L-BFGS) runs the
    # refinement again from the same start and reaches the same numbers.
    code = main(
        [*args.split(), "--lbfgs-steps", "5", "--lbfgs-batch", "16", "--out", str(tmp_path)]
        + ["--resume"]
    )
    assert code == 0
    resumed = json.loads((tmp_path / "result.json").read_text())
    for record in (result, resumed):
        for timing in ("wall_s", "steps_per_s", "peak_rss_mb"):
            record.pop(timing)
        record["details"]["lbfgs"].pop("wall_s")
    assert resumed.pop("config")["resume"] and not result.pop("config")["resume"]
    assert resumed == result
    capsys.readouterr()


def test_tail_average_lands_on_the_mean_of_the_last_iterates():
    """SGD steps of -1 per step from 0: the iterates are -1, -2, ..., -6; averaging the last
    3 of 6 steps ends at their mean, -5. tail = 0 is SGD itself; tail outside [0, steps] and
    an update without the parameters are refused by name."""
    inner = optax.sgd(1.0)
    params = jnp.zeros(())
    for tail, expected in ((0, -6.0), (3, -5.0), (6, -3.5)):
        averaged = tail_average(inner, 6, tail)
        state = averaged.init(params)
        x = params
        for _ in range(6):
            updates, state = averaged.update(jnp.ones(()), state, x)
            x = optax.apply_updates(x, updates)
        assert float(x) == pytest.approx(expected), tail
    assert tail_average(inner, 6, 0) is inner
    for bad in (-1, 7):
        with pytest.raises(ValueError, match=rf"averaged steps must lie in \[0, 6\], got {bad}"):
            tail_average(inner, 6, bad)
    averaged = tail_average(inner, 6, 3)
    with pytest.raises(ValueError, match=r"tail_average needs the parameters in update\("):
        averaged.update(jnp.ones(()), averaged.init(params))
