"""Error metrics against a known solution, on a test set regenerated in chunks."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._sampler.base import AbstractSampler
from .._types import Key, Point, Scalar


def points_per_chunk(size: int, dim: int, chunk_size: int, max_chunk_numbers: int) -> int:
    """How many of `size` points of dimension `dim` to draw and evaluate at once: at most
    `chunk_size` points and at most `max_chunk_numbers` coordinates (at least one point)."""
    return min(chunk_size, size, max(1, max_chunk_numbers // max(1, dim)))


class TestSet(eqx.Module):
    r"""A fixed test set drawn from a sampler, compared against an exact solution.

    The points are regenerated from `key` in chunks each time the errors are computed,
    so a 20,000-point test set in $10^6$ dimensions never holds $20{,}000 \times d$ numbers
    at once; the same key always gives the same points. A chunk holds at most `chunk_size`
    points and at most `max_chunk_numbers` coordinates (so at $d = 10^6$ a chunk is 16
    points, 64 MB in float32, not 1,000 points and 4 GB); the chunk size changes which
    points are drawn, so compare errors at the same dimension and settings.

    **Arguments:**

    - `sampler`: draws the test points.
    - `solution`: the exact solution $u^*$ at one point.
    - `key`: fixes the test points.
    - `size`: number of points (default 20,000).
    - `chunk_size`: at most this many points generated and evaluated at once (default 1,000).
    - `max_chunk_numbers`: at most this many coordinates (points x dimension) in a chunk
      (default $2^{24}$).
    """

    __test__ = False  # not a pytest class

    sampler: AbstractSampler
    solution: Callable[[Point], Scalar]
    key: Key
    size: int = eqx.field(default=20_000, static=True)
    chunk_size: int = eqx.field(default=1_000, static=True)
    max_chunk_numbers: int = eqx.field(default=2**24, static=True)

    def __check_init__(self):
        if self.size < 1 or self.chunk_size < 1 or self.max_chunk_numbers < 1:
            raise ValueError(
                "size, chunk_size and max_chunk_numbers must be >= 1, got "
                f"{self.size}, {self.chunk_size}, {self.max_chunk_numbers}"
            )

    @property
    def points_per_chunk(self) -> int:
        """The points drawn and evaluated at once: `chunk_size`, fewer in high dimension."""
        dim = self.sampler.dim
        return points_per_chunk(self.size, dim, self.chunk_size, self.max_chunk_numbers)

    def check_solution(self) -> None:
        """Raise `ValueError` unless the exact solution is finite, and not zero everywhere, on
        the first chunk of test points (a relative error against it would be NaN). Solvers
        call this before training."""
        x = self.sampler(jax.random.fold_in(self.key, 0), self.points_per_chunk)
        exact = jax.vmap(self.solution)(x)
        if exact.shape != x.shape[:1]:
            raise ValueError(
                f"the test set's solution must return a scalar per point, got shape "
                f"{exact.shape[1:]}"
            )
        if not bool(jnp.all(jnp.isfinite(exact))):
            raise ValueError(
                "the test set's exact solution is not finite at some test points (NaN or "
                "inf): check `solution`, or the sampler's domain"
            )
        if not bool(jnp.any(exact != 0)):
            raise ValueError(
                "the test set's exact solution is zero at every test point, so relative "
                "errors are undefined: compare against a nonzero solution"
            )

    @eqx.filter_jit
    def errors(self, model: Callable[[Point], Scalar]) -> dict[str, Float[Array, ""]]:
        r"""Relative errors of `model`: $\|u - u^*\|_2 / \|u^*\|_2$ and the same in $L^1$."""
        chunk = self.points_per_chunk
        n_chunks = -(-self.size // chunk)

        def body(i: Array, totals: Array) -> Array:
            x = self.sampler(jax.random.fold_in(self.key, i), chunk)
            exact = jax.vmap(self.solution)(x)
            diff = jax.vmap(model)(x) - exact
            # The last chunk may run past `size`: mask the extra points.
            valid = (i * chunk + jnp.arange(chunk)) < self.size
            parts = jnp.stack([diff**2, exact**2, jnp.abs(diff), jnp.abs(exact)])
            return totals + jnp.sum(jnp.where(valid, parts, 0.0), axis=1)

        totals = jax.lax.fori_loop(0, n_chunks, body, jnp.zeros(4))
        return {
            "rel_l2": jnp.sqrt(totals[0] / totals[1]),
            "rel_l1": totals[2] / totals[3],
        }
