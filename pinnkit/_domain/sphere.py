r"""Points on spheres: uniform directions from normal draws, and from the unit cube."""

import math
from typing import Literal

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri
from jaxtyping import Array, Float

from .._types import Key, Points


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


def sphere_coordinates(dim: int) -> int:
    """How many unit-cube coordinates `sphere_from_unit` maps to one point of $S^{d-1}$."""
    return dim - 1 if dim in (2, 3) else dim


def sphere_from_unit(u: Float[Array, "n k"], dim: int, radius: Array | float) -> Points:
    r"""Uniform points of $(0, 1)^k$ to uniform points on the sphere $|x| = $ `radius` in
    $\mathbb{R}^d$, $k$ = `sphere_coordinates(dim)`.

    In $d = 2$ the angle $2\pi u_1$; in $d = 3$ the equal-area map of Archimedes,
    $x_3 = 1 - 2u_1$ and the angle $2\pi u_2$ around the axis (both keep the evenness of a
    low-discrepancy sequence on the sphere); in other dimensions $g = \Phi^{-1}(u)$
    coordinatewise (the inverse normal CDF: $g$ is a standard normal vector, which is
    isotropic) and $x = R\, g / |g|$. `radius` may be an array of shape `(n, 1)`.
    """
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
