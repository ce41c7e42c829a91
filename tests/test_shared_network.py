"""`SharedFirstLayerMLP`: its architecture, its Taylor-mode fast path against generic jets,
and every registered estimator on it (wrapped in `HardDirichlet`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    ESTIMATOR_FACTORIES,
    EXACT_ESTIMATORS,
    RANDOM_ESTIMATORS,
    assert_close,
    random_point,
    rejected,
)
from internals import linear_terms, taylor

import pinnkit as pk
from pinnkit import SharedFirstLayerMLP
from pinnkit.problems import get_problem


pytestmark = pytest.mark.usefixtures("x64")

DIM, BLOCK, WIDTH = 12, 3, 8


def _network(key, dim: int = DIM, block: int = BLOCK, depth: int = 2) -> SharedFirstLayerMLP:
    return SharedFirstLayerMLP(dim, block, WIDTH, depth, key=key)


def _generic(network):
    """The same function, hidden from the fast path (generic `jax.experimental.jet` jets)."""
    return lambda x: network(x)


def _count(network) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(eqx.filter(network, eqx.is_array)))


def test_architecture_is_the_documented_formula(getkey):
    network = _network(getkey())
    x = random_point(getkey(), DIM)
    w, c = network.block_weight, network.block_bias
    z = jnp.stack([jnp.dot(w, x[k * BLOCK : (k + 1) * BLOCK]) + c for k in range(DIM // BLOCK)])
    assert network.num_blocks == DIM // BLOCK
    assert_close(network.features(x), z)
    assert_close(network(x), network.mlp(z))
    assert network.mlp.in_size == DIM // BLOCK


@pytest.mark.parametrize(("dim", "block", "width", "depth"), [(12, 3, 8, 2), (1000, 10, 16, 3)])
def test_parameter_count(dim, block, width, depth, getkey):
    network = SharedFirstLayerMLP(dim, block, width, depth, key=getkey())
    hidden = (depth - 1) * (width * width + width)
    expected = (block + 1) + (dim // block + 1) * width + hidden + (width + 1)
    assert _count(network) == expected
    plain = pk.MLP(dim, width, depth, key=getkey())
    assert _count(plain) - _count(network) == (dim - dim // block) * width - block - 1


@pytest.mark.parametrize(("dim", "block"), [(10, 3), (10, 0), (10, -2), (4, 8)])
def test_bad_block_size(dim, block, getkey):
    with pytest.raises(ValueError, match=r"block_size to be a positive divisor of in_size"):
        SharedFirstLayerMLP(dim, block, key=getkey())


def test_wrong_input_shape(getkey):
    network = _network(getkey())
    with pytest.raises(ValueError, match=r"takes one point of shape \(12,\), got shape \(5,\)"):
        network(jnp.ones(5))
    rejected(lambda: network(jnp.ones((2, DIM))), r"use jax.vmap for a batch")


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_jets_match_generic_jets(order, getkey):
    network = _network(getkey())
    x = random_point(getkey(), DIM)
    indices = jnp.array([0, 4, 5, 11, 4])  # blocks 0, 1, 1, 3, with a repeat
    directions = jax.random.normal(getkey(), (3, DIM))

    @eqx.filter_jit
    def both(network, x, indices, directions):
        generic = _generic(network)
        return [
            (
                jets(network, x, tangents, order, collapse),
                jets(generic, x, tangents, order, collapse),
            )
            for jets, tangents in [
                (taylor.coordinate_jets, indices),
                (taylor.directional_jets, directions),
            ]
            for collapse in (False, True)
        ]

    for fast, slow in both(network, x, indices, directions):
        assert_close(fast[0], slow[0], rtol=1e-12)
        assert len(fast[1]) == order
        for a, b in zip(fast[1], slow[1], strict=True):
            assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_coordinate_line_matches_generic(getkey):
    network = _network(getkey())
    x = random_point(getkey(), DIM)
    t = jnp.asarray(0.3)
    indices = jnp.array([0, 7, 11])

    @jax.jit
    def lines(x, t):
        def one(index):
            fast = taylor.coordinate_line(network, x, index)
            slow = taylor.coordinate_line(_generic(network), x, index)
            return jnp.stack([fast(t), jax.grad(jax.grad(fast))(t)]), jnp.stack(
                [slow(t), jax.grad(jax.grad(slow))(t)]
            )

        return jax.vmap(one)(indices)

    fast, slow = lines(x, t)
    assert_close(fast, slow, rtol=1e-10)
    assert_close(fast[:, 0], jax.vmap(lambda j: network(x.at[j].add(t)))(indices), rtol=1e-12)


def test_depth_zero(getkey):
    network = _network(getkey(), depth=0)
    x = random_point(getkey(), DIM)
    fast, slow = jax.jit(
        lambda x: [
            taylor.coordinate_jets(f, x, jnp.arange(DIM), 2, True)
            for f in (network, _generic(network))
        ]
    )(x)
    assert_close(fast[1][0], slow[1][0])
    assert_close(fast[1][1], jnp.zeros(()), atol=1e-12)  # linear in x


OPERATORS = {
    "laplacian": lambda key: pk.Laplacian(),
    "diffusion": lambda key: pk.Diffusion(jax.random.normal(key, (DIM, DIM))),
    "partial-472": lambda key: pk.Partial((4, 7, 2)),
}


def _supports(estimator, operator) -> bool:
    return all(estimator.supports(atom) for _, atom in linear_terms(operator))


@pytest.mark.parametrize("op_name", list(OPERATORS))
@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_exact_estimators_on_hard_dirichlet(name, op_name, getkey):
    network = pk.HardDirichlet(_network(getkey()))
    operator = OPERATORS[op_name](getkey())
    estimator = ESTIMATOR_FACTORIES[name]()
    x = random_point(getkey(), DIM)
    if not _supports(estimator, operator):
        with pytest.raises(ValueError, match="estimators that can"):
            estimator(network, x, (operator,), getkey())
        return
    evaluate = eqx.filter_jit(
        lambda n, x, k: (estimator(n, x, (operator,), k), operator.exact(n, x))
    )
    (u, (value,)), exact = evaluate(network, x, getkey())
    assert_close(u, network(x), rtol=1e-12)
    assert_close(value, exact, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", RANDOM_ESTIMATORS)
def test_random_estimators_unbiased_on_hard_dirichlet(name):
    network = pk.HardDirichlet(_network(jax.random.key(0)))
    x = random_point(jax.random.key(1), DIM)
    estimator = ESTIMATOR_FACTORIES[name]()
    keys = jax.random.split(jax.random.key(2), 500)
    draws = jax.jit(jax.vmap(lambda k: estimator(network, x, (pk.Laplacian(),), k)[1][0]))(keys)
    draws = np.asarray(draws)
    exact = float(pk.Laplacian().exact(network, x))
    error = abs(draws.mean() - exact)
    standard_error = draws.std(ddof=1) / np.sqrt(draws.size)
    assert draws.std() > 0, "a random estimator should vary with the key"
    assert error < 5 * standard_error + 1e-12, (draws.mean(), exact, standard_error)


def test_parameter_gradients_match_generic(getkey):
    """The loss gradient in the parameters is the same through the fast path."""
    network = pk.HardDirichlet(_network(getkey()))
    x = random_point(getkey(), DIM)
    estimator = pk.STDE(4)
    key = getkey()

    def loss(model, generic: bool):
        fn = _generic(model) if generic else model
        return estimator(fn, x, (pk.Laplacian(),), key)[1][0] ** 2

    fast = eqx.filter_jit(eqx.filter_grad(lambda m: loss(m, False)))(network)
    slow = eqx.filter_jit(eqx.filter_grad(lambda m: loss(m, True)))(network)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(slow), strict=True):
        assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert any(float(jnp.max(jnp.abs(a))) > 0 for a in jax.tree.leaves(fast))


def test_problem_network_block_size(getkey):
    """`Problem.network(block_size=B)` is HardDirichlet(SharedFirstLayerMLP(d, B, ...)): zero
    on the sphere, a plain MLP without it, and a clear error for a non-divisor."""
    problem = get_problem("poisson-two-body", DIM, getkey())
    shared = problem.network(getkey(), width=WIDTH, depth=2, block_size=BLOCK)
    assert isinstance(shared, pk.HardDirichlet)
    assert isinstance(shared.network, SharedFirstLayerMLP)
    assert (shared.network.block_size, shared.network.num_blocks) == (BLOCK, DIM // BLOCK)
    x = random_point(getkey(), DIM)
    on_sphere = x / jnp.linalg.norm(x)
    assert abs(float(shared(on_sphere))) < 1e-12
    inside = 0.5 * on_sphere
    np.testing.assert_allclose(shared(inside), (1 - 0.25) * shared.network(inside), rtol=1e-12)
    plain = problem.network(getkey(), width=WIDTH, depth=2)
    assert isinstance(plain.network, pk.MLP)
    assert _count(shared) < _count(plain)
    rejected(lambda: problem.network(getkey(), block_size=5), "divisor")
