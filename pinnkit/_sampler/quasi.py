r"""Quasi-random samplers: randomized Sobol and Halton points for boxes, balls, spheres and
annuli.

A low-discrepancy sequence fills the unit cube $[0, 1)^k$ more evenly than independent
uniform draws, so a mean over its first $n$ points integrates smooth functions with an error
closer to $1/n$ than to $1/\sqrt{n}$. Each step's batch is *randomized* (so batches differ
from step to step and every point is exactly uniform: the mean of the loss over a batch is
an unbiased estimate of its mean over the domain), then mapped to the domain by a map that
carries the uniform measure on the cube to the uniform measure on the domain:

- **box**: $x = a + (b - a) \odot u$; its boundary: one coordinate picks a face with
  probability proportional to its area (and places nothing), the other $d - 1$ fill the face;
- **sphere** $|x| = R$: in $d = 2$ the angle $2\pi u_1$; in $d = 3$ the equal-area map of
  Archimedes, $x_3 = 1 - 2u_1$ and the angle $2\pi u_2$ around the axis (both use
  $d - 1$ coordinates and keep the sequence's evenness on the sphere); in other dimensions
  $g = \Phi^{-1}(u)$ coordinatewise (the inverse normal CDF, making $g$ a standard normal
  vector, which is isotropic) and $x = R\, g / |g|$, from $d$ coordinates;
- **ball** $|x| \le R$: the radius from one more coordinate $u_0$, $r = R\,u_0$ or
  $R\,u_0^{1/d}$ following the domain's `radial` setting (as [`pinnkit.Ball`][] draws it),
  times a direction from the sphere map;
- **annulus** $R_1 \le |x| \le R_2$: the radius by the inverse CDF of the domain's `radial`
  law from one coordinate $u_0$, $r = R_1 + (R_2 - R_1) u_0$ (`"uniform"`) or
  $r = R_2 (\rho^d + (1 - \rho^d) u_0)^{1/d}$, $\rho = R_1/R_2$ (`"volume"`), times a
  direction from the sphere map; its boundary: $u_0$ picks the sphere ($u_0 < p$: the inner
  one, $p = 1/2$ for `boundary="equal"`, the inner sphere's share of the area for `"area"`),
  the other coordinates the direction. With `"equal"` a Sobol batch of $2^m$ points and an
  even Halton batch have exactly half of their points on each sphere (the first coordinate
  is stratified into halves).

**Dimension limits.** The gain over i.i.d. sampling shrinks as the number of coordinates
$k$ grows: the error bounds behave like $(\log n)^k / n$, which beats $1/\sqrt{n}$ only for
$n$ astronomically large once $k$ is in the tens. Use these samplers for $k$ up to about
10–20 (typical space-time PINN problems); in hundreds or thousands of dimensions they are
still correct and unbiased but no better than [`pinnkit.UniformSampler`][]. Halton is the
weaker of the two beyond a few dimensions (its large prime bases correlate), and the
normal-CDF sphere map spreads a sequence's evenness less well than the $d \le 3$ maps.
"""

import functools
import math
import warnings
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from jaxtyping import Array, Float, UInt

from .._domain.domains import AbstractDomain, Annulus, Ball, Box, Sphere
from .._types import Key, Points
from .base import AbstractSampler


SOBOL_MAX_COORDINATES = 21201
"""Coordinates with Sobol direction numbers (the Joe–Kuo table that SciPy ships)."""

HALTON_MAX_COORDINATES = 1000
"""Coordinates a Halton sampler accepts (one prime base each; far past where it helps)."""

Where = Literal["interior", "boundary"]


# ---------------------------------------------------------------------------------------
# From the unit cube to the domains.


def _sphere_coordinates(dim: int) -> int:
    return dim - 1 if dim in (2, 3) else dim


def _to_sphere(u: Float[Array, "n k"], dim: int, radius: Array | float) -> Points:
    """Uniform points of $[0, 1)^k$ to uniform points on the sphere of `radius`."""
    if dim == 2:
        angle = (2 * math.pi) * u[:, 0]
        return radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    if dim == 3:
        height = 1.0 - 2.0 * u[:, 0]
        angle = (2 * math.pi) * u[:, 1]
        ring = jnp.sqrt(jnp.maximum(1.0 - height**2, 0.0))
        return radius * jnp.stack([ring * jnp.cos(angle), ring * jnp.sin(angle), height], axis=-1)
    g = ndtri(u)
    return g * (radius / jnp.linalg.norm(g, axis=-1, keepdims=True))


def _ball_radius(u0: Array, ball: Ball) -> Array:
    return ball.radius * (u0 if ball.radial == "uniform" else u0 ** (1.0 / ball.dim))


def _annulus_radius(u0: Array, annulus: Annulus) -> Array:
    """The inverse CDF of the annulus's radial law (as `Annulus.sample_interior` draws it)."""
    if annulus.radial == "uniform":
        return annulus.inner + (annulus.outer - annulus.inner) * u0
    floor = (annulus.inner / annulus.outer) ** annulus.dim  # underflows to 0 at large d: fine
    return annulus.outer * (floor + (1.0 - floor) * u0) ** (1.0 / annulus.dim)


def _annulus_inner_share(annulus: Annulus) -> float:
    """The probability of a boundary point on the inner sphere."""
    if annulus.boundary == "equal":
        return 0.5
    # R1^(d-1) / (R1^(d-1) + R2^(d-1)) = 1 / (1 + (R2/R1)^(d-1)), without overflow.
    log_ratio = (annulus.dim - 1) * (math.log(annulus.outer) - math.log(annulus.inner))
    return 0.0 if log_ratio > 700 else 1.0 / (1.0 + math.exp(log_ratio))


def _to_box_boundary(u: Float[Array, "n k"], box: Box) -> Points:
    lo, hi = jnp.asarray(box.lower, u.dtype), jnp.asarray(box.upper, u.dtype)
    d = box.dim
    widths = hi - lo
    # Faces in the order (axis 0 low, axis 0 high, axis 1 low, ...), each with its area.
    areas = jnp.repeat(jnp.prod(widths) / widths, 2)
    edges = jnp.cumsum(areas) / jnp.sum(areas)
    face = jnp.minimum(jnp.searchsorted(edges, u[:, 0], side="right"), 2 * d - 1)
    axis, high = face // 2, face % 2 == 1
    value = jnp.where(high, hi[axis], lo[axis])
    if d == 1:
        return value[:, None]
    # The other d - 1 coordinates fill the face's free axes in order, skipping `axis`.
    columns = jnp.arange(d)
    source = columns[None, :] - (columns[None, :] > axis[:, None])
    source = jnp.clip(source, 0, d - 2)
    x = lo + widths * jnp.take_along_axis(u[:, 1:], source, axis=1)
    return jnp.where(columns[None, :] == axis[:, None], value[:, None], x)


def _coordinates(domain: AbstractDomain, where: Where) -> int:
    """How many unit-cube coordinates the map to `domain` needs."""
    if isinstance(domain, Box):
        return domain.dim
    if isinstance(domain, Sphere) or (isinstance(domain, Ball) and where == "boundary"):
        return _sphere_coordinates(domain.dim)
    assert isinstance(domain, Ball | Annulus)
    return 1 + _sphere_coordinates(domain.dim)


def _to_domain(u: Float[Array, "n k"], domain: AbstractDomain, where: Where) -> Points:
    if isinstance(domain, Box):
        if where == "boundary":
            return _to_box_boundary(u, domain)
        lo, hi = jnp.asarray(domain.lower, u.dtype), jnp.asarray(domain.upper, u.dtype)
        return lo + (hi - lo) * u
    if isinstance(domain, Sphere):
        return _to_sphere(u, domain.dim, domain.radius)
    if isinstance(domain, Annulus):
        if where == "boundary":
            on_inner = u[:, :1] < _annulus_inner_share(domain)
            radius = jnp.where(on_inner, domain.inner, domain.outer).astype(u.dtype)
        else:
            radius = _annulus_radius(u[:, :1], domain)
        return _to_sphere(u[:, 1:], domain.dim, radius)
    assert isinstance(domain, Ball)
    if where == "boundary":
        return _to_sphere(u, domain.dim, domain.radius)
    radius = _ball_radius(u[:, :1], domain)
    return _to_sphere(u[:, 1:], domain.dim, radius)


def _check_domain(owner: str, domain: AbstractDomain, where: Where, limit: int) -> None:
    if not isinstance(domain, Box | Ball | Sphere | Annulus):
        raise ValueError(
            f"{owner} maps the unit cube onto a Box, Ball or Sphere (or an Annulus); got "
            f"{type(domain).__name__} (use UniformSampler for other domains)"
        )
    if where not in ("interior", "boundary"):
        raise ValueError(f"where must be 'interior' or 'boundary', got {where!r}")
    if isinstance(domain, Sphere) and where == "boundary":
        raise ValueError("a Sphere has no boundary; sample its interior (the surface) instead")
    k = _coordinates(domain, where)
    if k > limit:
        raise ValueError(
            f"{owner} supports at most {limit} coordinates; this domain needs {k} "
            f"(dim={domain.dim}, where={where!r}). In this many dimensions quasi-random points "
            "are no better than i.i.d. ones: use UniformSampler"
        )


def _float_dtype() -> jnp.dtype:
    return jnp.dtype(jnp.result_type(float))


# ---------------------------------------------------------------------------------------
# Sobol.


@functools.lru_cache(maxsize=16)
def _sobol_directions(coordinates: int, log2_length: int) -> np.ndarray:
    """Direction numbers $v_{k, j}$ (32-bit, first binary digit in the top bit) for
    $k < $ `log2_length` and $j < $ `coordinates`, shape `(log2_length, coordinates)`.

    Read off SciPy's unscrambled Sobol sequence (Joe–Kuo direction numbers): it visits the
    points in Gray-code order, and its point number $2^{k+1} - 1$ has Gray code $2^k$, so it
    *is* $v_k$. Fast-forwarding costs $O(2^{K} k)$ once per table, cached.
    """
    from scipy.stats import qmc

    engine = qmc.Sobol(coordinates, scramble=False, bits=32)
    table = np.empty((log2_length, coordinates), np.uint32)
    position = 0  # the index of the next point the engine returns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's note on n not a power of 2
        for k in range(log2_length):
            target = 2 ** (k + 1) - 1
            engine.fast_forward(target - position)
            table[k] = np.round(engine.random(1)[0] * 2.0**32).astype(np.uint32)
            position = target + 1
    table.flags.writeable = False
    return table


_DIGIT_BITS = np.array([1 << (31 - i) for i in range(32)], np.uint32)
"""Bit masks of the binary digits 1..32 of a 32-bit fraction, first digit first."""

_EARLIER_DIGITS = np.array([(2**32 - 2 ** (32 - i)) for i in range(32)], np.uint32)
"""For digit i, the masks of digits 0..i-1 (the bits above it)."""


def _scramble(directions: UInt[Array, "K k"], key: Key) -> UInt[Array, "K k"]:
    """A random linear matrix scramble: each coordinate's generator matrix is multiplied by
    a random lower-triangular binary matrix with a unit diagonal (Matoušek)."""
    k = directions.shape[1]
    random = jax.random.bits(key, (k, 32), dtype=jnp.uint32)
    rows = (random & _EARLIER_DIGITS) | _DIGIT_BITS  # row i: digits 0..i-1 random, digit i set
    # Output digit i of v is the parity of (row_i & v).
    bits = jax.lax.population_count(rows[None, :, :] & directions[:, :, None]) & 1
    return jnp.sum(bits * _DIGIT_BITS, axis=-1, dtype=jnp.uint32)


def _to_unit_interval(x: UInt[Array, "n k"], dtype: jnp.dtype) -> Float[Array, "n k"]:
    """Centre each 32-bit fraction in its cell, strictly inside (0, 1) in `dtype`."""
    if jnp.finfo(dtype).nmant >= 32:
        return (x.astype(dtype) + 0.5) * 2.0**-32
    top = x >> 9  # 23 bits: (top + 1/2) 2^-23 is exact in float32 and below 1
    return (top.astype(dtype) + 0.5) * 2.0**-23


class SobolSampler(AbstractSampler):
    r"""Randomized Sobol points in a box, a ball, an annulus or on a sphere.

    Each call draws one randomization of a block of the Sobol sequence: a random block of
    $2^m \ge n$ consecutive indices (a Sobol $(t, m, s)$-net), a random linear matrix
    scramble of every coordinate's generator matrix, and a random digital shift (Matoušek's
    affine scrambling, an "Owen-type" randomization that keeps the net property). Every point
    is uniform on the cube, so losses stay unbiased, and each step's batch differs. The
    points are then mapped to the domain (module notes of `pinnkit._sampler.quasi`). Powers
    of 2 are the best batch sizes.

    The points are generated in JAX from a table of direction numbers (Joe–Kuo, read once
    from SciPy's unscrambled sequence and cached), so sampling is jit-compiled with the step.

    **Arguments:**

    - `domain`: a [`pinnkit.Box`][], [`pinnkit.Ball`][], [`pinnkit.Annulus`][] or
      [`pinnkit.Sphere`][].
    - `where`: `"interior"` (default) or `"boundary"` (a Sphere has only its interior).
    - `log2_length`: the sequence has $2^K$ points, $K$ = `log2_length` (default 20): the
      largest batch, and the range of random block offsets.

    Raises `ValueError` for another domain, a bad `where`, more than 21,201 unit-cube
    coordinates, or (when called) a batch larger than $2^K$. In high dimensions
    quasi-random points bring nothing over i.i.d. ones (module notes).

    **Reference:** Sobol', "On the distribution of points in a cube and the approximate
    evaluation of integrals", USSR Comput. Math. Math. Phys. 7 (1967); Joe, Kuo,
    "Constructing Sobol sequences with better two-dimensional projections", SIAM J. Sci.
    Comput. 30 (2008); Matoušek, "On the L2-discrepancy for anchored boxes", J. Complexity 14
    (1998).
    """

    domain: AbstractDomain
    where: Where = eqx.field(static=True)
    log2_length: int = eqx.field(static=True)

    def __init__(self, domain: AbstractDomain, where: Where = "interior", log2_length: int = 20):
        _check_domain("SobolSampler", domain, where, SOBOL_MAX_COORDINATES)
        if not isinstance(log2_length, int) or not 1 <= log2_length <= 30:
            raise ValueError(f"log2_length must be an integer in [1, 30], got {log2_length!r}")
        self.domain = domain
        self.where = where
        self.log2_length = log2_length

    @property
    def dim(self) -> int:
        return self.domain.dim

    @property
    def coordinates(self) -> int:
        """The number of unit-cube coordinates mapped to one point of the domain."""
        return _coordinates(self.domain, self.where)

    def unit_cube(self, key: Key, n: int) -> Float[Array, "n k"]:
        """`n` randomized Sobol points in $(0, 1)^k$, $k$ = `coordinates`."""
        if n > 2**self.log2_length:
            raise ValueError(
                f"SobolSampler(log2_length={self.log2_length}) draws at most "
                f"2**{self.log2_length} = {2**self.log2_length} points per call, asked for {n}; "
                "raise log2_length"
            )
        K = self.log2_length
        directions = jnp.asarray(_sobol_directions(self.coordinates, K))
        block_key, scramble_key, shift_key = jax.random.split(key, 3)
        m = max(0, math.ceil(math.log2(max(n, 1))))
        block = jax.random.randint(block_key, (), 0, 2 ** (K - m), dtype=jnp.uint32)
        index = (block << m) + jnp.arange(n, dtype=jnp.uint32)
        directions = _scramble(directions, scramble_key)
        shift = jax.random.bits(shift_key, (self.coordinates,), dtype=jnp.uint32)

        def add_direction(k: Array, x: Array) -> Array:
            # Point i is the XOR of the directions v_k over the set bits k of i.
            bit = ((index >> k.astype(jnp.uint32)) & 1).astype(bool)
            return jnp.where(bit[:, None], x ^ directions[k], x)

        x = jax.lax.fori_loop(0, K, add_direction, jnp.broadcast_to(shift, (n, self.coordinates)))
        return _to_unit_interval(x, _float_dtype())

    def __call__(self, key: Key, batch: int) -> Points:
        return _to_domain(self.unit_cube(key, batch), self.domain, self.where)


# ---------------------------------------------------------------------------------------
# Halton.


@functools.lru_cache(maxsize=16)
def _primes(count: int) -> tuple[int, ...]:
    """The first `count` primes."""
    limit = max(16, int(count * (math.log(count + 1) + math.log(math.log(count + 3)) + 2)))
    sieve = np.ones(limit, bool)
    sieve[:2] = False
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    primes = np.flatnonzero(sieve)[:count]
    assert len(primes) == count
    return tuple(int(p) for p in primes)


_HALTON_INDEX_BITS = 30
"""Halton indices are below $2^{30}$ (a random start plus the batch)."""


class HaltonSampler(AbstractSampler):
    r"""Randomized Halton points in a box, a ball, an annulus or on a sphere.

    Coordinate $j$ of point $i$ is the radical inverse of $i$ in the $j$-th prime base $b$:
    the base-$b$ digits of $i$ mirrored behind the radix point. Each call starts at a random
    index below $2^{29}$ and adds an independent random digit modulo $b$ to every digit
    position of every coordinate (a random digital shift in base $b$, 30 digit positions), so
    every point is uniform on the cube up to the last digit (at most $2^{-30}$) and each
    step's batch differs. The points are then mapped to the domain (module notes of
    `pinnkit._sampler.quasi`). Prefer [`pinnkit.SobolSampler`][] beyond a few coordinates:
    Halton's large bases fill the cube slowly.

    **Arguments:**

    - `domain`: a [`pinnkit.Box`][], [`pinnkit.Ball`][], [`pinnkit.Annulus`][] or
      [`pinnkit.Sphere`][].
    - `where`: `"interior"` (default) or `"boundary"` (a Sphere has only its interior).

    Raises `ValueError` for another domain, a bad `where`, more than 1,000 unit-cube
    coordinates, or (when called) a batch of $2^{29}$ points or more.

    **Reference:** Halton, "On the efficiency of certain quasi-random sequences of points in
    evaluating multi-dimensional integrals", Numer. Math. 2 (1960); Wang, Hickernell,
    "Randomized Halton sequences", Math. Comput. Modelling 32 (2000).
    """

    domain: AbstractDomain
    where: Where = eqx.field(static=True)

    def __init__(self, domain: AbstractDomain, where: Where = "interior"):
        _check_domain("HaltonSampler", domain, where, HALTON_MAX_COORDINATES)
        self.domain = domain
        self.where = where

    @property
    def dim(self) -> int:
        return self.domain.dim

    @property
    def coordinates(self) -> int:
        """The number of unit-cube coordinates mapped to one point of the domain."""
        return _coordinates(self.domain, self.where)

    def unit_cube(self, key: Key, n: int) -> Float[Array, "n k"]:
        """`n` randomized Halton points in $(0, 1)^k$, $k$ = `coordinates`."""
        half = 2 ** (_HALTON_INDEX_BITS - 1)
        if n >= half:
            raise ValueError(f"HaltonSampler draws fewer than 2**29 points per call, asked for {n}")
        k = self.coordinates
        dtype = _float_dtype()
        bases = jnp.asarray(_primes(k), jnp.int32)
        start_key, shift_key = jax.random.split(key)
        start = jax.random.randint(start_key, (), 0, half, dtype=jnp.int32)
        index = jnp.broadcast_to((start + jnp.arange(n, dtype=jnp.int32))[:, None], (n, k))
        shifts = jax.random.randint(shift_key, (_HALTON_INDEX_BITS, k), 0, bases, dtype=jnp.int32)
        inverse = 1.0 / bases.astype(dtype)

        def add_digit(position: Array, carry: tuple[Array, Array, Array]):
            # Digit j of i, shifted, goes to the j-th place behind the radix point.
            index, u, place = carry
            digit = (index % bases + shifts[position]) % bases
            return index // bases, u + digit.astype(dtype) * place, place * inverse

        start_carry = (index, jnp.zeros((n, k), dtype), jnp.broadcast_to(inverse, (k,)))
        _, u, _ = jax.lax.fori_loop(0, _HALTON_INDEX_BITS, add_digit, start_carry)
        finfo = jnp.finfo(dtype)
        return jnp.clip(u, finfo.eps / 4, 1.0 - finfo.eps / 2)

    def __call__(self, key: Key, batch: int) -> Points:
        return _to_domain(self.unit_cube(key, batch), self.domain, self.where)
