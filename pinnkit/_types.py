"""Shared jaxtyping aliases used in pinnkit's public signatures."""

from collections.abc import Callable

from jaxtyping import Array, Float, PRNGKeyArray


Point = Float[Array, " dim"]
"""A single point $x \\in \\mathbb{R}^d$."""

Points = Float[Array, "batch dim"]
"""A batch of points."""

Scalar = Float[Array, ""]
"""A scalar JAX array."""

Values = Float[Array, " batch"]
"""One scalar per point of a batch."""

ScalarField = Callable[[Float[Array, " dim"]], Float[Array, ""]]
"""A function $u: \\mathbb{R}^d \\to \\mathbb{R}$ acting on one point."""

Key = PRNGKeyArray
"""A JAX PRNG key."""

__all__ = ["Key", "Point", "Points", "Scalar", "ScalarField", "Values"]
