"""Every estimator against nested autodiff (`operator.exact`), on small random networks.

Estimators are taken from `pinnkit.ESTIMATORS`, so a newly registered one is tested here
without editing this file: exact ones to 1e-8 in float64, stochastic ones statistically.
"""

import ast
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from helpers import (
    ESTIMATOR_FACTORIES,
    EXACT_ESTIMATORS,
    NETWORK_FACTORIES,
    RANDOM_ESTIMATORS,
    assert_close,
    is_stochastic,
    random_point,
    random_points,
    rejected,
)
from internals import linear_terms

import pinnkit as pk


pytestmark = pytest.mark.usefixtures("x64")

OPERATORS = {
    "value": lambda d, key: pk.Value(),
    "gradient": lambda d, key: pk.Gradient(),
    "laplacian": lambda d, key: pk.Laplacian(),
    "diffusion": lambda d, key: pk.Diffusion(jax.random.normal(key, (d, d))),
    "partial-01": lambda d, key: pk.Partial((0, 1)),
    "partial-012": lambda d, key: pk.Partial((2, 0, 1)),
    "2lap-minus-p01": lambda d, key: 2.0 * pk.Laplacian() - pk.Partial((0, 1)),
    "lap-plus-diffusion-minus-value": lambda d, key: (
        pk.Laplacian() + 0.5 * pk.Diffusion(jax.random.normal(key, (d, d))) - pk.Value()
    ),
    "gradient-combination": lambda d, key: pk.Gradient() - 3.0 * pk.Gradient(),
}
"""Operator factories `(dim, key) -> operator`; Diffusion matrices are random, nonsymmetric."""

NETWORK_CASES = [("mlp", 3), ("hard-dirichlet-mlp", 6)]


def supports(estimator: pk.AbstractEstimator, operator: pk.AbstractOperator) -> bool:
    return all(estimator.supports(atom) for _, atom in linear_terms(operator))


def able(operator: pk.AbstractOperator) -> list[str]:
    """Registered estimators that can evaluate `operator`."""
    return [name for name, make in ESTIMATOR_FACTORIES.items() if supports(make(), operator)]


def listed_names(message: str) -> list[str]:
    return message.split("estimators that can: ")[1].split(", ")


def listed_registered(message: str) -> list[str]:
    """The registered names in a refusal (estimator classes that tests define may follow)."""
    return [name for name in listed_names(message) if name in pk.ESTIMATORS]


@pytest.mark.parametrize("network_case", NETWORK_CASES, ids=lambda c: f"{c[0]}-d{c[1]}")
@pytest.mark.parametrize("op_name", list(OPERATORS))
@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_exact_estimators_match_nested_autodiff(name, op_name, network_case, getkey):
    network_name, dim = network_case
    network = NETWORK_FACTORIES[network_name](dim, getkey())
    operator = OPERATORS[op_name](dim, getkey())
    x = random_point(getkey(), dim)
    estimator = ESTIMATOR_FACTORIES[name]()
    if not supports(estimator, operator):
        with pytest.raises(ValueError, match="estimators that can"):
            estimator(network, x, (operator,), getkey())
        return
    u, (value,) = estimator(network, x, (operator,), getkey())
    assert u.dtype == jnp.float64 and value.dtype == jnp.float64
    assert_close(u, network(x), rtol=1e-12)
    assert_close(value, operator.exact(network, x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_several_operators_at_once(name, getkey):
    """Operators sharing atoms are evaluated together, each one right and in order."""
    dim = 6
    network = NETWORK_FACTORIES["hard-dirichlet-mlp"](dim, getkey())
    x = random_point(getkey(), dim)
    estimator = ESTIMATOR_FACTORIES[name]()
    matrix = jax.random.normal(getkey(), (dim, dim))
    candidates = (
        pk.Laplacian(),
        pk.Gradient(),
        2.0 * pk.Laplacian() + pk.Value(),
        pk.Diffusion(matrix) - pk.Laplacian(),
        pk.Partial((0, 1)),
        pk.Diffusion(matrix),
    )
    operators = tuple(op for op in candidates if supports(estimator, op))
    assert len(operators) >= 3
    u, values = estimator(network, x, operators, getkey())
    assert len(values) == len(operators)
    for op, value in zip(operators, values, strict=True):
        assert_close(value, op.exact(network, x), rtol=1e-8, atol=1e-10)


def poly(x):
    """u = sum_i x_i^2 x_0 + x_1^3."""
    return x[0] * jnp.sum(x**2) + x[1] ** 3


def poly_hessian(x):
    d = x.shape[0]
    h = jnp.diag(jnp.full((d,), 2 * x[0]))
    h = h.at[0, 0].set(6 * x[0])
    h = h.at[0, 1:].set(2 * x[1:]).at[1:, 0].set(2 * x[1:])
    return h.at[1, 1].add(6 * x[1])


@pytest.mark.parametrize("name", EXACT_ESTIMATORS)
def test_polynomial_by_hand(name, getkey):
    dim = 6
    x = jnp.array([0.4, -0.3, 0.9, 0.1, -1.2, 0.7])
    matrix = jax.random.normal(getkey(), (dim, dim))
    gradient = (2 * x[0] * x).at[0].set(jnp.sum(x**2) + 2 * x[0] ** 2).at[1].add(3 * x[1] ** 2)
    laplacian = (2 * dim + 4) * x[0] + 6 * x[1]
    by_hand = [
        (pk.Value(), poly(x)),
        (pk.Gradient(), gradient),
        (pk.Laplacian(), laplacian),
        (pk.Diffusion(matrix), jnp.sum(matrix * poly_hessian(x))),
        (pk.Partial((1, 0)), 2 * x[1]),
        (pk.Partial((1, 1, 1)), jnp.asarray(6.0)),
        (2.0 * pk.Laplacian() - pk.Partial((0, 1)), 2 * laplacian - 2 * x[1]),
    ]
    estimator = ESTIMATOR_FACTORIES[name]()
    checked = 0
    for op, expected in by_hand:
        if not supports(estimator, op):
            continue
        u, (value,) = estimator(poly, x, (op,), getkey())
        assert_close(u, poly(x), rtol=1e-13)
        assert_close(value, expected, rtol=1e-10, atol=1e-12)
        checked += 1
    assert checked >= 4


ATOMS = {
    "value": pk.Value(),
    "gradient": pk.Gradient(),
    "laplacian": pk.Laplacian(),
    "diffusion": pk.Diffusion(jnp.eye(3)),
    "partial-0": pk.Partial((0,)),
    "partial-01": pk.Partial((0, 1)),
}


UNSUPPORTED = [
    (name, atom_name)
    for name, make in ESTIMATOR_FACTORIES.items()
    for atom_name, atom in ATOMS.items()
    if not make().supports(atom)
]


@pytest.mark.parametrize("name, atom_name", UNSUPPORTED)
def test_unsupported_operator_names_the_estimators_that_can(name, atom_name, getkey):
    estimator = ESTIMATOR_FACTORIES[name]()
    atom = ATOMS[atom_name]
    network = NETWORK_FACTORIES["mlp"](3, getkey())
    x = random_point(getkey(), 3)
    # Refused alone and inside a linear combination, before any work is done.
    for op in (atom, pk.Laplacian() + 2.0 * atom):
        with pytest.raises(ValueError, match=f"cannot evaluate {type(atom).__name__}") as info:
            estimator(network, x, (op,), getkey())
        assert listed_registered(str(info.value)) == able(atom)
        assert name not in listed_names(str(info.value))


def test_forward_laplacian_refuses_partial(getkey):
    network = NETWORK_FACTORIES["mlp"](3, getkey())
    x = random_point(getkey(), 3)
    with pytest.raises(ValueError, match="ForwardLaplacian cannot evaluate Partial") as info:
        pk.ForwardLaplacian()(network, x, (pk.Partial((0, 1)),), getkey())
    names = listed_names(str(info.value))
    assert "exact" in names and "jet" in names and "forward-laplacian" not in names


class _Plate(pk.AbstractEstimator):
    """A user's own estimator for the biharmonic (by nested autodiff), unregistered."""

    def supports(self, operator):
        return isinstance(operator, pk.Value | pk.Biharmonic)

    def evaluate_atoms(self, fn, x, atoms, key):
        return fn(x), tuple(atom.exact(fn, x) for atom in atoms)


class _NeedsArgument(pk.AbstractEstimator):
    """Supports everything, but cannot be built without an argument: never named."""

    step: float

    def supports(self, operator):
        return True

    def evaluate_atoms(self, fn, x, atoms, key):
        raise NotImplementedError


class _AbstractUsers(pk.AbstractEstimator):
    """An abstract intermediate class of a user's: never named."""


def test_refusal_names_a_users_own_estimator(getkey):
    """The refusal names every concrete estimator that can, registered ones by their CLI
    names first, then a user's own by class name; those that cannot are left out."""
    network = NETWORK_FACTORIES["mlp"](3, getkey())
    x = random_point(getkey(), 3)
    with pytest.raises(ValueError, match="STDE cannot evaluate Biharmonic") as info:
        pk.STDE()(network, x, (pk.Biharmonic(),), getkey())
    names = listed_names(str(info.value))
    assert names[:2] == ["exact", "stde-dense"]
    assert "_Plate" in names and names.index("_Plate") > 1
    assert not {"stde", "jet", "hte", "_NeedsArgument", "_AbstractUsers"} & set(names)
    # The user's estimator is refused in turn, naming the built-in ones that can.
    with pytest.raises(ValueError, match="_Plate cannot evaluate Laplacian") as info:
        _Plate()(network, x, (pk.Laplacian(),), getkey())
    assert listed_registered(str(info.value)) == able(pk.Laplacian())
    assert "_Plate" not in listed_names(str(info.value))


def test_base_does_not_import_the_registry():
    source = Path(pk._estimator.base.__file__).read_text()
    imported = [
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    ]
    assert imported and not any("registry" in module for module in imported), imported


def test_stochastic_estimators_share_a_type():
    """`AbstractStochasticEstimator` marks the random ones (there is no flag to set)."""
    for name, make in pk.ESTIMATORS.items():
        estimator = make()
        random = isinstance(estimator, pk.AbstractStochasticEstimator)
        assert random == (name in {"sdgd", "hte", "stde", "stde-dense"}), name
        assert not hasattr(estimator, "is_random")
    assert issubclass(pk.AbstractStochasticEstimator, pk.AbstractEstimator)


def test_exact_supports_everything():
    assert all(pk.Exact().supports(atom) for atom in ATOMS.values())


@pytest.mark.parametrize("name", list(ESTIMATOR_FACTORIES))
def test_batch_by_vmap_and_jit(name, getkey):
    dim, n = 6, 5
    network = NETWORK_FACTORIES["hard-dirichlet-mlp"](dim, getkey())
    xs = random_points(getkey(), n, dim)
    key = getkey()
    estimator = ESTIMATOR_FACTORIES[name]()
    operators = (pk.Laplacian(), pk.Gradient())

    @eqx.filter_jit
    def batched(net, points):
        return jax.vmap(lambda x: estimator(net, x, operators, key))(points)

    single = eqx.filter_jit(lambda net, x: estimator(net, x, operators, key))
    u, (lap, grad) = batched(network, xs)
    assert u.shape == (n,) and lap.shape == (n,) and grad.shape == (n, dim)
    for i in range(n):
        u_i, (lap_i, grad_i) = single(network, xs[i])
        assert_close(u[i], u_i, rtol=1e-10)
        assert_close(lap[i], lap_i, rtol=1e-8, atol=1e-10)
        assert_close(grad[i], grad_i, rtol=1e-8, atol=1e-10)
    if not is_stochastic(estimator):
        assert_close(lap, jax.vmap(lambda x: pk.Laplacian().exact(network, x))(xs), rtol=1e-8)


@pytest.mark.parametrize("name", list(ESTIMATOR_FACTORIES))
def test_wrong_shape_point_raises(name, getkey):
    dim = 3
    network = NETWORK_FACTORIES["mlp"](dim, getkey())
    estimator = ESTIMATOR_FACTORIES[name]()
    key = getkey()
    batch = random_points(getkey(), 3, dim)
    rejected(lambda: estimator(network, batch, (pk.Laplacian(),), key), "vmap over the batch")
    wrong_dim = random_point(getkey(), dim + 1)
    with pytest.raises(ValueError, match=r"takes one point of shape \(3,\)"):
        estimator(network, wrong_dim, (pk.Laplacian(),), key)


@pytest.mark.parametrize(
    "name",
    RANDOM_ESTIMATORS
    or [pytest.param(None, marks=pytest.mark.skip(reason="no stochastic estimator registered"))],
)
@pytest.mark.parametrize("op_name", ["laplacian", "diffusion", "2lap-minus-p01"])
def test_random_estimators_are_unbiased(name, op_name, getkey):
    """The mean over many keys matches the exact value within a few standard errors."""
    dim, n_keys = 6, 2000
    network = NETWORK_FACTORIES["mlp"](dim, getkey())
    operator = OPERATORS[op_name](dim, getkey())
    x = random_point(getkey(), dim)
    estimator = ESTIMATOR_FACTORIES[name]()
    if not supports(estimator, operator):
        pytest.skip(f"{name} does not support {op_name}")
    keys = jax.random.split(getkey(), n_keys)
    samples = eqx.filter_jit(
        lambda net: jax.vmap(lambda k: estimator(net, x, (operator,), k)[1][0])(keys)
    )(network)
    exact = operator.exact(network, x)
    stderr = jnp.std(samples) / jnp.sqrt(n_keys)
    assert jnp.std(samples) > 0, "a stochastic estimator should vary with the key"
    assert abs(jnp.mean(samples) - exact) < 5 * stderr + 1e-10
