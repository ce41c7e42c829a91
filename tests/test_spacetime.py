"""Space-time pieces: TimeDerivative, SpatialLaplacian, SpaceTimePDE, the Brownian and cylinder
samplers, and the time-slice losses. Networks take z = (x, t) with time last."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EXACT_ESTIMATORS, RANDOM_ESTIMATORS, assert_close, rejected

import pinnkit as pk
from pinnkit.problems import SemilinearParabolicPDE


pytestmark = pytest.mark.usefixtures("x64")

D = 4  # space dimension; networks take D + 1 inputs


def _network():
    return pk.MLP(D + 1, 16, 2, key=jax.random.key(0))


def _point():
    return 0.5 * jax.random.normal(jax.random.key(1), (D + 1,))


def _reference(fn, z):
    """u_t and the Laplacian in space by nested autodiff."""
    hessian = jax.hessian(fn)(z)
    return jax.jacfwd(fn)(z)[-1], jnp.trace(hessian[:D, :D])


def test_operators_match_nested_autodiff():
    net, z = _network(), _point()

    @jax.jit
    def values(z):
        ops = (pk.TimeDerivative(), pk.SpatialLaplacian(D), pk.Laplacian())
        return _reference(net, z), [op.exact(net, z) for op in ops]

    (u_t, laplacian), (time, space, full) = values(z)
    assert_close(time, u_t, rtol=1e-12)
    assert_close(space, laplacian, rtol=1e-12)
    # The full Laplacian differs: the time curvature is left out.
    assert abs(full - laplacian) > 1e-6


@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_exact_estimators(name):
    net, z = _network(), _point()
    estimator = pk.make_estimator(name)
    u, (u_t, laplacian) = estimator(
        net, z, (pk.TimeDerivative(), pk.SpatialLaplacian(D)), jax.random.key(0)
    )
    expected_t, expected_laplacian = _reference(net, z)
    assert_close(u, net(z), rtol=1e-12)
    assert_close(u_t, expected_t, rtol=1e-10)
    assert_close(laplacian, expected_laplacian, rtol=1e-9)


@pytest.mark.parametrize("name", RANDOM_ESTIMATORS)
def test_random_estimators_are_unbiased(name):
    net, z = _network(), _point()
    estimator = pk.make_estimator(name, num_samples=2)
    ops = (pk.TimeDerivative(), pk.SpatialLaplacian(D))
    keys = jax.random.split(jax.random.key(2), 2000)
    u_t, laplacian = jax.jit(jax.vmap(lambda k: estimator(net, z, ops, k)[1]))(keys)
    expected_t, expected_laplacian = _reference(net, z)
    assert_close(u_t, jnp.full_like(u_t, expected_t), rtol=1e-10)  # exact, every draw
    mean, error = float(jnp.mean(laplacian)), float(jnp.std(laplacian) / np.sqrt(keys.shape[0]))
    assert error > 0
    assert abs(mean - expected_laplacian) < 4 * error + 1e-12


@pytest.mark.parametrize("name", ["stde", "sdgd"])
def test_sparse_estimators_sample_only_space(name):
    # With |J| = d every space coordinate is drawn: exact, however curved u is in time.
    def fn(z):
        return jnp.sum(jnp.sin(z[:-1])) + 100.0 * z[-1] ** 2 * z[0]

    z = _point()
    estimator = pk.make_estimator(name, num_samples=D)
    keys = jax.random.split(jax.random.key(0), 3)
    values = jax.jit(jax.vmap(lambda k: estimator(fn, z, (pk.SpatialLaplacian(D),), k)[1][0]))(keys)
    assert_close(values, jnp.full(3, -jnp.sum(jnp.sin(z[:-1]))), rtol=1e-10)


def test_dense_directions_leave_time_out():
    # u depends on time only: every estimate of the space Laplacian must be exactly zero.
    def fn(z):
        return z[-1] ** 3 + jnp.sum(z[:-1])

    z = _point()
    for name in ("hte", "stde-dense"):
        estimator = pk.make_estimator(name, num_samples=3)
        _, (value,) = estimator(fn, z, (pk.SpatialLaplacian(D),), jax.random.key(0))
        assert_close(value, jnp.zeros(()), atol=1e-12)


def test_spatial_laplacian_rejects_bad_dims():
    rejected(lambda: pk.SpatialLaplacian(0), "dims >= 1")
    rejected(lambda: pk.SpatialLaplacian(D + 2).exact(_network(), _point()), "at least")


def test_space_time_pde_residual():
    net, z = _network(), _point()
    forward = SemilinearParabolicPDE("allen-cahn", D, 0.3, jnp.sum).forward_pde()
    pde = pk.SpaceTimePDE(forward, D)
    assert isinstance(pde.operators[0], pk.TimeDerivative)
    assert pde.operators[1] == pk.SpatialLaplacian(D)
    u_t, laplacian = _reference(net, z)
    u = net(z)
    u_hat, derivatives = pk.Exact()(net, z, pde.operators, jax.random.key(0))
    residual = pde.residual(z, u_hat, derivatives, pde.source(z))
    assert_close(residual, u_t + laplacian + u - u**3, rtol=1e-10)
    backward = pk.SpaceTimePDE(forward, D, direction="forward")
    assert_close(
        backward.residual(z, u_hat, derivatives, pde.source(z)),
        u_t - laplacian - (u - u**3),
        rtol=1e-10,
    )
    rejected(lambda: pk.SpaceTimePDE(forward, D, direction="sideways"), "direction")


def test_brownian_sampler_statistics():
    n, horizon = 20_000, 0.3
    z = pk.Brownian(D, horizon)(jax.random.key(3), n)
    assert z.shape == (n, D + 1)
    x, t = z[:, :-1], z[:, -1]
    assert float(t.min()) >= 0 and float(t.max()) <= horizon
    assert abs(float(t.mean()) - horizon / 2) < 4 * horizon / np.sqrt(12 * n)
    # x / sqrt(2 t) is standard normal, independent of t.
    standard = x / jnp.sqrt(2 * t)[:, None]
    assert abs(float(standard.mean())) < 4 / np.sqrt(n * D)
    assert abs(float(standard.var()) - 1) < 0.03
    # Fixed time, with an origin: N(x0, 2 T I).
    origin = jnp.arange(D, dtype=z.dtype)
    ends = pk.Brownian(D, horizon, time=horizon, origin=origin)(jax.random.key(4), n)
    assert bool(jnp.all(ends[:, -1] == horizon))
    assert_close(ends[:, :-1].mean(0), origin, atol=4 * np.sqrt(2 * horizon / n))
    assert_close(ends[:, :-1].var(0), jnp.full(D, 2 * horizon), rtol=0.06)
    rejected(lambda: pk.Brownian(D, 0.0), "t0 < t1")


def test_cylinder_sampler():
    box = pk.Box((-1.0, -1.0), (2.0, 2.0))
    sampler = pk.CylinderSampler(pk.UniformSampler(box), 0.5, 1.5)
    z = sampler(jax.random.key(5), 4000)
    assert sampler.dim == 3 and z.shape == (4000, 3)
    assert float(z[:, -1].min()) >= 0.5 and float(z[:, -1].max()) <= 1.5
    assert float(z[:, :2].min()) >= -1 and float(z[:, :2].max()) <= 2
    assert abs(float(z[:, -1].mean()) - 1.0) < 0.02
    rejected(lambda: pk.CylinderSampler(pk.UniformSampler(box), 1.0, 1.0), "t0 < t1")


def _target(x):
    return jnp.sum(x**2) / 3


@pytest.mark.parametrize("kind", ["terminal", "initial"])
def test_slice_losses(kind):
    horizon, shift = 0.3, 0.25
    slope = jnp.linspace(0.1, 0.4, D)
    sampler = pk.Brownian(D, horizon)
    if kind == "terminal":
        loss = pk.TerminalLoss(_target, sampler, horizon, gradient_weight=0.05, batch_size=64)
        time = horizon
    else:
        loss = pk.InitialLoss(_target, sampler, gradient_weight=0.05, batch_size=64)
        time = 0.0
    batch = loss.sample(jax.random.key(6))
    assert bool(jnp.all(batch.points[:, -1] == time))
    assert_close(batch.gradients, jax.vmap(jax.grad(_target))(batch.points[:, :-1]))

    def exact(z):  # equals g at the slice time only
        return _target(z[:-1]) + (z[-1] - time) ** 2

    assert_close(loss(exact, batch, jax.random.key(0)), jnp.zeros(()), atol=1e-14)

    def off(z):  # value off by `shift`, gradient off by `slope`
        return exact(z) + shift + jnp.dot(slope, z[:-1])

    values = shift + batch.points[:, :-1] @ slope
    expected = jnp.mean(values**2) + 0.05 * jnp.mean(slope**2)
    assert_close(loss(off, batch, jax.random.key(0)), expected, rtol=1e-12)
    without = pk.TerminalLoss(_target, sampler, horizon, batch_size=64)
    assert without.sample(jax.random.key(6)).gradients.shape == (64, 0)
    rejected(lambda: pk.TerminalLoss(_target, sampler, horizon, gradient_weight=-1.0), ">= 0")
