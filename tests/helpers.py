"""Registries the tests parametrize over, so that new estimators, networks and problems
are tested as soon as they are registered."""

import contextlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jaxtyping

import pinnkit as pk
from pinnkit.problems import PROBLEMS


RANDOM_SAMPLES = 2
"""Samples per estimate for stochastic estimators (small, so that any d >= 2 works)."""


def is_stochastic(estimator: pk.AbstractEstimator) -> bool:
    return isinstance(estimator, pk.AbstractStochasticEstimator)


def _factory(name: str) -> Callable[[], pk.AbstractEstimator]:
    if is_stochastic(pk.ESTIMATORS[name]()):
        return lambda: pk.make_estimator(name, num_samples=RANDOM_SAMPLES)
    return lambda: pk.make_estimator(name)


ESTIMATOR_FACTORIES: dict[str, Callable[[], pk.AbstractEstimator]] = {
    name: _factory(name) for name in pk.ESTIMATORS
}
"""Every registered estimator, by its registry name (stochastic ones with few samples)."""

EXACT_ESTIMATORS = [name for name, make in ESTIMATOR_FACTORIES.items() if not is_stochastic(make())]
"""Estimators that compute operators exactly (they must agree with nested autodiff)."""

RANDOM_ESTIMATORS = [name for name, make in ESTIMATOR_FACTORIES.items() if is_stochastic(make())]
"""Stochastic estimators (unbiased: their mean must match the exact value)."""

WIDTH = 16


def mlp(dim: int, key) -> pk.AbstractNetwork:
    return pk.MLP(dim, WIDTH, 2, key=key)


def hard_dirichlet_mlp(dim: int, key) -> pk.AbstractNetwork:
    return pk.HardDirichlet(pk.MLP(dim, WIDTH, 2, key=key))


def hard_dirichlet_shared(dim: int, key) -> pk.AbstractNetwork:
    # Block size 1 divides every dimension.
    return pk.HardDirichlet(pk.SharedFirstLayerMLP(dim, 1, WIDTH, 2, key=key))


def fourier_feature_mlp(dim: int, key) -> pk.AbstractNetwork:
    return pk.FourierFeatureMLP(dim, 8, WIDTH, 2, key=key)


def modified_mlp(dim: int, key) -> pk.AbstractNetwork:
    return pk.ModifiedMLP(dim, WIDTH, 2, key=key)


def residual_mlp(dim: int, key) -> pk.AbstractNetwork:
    return pk.ResidualMLP(dim, WIDTH, 2, key=key)


def hard_initial_mlp(dim: int, key) -> pk.AbstractNetwork:
    # Time is the last coordinate; g acts on the other dim - 1.
    return pk.HardInitial(pk.MLP(dim, WIDTH, 2, key=key), lambda x: jnp.sum(jnp.sin(x)), 0.1)


NETWORK_FACTORIES: dict[str, Callable[[int, jax.Array], pk.AbstractNetwork]] = {
    "mlp": mlp,
    "hard-dirichlet-mlp": hard_dirichlet_mlp,
    "hard-dirichlet-shared": hard_dirichlet_shared,
    "fourier-feature-mlp": fourier_feature_mlp,
    "modified-mlp": modified_mlp,
    "residual-mlp": residual_mlp,
    "hard-initial-mlp": hard_initial_mlp,
}
"""Small random networks: `factory(dim, key)`."""

ELLIPTIC_PROBLEMS: list[str] = [
    name for name, spec in PROBLEMS.items() if spec.answer == "solution" and spec.max_dim is None
]
"""The registered elliptic and high-order problems (instances of `pinnkit.problems.Problem`):
the unit-ball suite and the biharmonic annulus."""


def random_point(key, dim: int, scale: float = 0.6) -> jax.Array:
    """A point inside the unit ball, away from the origin (dtype follows the x64 setting)."""
    x = jax.random.normal(key, (dim,), dtype=jnp.zeros(()).dtype)
    return scale * x / jnp.linalg.norm(x)


def random_points(key, n: int, dim: int) -> jax.Array:
    return jax.vmap(lambda k: random_point(k, dim))(jax.random.split(key, n))


@contextlib.contextmanager
def no_typecheck():
    """Switch the test run's jaxtyping/beartype checks off, to reach the errors users see."""
    old = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", old)


def assert_close(actual, expected, rtol: float = 1e-8, atol: float = 1e-10) -> None:
    actual, expected = jnp.asarray(actual), jnp.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    ok = jnp.all(jnp.abs(actual - expected) <= atol + rtol * jnp.abs(expected))
    assert bool(ok), f"{actual} != {expected} (rtol={rtol}, atol={atol})"


@contextlib.contextmanager
def rejects(match: str):
    """Expect the package's own `ValueError` (matching `match`) with runtime type checks off,
    as users run it. Under the test run's jaxtyping checks a shape error may be caught
    earlier by the annotation, as a `TypeError`; that is accepted too, by `rejected`."""
    import pytest

    with no_typecheck(), pytest.raises(ValueError, match=match):
        yield


def rejected(fn: Callable[[], object], match: str) -> None:
    """`fn()` raises the package's ValueError without type checks, and fails with them on."""
    import pytest

    with rejects(match):
        fn()
    with pytest.raises((ValueError, TypeError)):
        fn()
