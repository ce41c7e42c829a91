"""Stochastic estimators: unbiased for every operator they support, with 1/sqrt(samples) error.

Every random estimator in `pinnkit.ESTIMATORS` joins these tests automatically.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnkit as pk


RANDOM = [
    name
    for name, make in pk.ESTIMATORS.items()
    if isinstance(make(), pk.AbstractStochasticEstimator)
]
NUM_KEYS = 1000

OPTIONS = {name: (lambda n, name=name: pk.make_estimator(name, n)) for name in RANDOM} | {
    "hte-hvp": lambda n: pk.HTE(n, method="hvp"),
    "hte-gaussian": lambda n: pk.HTE(n, distribution="gaussian"),
    "hte-gaussian-hvp": lambda n: pk.HTE(n, distribution="gaussian", method="hvp"),
    "stde-dense-rademacher": lambda n: pk.STDE(n, sparse=False, distribution="rademacher"),
    "stde-dense-gaussian": lambda n: pk.STDE(n, sparse=False, distribution="gaussian"),
}
"""Every stochastic estimator with every option that changes what it computes: each must be
unbiased for every operator it supports (and refuse the others)."""


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _setup(dim: int):
    network = pk.HardDirichlet(pk.MLP(dim, 16, 2, key=jax.random.key(0)))
    x = 0.4 * jax.random.normal(jax.random.key(1), (dim,)) / np.sqrt(dim) * 2
    coefficients = jax.random.normal(jax.random.key(2), (dim, dim)) / dim
    return network, x, coefficients


def _operators(coefficients):
    spd = coefficients @ coefficients.T + 0.1 * jnp.eye(coefficients.shape[0])
    return {
        "laplacian": pk.Laplacian(),
        "diffusion-spd": pk.Diffusion(spd),
        "diffusion-indefinite": pk.Diffusion(coefficients),
        "diagonal-3": pk.Diagonal(3),
        "diagonal-4": pk.Diagonal(4),
        "biharmonic": pk.Biharmonic(),
        "combination": 2.0 * pk.Laplacian() - pk.Partial((0, 1)),
    }


def _draws(estimator, network, x, operator, num_keys=NUM_KEYS, seed=3):
    keys = jax.random.split(jax.random.key(seed), num_keys)
    estimate = jax.jit(jax.vmap(lambda k: estimator(network, x, (operator,), k)[1][0]))
    return np.asarray(estimate(keys))


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize(
    "op_name",
    [
        "laplacian",
        "diffusion-spd",
        "diffusion-indefinite",
        "diagonal-3",
        "diagonal-4",
        "biharmonic",
        "combination",
    ],
)
def test_unbiased(name, op_name):
    network, x, coefficients = _setup(8)
    operator = _operators(coefficients)[op_name]
    estimator = OPTIONS[name](4)
    atoms = [atom for _, atom in pk._operator.base.linear_terms(operator)]
    if not all(estimator.supports(a) for a in atoms):
        with pytest.raises(ValueError, match="estimators that can"):
            estimator(network, x, (operator,), jax.random.key(0))
        return
    draws = _draws(estimator, network, x, operator)
    exact = float(operator.exact(network, x))
    stderr = draws.std(ddof=1) / np.sqrt(len(draws))
    assert draws.std() > 0, "a stochastic estimate should vary with the key"
    assert abs(draws.mean() - exact) < 5 * stderr + 1e-12, (draws.mean(), exact, stderr)


@pytest.mark.parametrize("name", RANDOM)
def test_error_shrinks_like_inverse_sqrt_samples(name):
    network, x, _ = _setup(32)
    samples = [1, 2, 4, 8]
    stds = []
    for n in samples:
        draws = _draws(pk.make_estimator(name, n), network, x, pk.Laplacian(), num_keys=1000)
        stds.append(draws.std(ddof=1))
    slope = np.polyfit(np.log(samples), np.log(stds), 1)[0]
    # Sampling coordinates without replacement adds a finite-population factor (d - n)/(d - 1),
    # which steepens the slope slightly below -1/2 at d = 32.
    assert -0.75 < slope < -0.4, (slope, stds)


@pytest.mark.parametrize("name", RANDOM)
def test_shared_key_gives_same_draw(name):
    """One key gives one draw: the same directions for every point of a batch."""
    network, x, _ = _setup(8)
    estimator = pk.make_estimator(name, 2)
    key = jax.random.key(7)
    a = estimator(network, x, (pk.Laplacian(),), key)[1][0]
    b = estimator(network, x, (pk.Laplacian(),), key)[1][0]
    c = estimator(network, x, (pk.Laplacian(),), jax.random.key(8))[1][0]
    assert a == b
    assert a != c


def test_stde_value_comes_with_the_estimate():
    network, x, _ = _setup(8)
    for estimator in (pk.STDE(4), pk.STDE(4, sparse=False), pk.HTE(4), pk.SDGD(4)):
        u, (lap,) = estimator(network, x, (pk.Laplacian(),), jax.random.key(0))
        assert jnp.allclose(u, network(x), rtol=1e-12)


@pytest.mark.parametrize(
    "indices",
    [
        (0,),
        (1, 1),
        (0, 2),
        (0, 0, 1),
        (0, 1, 2),
        (2, 2, 2),
        (0, 0, 1, 1),
        (0, 0, 0, 1),
        (0, 0, 1, 2),
        (0, 1, 2, 3),
        (3, 3, 3, 3),
    ],
)
@pytest.mark.parametrize("estimator", [pk.STDE(2), pk.STDE(2, sparse=False), pk.ExactJet()])
def test_partial_from_jets_matches_nested_autodiff(indices, estimator):
    network, x, _ = _setup(5)
    exact = pk.Partial(indices).exact(network, x)
    _, (value,) = estimator(network, x, (pk.Partial(indices),), jax.random.key(0))
    assert jnp.allclose(value, exact, rtol=1e-9, atol=1e-12), (value, exact)


def test_refusals_name_the_estimators_that_can():
    network, x, _ = _setup(4)
    cases = [
        (pk.ForwardLaplacian(), pk.Biharmonic(), "stde-dense"),
        (pk.STDE(2, sparse=False, distribution="rademacher"), pk.Biharmonic(), "stde-dense"),
        (pk.SDGD(2), pk.Partial((0, 1)), "stde"),
        (pk.HTE(2), pk.Diagonal(4), "stde"),
    ]
    for estimator, operator, able in cases:
        with pytest.raises(ValueError, match=f"cannot evaluate {type(operator).__name__}") as info:
            estimator(network, x, (operator,), jax.random.key(0))
        assert able in str(info.value)


def test_too_many_coordinates_is_a_clear_error():
    network, x, _ = _setup(4)
    with pytest.raises(ValueError, match="num_samples <= dim"):
        pk.STDE(8)(network, x, (pk.Laplacian(),), jax.random.key(0))


def test_coordinates_are_distinct_and_uniform():
    from internals import sample_coordinates

    keys = jax.random.split(jax.random.key(0), 4000)
    draws = np.asarray(jax.vmap(lambda k: sample_coordinates(k, 10, 4))(keys))
    assert all(len(set(row)) == 4 for row in draws)
    counts = np.bincount(draws.ravel(), minlength=10)
    expected = 4000 * 4 / 10
    # Each coordinate appears with probability 4/10 per draw: a binomial count.
    sd = np.sqrt(4000 * 0.4 * 0.6)
    assert np.all(np.abs(counts - expected) < 5 * sd), counts


def test_unbiased_loss_option_uses_two_draws():
    """With the exact solution as the model the true loss is 0: the square of one estimate
    overshoots by the estimator's variance, the product of two independent ones does not."""
    problem = pk.problems.get_problem("poisson-two-body", 6, jax.random.key(0))
    model = problem.solution
    biased = problem.loss(pk.STDE(2), batch_size=8, sharing="point")
    unbiased = problem.loss(pk.STDE(2), batch_size=8, sharing="point", unbiased=True)
    batch = biased.sample(jax.random.key(2))
    assert float(problem.loss(pk.Exact(), batch_size=8)(model, batch, jax.random.key(0))) < 1e-16
    keys = jax.random.split(jax.random.key(3), 300)
    b = np.asarray(jax.jit(jax.vmap(lambda k: biased(model, batch, k)))(keys))
    u = np.asarray(jax.jit(jax.vmap(lambda k: unbiased(model, batch, k)))(keys))
    assert b.mean() > 10 * b.std() / np.sqrt(len(b))
    assert abs(u.mean()) < 5 * u.std() / np.sqrt(len(u))


def _jet_constant(multiplicities, pattern) -> int:
    """The constant that JAX's own jet puts on the wanted partial: push the pattern through
    the monomial prod_l x_l^(k_l) at 0, where that partial (prod_l k_l!) is the only one that
    is not 0."""
    from jax.experimental import jet

    zero = jnp.zeros(len(multiplicities))
    series = [zero] * pattern.order
    for axis, slot in enumerate(pattern.slots):
        series[slot - 1] = zero.at[axis].set(1.0)

    def monomial(x):
        return math.prod(x[axis] ** k for axis, k in enumerate(multiplicities))

    _, outputs = jet.jet(monomial, (zero,), (series,))
    partial = np.prod([math.factorial(k) for k in multiplicities])
    return round(float(outputs[-1]) / partial)


def test_slot_patterns_are_unique_partitions():
    from internals import count_vectors, slot_pattern

    for order in range(1, 5):
        for multiplicities in {
            tuple(sorted(p, reverse=True))
            for r in range(1, order + 1)
            for p in itertools.product(range(1, order + 1), repeat=r)
            if sum(p) == order
        }:
            pattern = slot_pattern(multiplicities)
            if pattern is None:
                continue
            assert count_vectors(pattern.slots, pattern.order) == [multiplicities]
            assert pattern.coefficient == _jet_constant(multiplicities, pattern)
    # The constant quoted in docs/math.md, "Mixed partial derivatives from one jet": a 7-jet
    # with e_i in slot 2 and e_j in slot 3.
    assert slot_pattern((2, 1)).order == 7
    assert slot_pattern((2, 1)).coefficient == 105


def test_rademacher_four_jets_are_biased_for_the_biharmonic_by_the_stated_term():
    # docs/math.md, "STDE dense": over Rademacher v, E[D^4u[v,v,v,v]] = 3 Δ²u - 2 Σ_i ∂_i^4 u
    # (the reason dense STDE refuses the biharmonic with Rademacher vectors). Exact: the mean
    # over all 2^d sign vectors, against nested autodiff.
    from jax.experimental import jet

    dim = 4
    network, x, _ = _setup(dim)
    signs = jnp.array(list(itertools.product((-1.0, 1.0), repeat=dim)))

    def fourth(v):
        zero = jnp.zeros_like(v)
        _, series = jet.jet(network, (x,), ((v, zero, zero, zero),))
        return series[3]

    mean = jnp.mean(jax.vmap(fourth)(signs))
    hessian_of_hessian = jax.hessian(jax.hessian(network))(x)
    bilaplacian = jnp.einsum("iijj->", hessian_of_hessian)
    quartic_diagonal = jnp.einsum("iiii->", hessian_of_hessian)
    np.testing.assert_allclose(mean, 3 * bilaplacian - 2 * quartic_diagonal, rtol=1e-9)
    # Guard: the bias term is not negligible here, so the check separates the two formulas.
    assert abs(quartic_diagonal) > 1e-3 * abs(bilaplacian)
