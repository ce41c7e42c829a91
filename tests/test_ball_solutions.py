import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from internals import three_body, two_body


RTOL = 1e-10
ATOL = 1e-12


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _ball_points(key, n, d):
    kg, kr = jax.random.split(key)
    g = jax.random.normal(kg, (n, d), dtype=jnp.float64)
    r = jax.random.uniform(kr, (n, 1), dtype=jnp.float64)
    return r * g / jnp.linalg.norm(g, axis=1, keepdims=True)


def _coeffs(key, n):
    return jax.random.normal(key, (n,), dtype=jnp.float64)


def _naive_two_body(x, c):
    d = x.shape[0]
    s = 0.0
    for i in range(d - 1):
        s = s + c[i] * jnp.sin(x[i] + jnp.cos(x[i + 1]) + x[i + 1] * jnp.cos(x[i]))
    return (1 - jnp.sum(x**2)) * s


def _naive_three_body(x, c):
    d = x.shape[0]
    s = 0.0
    for i in range(d - 2):
        s = s + c[i] * jnp.exp(x[i] * x[i + 1] * x[i + 2])
    return (1 - jnp.sum(x**2)) * s


CASES = [
    (two_body, _naive_two_body, 1),
    (three_body, _naive_three_body, 2),
]
IDS = ["two_body", "three_body"]


def _check_one(fn, naive, x, c):
    u, lap = fn(x, c)
    assert u.shape == () and lap.shape == ()
    assert u.dtype == jnp.float64 and lap.dtype == jnp.float64
    u_ref = naive(x, c)
    lap_ref = jnp.trace(jax.hessian(lambda y: naive(y, c))(x))
    np.testing.assert_allclose(u, u_ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(lap, lap_ref, rtol=RTOL, atol=ATOL)
    return u_ref, lap_ref


AUTODIFF_PARAMS = [
    pytest.param(fn, naive, offset, d, id=f"{name}-d{d}")
    for name, (fn, naive, offset) in (("two_body", CASES[0]), ("three_body", CASES[1]))
    for d in (2, 3, 5, 9)
    if d - offset >= 1  # three-body needs d >= 3
]


@pytest.mark.parametrize("fn,naive,offset,d", AUTODIFF_PARAMS)
def test_value_and_laplacian_match_autodiff(fn, naive, offset, d):
    key = jax.random.key(100 * d + offset)
    kx, kc = jax.random.split(key)
    xs = _ball_points(kx, 4, d)
    c = _coeffs(kc, d - offset)
    for x in xs:
        _check_one(fn, naive, x, c)
    # Also outside the ball and with large coordinates, where every term matters.
    _check_one(fn, naive, 1.7 * xs[0] + 0.3, c)


@pytest.mark.parametrize("fn,naive,offset", CASES, ids=IDS)
def test_zero_on_sphere(fn, naive, offset):
    d = 6
    kx, kc = jax.random.split(jax.random.key(7))
    g = jax.random.normal(kx, (d,), dtype=jnp.float64)
    x = g / jnp.linalg.norm(g)
    c = _coeffs(kc, d - offset)
    u, lap = fn(x, c)
    assert abs(float(u)) < 1e-14
    # The Laplacian on the sphere is not zero in general; it still must agree.
    _check_one(fn, naive, x, c)
    assert abs(float(lap)) > 1e-6


@pytest.mark.parametrize("fn,naive,offset", CASES, ids=IDS)
def test_vmap_and_jit(fn, naive, offset):
    d, n = 5, 8
    kx, kc = jax.random.split(jax.random.key(3))
    xs = _ball_points(kx, n, d)
    c = _coeffs(kc, d - offset)

    u_ref = jnp.stack([naive(x, c) for x in xs])
    lap_ref = jnp.stack([jnp.trace(jax.hessian(lambda y: naive(y, c))(x)) for x in xs])

    batched = jax.vmap(fn, in_axes=(0, None))
    for f in (batched, jax.jit(batched), jax.vmap(jax.jit(fn), in_axes=(0, None))):
        u, lap = f(xs, c)
        assert u.shape == (n,) and lap.shape == (n,)
        np.testing.assert_allclose(u, u_ref, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(lap, lap_ref, rtol=RTOL, atol=ATOL)


def test_three_body_known_value():
    # x = (1, 1, 1): u = 0 * ... = 0 is degenerate, so use x = (a, a, a) with
    # a = 1/2: phi = 1 - 3/4, s = c exp(1/8);
    # lap = phi * c e (3 a^4) - 4 * 3 a^3 c e - 2*3 * c e.
    a, cval = 0.5, 1.3
    x = jnp.full((3,), a, dtype=jnp.float64)
    c = jnp.array([cval], dtype=jnp.float64)
    e = math.exp(a**3)
    phi = 1 - 3 * a**2
    u, lap = three_body(x, c)
    np.testing.assert_allclose(u, phi * cval * e, rtol=RTOL)
    expected = cval * e * (phi * 3 * a**4 - 12 * a**3 - 6)
    np.testing.assert_allclose(lap, expected, rtol=RTOL)


def test_two_body_known_value_at_origin():
    # x = 0: a_i = 1, phi = 1, grad phi = 0, lap phi = -2d.
    # lap(sin a) at 0: a_p = 1, a_q = 1, a_pp = 0, a_qq = -1
    #   -> -2 sin(1) - cos(1) per term.
    d = 4
    c = jnp.array([0.5, -1.0, 2.0], dtype=jnp.float64)
    u, lap = two_body(jnp.zeros((d,), dtype=jnp.float64), c)
    csum = float(jnp.sum(c))
    np.testing.assert_allclose(u, csum * math.sin(1.0), rtol=RTOL)
    expected = csum * (-2 * math.sin(1.0) - math.cos(1.0)) - 2 * d * csum * math.sin(1.0)
    np.testing.assert_allclose(lap, expected, rtol=RTOL)


def test_two_body_float32_matches_float64():
    """The float32 path (its own sincos polynomials and pi/2 split) against float64, at
    points of the ball and outside it (|x_i| up to 20, several quadrants)."""
    key = jax.random.key(7)
    d = 64
    c = np.asarray(_coeffs(jax.random.fold_in(key, 1), d - 1))
    inside = np.asarray(_ball_points(jax.random.fold_in(key, 2), 8, d))
    outside = np.asarray(jax.random.uniform(jax.random.fold_in(key, 3), (8, d))) * 40 - 20
    for x in (inside, outside):
        u64, lap64 = jax.vmap(two_body, in_axes=(0, None))(jnp.asarray(x), jnp.asarray(c))
        with jax.enable_x64(False):
            x32, c32 = jnp.asarray(x, jnp.float32), jnp.asarray(c, jnp.float32)
            u32, lap32 = jax.vmap(two_body, in_axes=(0, None))(x32, c32)
            assert u32.dtype == jnp.float32
        # float32 rounding of sums of d terms of size up to (1 + |x|^2) * |c| * d.
        scale_u = np.abs(c).sum() * (1 + (x**2).sum(axis=1))
        scale_lap = scale_u * (1 + (x**2).sum(axis=1)) * 4
        np.testing.assert_array_less(np.abs(np.asarray(u32) - np.asarray(u64)), 1e-6 * scale_u)
        np.testing.assert_array_less(
            np.abs(np.asarray(lap32) - np.asarray(lap64)), 1e-6 * scale_lap
        )
