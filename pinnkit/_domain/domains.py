"""Geometric domains: where collocation points live."""

import abc
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


def sphere_directions(key: Key, n: int, dim: int, dtype=None) -> Points:
    """`n` directions uniform on the unit sphere $S^{d-1}$: normalized Gaussians."""
    g = jax.random.normal(key, (n, dim), dtype=dtype)
    return g / jnp.linalg.norm(g, axis=-1, keepdims=True)


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
        return self.radius * r * sphere_directions(kd, n, self.dim, u.dtype)

    def sample_boundary(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return self.radius * sphere_directions(key, n, self.dim)

    def contains(self, x: Points) -> Bool[Array, " batch"]:
        return jnp.linalg.norm(x, axis=-1) <= self.radius * (1 + 1e-6)


class Sphere(AbstractDomain):
    """The sphere $\\{|x| = R\\}$ as a domain of its own (its interior is the surface)."""

    dim: int = eqx.field(static=True)
    radius: float = eqx.field(default=1.0, static=True)

    def __check_init__(self):
        _check_dim(self.dim, "Sphere")

    def sample_interior(self, key: Key, n: int) -> Float[Array, "n dim"]:
        return self.radius * sphere_directions(key, n, self.dim)

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
