r"""Geometric domains: where collocation points live, and the law by which they are drawn.

A domain owns its sampling law as maps from the unit cube to its interior and its boundary.
[`pinnkit.SobolSampler`][] and [`pinnkit.HaltonSampler`][] map randomized low-discrepancy
points through them, [`pinnkit.UniformSampler`][] i.i.d. points (unless the domain has a
direct draw of its own, as the built-in ones do), and the adaptive samplers draw through
their base sampler: every sampler works on every domain.
"""

import abc
import math
import numbers
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from .._types import Key, Points
from .sphere import (
    sincos as sincos,
    sphere_coordinates,
    sphere_directions as sphere_directions,
    sphere_from_unit,
)


Where = Literal["interior", "boundary"]
"""Which part of a domain a sampler draws from."""


class AbstractDomain(eqx.Module):
    r"""A region of $\mathbb{R}^d$, with the law of its points given as maps from the unit cube.

    A domain says how its points are drawn by two maps: `interior_from_unit` carries points
    $u$ of the open unit cube $(0, 1)^k$, $k$ = `interior_coordinates`, to points of the
    interior, and `boundary_from_unit` (with `boundary_coordinates`) does the same for the
    boundary. For $u$ uniform on the cube the image must follow the domain's law: uniform on
    the region unless the domain documents another (such as [`pinnkit.Ball`][]'s default,
    uniform in radius).

    Every sampler draws through these maps, so every sampler works on every domain, a new one
    included: [`pinnkit.SobolSampler`][] and [`pinnkit.HaltonSampler`][] map randomized
    low-discrepancy points (whose evenness a smooth map with few coordinates carries over to
    the domain), and [`pinnkit.UniformSampler`][] calls
    [`sample_interior`][pinnkit.AbstractDomain.sample_interior] or
    [`sample_boundary`][pinnkit.AbstractDomain.sample_boundary], which map i.i.d. uniform
    points. The built-in domains replace those two by direct draws of the same law, which
    give the numbers pinnkit's published results were computed with.

    **To add a domain**, subclass this and provide `dim`, `interior_coordinates` and
    `boundary_coordinates` (fields, properties or class attributes), `interior_from_unit`,
    `boundary_from_unit` and `contains`. A domain without a boundary raises `ValueError`
    from `boundary_coordinates`, which a sampler reads when it is built. A domain written
    before domains had maps (with only `dim`, `sample_interior`, `sample_boundary` and
    `contains`) needs the four map members added; its own `sample_interior` and
    `sample_boundary` keep serving [`pinnkit.UniformSampler`][].
    """

    dim: eqx.AbstractVar[int]
    interior_coordinates: eqx.AbstractVar[int]
    boundary_coordinates: eqx.AbstractVar[int]

    @abc.abstractmethod
    def interior_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""Map points of the unit cube to points of the interior.

        **Arguments:**

        - `u`: points of $(0, 1)^k$, $k$ = `interior_coordinates`, shape `(n, k)`.

        **Returns:**

        Points of the interior, shape `(n, dim)`, in the dtype of `u`; they follow the
        domain's law when `u` is uniform on the cube.
        """

    @abc.abstractmethod
    def boundary_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""Map points of the unit cube to points of the boundary.

        **Arguments:**

        - `u`: points of $(0, 1)^k$, $k$ = `boundary_coordinates`, shape `(n, k)`.

        **Returns:**

        Points of the boundary, shape `(n, dim)`, in the dtype of `u`; they follow the
        domain's boundary law when `u` is uniform on the cube.
        """

    @abc.abstractmethod
    def contains(self, x: Points) -> Bool[Array, " batch"]:
        """Whether each point lies in the closed domain (with a small tolerance)."""

    def sample_interior(self, key: Key, n: int) -> Points:
        """`n` i.i.d. points of the interior, shape `(n, dim)`.

        By default `interior_from_unit` of `n` i.i.d. uniform points of $(0, 1)^k$ (each
        coordinate at the centre of one of the $2^{23}$ (float32) or $2^{52}$ (float64)
        equal cells of the unit interval, so never 0 or 1).
        """
        return from_unit(self, unit_uniform(key, n, unit_coordinates(self, "interior")), "interior")

    def sample_boundary(self, key: Key, n: int) -> Points:
        """`n` i.i.d. points of the boundary, shape `(n, dim)`.

        By default `boundary_from_unit` of `n` i.i.d. uniform points of $(0, 1)^k$, drawn as
        for [`sample_interior`][pinnkit.AbstractDomain.sample_interior].
        """
        return from_unit(self, unit_uniform(key, n, unit_coordinates(self, "boundary")), "boundary")


def unit_uniform(key: Key, n: int, k: int) -> Float[Array, "n k"]:
    """`n` i.i.d. uniform points of the open cube $(0, 1)^k$ in JAX's default float dtype:
    `jax.random.uniform`'s grid moved by half a cell."""
    dtype = jnp.dtype(jnp.result_type(float))
    return jax.random.uniform(key, (n, k), dtype) + 0.5 * jnp.finfo(dtype).eps


def unit_coordinates(domain: AbstractDomain, where: Where) -> int:
    """The number of unit-cube coordinates `domain`'s map for `where` reads per point."""
    k = domain.interior_coordinates if where == "interior" else domain.boundary_coordinates
    if not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(
            f"{type(domain).__name__}.{where}_coordinates must be an integer >= 1, got {k!r}: "
            f"set it to the number of unit-cube coordinates {where}_from_unit reads per point"
        )
    return int(k)


def from_unit(domain: AbstractDomain, u: Float[Array, "n k"], where: Where) -> Points:
    """`domain`'s map for `where` applied to `u`, its output shape checked."""
    x = domain.interior_from_unit(u) if where == "interior" else domain.boundary_from_unit(u)
    if jnp.shape(x) != (u.shape[0], domain.dim):
        raise ValueError(
            f"{type(domain).__name__}.{where}_from_unit must return shape "
            f"(n, dim) = {(u.shape[0], domain.dim)} for u of shape {u.shape}, got "
            f"{jnp.shape(x)}: return one row of dim coordinates per row of u"
        )
    return x


def _check_dim(dim: int, name: str) -> None:
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"{name} needs an integer dimension >= 1, got {dim!r}")


class Ball(AbstractDomain):
    r"""The ball $\{|x| \le R\}$ in $\mathbb{R}^d$.

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

    def __init__(
        self, dim: int, radius: float = 1.0, radial: Literal["uniform", "volume"] = "uniform"
    ):
        self.dim = dim
        self.radius = radius
        self.radial = radial

    def __check_init__(self):
        _check_dim(self.dim, "Ball")
        if self.radial not in ("uniform", "volume"):
            raise ValueError(f"Ball radial must be 'uniform' or 'volume', got {self.radial!r}")
        if self.radius <= 0:
            raise ValueError(f"Ball radius must be positive, got {self.radius}")

    @property
    def interior_coordinates(self) -> int:
        """One coordinate for the radius, and those of the sphere's map."""
        return 1 + sphere_coordinates(self.dim)

    @property
    def boundary_coordinates(self) -> int:
        """Those of the sphere's map: $d - 1$ in $d = 2, 3$, else $d$."""
        return sphere_coordinates(self.dim)

    def _radius(self, u: Array) -> Array:
        """The inverse CDF of the radial law."""
        return self.radius * (u if self.radial == "uniform" else u ** (1.0 / self.dim))

    def interior_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""The radius $r = R\,u_0$ or $R\,u_0^{1/d}$ (following `radial`) times a direction
        from the other coordinates by the sphere's map
        ([`Sphere.interior_from_unit`][pinnkit.Sphere.interior_from_unit])."""
        return sphere_from_unit(u[:, 1:], self.dim, self._radius(u[:, :1]))

    def boundary_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""The sphere $|x| = R$, by the map of
        [`Sphere.interior_from_unit`][pinnkit.Sphere.interior_from_unit]."""
        return sphere_from_unit(u, self.dim, self.radius)

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kr, kd = jax.random.split(key)
        u = jax.random.uniform(kr, (n, 1))
        return sphere_directions(kd, n, self.dim, u.dtype, scale=self._radius(u))

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return sphere_directions(key, n, self.dim, scale=self.radius)

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        return jnp.linalg.norm(x, axis=-1) <= self.radius * (1 + 1e-6)


_NO_BOUNDARY = "a sphere has no boundary; sample its interior (the surface) instead"


class Sphere(AbstractDomain):
    """The sphere $\\{|x| = R\\}$ as a domain of its own (its interior is the surface)."""

    dim: int = eqx.field(static=True)
    radius: float = eqx.field(default=1.0, static=True)

    def __init__(self, dim: int, radius: float = 1.0):
        self.dim = dim
        self.radius = radius

    def __check_init__(self):
        _check_dim(self.dim, "Sphere")

    @property
    def interior_coordinates(self) -> int:
        """$d - 1$ in $d = 2, 3$, else $d$ (see `interior_from_unit`)."""
        return sphere_coordinates(self.dim)

    @property
    def boundary_coordinates(self) -> int:
        """A sphere has no boundary: raises `ValueError`."""
        raise ValueError(_NO_BOUNDARY)

    def interior_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""The surface: in $d = 2$ the angle $2\pi u_1$; in $d = 3$ the equal-area map of
        Archimedes, $x_3 = R(1 - 2u_1)$ and the angle $2\pi u_2$ around the axis (both keep
        a low-discrepancy sequence's evenness); in other dimensions $g = \Phi^{-1}(u)$
        coordinatewise (the inverse normal CDF: a standard normal vector, which is
        isotropic) and $x = R\, g / |g|$."""
        return sphere_from_unit(u, self.dim, self.radius)

    def boundary_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        """Raises `ValueError`: a sphere has no boundary."""
        raise ValueError(_NO_BOUNDARY)

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return sphere_directions(key, n, self.dim, scale=self.radius)

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

    @property
    def interior_coordinates(self) -> int:
        """$d$: one per axis."""
        return self.dim

    @property
    def boundary_coordinates(self) -> int:
        """$d$: one picks the face, $d - 1$ place the point on it."""
        return self.dim

    def _corners(self, dtype) -> tuple[Array, Array]:
        return jnp.asarray(self.lower, dtype), jnp.asarray(self.upper, dtype)

    def interior_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""$x = a + (b - a) \odot u$."""
        lo, hi = self._corners(u.dtype)
        return lo + (hi - lo) * u

    def boundary_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""$u_0$ picks one of the $2d$ faces with probability proportional to its area
        (and places nothing), $u_1, \dots, u_{d-1}$ fill the face's free axes in order."""
        lo, hi = self._corners(u.dtype)
        d = self.dim
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

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return self.interior_from_unit(jax.random.uniform(key, (n, self.dim)))

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

    @property
    def interior_coordinates(self) -> int:
        """One coordinate for the radius, and those of the sphere's map."""
        return 1 + sphere_coordinates(self.dim)

    @property
    def boundary_coordinates(self) -> int:
        """One coordinate picks the sphere, the others are those of the sphere's map."""
        return 1 + sphere_coordinates(self.dim)

    def _radius(self, u: Array) -> Array:
        """The inverse CDF of the radial law."""
        if self.radial == "uniform":
            return self.inner + (self.outer - self.inner) * u
        floor = (self.inner / self.outer) ** self.dim  # underflows to 0 at large d: fine
        return self.outer * (floor + (1.0 - floor) * u) ** (1.0 / self.dim)

    def _inner_share(self) -> float:
        """The probability of a boundary point of `boundary_from_unit` on the inner sphere."""
        if self.boundary == "equal":
            return 0.5
        # R1^(d-1) / (R1^(d-1) + R2^(d-1)) = 1 / (1 + (R2/R1)^(d-1)), without overflow.
        log_ratio = (self.dim - 1) * (math.log(self.outer) - math.log(self.inner))
        return 0.0 if log_ratio > 700 else 1.0 / (1.0 + math.exp(log_ratio))

    def interior_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""The radius by the inverse CDF of the `radial` law from $u_0$,
        $r = R_1 + (R_2 - R_1) u_0$ or $r = R_2 (\rho^d + (1 - \rho^d) u_0)^{1/d}$, times a
        direction from the other coordinates by the sphere's map
        ([`Sphere.interior_from_unit`][pinnkit.Sphere.interior_from_unit])."""
        return sphere_from_unit(u[:, 1:], self.dim, self._radius(u[:, :1]))

    def boundary_from_unit(self, u: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        r"""$u_0$ picks the sphere ($u_0 < p$: the inner one, $p = 1/2$ for
        `boundary="equal"`, the inner sphere's share of the area for `"area"`), the other
        coordinates the direction by the sphere's map. With `"equal"` a Sobol batch of $2^m$
        points and an even Halton batch have exactly half of their points on each sphere
        (their first coordinate is stratified into halves)."""
        on_inner = u[:, :1] < self._inner_share()
        radius = jnp.where(on_inner, self.inner, self.outer).astype(u.dtype)
        return sphere_from_unit(u[:, 1:], self.dim, radius)

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kr, kd = jax.random.split(key)
        u = jax.random.uniform(kr, (n, 1))
        return self._radius(u) * sphere_directions(kd, n, self.dim, u.dtype)

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        kd, ks = jax.random.split(key)
        directions = sphere_directions(kd, n, self.dim)
        if self.boundary == "equal":
            on_inner = jnp.arange(n) % 2 == 0
        else:
            # The inner sphere's share of the area, as `_inner_share`, computed in JAX.
            log_ratio = (self.dim - 1) * (jnp.log(self.outer) - jnp.log(self.inner))
            on_inner = jax.random.bernoulli(ks, jax.nn.sigmoid(-log_ratio), (n,))
        r = jnp.where(on_inner, self.inner, self.outer).astype(directions.dtype)
        return r[:, None] * directions

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        r = jnp.linalg.norm(x, axis=-1)
        return (r >= self.inner * (1 - 1e-6)) & (r <= self.outer * (1 + 1e-6))
