"""NeuralGalerkin: parameters evolved by diffrax, one regularized least-squares solve per
right-hand side. Exact Gaussian solutions of the heat and Ornstein–Uhlenbeck Fokker–Planck
equations, the least-squares step against NumPy, sparse updates, reproducibility, errors."""

from typing import cast

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import no_typecheck
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

import pinnkit as pk


class _Gaussian(pk.AbstractNetwork):
    """$A \\exp(-\\sum_k (x_k - m_k)^2 / (2 s_k))$: the solutions below, exactly."""

    log_amplitude: Float[Array, ""]
    mean: Float[Array, " dim"]
    log_variance: Float[Array, " dim"]
    in_size: int = eqx.field(static=True)

    def __init__(self, mean, variance, log_amplitude):
        self.mean = jnp.asarray(mean)
        self.log_variance = jnp.log(jnp.asarray(variance))
        self.log_amplitude = jnp.asarray(log_amplitude, self.mean.dtype)
        self.in_size = self.mean.shape[0]

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        z = (x - self.mean) ** 2 / jnp.exp(self.log_variance)
        return jnp.exp(self.log_amplitude - 0.5 * jnp.sum(z))


class _Heat(pk.AbstractPDE):
    """$u_t = \\Delta u$."""

    operators: tuple = (pk.Laplacian(),)

    def source(self, x):
        return jnp.zeros((), x.dtype)

    def residual(self, x, u, derivatives, source):
        return derivatives[0]


class _OrnsteinUhlenbeck(pk.AbstractPDE):
    """$p_t = \\nabla \\cdot (\\theta x p) + D \\Delta p = \\theta (d p + x \\cdot \\nabla p) +
    D \\Delta p$."""

    rate: float
    diffusion: float
    operators: tuple

    def __init__(self, rate: float, diffusion: float):
        self.rate, self.diffusion = rate, diffusion
        self.operators = (pk.Gradient(), pk.Laplacian())

    def source(self, x):
        return jnp.zeros((), x.dtype)

    def residual(self, x, u, derivatives, source):
        gradient, laplacian = derivatives
        d = x.shape[0]
        return self.rate * (d * u + jnp.dot(x, gradient)) + self.diffusion * laplacian


class _FixedPoints(pk.AbstractSampler):
    """Always the same points (the first `batch` rows), whatever the key."""

    points: Float[Array, "n dim"]

    def __init__(self, points: Float[Array, "n dim"]):
        self.points = points

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def __call__(self, key, batch):
        return self.points[:batch]


def _ball(d: int, radius: float = 3.0) -> pk.UniformSampler:
    return pk.UniformSampler(pk.Ball(d, radius))


def _heat_exact(x, t, s0, d):
    s = s0 + 2 * t
    return (s0 / s) ** (d / 2) * jnp.exp(-jnp.sum(x**2) / (2 * s))


@pytest.mark.parametrize("d", [2, 10])
def test_heat_gaussian(x64, getkey, d):
    s0 = 0.5
    network = _Gaussian(jnp.zeros(d), s0 * jnp.ones(d), 0.0)
    # The ansatz holds the solution exactly and J has full column rank: no regularization.
    galerkin = pk.NeuralGalerkin(
        _Heat(), _ball(d), num_points=100, dt=0.02, solver=diffrax.Tsit5(), regularization=0.0
    )
    solution = galerkin.solve(network, 0.2, getkey(), saveat=[0.0, 0.1, 0.2])
    assert solution.result == pk.RESULTS.successful and solution.message == ""
    np.testing.assert_allclose(solution.ts, [0.0, 0.1, 0.2])
    assert solution.num_steps == 10
    points = jnp.concatenate([jnp.zeros((1, d)), 0.5 * jax.random.normal(getkey(), (4, d))])
    for i, t in enumerate([0.0, 0.1, 0.2]):
        u = jax.vmap(solution.network(i))(points)
        exact = jax.vmap(lambda x, t=t: _heat_exact(x, t, s0, d))(points)
        np.testing.assert_allclose(u, exact, rtol=1e-4)
    # The variance grows by 2t in every dimension.
    np.testing.assert_allclose(
        jnp.exp(cast(_Gaussian, solution.network()).log_variance), s0 + 0.4, rtol=1e-4
    )
    expected = [_heat_exact(points[1], t, s0, d) for t in (0.0, 0.1, 0.2)]
    np.testing.assert_allclose(solution.values(points[1]), expected, rtol=1e-4)


def test_heat_gaussian_stochastic_estimator(x64, getkey):
    """HTE for the Laplacian: unbiased but noisy, so looser than the exact runs."""
    d, s0 = 6, 0.5
    network = _Gaussian(jnp.zeros(d), s0 * jnp.ones(d), 0.0)
    galerkin = pk.NeuralGalerkin(
        _Heat(), _ball(d), pk.HTE(num_samples=64), num_points=200, dt=0.02, sharing="point"
    )
    solution = galerkin.solve(network, 0.2, getkey())
    x = jnp.zeros(d)
    assert abs(solution.values(x)[-1] / _heat_exact(x, 0.2, s0, d) - 1) < 2e-2


def test_ornstein_uhlenbeck_fokker_planck(x64, getkey):
    d, rate, diffusion, s0, t1 = 4, 1.0, 0.5, 0.3, 0.3
    m0 = 0.5 * jnp.ones(d)
    normalization = -0.5 * d * jnp.log(2 * jnp.pi * s0)
    network = _Gaussian(m0, s0 * jnp.ones(d), normalization)
    galerkin = pk.NeuralGalerkin(
        _OrnsteinUhlenbeck(rate, diffusion),
        _ball(d),
        num_points=100,
        dt=0.03,
        solver=diffrax.Tsit5(),
        regularization=0.0,
    )
    solution = galerkin.solve(network, t1, getkey())
    decay = jnp.exp(-rate * t1)
    mean = m0 * decay
    variance = s0 * decay**2 + diffusion / rate * (1 - decay**2)
    final = cast(_Gaussian, solution.network())
    np.testing.assert_allclose(final.mean, mean, rtol=1e-4)
    np.testing.assert_allclose(jnp.exp(final.log_variance), variance, rtol=1e-4)

    def density(x):
        return jnp.exp(-jnp.sum((x - mean) ** 2) / (2 * variance)) / (2 * jnp.pi * variance) ** (
            d / 2
        )

    points = jnp.concatenate([jnp.zeros((1, d)), mean[None], jax.random.normal(getkey(), (3, d))])
    np.testing.assert_allclose(jax.vmap(final)(points), jax.vmap(density)(points), rtol=1e-3)


@pytest.mark.parametrize("shape", [(12, 5), (4, 9)], ids=["tall", "wide"])
@pytest.mark.parametrize("regularization", [0.0, 1e-2])
def test_regularized_lstsq_matches_numpy(x64, getkey, shape, regularization):
    n, p = shape
    matrix = jax.random.normal(getkey(), shape)
    rhs = jax.random.normal(getkey(), (n,))
    z = pk.regularized_lstsq(matrix, rhs, regularization)
    a, b = np.asarray(matrix) / np.sqrt(n), np.asarray(rhs) / np.sqrt(n)
    if regularization == 0:
        expected = np.linalg.lstsq(a, b, rcond=None)[0]  # least squares, or minimum norm
    else:
        stacked = np.concatenate([a, np.sqrt(regularization) * np.eye(p)])
        expected = np.linalg.lstsq(stacked, np.concatenate([b, np.zeros(p)]), rcond=None)[0]
        # The same minimiser from its normal equations.
        normal = np.linalg.solve(a.T @ a + regularization * np.eye(p), a.T @ b)
        np.testing.assert_allclose(expected, normal, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(z, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("regularization", [0.0, 1e-3])
def test_velocity_is_the_least_squares_solution(x64, getkey, regularization):
    """J by forward-mode autodiff, F by the nested-autodiff Hessian, then NumPy's lstsq."""
    d, n = 2, 40
    network = pk.MLP(d, 4, 1, key=getkey())  # 17 parameters
    points = jax.random.normal(getkey(), (n, d))
    galerkin = pk.NeuralGalerkin(
        _Heat(), _FixedPoints(points), num_points=n, regularization=regularization
    )
    velocity = galerkin.velocity(network, getkey())

    params, static = eqx.partition(network, eqx.is_inexact_array)
    theta, unravel = ravel_pytree(params)
    jacobian = jax.vmap(
        lambda x: jax.jacfwd(lambda th: eqx.combine(unravel(th), static)(x))(theta)
    )(points)
    laplacian = jax.vmap(lambda x: jnp.trace(jax.hessian(network)(x)))(points)
    a = np.asarray(jacobian) / np.sqrt(n)
    b = np.asarray(laplacian) / np.sqrt(n)
    p = theta.size
    stacked = np.concatenate([a, np.sqrt(regularization) * np.eye(p)])
    expected = np.linalg.lstsq(stacked, np.concatenate([b, np.zeros(p)]), rcond=None)[0]
    np.testing.assert_allclose(velocity, expected, rtol=1e-6, atol=1e-8)


def _subset_galerkin(d: int = 3, subset: int = 5) -> pk.NeuralGalerkin:
    return pk.NeuralGalerkin(
        _Heat(), _ball(d), num_points=30, dt=0.01, subset_size=subset, regularization=1e-6
    )


def _flat(network: pk.AbstractNetwork) -> jax.Array:
    return ravel_pytree(eqx.filter(network, eqx.is_inexact_array))[0]


def test_subset_updates_only_the_subset(x64, getkey):
    d, subset = 3, 5
    network = pk.MLP(d, 8, 1, key=getkey())  # 41 parameters
    galerkin = _subset_galerkin(d, subset)
    velocity = galerkin.velocity(network, getkey())
    assert int(jnp.sum(velocity != 0)) == subset

    theta0 = _flat(network)
    solution = galerkin.solve(network, 0.03, getkey(), saveat=[0.01, 0.03])
    # One Heun step: both stages share the step's subset, so at most `subset` entries move.
    assert 0 < int(jnp.sum(_flat(solution.network(0)) != theta0)) <= subset
    # Three steps draw three subsets.
    assert subset < int(jnp.sum(_flat(solution.network(1)) != theta0)) <= 3 * subset


def test_reproducible_from_the_key(x64, getkey):
    """Points, subsets (and estimator draws) come from the key: same key, same run."""
    d = 3
    network = pk.MLP(d, 8, 1, key=getkey())
    galerkin = _subset_galerkin(d)  # the configuration above: its compilation is reused
    key = getkey()
    first = galerkin.solve(network, 0.03, key, saveat=[0.01, 0.03])
    again = galerkin.solve(network, 0.03, key, saveat=[0.01, 0.03])
    other = galerkin.solve(network, 0.03, getkey(), saveat=[0.01, 0.03])
    np.testing.assert_array_equal(_flat(first.networks), _flat(again.networks))
    assert not np.array_equal(_flat(first.networks), _flat(other.networks))


class _Blowup(pk.AbstractPDE):
    """$u_t = 50 u + 0 \\cdot \\sqrt{4 - u^2}$: growth by 2.5 per Heun step of 0.02, and NaN
    once $|u| > 2$ at a sample point."""

    operators: tuple = (pk.Value(),)

    def source(self, x):
        return jnp.zeros((), x.dtype)

    def residual(self, x, u, derivatives, source):
        return 50.0 * u + 0.0 * jnp.sqrt(4.0 - u**2)


def test_nonfinite_parameters_keep_the_last_finite_step():
    """`throw=False` (the default): the step whose parameters become NaN is reported by
    number and time, `num_steps` counts the steps before it, and every network saved from
    then on is the last finite one, the network of a solve that stops before that step.
    `throw=True` raises from inside the compiled loop."""
    galerkin = pk.NeuralGalerkin(
        _Blowup(), _ball(1, 1.0), num_points=16, dt=0.02, regularization=1e-6
    )
    network = pk.MLP(1, 4, 1, key=jax.random.key(0))
    key = jax.random.key(1)
    times = [0.02 * i for i in range(1, 11)]
    with pytest.warns(RuntimeWarning, match="nonfinite_parameters: "):
        solution = galerkin.solve(network, 0.2, key, saveat=times)
    assert solution.result == pk.RESULTS.nonfinite_parameters
    bad = solution.num_steps
    assert 0 < bad < 10
    assert f"stopped at step {bad} (t = {0.02 * bad:.6g} to" in solution.message
    per_time = jax.vmap(lambda params: ravel_pytree(params)[0])
    flat = np.asarray(per_time(eqx.filter(solution.networks, eqx.is_inexact_array)))
    assert flat.shape[0] == 10 and np.all(np.isfinite(flat))
    np.testing.assert_array_equal(flat[bad:], np.broadcast_to(flat[bad - 1], flat[bad:].shape))
    before = galerkin.solve(network, 0.02 * bad, key)
    assert before.result == pk.RESULTS.successful and before.message == ""
    np.testing.assert_allclose(flat[bad - 1], _flat(before.networks), rtol=1e-6)
    with pytest.raises(eqx.EquinoxRuntimeError, match="nonfinite_parameters: "):
        galerkin.solve(network, 0.2, key, saveat=times, throw=True)


def test_fit_initial(getkey):
    d = 2
    galerkin = pk.NeuralGalerkin(_Heat(), _ball(d, 2.0), num_points=50)
    network = pk.MLP(d, 8, 1, key=getkey())

    def initial(x):
        return jnp.exp(-jnp.sum(x**2))

    fit = galerkin.fit_initial(network, initial, getkey(), steps=300, learning_rate=3e-2)
    points = _ball(d, 2.0)(getkey(), 200)
    error = jax.vmap(fit.network)(points) - jax.vmap(initial)(points)
    before = jax.vmap(network)(points) - jax.vmap(initial)(points)
    assert jnp.sqrt(jnp.mean(error**2)) < 0.1 * jnp.sqrt(jnp.mean(before**2))
    assert fit.history["loss"][-1] < 1e-2 * fit.history["loss"][0]


def test_bad_input(getkey):
    d = 2
    sampler = _ball(d)
    network = pk.MLP(d, 4, 1, key=getkey())
    with no_typecheck():
        for kwargs, match in [
            ({"num_points": 0}, "num_points"),
            ({"dt": 0.0}, "dt"),
            ({"regularization": -1.0}, "regularization"),
            ({"subset_size": 0}, "subset_size"),
            ({"sharing": "all"}, "sharing"),
        ]:
            with pytest.raises(ValueError, match=match):
                pk.NeuralGalerkin(_Heat(), sampler, **kwargs)
        with pytest.raises(TypeError, match="diffrax solver"):
            pk.NeuralGalerkin(_Heat(), sampler, solver="heun")  # pyright: ignore[reportArgumentType]
        with pytest.raises(ValueError, match="regularization"):
            pk.regularized_lstsq(jnp.ones((3, 2)), jnp.ones(3), -1.0)
        with pytest.raises(ValueError, match="shapes"):
            pk.regularized_lstsq(jnp.ones((3, 2)), jnp.ones(2))
    galerkin = pk.NeuralGalerkin(_Heat(), sampler, num_points=10)
    with pytest.raises(ValueError, match="t1 must be greater"):
        galerkin.solve(network, 0.0, getkey())
    with pytest.raises(ValueError, match=r"\[t0, t1\]"):
        galerkin.solve(network, 1.0, getkey(), saveat=[0.5, 2.0])
    with pytest.raises(ValueError, match="SaveAt"):
        galerkin.solve(network, 1.0, getkey(), saveat=diffrax.SaveAt(steps=True))
    with pytest.raises(ValueError, match="dimension 3"):
        galerkin.solve(pk.MLP(3, 4, 1, key=getkey()), 1.0, getkey())
    with pytest.raises(ValueError, match="subset_size=100 exceeds"):
        pk.NeuralGalerkin(_Heat(), sampler, subset_size=100).velocity(network, getkey())


def test_cli_method_galerkin(tmp_path):
    """`pinnkit solve PARABOLIC --method galerkin` writes the value against the reference."""
    import json

    from pinnkit.cli import main

    out = tmp_path / "run"
    args = "semilinear-heat --dim 2 --method galerkin --estimator exact --steps 300 --batch 64"
    args += " --width 8 --depth 1 --lr 1e-2 --no-progress"
    assert main(["solve", *args.split(), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["method"] == "galerkin" and result["steps"] == 30
    assert abs(result["value"] - result["reference"]) < 0.05 * result["reference"]
    curve = result["details"]["curve"]
    assert curve["t"][0] == 0.0 and curve["u"][0] == result["value"]
    assert (out / "solution.png").exists() and (out / "network.eqx").exists()
