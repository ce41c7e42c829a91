"""Losses: residual, boundary and data terms, and their weighted sums."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import no_typecheck, rejected

import pinnkit as pk
from pinnkit.problems import get_problem


@pytest.mark.parametrize("name", ["poisson-two-body", "allen-cahn-three-body"])
def test_residual_of_exact_solution_vanishes(name, x64, getkey):
    problem = get_problem(name, 4, getkey())
    loss = problem.loss(pk.Exact(), batch_size=16)
    batch = loss.sample(getkey())
    assert isinstance(batch, pk.CollocationBatch)
    assert batch.points.shape == (16, 4) and batch.source.shape == (16,)
    assert batch.points.dtype == jnp.float64
    np.testing.assert_allclose(batch.source, jax.vmap(problem.pde.source)(batch.points))
    residuals = loss.residuals(problem.solution, batch, getkey())
    assert residuals.shape == (16,)
    assert float(jnp.max(jnp.abs(residuals))) < 1e-10
    assert float(loss(problem.solution, batch, getkey())) < 1e-20
    # A wrong "solution" has a clearly nonzero residual.
    wrong = lambda x: 1.1 * problem.solution(x) + 0.1 * jnp.sum(x**2)
    assert float(loss(wrong, batch, getkey())) > 1e-4


def test_residual_loss_is_mean_square(getkey):
    problem = get_problem("sine-gordon-two-body", 3, getkey())
    network = problem.network(getkey(), width=8, depth=1)
    loss = problem.loss(batch_size=8)
    batch = loss.sample(getkey())
    key = getkey()
    r = loss.residuals(network, batch, key)
    np.testing.assert_allclose(loss(network, batch, key), jnp.mean(r**2), rtol=1e-6)
    x, f = batch.points[0], batch.source[0]
    by_hand = pk.Laplacian().exact(network, x) + jnp.sin(network(x)) - f
    np.testing.assert_allclose(r[0], by_hand, rtol=1e-4, atol=1e-5)


def test_residual_loss_validation():
    problem = get_problem("poisson-two-body", 3)
    with pytest.raises(ValueError, match="batch_size"):
        problem.loss(batch_size=0)
    rejected(lambda: problem.loss(sharing="everything"), "sharing")


def test_boundary_loss(getkey):
    sampler = pk.UniformSampler(pk.Ball(3), where="boundary")
    zero_data = pk.BoundaryLoss(sampler, batch_size=12)
    batch = zero_data.sample(getkey())
    assert isinstance(batch, pk.TargetBatch)
    assert batch.points.shape == (12, 3) and batch.targets.shape == (12,)
    np.testing.assert_array_equal(batch.targets, 0.0)
    hard = pk.HardDirichlet(pk.MLP(3, 8, 1, key=getkey()))
    assert float(zero_data(hard, batch, getkey())) < 1e-10
    free = pk.MLP(3, 8, 1, key=getkey())
    expected = jnp.mean(jax.vmap(free)(batch.points) ** 2)
    np.testing.assert_allclose(zero_data(free, batch, getkey()), expected, rtol=1e-6)
    assert float(expected) > 0

    g = lambda x: x[0] - 2 * x[2]
    data = pk.BoundaryLoss(sampler, target=g, batch_size=12)
    batch = data.sample(getkey())
    np.testing.assert_allclose(batch.targets, jax.vmap(g)(batch.points), rtol=1e-6)
    assert float(data(g, batch, getkey())) == 0.0
    np.testing.assert_allclose(data(lambda x: g(x) + 0.5, batch, getkey()), 0.25, rtol=1e-6)


def test_data_loss(getkey):
    points = jax.random.normal(getkey(), (10, 2))
    values = jnp.sum(points, axis=1)
    full = pk.DataLoss(points, values)
    batch = full.sample(getkey())
    np.testing.assert_array_equal(batch.points, points)
    model = lambda x: jnp.sum(x) + 2.0
    np.testing.assert_allclose(full(model, batch, getkey()), 4.0, rtol=1e-6)

    sub = pk.DataLoss(points, values, batch_size=4)
    batch = sub.sample(getkey())
    assert batch.points.shape == (4, 2) and batch.targets.shape == (4,)
    rows = [int(np.argmin(np.linalg.norm(points - p, axis=1))) for p in batch.points]
    assert len(set(rows)) == 4, "drawn without replacement"
    np.testing.assert_allclose(batch.targets, values[np.array(rows)])


@pytest.mark.parametrize(
    "points_shape, values_shape", [((10,), (10,)), ((10, 2), (9,)), ((10, 2), (10, 1))]
)
def test_data_loss_shape_errors(points_shape, values_shape):
    points, values = jnp.ones(points_shape), jnp.ones(values_shape)
    rejected(lambda: pk.DataLoss(points, values), r"points \(n, dim\) and values \(n,\)")


def test_weighted_sum(getkey):
    points = jax.random.normal(getkey(), (6, 2))
    a = pk.DataLoss(points, jnp.zeros(6))
    b = pk.DataLoss(points, jnp.ones(6))
    total = pk.WeightedSum({"a": a, "b": b}, weights={"a": 3.0})
    assert total.weights == {"a": 3.0, "b": 1.0}
    batch = total.sample(getkey())
    assert set(batch) == {"a", "b"}
    model = lambda x: x[0]
    key = getkey()
    values = total.values(model, batch, key)
    va = jnp.mean(points[:, 0] ** 2)
    vb = jnp.mean((points[:, 0] - 1) ** 2)
    np.testing.assert_allclose(values["a"], va, rtol=1e-6)
    np.testing.assert_allclose(values["b"], vb, rtol=1e-6)
    np.testing.assert_allclose(total(model, batch, key), 3 * va + vb, rtol=1e-6)
    # Differentiable through the sum.
    grad = jax.grad(lambda c: total(lambda x: c * x[0], batch, key))(1.0)
    expected = 6 * va + 2 * jnp.mean((points[:, 0] - 1) * points[:, 0])
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_weighted_sum_errors():
    a = pk.DataLoss(jnp.ones((2, 2)), jnp.ones(2))
    with pytest.raises(ValueError, match=r"unknown terms \['residual'\]; terms: \['a'\]"):
        pk.WeightedSum({"a": a}, weights={"residual": 2.0})
    with pytest.raises(ValueError, match="at least one term"):
        pk.WeightedSum({})


def test_a_residual_of_the_wrong_shape_is_refused_when_traced(getkey):
    class VectorResidual(pk.AbstractPDE):
        operators: tuple = (pk.Laplacian(),)

        def source(self, x):
            return jnp.zeros(())

        def residual(self, x, u, derivatives, source):
            (laplacian,) = derivatives
            return jnp.stack([laplacian, u])  # two numbers where one is needed

    loss = pk.ResidualLoss(VectorResidual(), pk.UniformSampler(pk.Ball(3)), batch_size=4)
    network = pk.MLP(3, 8, 1, key=getkey())
    batch = loss.sample(getkey())
    with no_typecheck(), pytest.raises(ValueError, match=r"residual must return a scalar"):
        loss(network, batch, getkey())
