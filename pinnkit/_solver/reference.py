"""Error metrics against a known solution, on a test set regenerated in chunks."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._sampler.base import AbstractSampler
from .._types import Key, Point, Scalar


class TestSet(eqx.Module):
    r"""A fixed test set drawn from a sampler, compared against an exact solution.

    The points are regenerated from `key` in chunks each time the errors are computed,
    so a 20,000-point test set in $10^6$ dimensions never holds $20{,}000 \times d$ numbers
    at once; the same key always gives the same points.

    **Arguments:**

    - `sampler`: draws the test points.
    - `solution`: the exact solution $u^*$ at one point.
    - `key`: fixes the test points.
    - `size`: number of points (default 20,000).
    - `chunk_size`: points generated and evaluated at once (default 1,000).
    """

    __test__ = False  # not a pytest class

    sampler: AbstractSampler
    solution: Callable[[Point], Scalar]
    key: Key
    size: int = eqx.field(default=20_000, static=True)
    chunk_size: int = eqx.field(default=1_000, static=True)

    def __check_init__(self):
        if self.size < 1 or self.chunk_size < 1:
            raise ValueError(
                f"size and chunk_size must be >= 1, got {self.size}, {self.chunk_size}"
            )

    @eqx.filter_jit
    def errors(self, model: Callable[[Point], Scalar]) -> dict[str, Float[Array, ""]]:
        r"""Relative errors of `model`: $\|u - u^*\|_2 / \|u^*\|_2$ and the same in $L^1$."""
        chunk = min(self.chunk_size, self.size)
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
