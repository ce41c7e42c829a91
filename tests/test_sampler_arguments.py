"""Argument checks of the samplers, at their boundaries: the message names the argument and
the value, and the smallest valid value is accepted."""

import math

import jax
import jax.numpy as jnp
import pytest
from helpers import assert_close, rejects
from internals import to_unit_interval

import pinnkit as pk


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(space_dim=0, t1=1.0), "space_dim must be a positive integer, got 0"),
        (dict(space_dim=2.0, t1=1.0), "space_dim must be a positive integer, got 2.0"),
        (dict(space_dim=2, t1=1.0, t0=-0.5), "t0 must be >= 0, got -0.5"),
        (dict(space_dim=2, t1=1.0, time=-1.0), "time must be >= 0, got -1.0"),
        (dict(space_dim=2, t1=1.0, origin=jnp.zeros(3)), r"shape \(2,\), got \(3,\)"),
    ],
)
def test_brownian_rejects_bad_arguments(kwargs, match):
    with rejects(match):
        pk.Brownian(**kwargs)


def test_brownian_accepts_the_smallest_valid_values():
    brownian = pk.Brownian(1, 1.0, t0=0.0, time=0.0, origin=jnp.zeros(1))
    assert brownian.dim == 2 and brownian.time == 0.0


def test_cylinder_names_a_space_that_is_not_a_sampler():
    from helpers import no_typecheck

    with no_typecheck(), pytest.raises(TypeError, match="AbstractSampler, got Ball"):
        pk.CylinderSampler(pk.Ball(2), 0.0, 1.0)  # type: ignore[arg-type]


class _Drifting(pk.AbstractParabolicPDE):
    """dX = (a + b t) dt + c dW from x0: Euler's mean is x0 + a t + b t^2 (1 - 1/N) / 2
    (left-point times), its variance c^2 t, both exact."""

    dim: int = 2
    T: float = 2.0

    def drift(self, t, x):
        return jnp.array([0.5, -1.0]) + 3.0 * t

    def diffusion(self, t, x):
        return 0.7

    def terminal(self, x):
        return jnp.sum(x)

    def origin(self):
        return jnp.array([1.0, 2.0])


class _Geometric(pk.AbstractParabolicPDE):
    """dX = s X dW (diagonal, state-dependent): Euler multiplies by (1 + s dW) per step, so
    E X = x0 and E X^2 = x0^2 (1 + s^2 h)^N, not the exact x0^2 e^{s^2 t}."""

    dim: int = 2
    T: float = 1.0

    def diffusion(self, t, x):
        return 0.8 * x

    def terminal(self, x):
        return jnp.sum(x**2)

    def origin(self):
        return jnp.array([1.0, -0.5])


def _within(samples, expected, spread, sigmas=5.0):
    error = jnp.abs(jnp.mean(samples, axis=0) - expected)
    bound = sigmas * spread / jnp.sqrt(samples.shape[0])
    assert bool(jnp.all(error < bound)), (error, bound)


def test_sde_paths_are_euler_steps_with_a_drift_of_time():
    n, steps, t = 40_000, 4, 2.0
    points = pk.SDEPaths(_Drifting(), time=t, steps=steps)(jax.random.key(0), n)
    assert points.shape == (n, 3) and bool(jnp.all(points[:, -1] == t))
    x = points[:, :-1]
    mean = jnp.array([1.0, 2.0]) + jnp.array([0.5, -1.0]) * t + 3.0 * t**2 * (1 - 1 / steps) / 2
    _within(x, mean, 0.7 * math.sqrt(t))
    variance = jnp.var(x, axis=0)
    assert bool(jnp.all(jnp.abs(variance / (0.49 * t) - 1) < 0.03)), variance


def test_sde_paths_follow_a_state_dependent_diffusion():
    n, steps, t = 40_000, 2, 1.0
    points = pk.SDEPaths(_Geometric(), time=t, steps=steps)(jax.random.key(1), n)
    x = points[:, :-1]
    x0 = jnp.array([1.0, -0.5])
    second = x0**2 * (1 + 0.64 * t / steps) ** steps  # 1.7424 x0^2; exact e^0.64 = 1.896
    _within(x, x0, jnp.sqrt(second - x0**2))
    # E X^4 = x0^4 (1 + 6 s^2 h + 3 s^4 h^2)^N gives the spread of X^2: 2.72 x0^2, so five
    # standard errors (0.068 x0^2) separate Euler's 1.742 x0^2 from the exact 1.896 x0^2.
    fourth = x0**4 * (1 + 6 * 0.64 * t / steps + 3 * (0.64 * t / steps) ** 2) ** steps
    _within(x**2, second, jnp.sqrt(fourth - second**2))


def test_sde_paths_draw_times_uniformly_and_start_at_the_origin():
    sampler = pk.SDEPaths(_Drifting(), steps=3)
    assert sampler.dim == 3 and sampler.time is None
    points = sampler(jax.random.key(2), 20_000)
    t = points[:, -1]
    assert bool(jnp.all((t >= 0) & (t <= 2.0)))
    _within(t, 1.0, 2.0 / math.sqrt(12))
    assert float(jnp.min(t)) < 0.01 and float(jnp.max(t)) > 1.99
    at_start = pk.SDEPaths(_Drifting(), time=0.0)(jax.random.key(3), 8)
    assert_close(at_start[:, :-1], jnp.broadcast_to(jnp.array([1.0, 2.0]), (8, 2)))
    # Points of one key differ from those of another, and are the same for the same key.
    again = sampler(jax.random.key(2), 20_000)
    assert bool(jnp.all(again == points))
    assert not bool(jnp.any(sampler(jax.random.key(4), 20_000)[:, 0] == points[:, 0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps must be an integer >= 1, got 0"),
        (dict(steps=1.5), "steps must be an integer >= 1, got 1.5"),
        (dict(time=-0.1), r"time must lie in \[0, T = 2.0\], got -0.1"),
        (dict(time=2.5), r"time must lie in \[0, T = 2.0\], got 2.5"),
    ],
)
def test_sde_paths_reject_bad_arguments(kwargs, match):
    with rejects(match):
        pk.SDEPaths(_Drifting(), **kwargs)
    accepted = pk.SDEPaths(_Drifting(), time=2.0, steps=1)
    assert accepted.time == 2.0 and accepted.steps == 1


@pytest.mark.parametrize(
    "sampler, limit", [(pk.HaltonSampler, 1000), (pk.SobolSampler, 21201)], ids=["halton", "sobol"]
)
def test_quasi_samplers_name_themselves_when_a_domain_is_too_large(sampler, limit):
    box = pk.Box(0.0, 1.0, dim=limit + 1)
    with rejects(f"{sampler.__name__} supports at most {limit} coordinates; this domain needs"):
        sampler(box)
    with rejects("are no better than i.i.d. ones: use UniformSampler"):
        sampler(box)


def test_halton_points_stay_inside_the_open_cube_where_float32_rounds_to_one():
    """2^25 consecutive indices hold one whose first 25 shifted binary digits are all ones:
    its first coordinate, 1 - 2^-25 + ..., rounds to 1.0 in float32, and the sampler must
    still return a point below 1 (and above 0) for the maps to the domain."""
    sampler = pk.HaltonSampler(pk.Box(0.0, 1.0, dim=1))
    u = sampler.unit_cube(jax.random.key(0), 2**25)
    assert u.dtype == jnp.float32
    assert 0.0 < float(jnp.min(u)) and float(jnp.max(u)) < 1.0


def test_halton_refuses_2_to_the_29_points_before_any_work():
    """The limit is checked on the Python count, so tracing alone (no memory for 2^29 points)
    shows where it lies: 2^29 - 1 points trace, 2^29 are refused."""
    sampler = pk.HaltonSampler(pk.Box(0.0, 1.0, dim=1))
    shape = jax.eval_shape(lambda key: sampler.unit_cube(key, 2**29 - 1), jax.random.key(0))
    assert shape.shape == (2**29 - 1, 1)
    with rejects("fewer than 2\\*\\*29 points per call, asked for 536870912"):
        jax.eval_shape(lambda key: sampler.unit_cube(key, 2**29), jax.random.key(0))


def test_sobol_takes_log2_length_from_1_to_30_inclusive():
    box = pk.Box(0.0, 1.0, dim=2)
    for good in (1, 30):
        assert pk.SobolSampler(box, log2_length=good).log2_length == good
    assert pk.SobolSampler(box, log2_length=1)(jax.random.key(0), 2).shape == (2, 2)
    for bad in (0, 31, 2.0):
        with rejects(f"log2_length must be an integer in \\[1, 30\\], got {bad!r}"):
            pk.SobolSampler(box, log2_length=bad)  # pyright: ignore[reportArgumentType]


def test_sobol_bits_map_to_cell_midpoints_strictly_inside_the_unit_interval():
    """32-bit fractions to float32: the top 23 bits, centred in their cell, so the extreme
    words give 2^-24 and 1 - 2^-24 (exact in float32), never 0 or 1."""
    words = jnp.array([[0, 2**9 - 1, 2**9, 2**32 - 1]], jnp.uint32)
    u = to_unit_interval(words, jnp.dtype(jnp.float32))
    expected = jnp.array([[2.0**-24, 2.0**-24, 3 * 2.0**-24, 1 - 2.0**-24]], jnp.float32)
    assert bool(jnp.all(u == expected)), u


def test_sobol_shifts_each_coordinate_by_its_own_random_word():
    """With log2_length=1 the sequence is two points and the first is index 0, whose
    unshifted value is 0 in every coordinate: what it shows is the digital shift alone,
    which must differ between coordinates and between keys."""
    sampler = pk.SobolSampler(pk.Box(0.0, 1.0, dim=4), log2_length=1)
    firsts = jnp.stack([sampler.unit_cube(jax.random.key(k), 2)[0] for k in range(20)])
    for point in firsts:
        assert len(set(point.tolist())) == 4, point
    assert len({float(u) for u in firsts[:, 0]}) == 20
    assert abs(float(jnp.mean(firsts)) - 0.5) < 5 * (12 * 80) ** -0.5


def test_rar_takes_num_added_up_to_its_buffer_of_added_points():
    """fraction 0.5 of n = 20 holds 10 added points: num_added = 10 fits, 11 does not."""
    base = pk.UniformSampler(pk.Box(0.0, 1.0, dim=2))
    state = pk.RARSampler(base, pool_size=20, num_added=10).init(jax.random.key(0), 20)
    assert state.population.shape == (20, 2)
    with rejects("num_added=11 exceeds the buffer of 10 added points"):
        pk.RARSampler(base, pool_size=20, num_added=11).init(jax.random.key(0), 20)
