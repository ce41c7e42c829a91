"""Quasi-random samplers: the Sobol generator and its randomization, lower discrepancy than
i.i.d. points, unbiased batches, and maps onto balls and spheres that keep uniformity."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rejects
from internals import sobol_directions, sphere_from_unit

import pinnkit as pk


SAMPLERS = {"sobol": pk.SobolSampler, "halton": pk.HaltonSampler}


def draw(sampler, key, n: int) -> np.ndarray:
    """`sampler(key, n)`, compiled (one compilation instead of many small ones)."""
    return np.asarray(jax.jit(sampler, static_argnums=1)(key, n))


def draws(sampler, keys, n: int) -> np.ndarray:
    """One batch per key, shape `(keys, n, dim)`, in one compilation."""
    return np.asarray(jax.jit(jax.vmap(lambda k: sampler(k, n)))(keys))


def test_directions_generate_scipys_sobol_points():
    """XOR-ing the direction numbers over the bits of i (natural order) gives the same
    2^m points as SciPy's Gray-code-ordered unscrambled sequence."""
    from scipy.stats import qmc

    d, m = 4, 8
    table = sobol_directions(d, m)
    index = np.arange(2**m, dtype=np.uint32)
    points = np.zeros((2**m, d), np.uint32)
    for k in range(m):
        points ^= np.where(((index >> k) & 1).astype(bool)[:, None], table[k], np.uint32(0))
    reference = qmc.Sobol(d, scramble=False, bits=32).random_base2(m) * 2.0**32
    assert set(map(tuple, points.tolist())) == set(map(tuple, reference.astype(np.int64).tolist()))


def test_scrambled_sobol_block_is_a_net(x64):
    """A batch of 2^m randomized Sobol points is a (0, m, 2)-net in its first two
    coordinates: every elementary box of volume 2^-m holds exactly one point. The random
    block, matrix scramble and digital shift all keep this."""
    m = 6
    sampler = pk.SobolSampler(pk.Box(0.0, 1.0, dim=3))
    for seed, u in enumerate(draws(sampler, jax.random.split(jax.random.key(0), 3), 2**m)):
        for a in range(m + 1):
            cells = np.floor(u[:, 0] * 2**a) * 2 ** (m - a) + np.floor(u[:, 1] * 2 ** (m - a))
            assert len(np.unique(cells)) == 2**m, (seed, a)
        # Each single coordinate is stratified into 2^m intervals.
        for j in range(3):
            assert len(np.unique(np.floor(u[:, j] * 2**m))) == 2**m


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_batches_differ_and_are_reproducible(name):
    sampler = SAMPLERS[name](pk.Ball(3))
    a = draw(sampler, jax.random.key(0), 64)
    b = draw(sampler, jax.random.key(0), 64)
    c = draw(sampler, jax.random.key(1), 64)
    assert a.shape == (64, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert float(jnp.min(jnp.abs(a - c).max(axis=1))) > 0


def _rmse_of_mean(sampler, f, exact, n, keys):
    draw = jax.jit(jax.vmap(lambda k: jnp.mean(jax.vmap(f)(sampler(k, n)))))
    estimates = np.asarray(draw(jax.random.split(jax.random.key(5), keys)))
    return float(np.sqrt(np.mean((estimates - exact) ** 2)))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_integration_error_far_below_iid(name, x64):
    """The mean of a smooth function over a batch: unbiased, and a much smaller error than
    with i.i.d. uniform points."""
    d, n = 3, 1024
    box = pk.Box(0.0, 1.0, dim=d)

    def f(x):
        return jnp.exp(jnp.mean(x))

    exact = (d * (np.exp(1 / d) - 1)) ** d
    quasi = _rmse_of_mean(SAMPLERS[name](box), f, exact, n, 64)
    iid = _rmse_of_mean(pk.UniformSampler(box), f, exact, n, 64)
    assert quasi < 0.1 * iid, (quasi, iid)


def _l2_star_discrepancy(u: np.ndarray) -> float:
    """Warnock's closed form of the L2 star discrepancy of points in [0, 1]^d."""
    n, d = u.shape
    first = 3.0**-d
    second = 2.0 ** (1 - d) / n * np.sum(np.prod(1 - u**2, axis=1))
    pair = np.prod(1 - np.maximum(u[:, None, :], u[None, :, :]), axis=2)
    return float(np.sqrt(first - second + np.sum(pair) / n**2))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_star_discrepancy_lower_than_iid(name, x64):
    d, n = 4, 256
    box = pk.Box(0.0, 1.0, dim=d)
    keys = jax.random.split(jax.random.key(2), 4)
    quasi = [_l2_star_discrepancy(u) for u in draws(SAMPLERS[name](box), keys, n)]
    iid = [_l2_star_discrepancy(u) for u in draws(pk.UniformSampler(box), keys, n)]
    assert max(quasi) < min(iid) and np.mean(quasi) < 0.6 * np.mean(iid), (quasi, iid)


def _sphere_moments(x: np.ndarray, radius: float) -> None:
    """Second and fourth moments of the uniform distribution on the sphere."""
    n, d = x.shape
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), radius, rtol=1e-9)
    second = x.T @ x / n
    np.testing.assert_allclose(second, radius**2 / d * np.eye(d), atol=2e-2 * radius**2)
    fourth = np.mean(x**4, axis=0)
    np.testing.assert_allclose(fourth, 3 * radius**4 / (d * (d + 2)), rtol=5e-2)
    np.testing.assert_allclose(np.mean(x, axis=0), 0.0, atol=2e-2 * radius)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_sphere_map_is_uniform_for_iid_input(dim, x64):
    """The map itself carries the uniform measure on the cube to the one on the sphere."""
    k = dim - 1 if dim in (2, 3) else dim
    u = jax.random.uniform(jax.random.key(0), (100_000, k))
    _sphere_moments(np.asarray(sphere_from_unit(u, dim, 2.0)), 2.0)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("dim", [2, 3, 5])
def test_sphere_moments(name, dim, x64):
    x = draw(SAMPLERS[name](pk.Sphere(dim, radius=1.5)), jax.random.key(0), 4096)
    _sphere_moments(x, 1.5)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("radial", ["uniform", "volume"])
@pytest.mark.parametrize("dim", [2, 4])
def test_ball_moments(name, radial, dim, x64):
    """E r^p for r = R U (radial "uniform") or R U^(1/d) ("volume"), isotropy of x x^T."""
    ball = pk.Ball(dim, radius=2.0, radial=radial)
    x = draw(SAMPLERS[name](ball), jax.random.key(1), 4096)
    r = np.linalg.norm(x, axis=1) / 2.0
    assert r.max() <= 1.0
    for p in (1, 2, 4):
        expected = 1 / (p + 1) if radial == "uniform" else dim / (dim + p)
        np.testing.assert_allclose(np.mean(r**p), expected, rtol=1e-2)
    covariance = x.T @ x / len(x)
    np.testing.assert_allclose(covariance, np.mean(r**2) * 4.0 / dim * np.eye(dim), atol=3e-2)
    # The ball's boundary is the sphere.
    _sphere_moments(draw(SAMPLERS[name](ball, "boundary"), jax.random.key(2), 4096), 2.0)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_box_boundary_faces_by_area(name, x64):
    box = pk.Box([0.0, -1.0, 0.0], [1.0, 1.0, 3.0])
    x = draw(SAMPLERS[name](box, "boundary"), jax.random.key(0), 4096)
    lo, hi = np.array(box.lower), np.array(box.upper)
    on = np.isclose(x, lo) | np.isclose(x, hi)
    assert np.all(on.sum(axis=1) >= 1) and bool(jnp.all(box.contains(jnp.asarray(x))))
    widths = hi - lo
    areas = 2 * np.prod(widths) / widths
    np.testing.assert_allclose(on.mean(axis=0), areas / areas.sum(), atol=1e-2)
    # On each face the free coordinates are uniform: their means are the face centres.
    for axis, side in itertools.product(range(3), (lo, hi)):
        face = np.isclose(x[:, axis], side[axis])
        free = [j for j in range(3) if j != axis]
        np.testing.assert_allclose(x[face][:, free].mean(axis=0), (lo + hi)[free] / 2, atol=0.06)


def test_float32_points_stay_inside_the_open_cube():
    for sampler in (pk.SobolSampler(pk.Sphere(4)), pk.HaltonSampler(pk.Sphere(4))):
        u = jax.jit(sampler.unit_cube, static_argnums=1)(jax.random.key(0), 2048)
        assert u.dtype == jnp.float32 and bool(jnp.all((u > 0) & (u < 1)))
        assert bool(jnp.all(jnp.isfinite(draw(sampler, jax.random.key(0), 2048))))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_bad_inputs(name):
    make = SAMPLERS[name]
    with rejects("has no boundary"):
        make(pk.Sphere(3), "boundary")
    with rejects("'interior' or 'boundary'"):
        make(pk.Ball(3), "surface")  # type: ignore[arg-type]
    with rejects("no better than i.i.d."):
        make(pk.Box(0.0, 1.0, dim=30_000))
    if name == "sobol":
        with rejects("raise log2_length"):
            pk.SobolSampler(pk.Ball(2), log2_length=4)(jax.random.key(0), 17)
        with rejects("log2_length must be"):
            pk.SobolSampler(pk.Ball(2), log2_length=40)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("radial, dim", [("uniform", 3), ("volume", 5)])
def test_annulus_interior_radii_follow_the_radial_law(name, radial, dim, x64):
    """Radii in [1, 2], distributed by the annulus's radial law (uniform in radius, or in
    volume), with a quasi-random evenness i.i.d. draws do not have; isotropic directions."""
    annulus = pk.Annulus(1.0, 2.0, dim, radial=radial)
    n = 4096
    x = draw(SAMPLERS[name](annulus), jax.random.key(3), n)
    r = np.linalg.norm(x, axis=1)
    assert r.min() >= 1.0 - 1e-12 and r.max() <= 2.0 + 1e-12
    assert bool(jnp.all(annulus.contains(jnp.asarray(x))))
    # The radial CDF maps the radii to U(0, 1): their empirical CDF is within a few 1/n of
    # the diagonal (i.i.d. radii stray by about 1/sqrt(n) = 0.016).
    cdf = r - 1.0 if radial == "uniform" else (r**dim - 1.0) / (2.0**dim - 1.0)
    grid = (np.arange(n) + 0.5) / n
    assert np.abs(np.sort(cdf) - grid).max() < 4e-3
    directions = x / r[:, None]
    np.testing.assert_allclose(directions.T @ directions / n, np.eye(dim) / dim, atol=1.5e-2)
    np.testing.assert_allclose(directions.mean(axis=0), 0.0, atol=2e-2)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("boundary, dim", [("equal", 5), ("area", 2)])
def test_annulus_boundary_splits_the_spheres(name, boundary, dim, x64):
    annulus = pk.Annulus(1.0, 2.0, dim, boundary=boundary)
    n = 4096
    x = draw(SAMPLERS[name](annulus, "boundary"), jax.random.key(4), n)
    r = np.linalg.norm(x, axis=1)
    inner, outer = np.isclose(r, 1.0, rtol=1e-9), np.isclose(r, 2.0, rtol=1e-9)
    assert np.all(inner | outer)
    if boundary == "equal":
        assert inner.sum() == n // 2  # a batch of 2^m points: exactly half on each sphere
    else:  # by area: circumferences 2 pi : 4 pi
        assert abs(inner.mean() - 1 / 3) < 2e-3
    for on, radius in ((inner, 1.0), (outer, 2.0)):
        _sphere_moments(x[on], radius)


def _sobol_integers(sampler, keys, n: int) -> np.ndarray:
    """The 32-bit Sobol fractions behind the points (exact in float64: `(x + 1/2) 2^-32`)."""
    return np.floor(draws(sampler, keys, n) * 2.0**32).astype(np.uint64)


def test_sobol_scramble_changes_the_net_not_only_its_offset(x64):
    """With the whole sequence in one batch the block is fixed, so only the randomization can
    make two keys differ. A digital shift alone XORs every point with one offset, which keeps
    the XOR of any two points; the matrix scramble changes those too."""
    sampler = pk.SobolSampler(pk.Box(0.0, 1.0, dim=2), log2_length=4)
    x = _sobol_integers(sampler, jax.random.split(jax.random.key(0), 6), 16)
    differences = [frozenset(map(tuple, (block ^ block[0]).tolist())) for block in x]
    offsets = [frozenset(map(tuple, block.tolist())) for block in x]
    assert len(set(differences)) == len(differences), "the scramble should vary with the key"
    assert len(set(offsets)) == len(offsets), "the randomization should vary with the key"


def test_sobol_single_point_is_uniform_across_keys(x64):
    """One point of a short sequence, over many keys: uniform on the cube. Without the
    digital shift the scrambled point of index 0 would sit at the origin (a quarter of the
    draws here) and the rest in the upper half."""
    from scipy.stats import kstest

    sampler = pk.SobolSampler(pk.Box(0.0, 1.0, dim=2), log2_length=2)
    u = draws(sampler, jax.random.split(jax.random.key(1), 2000), 1)[:, 0, :]
    for j in range(2):
        assert kstest(u[:, j], "uniform").pvalue > 1e-3, j


def test_halton_shift_fills_every_digit(x64):
    """Each Halton point is uniform down to the last of its 30 digits: below the digits that
    the index (< 2^29) itself has, 19 in base 3 and 13 in base 5, the random digital shift
    fills the rest, so the position of a point inside its finest index cell is uniform."""
    from scipy.stats import kstest

    sampler = pk.HaltonSampler(pk.Box(0.0, 1.0, dim=3))
    u = draws(sampler, jax.random.split(jax.random.key(2), 2000), 1)[:, 0, :]
    for j, base, digits in ((1, 3, 19), (2, 5, 13)):
        assert base**digits >= 2**29 > base ** (digits - 1)
        inside = np.mod(u[:, j] * float(base) ** digits, 1.0)
        assert kstest(inside, "uniform").pvalue > 1e-3, (base, inside[:5])
