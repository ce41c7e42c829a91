"""Geometric domains: where collocation points live."""

import abc
import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from .._types import Key, Points


class AbstractDomain(eqx.Module):
    """A region of $\\mathbb{R}^d$ with uniform samplers for its interior and boundary."""

    dim: eqx.AbstractVar[int]

    @abc.abstractmethod
    def sample_interior(self, key: Key, n: int) -> Points:
        """`n` points inside the domain, shape `(n, dim)`."""

    @abc.abstractmethod
    def sample_boundary(self, key: Key, n: int) -> Points:
        """`n` points on the boundary, shape `(n, dim)`."""

    @abc.abstractmethod
    def contains(self, x: Points) -> Bool[Array, " batch"]:
        """Whether each point lies in the closed domain (with a small tolerance)."""


def _check_dim(dim: int, name: str) -> None:
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"{name} needs an integer dimension >= 1, got {dim!r}")


# Cody–Waite splits of pi/2: the leading parts have few significant bits, so k * part is exact
# for the |k| allowed below, and x - k * pi/2 loses no accuracy.
_HALF_PI_SPLIT = {
    4: (1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8),
    8: (1.57079625129699707031, 7.54978941586159635335e-8, 5.39030285815811905290e-15),
}
# Taylor coefficients of sin(r)/r and cos(r) in r^2, highest first; on |r| <= pi/4 the first
# omitted term is below 2e-9 (float32, degrees 9 and 10) or 1e-19 (float64, 17 and 18).
_SIN_COEFFICIENTS = {
    4: tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(4, -1, -1)),
    8: tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(8, -1, -1)),
}
_COS_COEFFICIENTS = {
    4: tuple((-1) ** k / math.factorial(2 * k) for k in range(5, -1, -1)),
    8: tuple((-1) ** k / math.factorial(2 * k) for k in range(9, -1, -1)),
}


def _horner(coefficients: tuple[float, ...], z: Array) -> Array:
    result = jnp.full_like(z, coefficients[0])
    for c in coefficients[1:]:
        result = result * z + c
    return result


def sincos(x: Array) -> tuple[Array, Array]:
    r"""$\sin x$ and $\cos x$ together, with one range reduction and two short polynomials.

    $x = k \pi/2 + r$ with $|r| \le \pi/4$ (Cody–Waite: $\pi/2$ split into three parts),
    $\sin r$ and $\cos r$ from their Taylor polynomials (degrees 9/10 in float32, 17/18 in
    float64: the first omitted term is below the rounding error), then the quadrant $k \bmod 4$
    swaps and negates them. Only multiplies, adds and selects, which XLA vectorizes; on the
    CPU this is several times faster than `jnp.sin` and `jnp.cos`, which evaluate one
    element at a time and reduce the argument twice. Accurate to a few units in the last
    place for $|x| \le 8192$ in float32 and $|x| \le 10^9$ in float64; the error grows
    beyond.

    **Arguments:**

    - `x`: a floating-point array.

    **Returns:**

    A pair `(sin x, cos x)` of arrays shaped like `x`.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    size = 8 if x.dtype == jnp.float64 else 4
    k = jnp.round(x * (2 / math.pi))
    r = x
    for part in _HALF_PI_SPLIT[size]:
        r = r - k * part
    z = r * r
    s = r * _horner(_SIN_COEFFICIENTS[size], z)
    c = _horner(_COS_COEFFICIENTS[size], z)
    quadrant = k.astype(jnp.int32) & 3
    swap = (quadrant & 1) == 1
    sin_x = jnp.where(swap, c, s)
    cos_x = jnp.where(swap, s, c)
    sin_x = jnp.where(quadrant >= 2, -sin_x, sin_x)
    cos_x = jnp.where((quadrant == 1) | (quadrant == 2), -cos_x, cos_x)
    return sin_x, cos_x


def sphere_directions(
    key: Key,
    n: int,
    dim: int,
    dtype=None,
    *,
    scale: Array | float = 1.0,
    method: Literal["normal", "box-muller"] = "normal",
) -> Points:
    r"""`n` directions uniform on the unit sphere $S^{d-1}$, times `scale`: normalized Gaussians.

    A standard normal vector $g \in \mathbb{R}^d$ is isotropic, so $g / |g|$ is uniform on
    the sphere, exactly. Two constructions of $g$, equal in distribution:

    - `"normal"` (default): `jax.random.normal`, one uniform word and one inverse error
      function per coordinate.
    - `"box-muller"`: the normals in pairs $(\rho \cos\theta, \rho \sin\theta)$ with
      $\rho^2 = -2 \log U_1$ and $\theta = 2\pi U_2$ (Box and Muller, 1958), one `log`, one
      `sqrt` and one `sincos` per pair; $|g|^2$ is the sum of the $\rho^2$, so $g$ is not
      read again to normalize it.

    On a CPU both spend most of their time drawing the uniform bits (`threefry2x32`), the
    same number for both; a key from [`pinnkit.xla_threefry_key`][] draws them about 4 times
    as fast. docs/benchmarks.md has the measurements. The two give different
    numbers for the same key. The result is $g \cdot (\text{scale} / |g|)$, one pass.

    **Arguments:**

    - `key`: the PRNG key.
    - `n`: the number of directions.
    - `dim`: the dimension $d$.
    - `dtype`: the floating dtype (default: JAX's default float).
    - `scale`: multiplies each direction, e.g. radii of shape `(n, 1)` (default 1).
    - `method`: `"normal"` (default) or `"box-muller"`.

    **Returns:**

    An array of shape `(n, dim)` whose rows have norm `scale`.
    """
    dtype = jnp.dtype(dtype or jnp.result_type(float))
    if method == "normal":
        g = jax.random.normal(key, (n, dim), dtype=dtype)
        return g * (scale * jax.lax.rsqrt(jnp.sum(g * g, axis=-1, keepdims=True)))
    if method != "box-muller":
        raise ValueError(f"method must be 'normal' or 'box-muller', got {method!r}")
    pairs = (dim + 1) // 2
    u = jax.random.uniform(key, (2, n, pairs), dtype=dtype)
    rho_squared = -2 * jnp.log1p(-u[0])  # 1 - U is in (0, 1]: no log(0)
    sin_t, cos_t = sincos((2 * math.pi) * u[1])
    rho = jnp.sqrt(rho_squared)
    g = jnp.concatenate([rho * cos_t, rho * sin_t], axis=-1)
    if dim % 2:  # one normal too many was drawn (the last sine): leave it out of g and |g|
        g = g[:, :dim]
        rho_squared = rho_squared.at[:, -1].set(g[:, pairs - 1] ** 2)
    norm_squared = jnp.sum(rho_squared, axis=-1, keepdims=True)
    return g * (scale * jax.lax.rsqrt(norm_squared))


class Ball(AbstractDomain):
    r"""The ball $\{|x - c| \le R\}$ in $\mathbb{R}^d$.

    **Arguments:**

    - `dim`: the dimension $d$.
    - `radius`: $R$ (default 1).
    - `radial`: how interior radii are drawn: `"uniform"` ($r = R\,U$, uniform in radius, as in
      the STDE experiments; points concentrate near the centre in high dimension) or
      `"volume"` ($r = R\,U^{1/d}$, uniform in volume).
    """

    dim: int = eqx.field(static=True)
    radius: float = eqx.field(default=1.0, static=True)
    radial: Literal["uniform", "volume"] = eqx.field(default="uniform", static=True)

    def __check_init__(self):
        _check_dim(self.dim, "Ball")
        if self.radial not in ("uniform", "volume"):
            raise ValueError(f"Ball radial must be 'uniform' or 'volume', got {self.radial!r}")
        if self.radius <= 0:
            raise ValueError(f"Ball radius must be positive, got {self.radius}")

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kr, kd = jax.random.split(key)
        u = jax.random.uniform(kr, (n, 1))
        r = u if self.radial == "uniform" else u ** (1.0 / self.dim)
        return sphere_directions(kd, n, self.dim, u.dtype, scale=self.radius * r)

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return sphere_directions(key, n, self.dim, scale=self.radius)

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        return jnp.linalg.norm(x, axis=-1) <= self.radius * (1 + 1e-6)


class Sphere(AbstractDomain):
    """The sphere $\\{|x| = R\\}$ as a domain of its own (its interior is the surface)."""

    dim: int = eqx.field(static=True)
    radius: float = eqx.field(default=1.0, static=True)

    def __check_init__(self):
        _check_dim(self.dim, "Sphere")

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return sphere_directions(key, n, self.dim, scale=self.radius)

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        raise ValueError("a sphere has no boundary; sample its interior (the surface) instead")

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        return jnp.abs(jnp.linalg.norm(x, axis=-1) - self.radius) <= 1e-6 * self.radius


class Box(AbstractDomain):
    r"""The box $\prod_i [a_i, b_i]$.

    **Arguments:**

    - `lower`, `upper`: the corners, sequences of length $d$ (or floats with `dim` given).
    - `dim`: the dimension, needed only when the corners are floats.
    """

    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        lower: int | float | tuple[int | float, ...] | list[int | float] = 0.0,
        upper: int | float | tuple[int | float, ...] | list[int | float] = 1.0,
        dim: int | None = None,
    ):
        corners = [c for c in (lower, upper) if not isinstance(c, int | float)]
        if dim is None:
            if not corners:
                raise ValueError("Box with float corners needs dim=")
            dim = len(corners[0])
        _check_dim(dim, "Box")
        lower = (
            (float(lower),) * dim
            if isinstance(lower, int | float)
            else tuple(float(a) for a in lower)
        )
        upper = (
            (float(upper),) * dim
            if isinstance(upper, int | float)
            else tuple(float(b) for b in upper)
        )
        if len(lower) != len(upper) or not lower:
            raise ValueError(f"Box corners must have the same length >= 1, got {lower}, {upper}")
        if any(b <= a for a, b in zip(lower, upper, strict=True)):
            raise ValueError(f"Box needs lower < upper in every coordinate, got {lower}, {upper}")
        self.lower = lower
        self.upper = upper

    @property
    def dim(self) -> int:
        return len(self.lower)

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        lo, hi = jnp.asarray(self.lower), jnp.asarray(self.upper)
        return lo + (hi - lo) * jax.random.uniform(key, (n, self.dim))

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kx, kface, kside = jax.random.split(key, 3)
        lo, hi = jnp.asarray(self.lower), jnp.asarray(self.upper)
        x = lo + (hi - lo) * jax.random.uniform(kx, (n, self.dim))
        # Pick a face with probability proportional to its area.
        widths = hi - lo
        areas = jnp.prod(widths) / widths
        face = jax.random.choice(kface, self.dim, (n,), p=areas / jnp.sum(areas))
        side = jax.random.bernoulli(kside, 0.5, (n,))
        value = jnp.where(side, hi[face], lo[face])
        return x.at[jnp.arange(n), face].set(value)

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        lo, hi = jnp.asarray(self.lower), jnp.asarray(self.upper)
        tol = 1e-6 * (hi - lo)
        return jnp.all((x >= lo - tol) & (x <= hi + tol), axis=-1)


class Annulus(AbstractDomain):
    r"""The annulus (spherical shell) $\{R_1 \le |x| \le R_2\}$ in $\mathbb{R}^d$.

    Its boundary is both spheres, $|x| = R_1$ and $|x| = R_2$.

    **Arguments:**

    - `inner`: the inner radius $R_1 > 0$.
    - `outer`: the outer radius $R_2 > R_1$.
    - `dim`: the dimension $d$.
    - `radial`: how interior radii are drawn: `"uniform"` (default; $r = R_1 + (R_2 - R_1) U$,
      uniform in radius, as [`pinnkit.Ball`][] does) or `"volume"` (uniform in volume,
      $r^d$ uniform on $[R_1^d, R_2^d]$, computed as
      $r = R_2\,(\rho^d + (1 - \rho^d) U)^{1/d}$ with $\rho = R_1 / R_2$, which neither
      overflows nor underflows at large $d$). Directions are uniform on the sphere.
    - `boundary`: how boundary points are split between the spheres: `"equal"` (default;
      alternately inner and outer, so each sphere gets half of every batch) or `"area"`
      (each point on the inner sphere with probability $R_1^{d-1} / (R_1^{d-1} + R_2^{d-1})$,
      uniform over the whole boundary; at large $d$ almost every point is on the outer
      sphere).
    """

    inner: float = eqx.field(static=True)
    outer: float = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    radial: Literal["uniform", "volume"] = eqx.field(default="uniform", static=True)
    boundary: Literal["equal", "area"] = eqx.field(default="equal", static=True)

    def __init__(
        self,
        inner: float,
        outer: float,
        dim: int,
        radial: Literal["uniform", "volume"] = "uniform",
        boundary: Literal["equal", "area"] = "equal",
    ):
        self.inner = inner
        self.outer = outer
        self.dim = dim
        self.radial = radial
        self.boundary = boundary

    def __check_init__(self):
        _check_dim(self.dim, "Annulus")
        if not 0 < self.inner < self.outer:
            raise ValueError(
                f"Annulus needs 0 < inner < outer, got inner={self.inner}, outer={self.outer}"
            )
        if self.radial not in ("uniform", "volume"):
            raise ValueError(f"Annulus radial must be 'uniform' or 'volume', got {self.radial!r}")
        if self.boundary not in ("equal", "area"):
            raise ValueError(f"Annulus boundary must be 'equal' or 'area', got {self.boundary!r}")

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kr, kd = jax.random.split(key)
        u = jax.random.uniform(kr, (n, 1))
        if self.radial == "uniform":
            r = self.inner + (self.outer - self.inner) * u
        else:
            floor = (self.inner / self.outer) ** self.dim
            r = self.outer * (floor + (1.0 - floor) * u) ** (1.0 / self.dim)
        return r * sphere_directions(kd, n, self.dim, u.dtype)

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kd, ks = jax.random.split(key)
        directions = sphere_directions(kd, n, self.dim)
        if self.boundary == "equal":
            on_inner = jnp.arange(n) % 2 == 0
        else:
            # R1^(d-1) / (R1^(d-1) + R2^(d-1)) = 1 / (1 + (R2/R1)^(d-1)), without overflow.
            log_ratio = (self.dim - 1) * (jnp.log(self.outer) - jnp.log(self.inner))
            on_inner = jax.random.bernoulli(ks, jax.nn.sigmoid(-log_ratio), (n,))
        r = jnp.where(on_inner, self.inner, self.outer).astype(directions.dtype)
        return r[:, None] * directions

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        r = jnp.linalg.norm(x, axis=-1)
        return (r >= self.inner * (1 - 1e-6)) & (r <= self.outer * (1 + 1e-6))
