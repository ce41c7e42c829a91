"""The Taylor-mode bookkeeping against independent computations: the Faà di Bruno constants
against set partitions counted by brute force, the count vectors against a recursive
enumeration, and jets (one direction, and the jet of a sum) against nested `jax.jvp`.

Written for the survivors of a mutation run of `pinnkit._taylor` (docs/contributing.md,
"Mutation testing"); the mutants these cannot kill are in `tools/mutation_equivalent.txt`.
"""

import collections
import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from helpers import assert_close
from internals import coordinate_jets, count_vectors, faa_di_bruno_coefficient, sum_jets, taylor

import pinnkit as pk


pytestmark = pytest.mark.usefixtures("x64")

DIM = 3


def _f(x):
    return jnp.sin(x[0]) * jnp.exp(x[1]) + x[2] ** 3


def _g(x):
    return jnp.log(1.0 + x @ x) * jnp.cos(x[0] - x[2])


def _line_derivatives(fn, x, v, order):
    """`d^k/dt^k fn(x + t v)` at `t = 0`, `k = 1..order`, by nested `jax.jvp`."""
    derivative = lambda t: fn(x + t * v)  # noqa: E731
    out = []
    for _ in range(order):
        derivative = lambda t, d=derivative: jax.jvp(d, (t,), (jnp.ones_like(t),))[1]  # noqa: E731
        out.append(derivative(jnp.zeros(())))
    return out


def _set_partitions(n):
    """Every partition of `{0, .., n - 1}` into blocks, by placing one element at a time."""
    if n == 0:
        yield []
        return
    for blocks in _set_partitions(n - 1):
        for i in range(len(blocks)):
            yield blocks[:i] + [blocks[i] + [n - 1]] + blocks[i + 1 :]
        yield [*blocks, [n - 1]]


def test_faa_di_bruno_coefficient_counts_the_set_partitions_with_those_block_sizes():
    """K! / prod_l (p_l! (s_l!)^p_l) is the number of partitions of a K-set into p_l blocks of
    size s_l: tally every partition of a K-set by its block sizes, K = 1..7."""
    for n in range(1, 8):
        tally = collections.Counter(
            tuple(sorted(collections.Counter(len(b) for b in blocks).items()))
            for blocks in _set_partitions(n)
        )
        assert sum(tally.values()) == [1, 2, 5, 15, 52, 203, 877][n - 1]  # Bell numbers
        for shape, expected in tally.items():
            slots = tuple(size for size, _ in shape)
            counts = tuple(count for _, count in shape)
            coefficient = faa_di_bruno_coefficient(counts, slots)
            # An exact integer: a float would round K! beyond 2^53.
            assert type(coefficient) is int and coefficient == expected, (counts, slots)
            # The order of the slots does not matter, and a slot with no parts adds nothing.
            assert faa_di_bruno_coefficient(counts[::-1], slots[::-1]) == expected
            unused = max(slots) + 1
            assert faa_di_bruno_coefficient((*counts, 0), (*slots, unused)) == expected
    # Counts and slots pair up one to one: a missing entry is refused, not dropped.
    with pytest.raises(ValueError):
        faa_di_bruno_coefficient((1, 2), (1,))


def _solutions(slots, total):
    """The p >= 0 with sum_l p_l s_l = total, recursively, in lexicographic order."""
    if not slots:
        return [()] if total == 0 else []
    first, rest = slots[0], slots[1:]
    return [
        (a, *tail)
        for a in range(total // first + 1)
        for tail in _solutions(rest, total - a * first)
    ]


def test_count_vectors_match_a_recursive_enumeration():
    assert count_vectors((1, 2), 4) == [(0, 2), (2, 1), (4, 0)]
    assert count_vectors((2, 3), 1) == []
    assert count_vectors((2, 5), 0) == [(0, 0)]
    for length in (1, 2, 3):
        for slots in itertools.permutations(range(1, 6), length):
            for total in range(9):
                assert count_vectors(slots, total) == _solutions(slots, total), (slots, total)


def test_directional_jet_matches_nested_jvp(getkey):
    x = jax.random.normal(getkey(), (DIM,))
    v = jax.random.normal(getkey(), (DIM,))
    network = pk.MLP(DIM, 8, 2, key=getkey())

    # Compiled as one: eager jets and nested autodiff would dominate the test's time.
    @eqx.filter_jit
    def both(network, x, v):
        generic = taylor.directional_jet(_f, x, v, 3), _line_derivatives(_f, x, v, 3)
        # Through a network's fast path: the directional derivative and the quadratic form.
        fast = taylor.directional_jet(network, x, v, 2)
        exact = jax.grad(network)(x) @ v, v @ jax.hessian(network)(x) @ v
        return generic, (fast, exact), network(x)

    ((primal, derivatives), want), ((fast_primal, fast), exact), u = both(network, x, v)
    assert_close(primal, _f(x), rtol=1e-12)
    assert [jnp.shape(d) for d in derivatives] == [()] * 3
    for got, expected in zip(derivatives, want, strict=True):
        assert_close(got, expected, rtol=1e-10, atol=1e-12)
    assert_close(fast_primal, u, rtol=1e-12)
    for got, expected in zip(fast, exact, strict=True):
        assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_sum_jets_is_the_jet_of_the_sum(getkey):
    x = jax.random.normal(getkey(), (DIM,))
    directions = jax.random.normal(getkey(), (2, DIM))
    order = 3

    @jax.jit
    def both(x, directions):
        jet = sum_jets(
            taylor.directional_jets(_f, x, directions, order),
            taylor.directional_jets(_g, x, directions, order),
        )
        line = lambda v: _line_derivatives(lambda y: _f(y) + _g(y), x, v, order)  # noqa: E731
        return jet, jax.vmap(line)(directions)

    (primal, derivatives), want = both(x, directions)
    assert_close(primal, _f(x) + _g(x), rtol=1e-12)
    assert len(derivatives) == order
    for k in range(order):
        assert_close(derivatives[k], want[k], rtol=1e-10, atol=1e-12)


def test_sum_jets_refuses_jets_of_different_orders():
    """A jet of order 2 plus one of order 3 has no order-3 term to give: refused, not cut to
    order 2 in silence."""
    low = (jnp.ones(()), [jnp.ones(2), jnp.ones(2)])
    high = (jnp.ones(()), [jnp.ones(2), jnp.ones(2), jnp.ones(2)])
    for f, g in ((low, high), (high, low)):
        with pytest.raises(ValueError):
            sum_jets(f, g)


def test_multilinear_derivative_refuses_unpaired_multiplicities_by_name():
    with pytest.raises(ValueError, match="one multiplicity per vector, got 1 vectors"):
        pk.multilinear_derivative(jnp.sum, jnp.ones(3), (jnp.ones(3),), (1, 1))


def _third_derivatives(x):
    """d_j^k _f along each coordinate, k = 1, 2, 3, by nested autodiff."""
    first = jax.grad(_f)
    second = jax.jacfwd(first)
    third = jax.jacfwd(second)
    return (
        first(x),
        jnp.diagonal(second(x)),
        jnp.array([third(x)[j, j, j] for j in range(DIM)]),
    )


def test_coordinate_jets_give_each_index_its_own_derivatives_by_default():
    """Without `collapse`, one derivative per index (an index may repeat); a single index
    works too."""
    x = jnp.array([0.3, -0.7, 1.1])
    indices = jnp.array([2, 0, 2])
    primal, derivatives = coordinate_jets(_f, x, indices, 3)
    assert_close(primal, _f(x), rtol=1e-12)
    for got, want in zip(derivatives, _third_derivatives(x), strict=True):
        assert got.shape == (3,)
        assert_close(got, want[indices], rtol=1e-10)
    primal, derivatives = coordinate_jets(_f, x, jnp.array([1]), 2)
    assert_close(primal, _f(x), rtol=1e-12)
    assert_close(derivatives[1], _third_derivatives(x)[1][1:2], rtol=1e-10)


def test_jets_of_a_float32_point_stay_in_float32():
    """With float64 enabled, a float32 point keeps float32 through the generic jets and the
    polarization path of `multilinear_derivative` (multiplicities (1, 1, 1) have no slot
    pattern)."""
    x = jnp.array([0.3, -0.7, 1.1], jnp.float32)
    primal, derivatives = coordinate_jets(_f, x, jnp.array([0, 2]), 2)
    assert primal.dtype == jnp.float32 and all(d.dtype == jnp.float32 for d in derivatives)
    basis = tuple(jnp.eye(DIM, dtype=jnp.float32))
    value = pk.multilinear_derivative(_f, x, basis, (1, 1, 1))
    assert value.dtype == jnp.float32
    assert_close(value, jax.jacfwd(jax.jacfwd(jax.grad(_f)))(x)[0, 1, 2], rtol=1e-4, atol=1e-5)
