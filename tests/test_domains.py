"""Domains and samplers: points where they belong, with the right distributions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rejected

import pinnkit as pk


@pytest.mark.parametrize("radial", ["uniform", "volume"])
@pytest.mark.parametrize("dim", [2, 5])
def test_ball_samples(dim, radial, getkey):
    ball = pk.Ball(dim, radius=2.0, radial=radial)
    inside = ball.sample_interior(getkey(), 500)
    assert inside.shape == (500, dim)
    assert bool(jnp.all(jnp.linalg.norm(inside, axis=1) <= 2.0 + 1e-6))
    assert bool(jnp.all(ball.contains(inside)))
    boundary = ball.sample_boundary(getkey(), 300)
    assert boundary.shape == (300, dim)
    np.testing.assert_allclose(jnp.linalg.norm(boundary, axis=1), 2.0, rtol=1e-5)
    assert not bool(jnp.any(ball.contains(1.01 * boundary)))


@pytest.mark.parametrize("dim", [3, 10])
def test_ball_radius_distributions(dim, getkey):
    """Uniform in radius: E r = 1/2. Uniform in volume: E r = d/(d+1)."""
    n = 20_000
    for radial, mean, var in [
        ("uniform", 0.5, 1 / 12),
        ("volume", dim / (dim + 1), dim / (dim + 2) - (dim / (dim + 1)) ** 2),
    ]:
        r = jnp.linalg.norm(pk.Ball(dim, radial=radial).sample_interior(getkey(), n), axis=1)
        stderr = np.sqrt(var / n)
        assert abs(float(jnp.mean(r)) - mean) < 4 * stderr, radial
        np.testing.assert_allclose(float(jnp.var(r)), var, rtol=0.05)


def test_ball_directions_are_isotropic(getkey):
    x = pk.Ball(4).sample_boundary(getkey(), 20_000)
    # Each coordinate of a uniform point on S^{d-1} has mean 0 and variance 1/d.
    np.testing.assert_allclose(jnp.mean(x, axis=0), 0.0, atol=4 * np.sqrt(0.25 / 20_000))
    np.testing.assert_allclose(jnp.var(x, axis=0), 0.25, rtol=0.05)


def test_ball_validation():
    rejected(lambda: pk.Ball(3, radial="gaussian"), "radial")
    with pytest.raises(ValueError, match="radius must be positive"):
        pk.Ball(3, radius=0.0)
    with pytest.raises(ValueError, match="dimension >= 1"):
        pk.Ball(0)


def test_sphere(getkey):
    sphere = pk.Sphere(3, radius=0.5)
    x = sphere.sample_interior(getkey(), 200)
    assert x.shape == (200, 3)
    np.testing.assert_allclose(jnp.linalg.norm(x, axis=1), 0.5, rtol=1e-5)
    assert bool(jnp.all(sphere.contains(x)))
    assert not bool(jnp.any(sphere.contains(0.9 * x)))
    with pytest.raises(ValueError, match="no boundary"):
        sphere.sample_boundary(getkey(), 3)


def test_box_interior_and_boundary(getkey):
    lower, upper = (-1.0, 0.0, 2.0), (1.0, 0.5, 5.0)
    box = pk.Box(lower, upper)
    assert box.dim == 3
    lo, hi = np.array(lower), np.array(upper)
    x = np.asarray(box.sample_interior(getkey(), 1000))
    assert x.shape == (1000, 3)
    assert np.all((x >= lo) & (x <= hi))
    assert bool(jnp.all(box.contains(jnp.asarray(x))))
    b = np.asarray(box.sample_boundary(getkey(), 4000))
    assert b.shape == (4000, 3)
    assert bool(jnp.all(box.contains(jnp.asarray(b))))
    on_face = np.isclose(b, lo) | np.isclose(b, hi)
    assert np.all(on_face.sum(axis=1) >= 1), "every boundary point lies on a face"
    # Faces are chosen in proportion to their area: widths (2, 0.5, 3) give face areas
    # (1.5, 6, 1) for the faces normal to coordinates 0, 1, 2.
    areas = np.array([0.5 * 3, 2 * 3, 2 * 0.5])
    fractions = on_face.mean(axis=0)
    np.testing.assert_allclose(fractions, areas / areas.sum(), atol=0.03)
    # Both sides of each face are used.
    assert np.isclose(b, lo).any(axis=0).all() and np.isclose(b, hi).any(axis=0).all()


def test_box_float_corners_and_validation():
    box = pk.Box(0.0, 2.0, dim=4)
    assert box.lower == (0.0,) * 4 and box.upper == (2.0,) * 4
    assert pk.Box([0.0, 0.0], 1.0).dim == 2
    with pytest.raises(ValueError, match="needs dim"):
        pk.Box(0.0, 1.0)
    with pytest.raises(ValueError, match="lower < upper"):
        pk.Box((0.0, 1.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="same length"):
        pk.Box((0.0, 0.0), (1.0, 1.0, 1.0))
    assert not bool(pk.Box(0.0, 1.0, dim=2).contains(jnp.array([[0.5, 1.1]]))[0])


def test_uniform_sampler(getkey):
    ball = pk.Ball(3)
    key = getkey()
    interior = pk.UniformSampler(ball)
    assert interior.dim == 3
    np.testing.assert_array_equal(interior(key, 7), ball.sample_interior(key, 7))
    boundary = pk.UniformSampler(ball, where="boundary")
    np.testing.assert_array_equal(boundary(key, 7), ball.sample_boundary(key, 7))
    # Pure function of the key.
    np.testing.assert_array_equal(interior(key, 7), interior(key, 7))
    assert not np.array_equal(interior(key, 7), interior(getkey(), 7))
    rejected(lambda: pk.UniformSampler(ball, where="surface"), "interior' or 'boundary")


def test_samples_follow_dtype(getkey):
    with jax.enable_x64(True):
        assert pk.Ball(3).sample_interior(getkey(), 4).dtype == jnp.float64
        assert pk.Ball(3).sample_boundary(getkey(), 4).dtype == jnp.float64
    assert pk.Ball(3).sample_interior(getkey(), 4).dtype == jnp.float32
