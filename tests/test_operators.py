"""Operators describe what to differentiate; `exact` is the nested-autodiff reference."""

import jax
import jax.numpy as jnp
import pytest
from helpers import assert_close, rejected
from internals import linear_terms

import pinnkit as pk


pytestmark = pytest.mark.usefixtures("x64")

D = 4


def poly(x):
    """u = x_0 |x|^2 + x_1^3."""
    return x[0] * jnp.sum(x**2) + x[1] ** 3


def poly_gradient(x):
    g = 2 * x[0] * x
    g = g.at[0].set(jnp.sum(x**2) + 2 * x[0] ** 2)
    return g.at[1].add(3 * x[1] ** 2)


def poly_hessian(x):
    d = x.shape[0]
    h = jnp.diag(jnp.full((d,), 2 * x[0]))
    h = h.at[0, 0].set(6 * x[0])
    h = h.at[0, 1:].set(2 * x[1:]).at[1:, 0].set(2 * x[1:])
    return h.at[1, 1].add(6 * x[1])


@pytest.fixture
def x():
    return jnp.array([0.3, -0.7, 0.5, 1.1])


def test_value_and_gradient(x):
    assert_close(pk.Value().exact(poly, x), poly(x), rtol=1e-14)
    assert_close(pk.Gradient().exact(poly, x), poly_gradient(x), rtol=1e-14)


def test_laplacian_by_hand(x):
    # Delta(x_0 |x|^2) = (2d + 4) x_0, Delta(x_1^3) = 6 x_1.
    expected = (2 * D + 4) * x[0] + 6 * x[1]
    assert_close(pk.Laplacian().exact(poly, x), expected, rtol=1e-13)


def test_diffusion_by_hand(x, getkey):
    matrix = jax.random.normal(getkey(), (D, D))
    expected = jnp.sum(matrix * poly_hessian(x))
    assert_close(pk.Diffusion(matrix).exact(poly, x), expected, rtol=1e-13)
    # The identity matrix gives the Laplacian.
    assert_close(pk.Diffusion(jnp.eye(D)).exact(poly, x), pk.Laplacian().exact(poly, x))


@pytest.mark.parametrize(
    "indices, expected",
    [
        ((0,), lambda x: jnp.sum(x**2) + 2 * x[0] ** 2),
        ((1,), lambda x: 2 * x[0] * x[1] + 3 * x[1] ** 2),
        ((0, 0), lambda x: 6 * x[0]),
        ((0, 1), lambda x: 2 * x[1]),
        ((1, 0), lambda x: 2 * x[1]),
        ((2, 2), lambda x: 2 * x[0]),
        ((1, 1, 1), lambda x: jnp.asarray(6.0)),
        ((1, 0, 1), lambda x: jnp.asarray(2.0)),
        ((0, 0, 0), lambda x: jnp.asarray(6.0)),
        ((2, 3), lambda x: jnp.asarray(0.0)),
    ],
)
def test_partial_by_hand(x, indices, expected):
    assert_close(pk.Partial(indices).exact(poly, x), expected(x), rtol=1e-13, atol=1e-13)


def test_partial_indices_sorted_and_validated():
    assert pk.Partial((2, 0, 1, 0)).indices == (0, 0, 1, 2)
    assert pk.Partial([1]).indices == (1,)
    assert pk.Partial((1, 0)).order == 2
    with pytest.raises(ValueError, match="at least one index"):
        pk.Partial(())
    with pytest.raises(ValueError, match="non-negative"):
        pk.Partial((0, -1))


def test_partial_index_beyond_dimension(x):
    with pytest.raises(ValueError, match="dim > 4"):
        pk.Partial((0, 4)).exact(poly, x)


def test_orders():
    assert pk.Value().order == 0
    assert pk.Gradient().order == 1
    assert pk.Laplacian().order == 2
    assert pk.Diffusion(jnp.eye(3)).order == 2
    assert pk.Partial((0, 1, 1)).order == 3
    assert (pk.Laplacian() + pk.Partial((0, 0, 0, 1))).order == 4
    assert (3.0 * pk.Value()).order == 0


def test_arithmetic_builds_sums_and_scalings(x):
    lap, p01 = pk.Laplacian(), pk.Partial((0, 1))
    op = 2.0 * lap - p01
    assert isinstance(op, pk.Sum)
    assert [(c, type(a).__name__) for c, a in linear_terms(op)] == [
        (2.0, "Laplacian"),
        (-1.0, "Partial"),
    ]
    expected = 2 * ((2 * D + 4) * x[0] + 6 * x[1]) - 2 * x[1]
    assert_close(op.exact(poly, x), expected, rtol=1e-13)

    scaled = lap * 3.0
    assert isinstance(scaled, pk.Scaled) and scaled.scale == 3.0
    assert_close((-lap).exact(poly, x), -lap.exact(poly, x))
    # Nested sums flatten; nested scalings multiply.
    nested = (lap + p01) + (pk.Value() + 0.5 * (2.0 * p01))
    assert isinstance(nested, pk.Sum) and len(nested.terms) == 4
    coefs = [c for c, _ in linear_terms(nested)]
    assert coefs == [1.0, 1.0, 1.0, 1.0]
    expected = lap.exact(poly, x) + 2 * p01.exact(poly, x) + poly(x)
    assert_close(nested.exact(poly, x), expected, rtol=1e-13)


def test_integer_scale_is_accepted(x):
    # `2 * Laplacian()` is how users write it; it must pass the runtime type checks too.
    op = 2 * pk.Laplacian() - pk.Partial((0, 1))
    assert [c for c, _ in linear_terms(op)] == [2.0, -1.0]
    assert (pk.Laplacian() * 3).scale == 3.0
    assert_close(op.exact(poly, x), 2 * ((2 * D + 4) * x[0] + 6 * x[1]) - 2 * x[1])


def test_arithmetic_rejects_non_operators():
    with pytest.raises(TypeError):
        pk.Laplacian() + 1.0  # noqa: B018
    with pytest.raises(TypeError):
        pk.Laplacian() * pk.Laplacian()  # noqa: B018
    with pytest.raises(ValueError, match="at least one"):
        pk.Sum(())


def test_vector_sum(x):
    op = pk.Gradient() + 2.0 * pk.Gradient()
    assert_close(op.exact(poly, x), 3 * poly_gradient(x), rtol=1e-13)


@pytest.mark.parametrize("shape", [(3,), (3, 4), (2, 2, 2)])
def test_diffusion_rejects_non_square(shape):
    rejected(lambda: pk.Diffusion(jnp.ones(shape)), "square")


def test_diffusion_symmetric_part_and_dimension(x, getkey):
    matrix = jax.random.normal(getkey(), (D, D))
    op = pk.Diffusion(matrix)
    assert op.dim == D
    assert_close(op.symmetric(), 0.5 * (matrix + matrix.T))
    rejected(lambda: op.exact(poly, jnp.ones(D + 1)), "dimension 4")


@pytest.mark.parametrize(
    "op", [pk.Value(), pk.Gradient(), pk.Laplacian(), pk.Partial((0,))], ids=type
)
def test_exact_rejects_a_batch(op):
    rejected(lambda: op.exact(poly, jnp.ones((2, D))), "one point")
