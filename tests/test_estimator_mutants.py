"""Estimators on the operators the other estimator tests reach least: the spatial Laplacian
and the point-dependent diffusion, through every estimator, and the wording of a refusal.

The functions are chosen so that every estimator is exact on them, stochastic ones included:
a Hessian with no coupling between the coordinates the estimator samples makes every
Rademacher tangent, and every draw of all the coordinates, give the exact trace. A wrong
scale, a tangent that leaks into a coordinate it should leave alone, or a dropped weight then
shows as a wrong value on every draw, not as a bias hidden in the noise.

Written for the survivors of a mutation run of `pinnkit._estimator` (docs/contributing.md,
"Mutation testing"); the mutants these cannot kill are in `tools/mutation_equivalent.txt`.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ESTIMATOR_FACTORIES, assert_close

import pinnkit as pk


pytestmark = pytest.mark.usefixtures("x64")

DIM = 5
SPACE = 3
"""Points have DIM coordinates; the spatial Laplacian takes the first SPACE of them."""

KEYS = (0, 1)


def _space_time(x):
    """No second derivative couples two of the first SPACE coordinates; the rest couple to
    them and curve strongly, so a tangent that leaks into them shows."""
    head, tail = x[:SPACE], x[SPACE:]
    weights = jnp.arange(1, SPACE + 1, dtype=x.dtype)
    return (
        jnp.sum(weights * jnp.sin(head)) * (1.0 + 0.5 * tail[0])
        + jnp.sum(jnp.cosh(head))
        + 3.0 * tail[0] ** 2 * tail[1]
        + 2.0 * tail[1] ** 2
    )


def _separable(x):
    """A diagonal Hessian, with a different second derivative in each coordinate."""
    return jnp.sum(jnp.arange(1, DIM + 1, dtype=x.dtype) * jnp.sin(x)) + jnp.sum(x**4) / 4


def _point(seed=0, dtype=jnp.float64):
    return 0.4 * jax.random.normal(jax.random.key(seed), (DIM,), dtype=dtype)


def _values(estimator, fn, x, operator):
    """`(u, value)` for each key of KEYS, in one compiled call."""

    @eqx.filter_jit
    def run(estimator, x):
        out = [estimator(fn, x, (operator,), jax.random.key(k)) for k in KEYS]
        return [(u, values[0]) for u, values in out]

    return run(estimator, x)


def _check_exact(estimator, fn, x, operator, expected):
    for u, value in _values(estimator, fn, x, operator):
        assert u.dtype == value.dtype == jnp.float64
        assert_close(u, fn(x), rtol=1e-12)
        assert_close(value, expected, rtol=1e-9, atol=1e-10)


SPATIAL_EXACT = {
    "exact": lambda: pk.Exact(),
    "jet": lambda: pk.ExactJet(),
    "jet-chunks": lambda: pk.ExactJet(chunk_size=2),  # one full chunk and a remainder
    "forward-laplacian": lambda: pk.ForwardLaplacian(),
    "sdgd-all": lambda: pk.SDGD(SPACE),  # every spatial coordinate: the exact sum
    "stde-all": lambda: pk.STDE(SPACE),
    "hte": lambda: pk.HTE(2),
    "hte-hvp": lambda: pk.HTE(2, method="hvp"),
    "stde-dense": lambda: pk.STDE(2, sparse=False),
}
"""Estimators that are exact on `_space_time`'s spatial Laplacian (see the module docs)."""


@pytest.mark.parametrize("name", list(SPATIAL_EXACT))
def test_spatial_laplacian_is_exact_where_the_draws_cover_space(name):
    x = _point()
    expected = jnp.trace(jax.hessian(_space_time)(x)[:SPACE, :SPACE])
    full = jnp.trace(jax.hessian(_space_time)(x))
    assert abs(float(full - expected)) > 1.0  # the left-out coordinates would show
    _check_exact(SPATIAL_EXACT[name](), _space_time, x, pk.SpatialLaplacian(SPACE), expected)


def test_coordinate_samplers_scale_the_spatial_laplacian_by_the_spatial_dimension():
    """One coordinate of the SPACE, scaled by SPACE (not by DIM): over the keys, each value is
    SPACE times one spatial second derivative, and all of them turn up."""
    x = _point()
    curvatures = jnp.diag(jax.hessian(_space_time)(x))[:SPACE]
    keys = jax.random.split(jax.random.key(7), 64)
    for estimator in (pk.SDGD(1), pk.STDE(1)):

        @jax.jit
        def draws(keys, estimator=estimator):
            return jax.vmap(lambda k: estimator(_space_time, x, (pk.SpatialLaplacian(SPACE),), k))(
                keys
            )[1][0]

        values = np.asarray(draws(keys))
        nearest = np.abs(values[:, None] - SPACE * np.asarray(curvatures)[None]).argmin(axis=1)
        assert_close(values, SPACE * curvatures[nearest], rtol=1e-10)
        assert set(nearest.tolist()) == set(range(SPACE))


@pytest.mark.parametrize(
    "estimator",
    [pk.HTE(4, distribution="gaussian"), pk.STDE(4, sparse=False, distribution="gaussian")],
    ids=["hte", "stde-dense"],
)
def test_gaussian_spatial_tangents_are_unbiased_and_stay_in_space(estimator):
    """Gaussian tangents are not exact on any one draw, but unbiased; and a tangent that
    leaked into the last coordinates would add their large curvature to the mean."""
    x = _point()
    expected = float(jnp.trace(jax.hessian(_space_time)(x)[:SPACE, :SPACE]))
    keys = jax.random.split(jax.random.key(3), 256)
    draws = jax.jit(
        jax.vmap(lambda k: estimator(_space_time, x, (pk.SpatialLaplacian(SPACE),), k)[1][0])
    )
    values = np.asarray(draws(keys))
    stderr = values.std(ddof=1) / np.sqrt(len(values))
    assert values.std() > 1e-3, "Gaussian tangents give a different value on each draw"
    assert abs(values.mean() - expected) < 5 * stderr, (values.mean(), expected, stderr)


@pytest.mark.parametrize("name", list(ESTIMATOR_FACTORIES))
def test_first_order_terms_are_exact_for_every_estimator(name):
    """The time derivative (the last coordinate) and a drift are exact in every estimator,
    evaluated together with a second-order term, and each lands in its own place."""
    x = _point(3)
    mu = lambda y: jnp.sin(y) + 0.5 * y[::-1]  # noqa: E731
    operators = (pk.TimeDerivative(), pk.SpatialLaplacian(SPACE), pk.Drift(mu))
    estimator = ESTIMATOR_FACTORIES[name]()
    u, (time, _, drift) = eqx.filter_jit(estimator)(_space_time, x, operators, jax.random.key(0))
    gradient = jax.grad(_space_time)(x)
    assert_close(u, _space_time(x), rtol=1e-12)
    assert_close(time, gradient[-1], rtol=1e-10)
    assert_close(drift, mu(x) @ gradient, rtol=1e-10)


def _sigma(kind):
    if kind == "scalar":
        return lambda x: 0.7 + 0.3 * jnp.sum(x**2)
    if kind == "diagonal":
        return lambda x: 1.0 + 0.5 * jnp.tanh(x) * jnp.arange(1, DIM + 1, dtype=x.dtype)
    # Three noise columns (k != DIM, and chunks of 2 leave one over), on different
    # coordinates: sigma^T H sigma is diagonal for a diagonal H, so Rademacher noise gives
    # the exact trace.
    return lambda x: (
        jnp.zeros((DIM, 3), x.dtype)
        .at[1, 0]
        .set(1.0 + x[0] ** 2)
        .at[3, 1]
        .set(jnp.cos(x[2]))
        .at[4, 2]
        .set(0.5 - x[1])
    )


def _sigma_matrix(kind, x):
    """sigma(x) as the (DIM, k) matrix, written out for the reference."""
    value = _sigma(kind)(x)
    if kind == "scalar":
        return value * jnp.eye(DIM)
    return jnp.diag(value) if kind == "diagonal" else value


STATE_EXACT = {
    "exact": (lambda: pk.Exact(), ("scalar", "diagonal", "dense")),
    "jet": (lambda: pk.ExactJet(), ("scalar", "diagonal", "dense")),
    # Chunks of 2 leave one coordinate, or one column of the dense sigma, over.
    "jet-chunks": (lambda: pk.ExactJet(chunk_size=2), ("scalar", "diagonal", "dense")),
    "forward-laplacian": (lambda: pk.ForwardLaplacian(), ("scalar", "diagonal", "dense")),
    "sdgd-all": (lambda: pk.SDGD(DIM), ("scalar", "diagonal")),
    "stde-all": (lambda: pk.STDE(DIM), ("scalar", "diagonal")),
    "hte": (lambda: pk.HTE(2), ("scalar", "diagonal", "dense")),
    "hte-hvp": (lambda: pk.HTE(2, method="hvp"), ("scalar", "diagonal", "dense")),
    "stde-dense": (lambda: pk.STDE(2, sparse=False), ("scalar", "diagonal", "dense")),
}
"""Estimators exact on `_separable`'s StateDiffusion, and the kinds of sigma each takes."""


@pytest.mark.parametrize(
    ("name", "kind"), [(name, kind) for name, (_, kinds) in STATE_EXACT.items() for kind in kinds]
)
def test_state_diffusion_is_exact_on_a_separable_function(name, kind):
    x = _point(1)
    sigma = _sigma_matrix(kind, x)
    expected = jnp.trace(sigma @ sigma.T @ jax.hessian(_separable)(x))
    operator = pk.StateDiffusion(_sigma(kind), kind)
    _check_exact(STATE_EXACT[name][0](), _separable, x, operator, expected)


def test_state_diffusion_samples_weight_each_coordinate_by_its_sigma():
    """One sampled coordinate j gives DIM sigma_j^2 d_jj u: over the keys, every j turns up."""
    x = _point(1)
    weighted = DIM * np.asarray(_sigma("diagonal")(x) ** 2 * jnp.diag(jax.hessian(_separable)(x)))
    keys = jax.random.split(jax.random.key(5), 64)
    operator = pk.StateDiffusion(_sigma("diagonal"), "diagonal")
    for estimator in (pk.SDGD(1), pk.STDE(1)):

        @jax.jit
        def draws(keys, estimator=estimator):
            return jax.vmap(lambda k: estimator(_separable, x, (operator,), k))(keys)[1][0]

        values = np.asarray(draws(keys))
        nearest = np.abs(values[:, None] - weighted[None]).argmin(axis=1)
        assert_close(values, weighted[nearest], rtol=1e-10)
        assert set(nearest.tolist()) == set(range(DIM))


GAUSSIAN = {
    "hte-gaussian": lambda: pk.HTE(2, distribution="gaussian"),
    "stde-dense-gaussian": lambda: pk.STDE(2, sparse=False, distribution="gaussian"),
}
"""Estimators whose draws are not exact on any one key (their precision is checked alone)."""


EXACT_NAMES = {"exact", "jet", "jet-chunks", "forward-laplacian"}


@pytest.mark.parametrize("name", [*SPATIAL_EXACT, *GAUSSIAN])
def test_a_float32_point_keeps_its_precision_with_x64_enabled(name):
    """The random tangents, their padding, the running sums and the forward Laplacian's base
    point take the point's dtype: a float32 point (and float32 coefficients) give float32
    values, right to float32 precision, though JAX's default float is float64."""
    x = _point(2, jnp.float32)
    wide = x.astype(jnp.float64)
    # (function, operator, exact value, whether this estimator is exact on it)
    spatial = jnp.trace(jax.hessian(_space_time)(wide)[:SPACE, :SPACE])
    cases: list[tuple[Callable, pk.AbstractOperator, jax.Array, bool]] = [
        (_space_time, pk.SpatialLaplacian(SPACE), spatial, name not in GAUSSIAN)
    ]
    for kind in STATE_EXACT[name][1] if name in STATE_EXACT else ("scalar", "diagonal", "dense"):
        sigma = _sigma_matrix(kind, wide)
        expected = jnp.trace(sigma @ sigma.T @ jax.hessian(_separable)(wide))
        operator = pk.StateDiffusion(_sigma(kind), kind)
        cases.append((_separable, operator, expected, name not in GAUSSIAN))
    matrix = jax.random.normal(jax.random.key(4), (DIM, DIM), dtype=jnp.float32)
    expected = jnp.sum(matrix * jax.hessian(_space_time)(wide))
    cases.append((_space_time, pk.Diffusion(matrix), expected, name in EXACT_NAMES))

    def estimator(operator):
        if name in GAUSSIAN:
            return GAUSSIAN[name]()
        if isinstance(operator, pk.StateDiffusion):
            return STATE_EXACT[name][0]()
        return SPATIAL_EXACT[name]()

    @jax.jit
    def run(x):  # every case in one compiled call
        key = jax.random.key(0)
        return [estimator(op)(fn, x, (op,), key) for fn, op, _, _ in cases]

    for (fn, operator, expected, exact), (u, (value,)) in zip(cases, run(x), strict=True):
        assert u.dtype == value.dtype == jnp.float32, (operator, u.dtype, value.dtype)
        assert_close(u, fn(wide), rtol=1e-5)
        if exact:
            assert_close(value, expected, rtol=1e-4, atol=1e-4)


def test_refusals_name_registered_estimators_once_by_their_names():
    """The registered estimators that can are named by their command-line names, in the
    registry's order, and never again by class name."""
    operator = pk.StateDiffusion(_sigma("dense"), "dense")
    class_names = {type(make()).__name__ for make in pk.ESTIMATORS.values()}
    for estimator in (pk.SDGD(), pk.STDE()):
        with pytest.raises(ValueError) as info:
            estimator(_separable, _point(), (operator,), jax.random.key(0))
        message = str(info.value)
        head, names = message.split("; estimators that can: ")
        assert head == f"{type(estimator).__name__} cannot evaluate StateDiffusion"
        names = names.split(", ")
        assert names[:5] == ["exact", "jet", "forward-laplacian", "hte", "stde-dense"]
        # Estimator classes that other tests define may follow, but no built-in one again.
        assert not class_names & set(names), names


def test_exact_jets_run_eagerly_on_a_plain_function():
    """Not compiled, on a function without a Taylor-mode fast path: chunks that divide the
    coordinates leave no empty remainder to push (an empty jet has no primal to read)."""
    x = _point(4)
    sigma = _sigma_matrix("diagonal", x)
    hessian = jax.hessian(_separable)(x)
    operators = (
        pk.Laplacian(),
        pk.SpatialLaplacian(SPACE),
        pk.StateDiffusion(_sigma("diagonal"), "diagonal"),
    )
    u, values = pk.ExactJet()(_separable, x, operators, jax.random.key(0))
    assert_close(u, _separable(x), rtol=1e-12)
    expected = (
        jnp.trace(hessian),
        jnp.trace(hessian[:SPACE, :SPACE]),
        jnp.trace(sigma @ sigma.T @ hessian),
    )
    for value, want in zip(values, expected, strict=True):
        assert_close(value, want, rtol=1e-10)


def test_pure_derivatives_of_higher_order_use_jets_of_that_order():
    """Diagonal(k) = sum_i d_i^k u, by k-jets: on `_separable` (sum_i i sin x_i + x_i^4 / 4)
    the third derivatives are -i cos x_i + 6 x_i and the fourth i sin x_i + 6."""
    x = _point(5)
    weights = jnp.arange(1.0, DIM + 1)
    expected = {
        3: jnp.sum(-weights * jnp.cos(x) + 6 * x),
        4: jnp.sum(weights * jnp.sin(x) + 6),
    }
    operators = (pk.Diagonal(3), pk.Laplacian(), pk.Diagonal(4))
    laplacian = jnp.sum(-weights * jnp.sin(x) + 3 * x**2)
    # Every coordinate drawn: the coordinate samplers are exact too.
    for estimator in (pk.ExactJet(), pk.ExactJet(chunk_size=2), pk.STDE(DIM), pk.SDGD(DIM)):
        _, values = eqx.filter_jit(estimator)(_separable, x, operators, jax.random.key(0))
        assert_close(values[0], expected[3], rtol=1e-10)
        assert_close(values[1], laplacian, rtol=1e-10)
        assert_close(values[2], expected[4], rtol=1e-10)


def test_forward_laplacian_fails_loudly_on_an_atom_it_does_not_support():
    """`evaluate_atoms` called directly (past the refusal in `__call__`) with an atom that
    `supports` refuses stops, naming the atom, rather than returning a value for it."""
    estimator = pk.ForwardLaplacian()
    atom = pk.Partial((0, 1))
    assert not estimator.supports(atom)
    with pytest.raises(AssertionError) as info:
        estimator.evaluate_atoms(_separable, _point(), (atom,), jax.random.key(0))
    assert info.value.args == (atom,)


def test_sdgd_takes_pure_partials_and_refuses_mixed_ones():
    """SDGD samples coordinates, so it can take d_i^k u (one index) but not d_0 d_1 u."""
    x = _point(6)
    _, (value,) = pk.SDGD(DIM)(_space_time, x, (pk.Partial((3, 3)),), jax.random.key(0))
    assert_close(value, jax.hessian(_space_time)(x)[3, 3], rtol=1e-10)
    with pytest.raises(ValueError, match="SDGD cannot evaluate Partial"):
        pk.SDGD(DIM)(_space_time, x, (pk.Partial((0, 1)),), jax.random.key(0))


def test_hte_takes_rademacher_named_explicitly():
    """`distribution="rademacher"` (the default, named) is accepted and exact on a diagonal
    Hessian, like the default."""
    x = _point(7)
    estimator = pk.HTE(2, distribution="rademacher")
    _, (value,) = estimator(_separable, x, (pk.Laplacian(),), jax.random.key(0))
    assert_close(value, jnp.trace(jax.hessian(_separable)(x)), rtol=1e-10)


def test_hte_hvp_takes_functions_without_taylor_rules():
    """`method="hvp"` uses forward-over-reverse Hessian-vector products, so it takes
    primitives that Taylor mode has no rule for (`jnp.sort`), where the default jets fail.
    sum(sort(x)^3) has Hessian diag(6 x): Rademacher tangents give its trace exactly."""

    def sorted_cubes(x):
        return jnp.sum(jnp.sort(x) ** 3)

    x = _point(8)
    _, (value,) = pk.HTE(2, method="hvp")(sorted_cubes, x, (pk.Laplacian(),), jax.random.key(0))
    assert_close(value, 6 * jnp.sum(x), rtol=1e-10)
    with pytest.raises(KeyError):
        pk.HTE(2)(sorted_cubes, x, (pk.Laplacian(),), jax.random.key(0))


def test_hte_returns_the_value_when_no_operator_is_second_order():
    x = _point(9)
    u, (value,) = pk.HTE(2)(_separable, x, (pk.Value(),), jax.random.key(0))
    assert_close(u, _separable(x), rtol=1e-12)
    assert_close(value, _separable(x), rtol=1e-12)


def test_dense_stde_biharmonic_keeps_a_float32_point_in_float32():
    """Its Gaussian tangents take the point's dtype, though JAX's default is float64 here."""
    x = _point(10, jnp.float32)
    u, (value,) = pk.STDE(4, sparse=False)(_separable, x, (pk.Biharmonic(),), jax.random.key(0))
    assert u.dtype == value.dtype == jnp.float32


def test_make_estimator_names_the_valid_estimators_for_an_unknown_name():
    with pytest.raises(ValueError) as info:
        pk.make_estimator("stde-sparse")
    head, names = str(info.value).split("; valid names: ")
    assert head == "unknown estimator 'stde-sparse'"
    assert names.split(", ") == list(pk.ESTIMATORS)
    assert pk.make_estimator("hte", 3).num_samples == 3
