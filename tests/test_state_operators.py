"""Operators with point-dependent coefficients: `Drift(mu)` and `StateDiffusion(sigma, kind)`.

Exact estimators must agree with nested autodiff; stochastic ones must be unbiased at the
5-sigma level; estimators that cannot take a kind must refuse it by name.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ESTIMATOR_FACTORIES, EXACT_ESTIMATORS, RANDOM_ESTIMATORS, assert_close, rejects

import pinnkit as pk


DIM = 4
NOISE = 3  # columns of the dense sigma (k != d on purpose)
NUM_KEYS = 600


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _mu(x):
    return jnp.sin(x) + 0.5 * x[::-1]


def _sigma(kind: str):
    if kind == "scalar":
        return lambda x: 0.7 + 0.3 * jnp.sum(x**2)
    if kind == "diagonal":
        return lambda x: 1.0 + 0.5 * jnp.tanh(x) * jnp.arange(1, x.shape[0] + 1)
    matrix = jax.random.normal(jax.random.key(5), (DIM, NOISE), dtype=jnp.float64)
    return lambda x: matrix * (1.0 + 0.3 * jnp.cos(x))[:, None]


KINDS = ["scalar", "diagonal", "dense"]


def _setup():
    network = pk.HardDirichlet(pk.MLP(DIM, 16, 2, key=jax.random.key(0)))
    x = 0.3 * jax.random.normal(jax.random.key(1), (DIM,), dtype=jnp.float64)
    return network, x


def _reference_diffusion(fn, x, sigma, kind):
    """tr(sigma sigma^T H) with sigma as a (d, k) matrix, by jax.hessian."""
    s = sigma(x)
    if kind == "scalar":
        matrix = s * jnp.eye(DIM)
    else:
        matrix = jnp.diag(s) if kind == "diagonal" else s
    return jnp.trace(matrix @ matrix.T @ jax.hessian(fn)(x))


def test_drift_exact_matches_gradient():
    network, x = _setup()
    expected = jnp.dot(_mu(x), jax.grad(network)(x))
    assert_close(pk.Drift(_mu).exact(network, x), expected, rtol=1e-12)


def test_drift_closed_form():
    """u = sum x_i^2, mu(x) = x: mu . grad u = 2 |x|^2."""
    x = jnp.array([0.3, -1.2, 0.5])
    value = pk.Drift(lambda y: y).exact(lambda y: jnp.sum(y**2), x)
    assert_close(value, 2 * jnp.sum(x**2), rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_state_diffusion_exact_matches_hessian(kind):
    network, x = _setup()
    op = pk.StateDiffusion(_sigma(kind), kind)
    expected = _reference_diffusion(network, x, _sigma(kind), kind)
    assert_close(op.exact(network, x), expected, rtol=1e-10)


def test_state_diffusion_closed_form():
    """u = x_0^2 x_1 + x_2^2, diagonal sigma = x: sum_j x_j^2 d_jj u = 2 x_0^2 x_1 + 2 x_2^2."""
    x = jnp.array([0.4, -0.7, 1.1])
    op = pk.StateDiffusion(lambda y: y, "diagonal")
    value = op.exact(lambda y: y[0] ** 2 * y[1] + y[2] ** 2, x)
    assert_close(value, 2 * x[0] ** 2 * x[1] + 2 * x[2] ** 2, rtol=1e-12)


def test_half_generator_convention():
    """Drift(mu) + 0.5 * StateDiffusion(sigma) is the generator mu.grad u + tr(sigma sigma^T H)/2
    of dX = mu dt + sigma dW, and StateDiffusion(sigma) is Diffusion(sigma sigma^T) at a point."""
    network, x = _setup()
    sigma = _sigma("dense")
    generator = pk.Drift(_mu) + 0.5 * pk.StateDiffusion(sigma, "dense")
    expected = jnp.dot(_mu(x), jax.grad(network)(x)) + 0.5 * jnp.trace(
        sigma(x) @ sigma(x).T @ jax.hessian(network)(x)
    )
    assert_close(generator.exact(network, x), expected, rtol=1e-10)
    constant = pk.Diffusion(sigma(x) @ sigma(x).T)
    assert_close(pk.StateDiffusion(sigma, "dense").exact(network, x), constant.exact(network, x))


@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_exact_estimators_match_nested_autodiff(name):
    network, x = _setup()
    estimator = ESTIMATOR_FACTORIES[name]()
    ops = (pk.Drift(_mu),) + tuple(pk.StateDiffusion(_sigma(kind), kind) for kind in KINDS)
    u, values = estimator(network, x, ops, jax.random.key(0))
    assert_close(u, network(x), rtol=1e-12)
    assert_close(values[0], jnp.dot(_mu(x), jax.grad(network)(x)), rtol=1e-10)
    for value, kind in zip(values[1:], KINDS, strict=True):
        assert_close(value, _reference_diffusion(network, x, _sigma(kind), kind), rtol=1e-9)


def test_jets_in_chunks():
    """Chunks that do not divide the coordinates or columns give the same value."""
    network, x = _setup()
    for kind in KINDS:
        op = pk.StateDiffusion(_sigma(kind), kind)
        _, (value,) = pk.ExactJet(chunk_size=3)(network, x, (op,), jax.random.key(0))
        assert_close(value, op.exact(network, x), rtol=1e-10)


@pytest.mark.parametrize("name", RANDOM_ESTIMATORS)
def test_drift_is_exact_for_every_estimator(name):
    network, x = _setup()
    estimator = ESTIMATOR_FACTORIES[name]()
    values = [estimator(network, x, (pk.Drift(_mu),), jax.random.key(k))[1][0] for k in (0, 1)]
    expected = jnp.dot(_mu(x), jax.grad(network)(x))
    for value in values:
        assert_close(value, expected, rtol=1e-10)


OPTIONS = {
    "sdgd": lambda: pk.SDGD(2),
    "hte": lambda: pk.HTE(2),
    "hte-hvp": lambda: pk.HTE(2, method="hvp"),
    "hte-gaussian": lambda: pk.HTE(2, distribution="gaussian"),
    "stde": lambda: pk.STDE(2),
    "stde-dense": lambda: pk.STDE(2, sparse=False),
    "stde-dense-gaussian": lambda: pk.STDE(2, sparse=False, distribution="gaussian"),
}
"""Every stochastic estimator, with the options that change how it draws."""


def test_options_cover_the_registry():
    assert set(RANDOM_ESTIMATORS) <= set(OPTIONS)


REFUSED = {("sdgd", "dense"), ("stde", "dense")}
"""Coordinate-sampling estimators take scalar or diagonal sigma only (see the refusal test)."""


@pytest.mark.parametrize(
    ("name", "kind"),
    [(name, kind) for name in OPTIONS for kind in KINDS if (name, kind) not in REFUSED],
)
def test_unbiased(name, kind):
    network, x = _setup()
    estimator = OPTIONS[name]()
    operator = pk.StateDiffusion(_sigma(kind), kind) + pk.Drift(_mu)
    keys = jax.random.split(jax.random.key(3), NUM_KEYS)
    estimate = jax.jit(jax.vmap(lambda k: estimator(network, x, (operator,), k)[1][0]))
    draws = np.asarray(estimate(keys))
    exact = float(operator.exact(network, x))
    stderr = draws.std(ddof=1) / np.sqrt(len(draws))
    assert draws.std() > 0, "a stochastic estimate should vary with the key"
    assert abs(draws.mean() - exact) < 5 * stderr + 1e-12, (draws.mean(), exact, stderr)


@pytest.mark.parametrize("name", ["sdgd", "stde"])
def test_refusals_name_the_estimators_that_can(name):
    network, x = _setup()
    operator = pk.StateDiffusion(_sigma("dense"), "dense")
    estimator = ESTIMATOR_FACTORIES[name]()
    with pytest.raises(ValueError, match="cannot evaluate StateDiffusion") as info:
        estimator(network, x, (operator,), jax.random.key(0))
    able = str(info.value).split("estimators that can: ")[1].split(", ")
    assert set(able) >= {"exact", "jet", "forward-laplacian", "hte", "stde-dense"}
    assert "sdgd" not in able and "stde" not in able


def test_wrong_shapes_are_clear_errors():
    network, x = _setup()
    with rejects(r"kind must be 'scalar', 'diagonal' or 'dense'"):
        pk.StateDiffusion(_sigma("scalar"), "full")  # pyright: ignore[reportArgumentType]
    with rejects(r"needs sigma to return shape \(dim,\)"):
        pk.StateDiffusion(lambda y: y[:2], "diagonal").exact(network, x)
    with rejects(r"needs sigma to return shape \(dim, k\)"):
        pk.StateDiffusion(lambda y: y, "dense").exact(network, x)
    with rejects("mu must return the shape of its point"):
        pk.Drift(lambda y: y[:2]).exact(network, x)
