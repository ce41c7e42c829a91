r"""Quasi-random samplers: randomized Sobol and Halton points on any domain.

A low-discrepancy sequence fills the unit cube $[0, 1)^k$ more evenly than independent
uniform draws, so a mean over its first $n$ points integrates smooth functions with an error
closer to $1/n$ than to $1/\sqrt{n}$. Each step's batch is *randomized* (so batches differ
from step to step and every point is exactly uniform: the mean of the loss over a batch is
an unbiased estimate of its mean over the domain), then mapped to the domain by the
domain's own map from the unit cube,
[`interior_from_unit`][pinnkit.AbstractDomain.interior_from_unit] or
[`boundary_from_unit`][pinnkit.AbstractDomain.boundary_from_unit], with $k$ its
`interior_coordinates` or `boundary_coordinates`; so they work on every domain, a user's
own included. Each built-in domain documents its map: a box scales the cube; spheres use
the angle ($d = 2$), Archimedes' equal-area map ($d = 3$) or normalized inverse-normal-CDF
vectors; balls and annuli add one coordinate for the radius, following their `radial` law.

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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, UInt

from .._domain.domains import AbstractDomain, Where, from_unit, unit_coordinates
from .._types import Key, Points
from .base import AbstractSampler


SOBOL_MAX_COORDINATES = 21201
"""Coordinates with Sobol direction numbers (the Joe–Kuo table that SciPy ships)."""

HALTON_MAX_COORDINATES = 1000
"""Coordinates a Halton sampler accepts (one prime base each; far past where it helps)."""


def _check_domain(owner: str, domain: AbstractDomain, where: Where, limit: int) -> None:
    if where not in ("interior", "boundary"):
        raise ValueError(f"where must be 'interior' or 'boundary', got {where!r}")
    k = unit_coordinates(domain, where)
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
    r"""Randomized Sobol points on any domain.

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

    - `domain`: any [`pinnkit.AbstractDomain`][], e.g. a [`pinnkit.Box`][],
      [`pinnkit.Ball`][], [`pinnkit.Annulus`][] or [`pinnkit.Sphere`][]; its
      `interior_from_unit` or `boundary_from_unit` maps the points to it.
    - `where`: `"interior"` (default) or `"boundary"` (a Sphere has only its interior).
    - `log2_length`: the sequence has $2^K$ points, $K$ = `log2_length` (default 20): the
      largest batch, and the range of random block offsets.

    Raises `ValueError` for a bad `where`, a domain without that part (a sphere's
    boundary), more than 21,201 unit-cube coordinates, or (when called) a batch larger than
    $2^K$. In high dimensions quasi-random points bring nothing over i.i.d. ones (module
    notes).

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
        return unit_coordinates(self.domain, self.where)

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
        return from_unit(self.domain, self.unit_cube(key, batch), self.where)


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
    r"""Randomized Halton points on any domain.

    Coordinate $j$ of point $i$ is the radical inverse of $i$ in the $j$-th prime base $b$:
    the base-$b$ digits of $i$ mirrored behind the radix point. Each call starts at a random
    index below $2^{29}$ and adds an independent random digit modulo $b$ to every digit
    position of every coordinate (a random digital shift in base $b$, 30 digit positions), so
    every point is uniform on the cube up to the last digit (at most $2^{-30}$) and each
    step's batch differs. The points are then mapped to the domain (module notes of
    `pinnkit._sampler.quasi`). Prefer [`pinnkit.SobolSampler`][] beyond a few coordinates:
    Halton's large bases fill the cube slowly.

    **Arguments:**

    - `domain`: any [`pinnkit.AbstractDomain`][], e.g. a [`pinnkit.Box`][],
      [`pinnkit.Ball`][], [`pinnkit.Annulus`][] or [`pinnkit.Sphere`][]; its
      `interior_from_unit` or `boundary_from_unit` maps the points to it.
    - `where`: `"interior"` (default) or `"boundary"` (a Sphere has only its interior).

    Raises `ValueError` for a bad `where`, a domain without that part (a sphere's
    boundary), more than 1,000 unit-cube coordinates, or (when called) a batch of $2^{29}$
    points or more.

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
        return unit_coordinates(self.domain, self.where)

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
        return from_unit(self.domain, self.unit_cube(key, batch), self.where)
