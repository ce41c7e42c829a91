"""The KdV space-time problem: exact soliton, residual, edges, gPINN term, training."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnkit as pk
from pinnkit.problems import KdVPDE, KdVProblem, kdv_soliton


def _autodiff_residual(u):
    """u_t + 6 u u_x + u_xxx by nested jax.grad / jax.jacfwd, independent of pinnkit."""
    u_x = lambda z: jax.grad(u)(z)[0]  # noqa: E731
    u_xx = lambda z: jax.grad(u_x)(z)[0]  # noqa: E731
    u_xxx = lambda z: jax.jacfwd(u_xx)(z)[0]  # noqa: E731
    u_t = lambda z: jax.grad(u)(z)[1]  # noqa: E731
    return lambda z: u_t(z) + 6.0 * u(z) * u_x(z) + u_xxx(z)


def _points(key, problem, n):
    return problem.sampler(key, n)


@pytest.mark.parametrize("speed, shift", [(2.0, -1.0), (0.7, 0.5)])
def test_soliton_solves_kdv(speed, shift, x64, getkey):
    problem = KdVProblem(speed=speed, shift=shift)
    z = _points(getkey(), problem, 16)
    exact = lambda y: kdv_soliton(y, speed, shift)  # noqa: E731
    residual = jax.vmap(_autodiff_residual(exact))(z)
    scale = jnp.max(jnp.abs(jax.vmap(jax.grad(exact))(z)))
    assert float(scale) > 1e-2  # the points see the wave
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)
    # The amplitude and the crest: u(x0 + c t, t) = c / 2.
    crest = jnp.array([shift + speed * 0.3, 0.3])
    np.testing.assert_allclose(exact(crest), speed / 2, rtol=1e-14)


@pytest.mark.parametrize("estimator", [pk.Exact(), pk.ExactJet()], ids=["exact", "jet"])
def test_pde_residual_matches_autodiff(estimator, x64, getkey):
    problem = KdVProblem()
    network = problem.network(getkey(), width=8, depth=2)
    pde = KdVPDE()
    assert pde.operators[2] == pk.Partial((0, 0, 0))
    reference = _autodiff_residual(network)
    for z in _points(getkey(), problem, 4):
        u, derivatives = estimator(network, z, pde.operators, getkey())
        value = pde.residual(z, u, derivatives, pde.source(z))
        np.testing.assert_allclose(value, reference(z), rtol=1e-9, atol=1e-12)


def test_loss_terms_and_edges(x64, getkey):
    problem = KdVProblem(length=4.0, duration=0.5)
    loss = problem.loss(batch_size=8, boundary_batch_size=6)
    assert set(loss.terms) == {"residual", "initial", "ends"}
    assert loss.weights["initial"] == loss.weights["ends"] == 10.0
    batch = loss.sample(getkey())
    initial, ends = batch["initial"].points, batch["ends"].points
    assert initial.shape == ends.shape == (6, 2)
    np.testing.assert_array_equal(initial[:, 1], 0.0)
    assert float(jnp.max(jnp.abs(initial[:, 0]))) <= 4.0
    np.testing.assert_array_equal(jnp.sort(ends[:, 0]), jnp.array([-4.0] * 3 + [4.0] * 3))
    assert 0.0 <= float(jnp.min(ends[:, 1])) and float(jnp.max(ends[:, 1])) <= 0.5
    np.testing.assert_allclose(batch["ends"].targets, jax.vmap(problem.solution)(ends))
    # The exact solution has zero loss, every term.
    values = loss.values(problem.solution, batch, getkey())
    assert all(float(v) < 1e-20 for v in values.values()), values


def test_gradient_enhanced_term(x64, getkey):
    problem = KdVProblem()
    loss = problem.loss(batch_size=5, gradient_weight=0.1)
    assert set(loss.terms) == {"residual", "initial", "ends", "gradient"}
    assert loss.weights["gradient"] == 0.1
    batch = loss.sample(getkey())
    term = eqx.filter_jit(loss.terms["gradient"])  # compiled: much faster than eager here
    assert float(term(problem.solution, batch["gradient"], getkey())) < 1e-20
    network = problem.network(getkey(), width=8, depth=2)
    points = batch["gradient"].points

    @eqx.filter_jit
    def expected_term(network):
        gradients = jax.vmap(jax.jacfwd(_autodiff_residual(network)))(points)
        return jnp.mean(jnp.sum(gradients**2, axis=1))

    expected = expected_term(network)
    np.testing.assert_allclose(term(network, batch["gradient"], getkey()), expected, rtol=1e-9)
    assert float(expected) > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="gradient_weight=-1"):
        KdVProblem().loss(gradient_weight=-1.0)
    # A soliton of speed 0 is u = 0 (amplitude c/2): refused like a negative one, and so is
    # an empty interval or horizon.
    for bad in ({"speed": -1.0}, {"speed": 0.0}, {"length": 0.0}, {"duration": 0.0}):
        with pytest.raises(ValueError, match="speed, length and duration > 0"):
            KdVProblem(**bad)


def test_short_training_reduces_the_loss(getkey):
    problem = KdVProblem()
    loss = problem.loss(batch_size=64, boundary_batch_size=32, gradient_weight=0.01)
    solver = pk.PINNSolver(loss, learning_rate=3e-3, log_every=50)
    network = problem.network(getkey(), width=16, depth=2)
    test_set = problem.test_set(getkey(), size=500)
    before = float(test_set.errors(network)["rel_l2"])
    solution = solver.solve(network, 150, getkey(), progress=False, test_set=test_set)
    history = solution.history["loss"]
    assert np.mean(history[-20:]) < 0.2 * np.mean(history[:20])
    assert solution.metrics["rel_l2"] < 0.8 * before
