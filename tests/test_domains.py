"""Domains and samplers: points where they belong, with the right distributions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rejected, rejects
from internals import sphere_coordinates, sphere_from_unit

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


@pytest.mark.parametrize("method", ["normal", "box-muller"])
@pytest.mark.parametrize("dim", [1, 4, 7])
def test_sphere_direction_moments(method, dim, getkey):
    """Uniform on S^{d-1}: E x_i = 0, E x_i^2 = 1/d, E x_i^4 = 3/(d(d+2)),
    E x_i^2 x_j^2 = 1/(d(d+2)) (i != j), and |x| = scale exactly."""
    from internals import sphere_directions

    n = 40_000
    scale = jnp.full((n, 1), 3.0)
    x = np.asarray(sphere_directions(getkey(), n, dim, scale=scale, method=method)) / 3.0
    assert x.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=2e-6)
    second, fourth = 1 / dim, 3 / (dim * (dim + 2))
    # Each moment is an average of n terms bounded by 1: 5 standard errors, from the exact
    # variance of x_i^2 and the mean's bound.
    tol2 = 5 * np.sqrt((fourth - second**2) / n) + 1e-12
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=5 * np.sqrt(second / n))
    np.testing.assert_allclose((x**2).mean(axis=0), second, atol=tol2)
    np.testing.assert_allclose((x**4).mean(axis=0), fourth, atol=5 * np.sqrt(fourth / n))
    if dim > 1:
        cross = (x[:, 0] ** 2 * x[:, -1] ** 2).mean()
        np.testing.assert_allclose(cross, 1 / (dim * (dim + 2)), atol=5 * np.sqrt(fourth / n))
        # Odd moments across coordinates vanish: no sign correlation between the cos and sin
        # halves of a Box-Muller pair.
        np.testing.assert_allclose((x[:, 0] * x[:, -1]).mean(), 0.0, atol=5 * np.sqrt(second / n))


@pytest.mark.parametrize("method", ["normal", "box-muller"])
def test_sphere_direction_projection_law(method, getkey):
    """In d = 3 the coordinate of a uniform point on S^2 along any axis is uniform on
    [-1, 1] (Archimedes): check its deciles, and that dtype and bad methods are handled."""
    from internals import sphere_directions

    x = np.asarray(sphere_directions(getkey(), 40_000, 3, method=method))
    for axis in range(3):
        deciles = np.quantile(x[:, axis], np.linspace(0.1, 0.9, 9))
        np.testing.assert_allclose(deciles, np.linspace(-0.8, 0.8, 9), atol=0.02)
    rejected(lambda: sphere_directions(getkey(), 2, 3, method="erfinv"), "box-muller")


def test_sphere_directions_float64(x64, getkey):
    from internals import sphere_directions

    for method in ("normal", "box-muller"):
        x = sphere_directions(getkey(), 50, 9, jnp.float64, method=method)
        assert x.dtype == jnp.float64
        np.testing.assert_allclose(np.linalg.norm(np.asarray(x), axis=1), 1.0, rtol=1e-14)


def test_sincos_matches_numpy(getkey):
    from internals import sincos

    x = np.concatenate([np.linspace(-50, 50, 100_001), [0.0, np.pi / 4, -np.pi / 2, 8000.5]])
    s, c = sincos(jnp.asarray(x, dtype=jnp.float32))
    x32 = x.astype(np.float32).astype(np.float64)  # compare at the float32 input
    np.testing.assert_allclose(np.asarray(s), np.sin(x32), atol=2.5e-7)
    np.testing.assert_allclose(np.asarray(c), np.cos(x32), atol=2.5e-7)
    with jax.enable_x64(True):
        x = np.concatenate([np.linspace(-1e3, 1e3, 100_001), [1e8 + 0.25]])
        s, c = sincos(jnp.asarray(x))
        assert s.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(s), np.sin(x), atol=4e-16 * max(1, 1e-8 * 1e8))
        np.testing.assert_allclose(np.asarray(c), np.cos(x), atol=4e-16 * max(1, 1e-8 * 1e8))


class _HalfDisk(pk.AbstractDomain):
    """The upper half of the unit disk, {|x| <= 1, x_2 >= 0}: a domain pinnkit does not ship,
    written as a user would, by its maps from the unit square."""

    dim = 2
    interior_coordinates = 2
    boundary_coordinates = 2

    def interior_from_unit(self, u):
        r, angle = jnp.sqrt(u[:, 0]), jnp.pi * u[:, 1]  # r^2 uniform: uniform in area
        return r[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)

    def boundary_from_unit(self, u):
        # The diameter (length 2) with probability 2 / (2 + pi), else the arc (length pi).
        on_diameter = u[:, :1] < 2 / (2 + jnp.pi)
        diameter = jnp.stack([2 * u[:, 1] - 1, jnp.zeros_like(u[:, 1])], axis=1)
        angle = jnp.pi * u[:, 1]
        arc = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
        return jnp.where(on_diameter, diameter, arc)

    def contains(self, x):
        return (jnp.linalg.norm(x, axis=-1) <= 1 + 1e-6) & (x[:, 1] >= -1e-6)


# The exact mean of x_2 and its standard deviation, over the half disk and over its boundary.
_HALF_DISK_MEAN = {"interior": 4 / (3 * np.pi), "boundary": 2 / (2 + np.pi)}
_HALF_DISK_STD = {
    "interior": np.sqrt(1 / 4 - (4 / (3 * np.pi)) ** 2),
    "boundary": np.sqrt(np.pi / 2 / (2 + np.pi) - (2 / (2 + np.pi)) ** 2),
}
_ANY_DOMAIN_SAMPLERS = {
    "uniform": pk.UniformSampler,
    "sobol": pk.SobolSampler,
    "halton": pk.HaltonSampler,
    "r3-sobol": lambda domain, where: pk.R3Sampler(pk.SobolSampler(domain, where)),
    "rar-halton": lambda domain, where: pk.RARSampler(
        pk.HaltonSampler(domain, where), pool_size=64, num_added=8
    ),
}


@pytest.mark.parametrize("where", ["interior", "boundary"])
@pytest.mark.parametrize("name", list(_ANY_DOMAIN_SAMPLERS))
def test_every_sampler_draws_a_user_domain_through_its_map(name, where, x64):
    """A domain defined here, unknown to pinnkit, sampled by every kind of sampler: the points
    lie in it (on its boundary for "boundary"). Over 8 keys the batch means of x_2 match the
    domain's exact mean: to about one standard error of n i.i.d. points for the uniform
    sampler, and to a tenth of one for the quasi-random samplers, whose evenness only the
    domain's map carries to the half disk (measured: at most 0.08 over 40 keys)."""
    domain, n = _HalfDisk(), 4096
    sampler = _ANY_DOMAIN_SAMPLERS[name](domain, where)
    assert sampler.dim == 2
    keys = jax.random.split(jax.random.key(0), 8)
    if isinstance(sampler, pk.AbstractAdaptiveSampler):
        # The population the adaptive sampler keeps, after one update with some residuals.
        state = sampler.init(keys[0], n)
        candidates = sampler.candidates(state, keys[1])
        residuals = jnp.sin(5 * candidates[:, 0])
        x = sampler.points(sampler.update(state, candidates, residuals, keys[2]))[None]
    else:
        x = jax.jit(jax.vmap(lambda key: sampler(key, n)))(keys)
    x = np.asarray(x)
    assert x.shape[1:] == (n, 2) and bool(jnp.all(jax.vmap(domain.contains)(jnp.asarray(x))))
    if where == "boundary":
        on_arc, on_diameter = np.isclose(np.linalg.norm(x, axis=2), 1.0), np.isclose(x[..., 1], 0)
        assert np.all(on_arc | on_diameter)
    if isinstance(sampler, pk.AbstractAdaptiveSampler):
        return  # an adaptive population leans towards large residuals: its mean is not exact
    standard_error = _HALF_DISK_STD[where] / np.sqrt(n)
    errors = (x[..., 1].mean(axis=1) - _HALF_DISK_MEAN[where]) / standard_error
    rms = float(np.sqrt(np.mean(errors**2)))
    if name == "uniform":
        assert rms < 2, errors  # 8 rms^2 is chi-square with 8 degrees: above 32 with p = 1e-4
    else:
        assert rms < 0.1, errors


class _UnitSquare(pk.AbstractDomain):
    """The unit square by the identity map: what a map is handed is what comes out."""

    dim = 2
    interior_coordinates = 2
    boundary_coordinates = 2

    def interior_from_unit(self, u):
        return u

    def boundary_from_unit(self, u):
        return u.at[:, 0].set(jnp.round(u[:, 0]))  # the edges x_1 = 0 and x_1 = 1

    def contains(self, x):
        return jnp.all((x >= 0) & (x <= 1), axis=-1)


def test_default_draw_hands_the_map_the_open_cube():
    """A user domain's i.i.d. points come from i.i.d. points of the open cube (0, 1)^k: the
    centres of float32 cells of width 2^-23, so a map may take logs or inverse CDFs."""
    x = pk.UniformSampler(_UnitSquare())(jax.random.key(0), 100_000)
    assert x.dtype == jnp.float32
    x = np.asarray(x, np.float64)
    assert 0 < x.min() and x.max() < 1
    np.testing.assert_array_equal(x * 2**23 % 1, 0.5)
    np.testing.assert_allclose(x.mean(axis=0), 0.5, atol=4 * np.sqrt(1 / 12 / len(x)))
    edge = pk.UniformSampler(_UnitSquare(), "boundary")(jax.random.key(1), 1000)
    assert set(np.unique(np.asarray(edge[:, 0]))) == {0.0, 1.0}


class _OldStyleDomain(pk.AbstractDomain):
    """A domain as written before domains owned their maps: direct draws only."""

    dim: int = 2

    def sample_interior(self, key, n):
        return jax.random.uniform(key, (n, 2))

    def sample_boundary(self, key, n):
        return jnp.zeros((n, 2))

    def contains(self, x):
        return jnp.ones(x.shape[:1], bool)


class _WrongShape(pk.AbstractDomain):
    dim = 2
    interior_coordinates = 2
    boundary_coordinates = 0  # wrong: the map reads coordinates

    def interior_from_unit(self, u):
        return u[:, :1]  # wrong: one coordinate per point in a 2-D domain

    def boundary_from_unit(self, u):
        return u

    def contains(self, x):
        return jnp.ones(x.shape[:1], bool)


def test_a_domain_without_maps_or_with_wrong_ones_is_refused():
    with pytest.raises(TypeError, match="interior_from_unit|interior_coordinates"):
        _OldStyleDomain()
    with rejects(r"_WrongShape.interior_from_unit must return shape \(n, dim\) = \(8, 2\)"):
        pk.SobolSampler(_WrongShape())(jax.random.key(0), 8)
    with rejects(r"_WrongShape.interior_from_unit must return shape"):
        pk.UniformSampler(_WrongShape())(jax.random.key(0), 8)
    with rejects("_WrongShape.boundary_coordinates must be an integer >= 1"):
        pk.HaltonSampler(_WrongShape(), "boundary")


def _uniform_cube(n, k, seed=0):
    return jax.random.uniform(jax.random.key(seed), (n, k), minval=1e-6, maxval=1 - 1e-6)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_sphere_from_unit_maps_the_cube_onto_the_uniform_sphere(dim):
    """Each of the three maps (angle, Archimedes' height and angle, Gaussian) puts every
    point on the sphere and gives the uniform law's moments: mean 0, E[x x^T] = R^2 I / d."""
    n, radius = 40_000, 2.0
    x = sphere_from_unit(_uniform_cube(n, sphere_coordinates(dim)), dim, radius)
    assert x.shape == (n, dim)
    np.testing.assert_allclose(jnp.linalg.norm(x, axis=-1), radius, rtol=1e-5)
    np.testing.assert_allclose(jnp.mean(x, axis=0), 0.0, atol=5 * radius / np.sqrt(n))
    second = (x.T @ x) / n
    np.testing.assert_allclose(second, radius**2 / dim * jnp.eye(dim), atol=0.05 * radius**2)


def test_ball_interior_from_unit_follows_its_radial_law():
    """P(|x| <= R/2) is 1/2 for radii uniform in [0, R] (the default) and 2^-d for the
    uniform law in the volume; the directions are isotropic either way."""
    n = 40_000
    for radial, expected in (("uniform", 1 / 2), ("volume", 1 / 8)):
        ball = pk.Ball(3, radius=2.0, radial=radial)
        x = ball.interior_from_unit(_uniform_cube(n, ball.interior_coordinates))
        r = jnp.linalg.norm(x, axis=-1)
        assert x.shape == (n, 3) and bool(jnp.all(r <= 2.0 * (1 + 1e-6)))
        inner = float(jnp.mean(r <= 1.0))
        assert abs(inner - expected) < 5 * np.sqrt(expected * (1 - expected) / n), radial
        np.testing.assert_allclose(jnp.mean(x, axis=0), 0.0, atol=0.05)
        np.testing.assert_allclose(jnp.mean(x / r[:, None], axis=0), 0.0, atol=0.03)


def test_ball_contains_its_own_sphere():
    ball = pk.Ball(3, radius=1.5)
    on = jnp.array([[1.5, 0.0, 0.0], [0.0, -1.5, 0.0]])
    assert bool(jnp.all(ball.contains(on)))
    assert not bool(jnp.any(ball.contains(on * 1.001)))


def test_box_boundary_from_unit_stays_on_the_boundary_in_the_dtype_of_u(x64):
    """Even at the top of u_0's range the face index stays in range, and a float32 u gives
    float32 points though JAX's default is float64."""
    box = pk.Box((0.0, -1.0, 2.0), (1.0, 3.0, 2.5))
    u = jnp.array([[1.0, 0.3, 0.6], [0.999, 0.5, 0.5], [0.0, 0.2, 0.9]], jnp.float32)
    x = box.boundary_from_unit(u)
    assert x.dtype == jnp.float32
    lo, hi = jnp.array(box.lower), jnp.array(box.upper)
    on_face = jnp.any(jnp.isclose(x, lo) | jnp.isclose(x, hi), axis=1)
    assert bool(jnp.all(on_face)) and bool(jnp.all(box.contains(x)))


def test_box_asks_for_dim_with_float_corners():
    with rejects("Box with float corners needs dim="):
        pk.Box(0.0, 1.0)
