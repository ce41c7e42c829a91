"""PINNSolver: training reduces the error, is reproducible, and stops cleanly at a NaN."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from internals import replicate

import pinnkit as pk
from pinnkit import SolveError
from pinnkit.problems import get_problem


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


@pytest.fixture(scope="module")
def trained():
    """poisson-two-body, d = 4, width 16, 300 steps: trained once for several tests."""
    key = jax.random.key(0)
    problem_key, network_key, train_key, test_key = jax.random.split(key, 4)
    problem = get_problem("poisson-two-body", 4, problem_key)
    network = problem.network(network_key, width=16, depth=2)
    before = leaves(network)
    test_set = problem.test_set(test_key, size=500, chunk_size=200)
    solver = pk.PINNSolver(problem.loss(batch_size=32), learning_rate=1e-2, eval_every=100)
    calls = []
    solution = solver.solve(
        network,
        300,
        train_key,
        test_set=test_set,
        progress=False,
        callback=lambda step, logs: calls.append((step, logs)),
    )
    return problem, network, before, test_set, solution, calls


def test_training_reduces_loss_and_error(trained):
    _, network, _, test_set, solution, _ = trained
    assert solution.result == pk.RESULTS.successful
    assert solution.message == "" and solution.steps == 300
    loss = solution.history["loss"]
    np.testing.assert_array_equal(solution.history["step"], np.arange(300))
    assert loss.shape == (300,) and np.all(np.isfinite(loss))
    assert np.mean(loss[-20:]) < 0.05 * np.mean(loss[:5])
    initial = float(test_set.errors(network)["rel_l2"])
    final = solution.metrics["rel_l2"]
    assert final < 0.3 * initial, (initial, final)
    np.testing.assert_array_equal(solution.history["eval_step"], [100, 200, 300])
    assert solution.history["rel_l2"][-1] == final
    np.testing.assert_allclose(final, test_set.errors(solution.network)["rel_l2"], rtol=1e-6)
    assert set(solution.metrics) == {"rel_l2", "rel_l1"}
    assert solution.wall_s > 0


def test_callback_after_each_evaluation(trained):
    *_, calls = trained
    assert [step for step, _ in calls] == [100, 200, 300]
    assert all({"loss", "rel_l2", "rel_l1"} <= set(logs) for _, logs in calls)


def test_callers_network_is_not_modified(trained):
    _, network, before, *_ = trained
    after = leaves(network)
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert bool(jnp.isfinite(network(jnp.full(4, 0.1))))  # buffers still alive


def small_run(log_every, key=0, steps=30):
    problem = get_problem("allen-cahn-two-body", 3, jax.random.key(1))
    network = problem.network(jax.random.key(2), width=8, depth=1)
    solver = pk.PINNSolver(problem.loss(batch_size=8), learning_rate=1e-2, log_every=log_every)
    return solver.solve(network, steps, jax.random.key(key), progress=False)


def test_same_seed_same_history():
    a, b = small_run(10), small_run(10)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    for x, y in zip(leaves(a.network), leaves(b.network), strict=True):
        np.testing.assert_array_equal(x, y)
    # The draws for step n come from fold_in(key, n), whatever the chunking.
    c = small_run(30)
    np.testing.assert_allclose(a.history["loss"], c.history["loss"], rtol=1e-5)
    assert np.ptp(a.history["loss"]) > 0


class _ExplodingLoss(pk.AbstractLoss):
    """sqrt(1 - u(0)): minimizing it drives u(0) past 1, where the loss becomes NaN."""

    def sample(self, key):
        return jnp.zeros(2)

    def __call__(self, model, batch, key):
        return jnp.sqrt(1.0 - model(batch))


class _StatefulLoss(pk.AbstractLoss):
    """Its state counts steps and records the model's value at 0 as seen by `next_batch`."""

    def sample(self, key):
        return jnp.zeros(2)

    def init_state(self, key):
        return {"count": jnp.array(0), "u0": jnp.array(jnp.nan)}

    def next_batch(self, model, state, key):
        return self.sample(key), {"count": state["count"] + 1, "u0": model(jnp.zeros(2))}

    def __call__(self, model, batch, key):
        return (model(batch) - 1.0) ** 2


def test_loss_state_is_carried_and_sees_the_current_model():
    network = pk.MLP(2, 8, 1, key=jax.random.key(3))
    solver = pk.PINNSolver(_StatefulLoss(), optimizer=optax.sgd(0.05), log_every=4)
    solution = solver.solve(network, 10, jax.random.key(0), progress=False)
    assert int(solution.loss_state["count"]) == 10
    # Step 9's next_batch saw the network after 9 updates.
    nine = solver.solve(network, 9, jax.random.key(0), progress=False)
    np.testing.assert_allclose(solution.loss_state["u0"], nine.network(jnp.zeros(2)), rtol=1e-6)
    assert solution.history["loss"][-1] < solution.history["loss"][0]
    # Zero steps return the initial state.
    assert solver.solve(network, 0, jax.random.key(0), progress=False).loss_state["count"] == 0


def test_stateless_loss_has_no_state(trained):
    assert trained[4].loss_state is None


def _nan_setup():
    network = pk.MLP(2, 8, 1, key=jax.random.key(3))
    solver = pk.PINNSolver(_ExplodingLoss(), optimizer=optax.sgd(0.05), log_every=16)
    return network, solver


def test_nonfinite_loss_stops_with_last_finite_network():
    network, solver = _nan_setup()
    with pytest.warns(RuntimeWarning, match="training stopped at step"):
        solution = solver.solve(network, 400, jax.random.key(0), progress=False)
    assert solution.result == pk.RESULTS.nonfinite_loss
    bad = solution.steps
    assert 0 < bad < 400
    assert f"training stopped at step {bad}" in solution.message
    assert "smaller learning rate" in solution.message
    loss = solution.history["loss"]
    assert loss.shape == (bad,) and np.all(np.isfinite(loss))
    np.testing.assert_array_equal(solution.history["step"], np.arange(bad))
    assert all(np.all(np.isfinite(x)) for x in leaves(solution.network))


def test_nonfinite_loss_returns_the_last_network_with_a_finite_loss():
    """`Solution.network` is documented as "the last one with a finite loss": its loss is
    the last finite entry of the history, and it equals an uninterrupted run of one step
    fewer than the failing step."""
    network, solver = _nan_setup()
    with pytest.warns(RuntimeWarning):
        solution = solver.solve(network, 400, jax.random.key(0), progress=False)
    bad = solution.steps
    assert solution.result == pk.RESULTS.nonfinite_loss
    loss = _ExplodingLoss()(solution.network, jnp.zeros(2), jax.random.key(0))
    assert bool(jnp.isfinite(loss)), "the returned network's loss is not finite"
    np.testing.assert_allclose(loss, solution.history["loss"][-1], rtol=1e-6)
    clean = solver.solve(network, bad - 1, jax.random.key(0), progress=False)
    for x, y in zip(leaves(solution.network), leaves(clean.network), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_nonfinite_loss_at_a_chunks_first_step():
    """The returned network is recomputed from a kept state: from the failing chunk's start,
    or from the chunk before when the failure is a chunk's first step (`log_every` = 1, and
    = the failing step). Either way it is the uninterrupted run of one step fewer."""
    network, solver = _nan_setup()
    with pytest.warns(RuntimeWarning):
        bad = solver.solve(network, 400, jax.random.key(0), progress=False).steps
    assert bad > 2
    clean = solver.solve(network, bad - 1, jax.random.key(0), progress=False)
    for log_every in (1, bad, bad - 1):
        chunked = pk.PINNSolver(_ExplodingLoss(), optimizer=optax.sgd(0.05), log_every=log_every)
        with pytest.warns(RuntimeWarning, match=f"training stopped at step {bad}"):
            solution = chunked.solve(network, 400, jax.random.key(0), progress=False)
        assert solution.steps == bad
        for x, y in zip(leaves(solution.network), leaves(clean.network), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_throw_raises_with_the_partial_solution():
    network, solver = _nan_setup()
    with pytest.raises(SolveError, match="training stopped at step") as info:
        solver.solve(network, 400, jax.random.key(0), progress=False, throw=True)
    assert isinstance(info.value, RuntimeError)
    assert info.value.result == pk.RESULTS.nonfinite_loss
    partial = info.value.solution
    assert isinstance(partial, pk.Solution) and partial.message == str(info.value)
    with pytest.warns(RuntimeWarning):
        returned = solver.solve(network, 400, jax.random.key(0), progress=False)
    assert partial.steps == returned.steps > 0
    np.testing.assert_array_equal(partial.history["loss"], returned.history["loss"])


def test_solve_argument_errors(getkey):
    problem = get_problem("poisson-two-body", 3)
    solver = pk.PINNSolver(problem.loss(batch_size=4))
    network = problem.network(getkey(), width=4, depth=1)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        solver.solve(network, -1, getkey(), progress=False)
    with pytest.raises(TypeError, match="AbstractNetwork"):
        solver.solve(lambda x: x[0], 1, getkey(), progress=False)
    with pytest.raises(ValueError, match="learning_rate"):
        pk.PINNSolver(problem.loss(), learning_rate=0.0)
    with pytest.raises(ValueError, match="log_every"):
        pk.PINNSolver(problem.loss(), log_every=0)
    empty = solver.solve(network, 0, getkey(), progress=False)
    assert empty.steps == 0 and empty.history["loss"].shape == (0,)
    for x, y in zip(leaves(empty.network), leaves(network), strict=True):
        np.testing.assert_array_equal(x, y)


def test_test_set_errors_by_hand(x64, getkey):
    problem = get_problem("sine-gordon-three-body", 5, getkey())
    key = getkey()
    test_set = problem.test_set(key, size=250, chunk_size=100)  # last chunk is partial
    half = lambda x: 0.5 * problem.solution(x)
    errors = test_set.errors(half)
    np.testing.assert_allclose(errors["rel_l2"], 0.5, rtol=1e-12)
    np.testing.assert_allclose(errors["rel_l1"], 0.5, rtol=1e-12)
    # Regenerate the points as documented: chunk i from fold_in(key, i), first `size` kept.
    x = jnp.concatenate([problem.sampler(jax.random.fold_in(key, i), 100) for i in range(3)])
    x = x[:250]
    model = lambda y: problem.solution(y) + 0.01 * jnp.sum(y)
    exact = jax.vmap(problem.solution)(x)
    diff = jax.vmap(model)(x) - exact
    errors = test_set.errors(model)
    np.testing.assert_allclose(
        errors["rel_l2"], jnp.linalg.norm(diff) / jnp.linalg.norm(exact), rtol=1e-10
    )
    np.testing.assert_allclose(
        errors["rel_l1"], jnp.sum(jnp.abs(diff)) / jnp.sum(jnp.abs(exact)), rtol=1e-10
    )
    with pytest.raises(ValueError, match="size.*chunk_size"):
        problem.test_set(key, size=0)


_RESULT_NAMES = (
    "successful",
    "nonfinite_loss",
    "interrupted",
    "lbfgs_stalled",
    "max_steps_reached",
    "time_integration_failed",
    "nonfinite_values",
    "nonfinite_parameters",
)


def test_every_result_prints_its_name():
    # Every item is listed here, so a new code must be added (and so checked).
    assert len(pk.RESULTS) == len(_RESULT_NAMES)
    for name in _RESULT_NAMES:
        item = getattr(pk.RESULTS, name)
        assert f"RESULTS<{name}: " in repr(item)
        assert pk.result_name(item) == name


def test_result_name_refuses_other_values():
    with pytest.raises(ValueError, match="RESULTS item"):
        pk.result_name("successful")


@pytest.mark.parametrize(
    "solution, match",
    [
        (lambda x: jnp.log(x[0]), "not finite"),  # NaN where x[0] < 0
        (lambda x: 0.0 * x[0], "zero at every test point"),
        (lambda x: x, "a scalar per point"),
    ],
)
def test_a_bad_exact_solution_is_refused_before_training(solution, match, getkey):
    problem = get_problem("poisson-two-body", 3, getkey())
    sampler = pk.UniformSampler(pk.Ball(3))
    test_set = pk.TestSet(sampler, solution, getkey(), size=100)
    network = problem.network(getkey(), width=8, depth=1)
    calls = []
    loss = problem.loss(batch_size=8)
    with pytest.raises(ValueError, match=match):
        pk.PINNSolver(loss).solve(
            network, 5, getkey(), test_set=test_set, progress=False, callback=calls.append
        )
    assert not calls  # refused before any step


def test_a_sampler_of_another_dimension_is_refused_before_training(getkey):
    problem = get_problem("poisson-two-body", 4, getkey())
    loss = pk.ResidualLoss(problem.pde, pk.UniformSampler(pk.Ball(5)), pk.STDE(2), batch_size=8)
    network = problem.network(getkey(), width=8, depth=1)
    with pytest.raises(ValueError, match="dimension 5, but the network takes 4"):
        pk.PINNSolver(loss).solve(network, 5, getkey(), progress=False)


def test_solver_settings_are_checked_by_name():
    loss = get_problem("poisson-two-body", 3, jax.random.key(0)).loss(batch_size=8)
    from helpers import no_typecheck

    with no_typecheck(), pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh or"):
        pk.PINNSolver(loss, mesh="cpu")  # pyright: ignore[reportArgumentType]
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    assert pk.PINNSolver(loss, mesh=mesh).mesh is mesh
    for kwargs in (dict(size=0), dict(chunk_size=0), dict(max_chunk_numbers=0)):
        with pytest.raises(ValueError, match="size, chunk_size and max_chunk_numbers must be >= 1"):
            sampler = pk.UniformSampler(pk.Ball(2))
            pk.TestSet(sampler, jnp.sum, jax.random.key(0), **kwargs)  # pyright: ignore[reportArgumentType]


def test_replicate_keeps_the_static_parts_and_places_the_arrays():
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    network = pk.MLP(3, 4, 1, activation="tanh", key=jax.random.key(0))
    copy = replicate(network, mesh)
    x = jnp.array([0.1, 0.2, 0.3])
    assert float(copy(x)) == float(network(x))
    for leaf in jax.tree_util.tree_leaves(eqx.filter(copy, eqx.is_array)):
        assert isinstance(leaf.sharding, jax.sharding.NamedSharding)
