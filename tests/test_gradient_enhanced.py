"""gPINN: jets for mixed third-order partials, the gradient of the residual (full and
amortized, through every estimator) against nested autodiff, and the loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ESTIMATOR_FACTORIES, EXACT_ESTIMATORS, assert_close

import pinnkit as pk


DIM = 3


def network(key, dim=DIM):
    return pk.MLP(dim, 8, 1, key=key)


def third(fn, x):
    """The third derivative tensor by nested autodiff."""
    return jax.jacfwd(jax.hessian(fn))(x)


def test_multilinear_derivative_matches_nested_autodiff(getkey, x64):
    u = network(getkey())
    x = 0.5 * jax.random.normal(getkey(), (DIM,))
    a, b, c = (jax.random.normal(getkey(), (DIM,)) for _ in range(3))
    e = jnp.eye(DIM)

    @jax.jit
    def compare(x, a, b, c):
        tensor = third(u, x)
        m = pk.multilinear_derivative
        return {
            # d_i d_j^2 u from one 7-jet, for i != j and i == j
            "d0d2d2": (m(u, x, (e[2], e[0]), (2, 1)), tensor[2, 2, 0]),
            "d1d1d1": (m(u, x, (e[1], e[1]), (2, 1)), tensor[1, 1, 1]),
            "aab": (m(u, x, (a, b), (2, 1)), jnp.einsum("ijk,i,j,k", tensor, a, a, b)),
            "ab": (m(u, x, (a, b), (1, 1)), a @ jax.hessian(u)(x) @ b),
            # (1, 1, 1) has no slot pattern of order <= 12: polarization.
            "abc": (m(u, x, (a, b, c), (1, 1, 1)), jnp.einsum("ijk,i,j,k", tensor, a, b, c)),
        }

    for name, (got, expected) in compare(x, a, b, c).items():
        assert abs(float(expected)) > 1e-6, name
        assert_close(got, expected, rtol=1e-9)


class Poisson(pk.AbstractPDE):
    """Delta u = f, f = sin(x_0) + x_1 x_2."""

    operators: tuple = (pk.Laplacian(),)

    def source(self, x):
        return jnp.sin(x[0]) + x[1] * x[2]

    def residual(self, x, u, derivatives, source):
        return derivatives[0] - source


class Mixed(pk.AbstractPDE):
    """A nonlinear residual using every operator the amortized gradient supports."""

    operators: tuple

    def source(self, x):
        return jnp.cos(x[0] * x[1]) + x[2] ** 2

    def residual(self, x, u, derivatives, source):
        lap, grad, partial, diffusion, diagonal, combo = derivatives
        return (
            lap
            + u**3
            + jnp.sin(x[0]) * partial
            + 0.5 * jnp.sum(grad**2)
            + jnp.dot(x, grad)
            + diffusion
            + 0.1 * diagonal
            + combo * (1.0 + x[1])
            - source
        )


def mixed():
    """Built at test time, so that the matrix follows the x64 setting."""
    matrix = jnp.array([[1.0, 0.3, 0.0], [0.3, -0.5, 0.2], [0.0, 0.2, 2.0]])
    return Mixed(
        (
            pk.Laplacian(),
            pk.Gradient(),
            pk.Partial((0, 1)),
            pk.Diffusion(matrix),
            pk.Diagonal(1),
            2.0 * pk.SpatialLaplacian(2) + pk.TimeDerivative() - pk.Value(),
        )
    )


def residual_by_hand(pde, u, x):
    """R(x) with every operator by nested autodiff (jax.hessian, jax.jacfwd)."""
    values = tuple(op.exact(u, x) for op in pde.operators)
    return pde.residual(x, u(x), values, pde.source(x))


def setup(pde, getkey, dim=DIM, **kwargs):
    sampler = pk.UniformSampler(pk.Ball(dim))
    loss = pk.GradientEnhanced(pk.ResidualLoss(pde, sampler, batch_size=4), **kwargs)
    return loss, network(getkey(), dim), loss.sample(getkey())


@pytest.mark.parametrize("name", ["poisson", "mixed"])
def test_residual_gradient_matches_nested_autodiff(name, getkey, x64):
    pde = Poisson() if name == "poisson" else mixed()
    loss, u, batch = setup(pde, getkey, num_coordinates=DIM, estimator=pk.ExactJet())
    full = pk.GradientEnhanced(loss.residual)  # the default: reverse mode through Exact
    assert batch.source_gradient.shape == (4, DIM)
    np.testing.assert_allclose(batch.source_gradient[0], jax.grad(pde.source)(batch.points[0]))

    @jax.jit
    def compare(x, f, g, key):
        expected = jax.jacfwd(lambda y: residual_by_hand(pde, u, y))(x)
        by_ad = full.residual_gradient(u, x, f, g, key)
        # Forward mode through the jets, over every coordinate, is exact too.
        by_jets = loss.residual_partials(u, x, f, g, jnp.arange(DIM), key)
        # For Poisson, d_i R = sum_j d_i d_j^2 u - d_i f, from jacfwd(hessian).
        by_tensor = jnp.einsum("jji->i", third(u, x)) - g
        return expected, by_ad, by_jets, by_tensor

    for n in range(2):
        expected, by_ad, by_jets, by_tensor = compare(
            batch.points[n], batch.source[n], batch.source_gradient[n], getkey()
        )
        assert float(jnp.max(jnp.abs(expected))) > 1e-3
        assert_close(by_ad, expected, rtol=1e-9, atol=1e-10)
        assert_close(by_jets, expected, rtol=1e-9, atol=1e-10)
        if name == "poisson":
            assert_close(by_ad, by_tensor, rtol=1e-9, atol=1e-10)


class Mixed2(pk.AbstractPDE):
    """Allen-Cahn-like with a diffusion term, for the statistical tests (d = 5)."""

    operators: tuple

    def source(self, x):
        return jnp.sum(jnp.sin(x))

    def residual(self, x, u, derivatives, source):
        return derivatives[0] + 0.5 * derivatives[1] + u - u**3 - source


def mixed2():
    return Mixed2((pk.Laplacian(), pk.Diffusion(jnp.diag(jnp.arange(1.0, 6.0)))))


def test_amortized_estimates_are_unbiased(getkey, x64):
    """Over many keys, the mean of each estimated d_i R (|J| = 2 of d = 5 inner coordinates)
    and of the penalty (|I| = 2 of 5 coordinates) is within 5 standard errors of the exact
    values."""
    dim, keys = 5, 1000
    stde = pk.STDE(num_samples=2)
    sampled, u, batch = setup(mixed2(), getkey, dim=dim, num_coordinates=2, estimator=stde)
    x, f, g = batch.points[0], batch.source[0], batch.source_gradient[0]
    poisson, _, poisson_batch = setup(
        Poisson(), getkey, dim=dim, num_coordinates=2, estimator=pk.ExactJet()
    )
    two = jax.tree_util.tree_map(lambda a: a[:2], poisson_batch)
    exact, poisson_exact = (pk.GradientEnhanced(loss.residual) for loss in (sampled, poisson))

    @jax.jit
    def run(key):
        exact_gradient = exact.residual_gradient(u, x, f, g, key)
        exact_penalty = jax.vmap(
            lambda x, f, g: jnp.sum(poisson_exact.residual_gradient(u, x, f, g, key) ** 2)
        )(two.points, two.source, two.source_gradient)
        partials = jax.vmap(lambda k: sampled.residual_partials(u, x, f, g, jnp.arange(dim), k))(
            jax.random.split(key, keys)
        )
        penalties = jax.vmap(lambda k: poisson.penalties(u, two, k))(
            jax.random.split(jax.random.fold_in(key, 1), keys)
        )
        return exact_gradient, exact_penalty, partials, penalties

    exact_gradient, exact_penalty, partials, penalties = run(getkey())
    for exact, estimates in ((exact_gradient, partials), (exact_penalty, penalties)):
        mean, error = jnp.mean(estimates, 0), jnp.std(estimates, 0) / jnp.sqrt(keys)
        assert float(jnp.min(error)) > 0  # really random
        assert bool(jnp.all(jnp.abs(mean - exact) < 5 * error)), (mean, exact, error)


@pytest.mark.parametrize("name", list(ESTIMATOR_FACTORIES))
def test_gradient_through_every_estimator(name, getkey, x64):
    """Each registered estimator can be differentiated, in both modes: exact ones give the
    exact gradient of the residual, stochastic ones an unbiased estimate of each partial
    (the mean of 300 keys within 5 standard errors)."""
    estimator = ESTIMATOR_FACTORIES[name]()
    loss, u, batch = setup(Poisson(), getkey, num_coordinates=DIM, estimator=estimator)
    x, f, g = batch.points[0], batch.source[0], batch.source_gradient[0]
    expected = jax.jacfwd(lambda y: residual_by_hand(Poisson(), u, y))(x)
    coordinates = jnp.arange(DIM)

    @jax.jit
    def run(keys):
        forward = jax.vmap(lambda k: loss.residual_partials(u, x, f, g, coordinates, k))(keys)
        reverse = jax.vmap(lambda k: loss.residual_gradient(u, x, f, g, k))(keys)
        return forward, reverse

    if name in EXACT_ESTIMATORS:
        forward, reverse = run(jax.random.split(getkey(), 1))
        assert_close(forward[0], expected, rtol=1e-9, atol=1e-10)
        assert_close(reverse[0], expected, rtol=1e-9, atol=1e-10)
        return
    keys = 300
    for estimates in run(jax.random.split(getkey(), keys)):
        mean, error = jnp.mean(estimates, 0), jnp.std(estimates, 0) / jnp.sqrt(keys)
        assert float(jnp.min(error)) > 0  # really random
        assert bool(jnp.all(jnp.abs(mean - expected) < 5 * error)), (mean, expected, error)


def test_loss_is_residual_plus_weighted_penalty(getkey, x64):
    loss, u, batch = setup(Poisson(), getkey, weight=0.3)
    plain = pk.GradientEnhanced(loss.residual, weight=0.0)

    @jax.jit
    def run(key):
        residual_key, gradient_key = jax.random.split(key)
        collocation = pk.CollocationBatch(batch.points, batch.source)
        residual = loss.residual(u, collocation, residual_key)
        penalties = loss.penalties(u, batch, gradient_key)
        return loss(u, batch, key), plain(u, batch, key), residual, penalties

    value, plain_value, residual, penalties = run(getkey())
    assert float(jnp.min(penalties)) > 0
    assert_close(value, residual + 0.3 * jnp.mean(penalties), rtol=1e-12)
    assert_close(plain_value, residual, rtol=1e-12)


def test_validation():
    sampler = pk.UniformSampler(pk.Ball(3))

    class Plate(pk.AbstractPDE):
        operators: tuple = (pk.Biharmonic(),)

        def source(self, x):
            return jnp.zeros(())

        def residual(self, x, u, derivatives, source):
            return derivatives[0]

    residual = pk.ResidualLoss(Plate(), sampler)
    # Through the default estimator, Exact, both versions take any operator.
    pk.GradientEnhanced(residual)
    pk.GradientEnhanced(residual, num_coordinates=2)
    # Another estimator must support the PDE's operators; the error names those that do.
    message = "through its estimator: HTE cannot evaluate Biharmonic; estimators that can: exact"
    with pytest.raises(ValueError, match=message):
        pk.GradientEnhanced(residual, num_coordinates=2, estimator=pk.HTE())
    with pytest.raises(TypeError, match="AbstractEstimator"):
        pk.GradientEnhanced(residual, estimator="stde")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="weight"):
        pk.GradientEnhanced(residual, weight=-1.0)
    with pytest.raises(ValueError, match="num_coordinates"):
        pk.GradientEnhanced(residual, num_coordinates=0)
    with pytest.raises(ValueError, match="one multiplicity per vector"):
        pk.multilinear_derivative(jnp.sum, jnp.ones(3), (jnp.ones(3),), (1, 1))
