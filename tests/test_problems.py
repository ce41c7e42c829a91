"""The elliptic problems: the closed-form source matches autodiff of the solution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ELLIPTIC_PROBLEMS, random_points

import pinnkit as pk
from pinnkit.problems import PROBLEMS, get_problem


NONLINEARITIES = {
    "poisson": lambda u: 0.0 * u,
    "allen-cahn": lambda u: u - u**3,
    "sine-gordon": jnp.sin,
}
"""Independent copies of g(u) in Δu + g(u) = f, by problem-name prefix."""


def dims(name):
    return sorted({PROBLEMS[name].min_dim, 6})


CASES = [(name, d) for name in ELLIPTIC_PROBLEMS for d in dims(name)]


@pytest.mark.parametrize("name, dim", CASES)
def test_source_matches_autodiff(name, dim, x64, getkey):
    problem = get_problem(name, dim, getkey())
    assert problem.name == name and problem.dim == dim
    x = random_points(getkey(), 4, dim)
    source = jax.vmap(problem.pde.source)(x)
    u = jax.vmap(problem.solution)(x)
    # Generic: the exact solution has zero residual when its operators come from autodiff.
    pde = problem.pde

    @jax.jit
    def residual(y, u_y, f_y):
        derivatives = tuple(op.exact(problem.solution, y) for op in pde.operators)
        return pde.residual(y, u_y, derivatives, f_y)

    residuals = jax.vmap(residual)(x, u, source)
    assert bool(jnp.all(jnp.abs(residuals) < 1e-10 * (1 + jnp.abs(source))))
    # Independent: f = Δu* + g(u*) with g written out here.
    prefix = next((p for p in NONLINEARITIES if name.startswith(p + "-")), None)
    if prefix is not None:
        laplacian = jax.jit(jax.vmap(lambda y: jnp.trace(jax.hessian(problem.solution)(y))))(x)
        np.testing.assert_allclose(
            source, laplacian + NONLINEARITIES[prefix](u), rtol=1e-10, atol=1e-12
        )
    assert float(jnp.max(jnp.abs(source))) > 1e-3


@pytest.mark.parametrize("name", ELLIPTIC_PROBLEMS)
def test_pieces_fit_together(name, getkey):
    dim = PROBLEMS[name].min_dim + 1
    problem = get_problem(name, dim, getkey())
    assert isinstance(problem.pde, pk.AbstractPDE)
    assert problem.sampler.dim == dim
    points = problem.sampler(getkey(), 5)
    assert points.shape == (5, dim)
    network = problem.network(getkey(), width=8, depth=1)
    assert isinstance(network, pk.AbstractNetwork) and network.in_size == dim
    # Where the distance vanishes, the ansatz and the exact solution both vanish.
    sphere = pk.Sphere(dim).sample_interior(getkey(), 8)
    on_boundary = jnp.abs(jax.vmap(problem.distance)(sphere)) < 1e-5
    assert bool(jnp.all(on_boundary))
    np.testing.assert_allclose(jax.vmap(network)(sphere), 0.0, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(problem.solution)(sphere), 0.0, atol=1e-4)
    loss = problem.loss(batch_size=7)
    if problem.extend_loss is not None:  # the residual is one term of the full loss
        assert isinstance(loss, pk.WeightedSum)
        loss = loss.terms["residual"]
    assert isinstance(loss, pk.ResidualLoss) and loss.batch_size == 7
    assert PROBLEMS[name].description


@pytest.mark.parametrize("name", ELLIPTIC_PROBLEMS)
def test_too_small_dimension(name):
    spec = PROBLEMS[name]
    with pytest.raises(ValueError, match=f"{name} needs dim >= {spec.min_dim}, got"):
        get_problem(name, spec.min_dim - 1)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown problem 'heat'") as info:
        get_problem("heat", 3)
    for name in ELLIPTIC_PROBLEMS:
        assert name in str(info.value)


def test_default_dimension():
    name = ELLIPTIC_PROBLEMS[0]
    assert get_problem(name).dim == PROBLEMS[name].default_dim


def test_key_fixes_the_problem_and_test_set(getkey):
    key = getkey()
    a, b = get_problem("poisson-two-body", 4, key), get_problem("poisson-two-body", 4, key)
    c = get_problem("poisson-two-body", 4, getkey())
    x = random_points(getkey(), 6, 4)
    np.testing.assert_array_equal(jax.vmap(a.solution)(x), jax.vmap(b.solution)(x))
    assert not np.allclose(jax.vmap(a.solution)(x), jax.vmap(c.solution)(x))

    test_key = getkey()
    model = lambda y: 0.9 * a.solution(y) + 0.01
    e1 = a.test_set(test_key, size=300, chunk_size=128).errors(model)
    e2 = a.test_set(test_key, size=300, chunk_size=128).errors(model)
    e3 = a.test_set(getkey(), size=300, chunk_size=128).errors(model)
    assert float(e1["rel_l2"]) == float(e2["rel_l2"]) and float(e1["rel_l1"]) == float(e2["rel_l1"])
    assert float(e1["rel_l2"]) != float(e3["rel_l2"])
    assert 0.05 < float(e1["rel_l2"]) < 1.0
