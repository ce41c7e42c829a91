"""The annulus domain and the biharmonic problem on it."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import no_typecheck
from internals import annulus_distance, annulus_three_body

import pinnkit as pk
from pinnkit.problems import (
    BiharmonicAnnulusPDE,
    NormalDerivativeLoss,
    biharmonic_loss,
    constant_baseline,
    get_problem,
)


NAME = "biharmonic-three-body-annulus"


def _radii(x):
    return np.asarray(jnp.linalg.norm(x, axis=-1))


# --- the domain -------------------------------------------------------------------------


@pytest.mark.parametrize("radial", ["uniform", "volume"])
def test_interior_radii(radial, getkey):
    dim, n = 3, 4000
    x = pk.Annulus(1.0, 2.0, dim, radial=radial).sample_interior(getkey(), n)
    assert x.shape == (n, dim)
    r = _radii(x)
    assert r.min() >= 1.0 - 1e-6 and r.max() <= 2.0 + 1e-6
    # Uniform in radius: r - 1 ~ U(0, 1). Uniform in volume: (r^d - 1) / (2^d - 1) ~ U(0, 1).
    u = r - 1.0 if radial == "uniform" else (r**dim - 1.0) / (2.0**dim - 1.0)
    standard_error = math.sqrt(1 / 12 / n)
    assert abs(u.mean() - 0.5) < 5 * standard_error
    assert abs(np.mean(u < 0.25) - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)
    # The two modes really differ: volume-uniform radii sit further out.
    assert abs(np.mean(r) - (1.5 if radial == "uniform" else 1.607)) < 0.02
    # Directions are isotropic: the mean of x / |x| is near zero.
    assert np.abs(np.mean(np.asarray(x) / r[:, None], axis=0)).max() < 5 / math.sqrt(n)


def test_volume_sampling_at_large_dimension(getkey):
    # 2^1000 overflows; the sampler must not.
    x = pk.Annulus(1.0, 2.0, 1000, radial="volume").sample_interior(getkey(), 64)
    r = _radii(x)
    assert np.all(np.isfinite(r)) and r.min() >= 1.0 - 1e-5 and r.max() <= 2.0 + 1e-5
    assert r.mean() > 1.95  # almost all the volume is at the outer sphere


def test_boundary_is_both_spheres(getkey):
    dim, n = 4, 1000
    x = pk.Annulus(1.0, 2.0, dim).sample_boundary(getkey(), n)
    r = _radii(x)
    on_inner, on_outer = np.abs(r - 1.0) < 1e-5, np.abs(r - 2.0) < 1e-5
    assert np.all(on_inner | on_outer)
    assert on_inner.sum() == n // 2  # "equal": half of every batch on each sphere

    area = pk.Annulus(1.0, 2.0, 2, boundary="area").sample_boundary(getkey(), 6000)
    fraction = np.mean(np.abs(_radii(area) - 1.0) < 1e-5)
    assert abs(fraction - 1 / 3) < 5 * math.sqrt(2 / 9 / 6000)  # circumferences 2 pi : 4 pi


def test_contains(getkey):
    domain = pk.Annulus(1.0, 2.0, 3)
    inside = domain.sample_interior(getkey(), 50)
    edge = domain.sample_boundary(getkey(), 50)
    assert bool(jnp.all(domain.contains(inside))) and bool(jnp.all(domain.contains(edge)))
    outside = jnp.array([[0.5, 0.0, 0.0], [0.0, 2.1, 0.0], [0.0, 0.0, 0.0]])
    assert not bool(jnp.any(domain.contains(outside)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(inner=2.0, outer=1.0, dim=3), "0 < inner < outer"),
        (dict(inner=0.0, outer=1.0, dim=3), "0 < inner < outer"),
        (dict(inner=1.0, outer=2.0, dim=0), "dimension >= 1"),
        (dict(inner=1.0, outer=2.0, dim=3, radial="cubic"), "'uniform' or 'volume'"),
        (dict(inner=1.0, outer=2.0, dim=3, boundary="inner"), "'equal' or 'area'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with no_typecheck(), pytest.raises(ValueError, match=match):
        pk.Annulus(**kwargs)


# --- the closed-form solution -------------------------------------------------------------


def _naive(x, c):
    d = x.shape[0]
    s = sum(c[i] * jnp.exp(x[i] * x[i + 1] * x[i + 2]) for i in range(d - 2))
    rho = jnp.dot(x, x)
    return (1 - rho) * (4 - rho) * s


def _laplacian(f):
    return lambda y: jnp.trace(jax.hessian(f)(y))


@pytest.mark.parametrize("dim", [3, 5])
def test_closed_form_matches_nested_autodiff(dim, x64, getkey):
    c = jax.random.normal(getkey(), (dim - 2,))
    # Points in the annulus and elsewhere (large coordinates make every term matter).
    points = jnp.concatenate(
        [pk.Annulus(1.0, 2.0, dim).sample_interior(getkey(), 3), jnp.full((1, dim), 0.9)]
    )
    u, radial, bilaplacian = jax.jit(jax.vmap(annulus_three_body, (0, None)))(points, c)

    def references(x):
        f = lambda y: _naive(y, c)  # noqa: E731
        # The Laplacian of the Laplacian, and the contracted fourth-derivative tensor.
        fourth = jax.jacfwd(jax.jacfwd(jax.hessian(f)))(x)
        normal = x / jnp.linalg.norm(x)
        return (
            f(x),
            jnp.dot(jax.grad(f)(x), normal),
            _laplacian(_laplacian(f))(x),
            jnp.einsum("iijj->", fourth),
        )

    u_ref, radial_ref, bilaplacian_ref, by_tensor = jax.jit(jax.vmap(references))(points)
    np.testing.assert_allclose(u, u_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(radial, radial_ref, rtol=1e-10)
    np.testing.assert_allclose(bilaplacian, bilaplacian_ref, rtol=1e-10)
    np.testing.assert_allclose(bilaplacian, by_tensor, rtol=1e-10)


def test_problem_source_and_residual(x64, getkey):
    problem = get_problem(NAME, 5, getkey())
    assert isinstance(problem.pde, BiharmonicAnnulusPDE)
    x = problem.sampler(getkey(), 4)

    @jax.jit
    @jax.vmap
    def check(y):
        source = problem.pde.source(y)
        exact = pk.Biharmonic().exact(problem.solution, y)
        residual = problem.pde.residual(y, problem.solution(y), (exact,), source)
        # A wrong bilaplacian gives a residual scaled by 1 / (8 d (d + 2)).
        wrong = problem.pde.residual(y, problem.solution(y), (exact + 280.0,), source)
        return source, exact, residual, wrong

    source, exact, residual, wrong = check(x)
    np.testing.assert_allclose(source, exact, rtol=1e-10)
    assert float(jnp.max(jnp.abs(residual))) < 1e-10
    np.testing.assert_allclose(wrong, 1.0, rtol=1e-12)


def test_ansatz_and_solution_vanish_on_both_spheres(getkey):
    dim = 6
    problem = get_problem(NAME, dim, getkey())
    network = problem.network(getkey(), width=8, depth=1)
    boundary = pk.Annulus(1.0, 2.0, dim).sample_boundary(getkey(), 20)
    assert set(np.round(_radii(boundary), 4)) == {1.0, 2.0}
    np.testing.assert_allclose(jax.vmap(annulus_distance)(boundary), 0.0, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(network)(boundary), 0.0, atol=1e-4)
    np.testing.assert_allclose(jax.vmap(problem.solution)(boundary), 0.0, atol=1e-4)
    # ... but not inside, and not the radial derivative on the spheres.
    inside = problem.sampler(getkey(), 20)
    assert float(jnp.min(jnp.abs(jax.vmap(annulus_distance)(inside)))) > 0
    pde = problem.pde
    assert isinstance(pde, BiharmonicAnnulusPDE)
    assert float(jnp.max(jnp.abs(jax.vmap(pde.radial_derivative)(boundary)))) > 1e-2


# --- the loss ------------------------------------------------------------------------------


def test_normal_derivative_loss(x64, getkey):
    problem = get_problem(NAME, 4, getkey())
    loss = biharmonic_loss(problem, batch_size=16, boundary_weight=3.0)
    assert isinstance(loss, pk.WeightedSum) and set(loss.terms) == {"residual", "boundary"}
    assert loss.weights == {"residual": 1.0, "boundary": 3.0}
    boundary = loss.terms["boundary"]
    assert isinstance(boundary, NormalDerivativeLoss) and boundary.batch_size == 16
    batch = boundary.sample(getkey())
    evaluate = eqx.filter_jit(lambda loss, model, batch, key: loss(model, batch, key))
    assert float(evaluate(boundary, problem.solution, batch, getkey())) < 1e-20
    # For 2 u*, the mismatch is d u*/dr itself.
    doubled = lambda y: 2.0 * problem.solution(y)  # noqa: E731
    pde = problem.pde
    assert isinstance(pde, BiharmonicAnnulusPDE)
    expected = jnp.mean(jax.vmap(pde.radial_derivative)(batch.points) ** 2)
    np.testing.assert_allclose(evaluate(boundary, doubled, batch, getkey()), expected, rtol=1e-12)
    # And the whole loss is zero for the exact solution (exact estimator).
    assert float(evaluate(loss, problem.solution, loss.sample(getkey()), getkey())) < 1e-18


def test_biharmonic_loss_refuses_other_problems(getkey):
    with pytest.raises(ValueError, match="biharmonic-three-body-annulus"):
        biharmonic_loss(get_problem("poisson-two-body", 3, getkey()))
    with pytest.raises(ValueError, match="boundary_weight"):
        biharmonic_loss(get_problem(NAME, 3, getkey()), boundary_weight=-1.0)


def test_short_training_reduces_the_loss(getkey):
    problem = get_problem(NAME, 3, getkey())
    # Trained with the dense STDE this problem is for; judged by the exact loss on one fixed
    # batch (its forward pass compiles much faster than training through nested Hessians).
    estimator = pk.STDE(sparse=False, num_samples=8)
    loss = biharmonic_loss(problem, estimator, batch_size=32, boundary_batch_size=16)
    exact = biharmonic_loss(problem, pk.Exact(), batch_size=32, boundary_batch_size=16)
    solver = pk.PINNSolver(loss, learning_rate=1e-2, log_every=50)
    network = problem.network(getkey(), width=16, depth=2)
    test_set = problem.test_set(getkey(), size=500)
    batch, key = exact.sample(getkey()), getkey()
    evaluate = eqx.filter_jit(lambda model: exact(model, batch, key))
    before = float(evaluate(network)), float(test_set.errors(network)["rel_l2"])
    solution = solver.solve(network, 300, getkey(), progress=False)
    after = (
        float(evaluate(solution.network)),
        float(test_set.errors(solution.network)["rel_l2"]),
    )
    assert after[0] < 0.5 * before[0], (before, after)
    assert after[1] < 0.7 * before[1]


def test_problem_loss_is_the_well_posed_loss(getkey):
    """`Problem.loss` (what `pinnkit solve` trains) carries the boundary term, like
    `biharmonic_loss` with its defaults."""
    problem = get_problem(NAME, 4, getkey())
    estimator = pk.STDE(sparse=False, num_samples=2)
    loss = problem.loss(estimator, batch_size=6)
    assert isinstance(loss, pk.WeightedSum) and set(loss.terms) == {"residual", "boundary"}
    assert loss.terms["residual"].batch_size == 6 and loss.terms["boundary"].batch_size == 6
    reference = biharmonic_loss(problem, estimator, batch_size=6)
    network = problem.network(getkey(), width=8, depth=1)
    key = getkey()
    batch = loss.sample(key)
    np.testing.assert_allclose(loss(network, batch, key), reference(network, batch, key))


def test_constant_baseline(x64, getkey):
    """The least-squares constant network phi * c*, on the test set's own points: c* matches a
    direct least-squares fit, the ratio is 1 for phi * c*, 0 for u*, above 1 for other
    constants, and rel_l2 is TestSet.errors' figure."""
    problem = get_problem(NAME, 5, getkey())
    test_set = problem.test_set(getkey(), size=300, chunk_size=128)  # three chunks, one partial
    base = constant_baseline(test_set)
    x = jnp.concatenate(
        [test_set.sampler(jax.random.fold_in(test_set.key, i), 128) for i in range(3)]
    )[:300]
    phi, exact = jax.vmap(annulus_distance)(x), jax.vmap(problem.solution)(x)
    c = float(jnp.dot(phi, exact) / jnp.dot(phi, phi))
    np.testing.assert_allclose(base["constant"], c, rtol=1e-10)
    expected = float(jnp.linalg.norm(c * phi - exact) / jnp.linalg.norm(exact))
    np.testing.assert_allclose(base["constant_rel_l2"], expected, rtol=1e-10)
    assert 1e-3 < expected < 1.0  # at d = 5 the solution is far from a constant network

    class Blend(eqx.Module):  # a * phi * c + b * u*: one structure, one compilation
        a: jax.Array
        b: jax.Array

        def __call__(self, y):
            return self.a * c * annulus_distance(y) + self.b * problem.solution(y)

    def ratio(a, b):
        model = Blend(jnp.asarray(a), jnp.asarray(b))
        out = constant_baseline(test_set, model)
        np.testing.assert_allclose(out["rel_l2"], test_set.errors(model)["rel_l2"], rtol=1e-10)
        return float(out["rel_l2_over_constant"])

    np.testing.assert_allclose(ratio(1.0, 0.0), 1.0, rtol=1e-10)
    assert ratio(0.0, 1.0) < 1e-12
    assert ratio(1.01, 0.0) > 1.0


def test_distance_radial_slopes_on_the_two_spheres():
    # docs/math.md, "Biharmonic on an annulus": ∂_r φ = -6 on |x| = 1 and 12 on |x| = 2, the
    # factors the Neumann term divides by.
    direction = jnp.array([0.6, 0.0, -0.8])  # a unit vector
    for radius, slope in ((1.0, -6.0), (2.0, 12.0)):
        point = radius * direction
        got = jnp.dot(jax.grad(annulus_distance)(point), direction)
        np.testing.assert_allclose(got, slope, rtol=1e-6)
        assert abs(annulus_distance(point)) < 1e-6
