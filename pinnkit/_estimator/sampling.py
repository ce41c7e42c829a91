"""Random coordinates and directions for the stochastic estimators."""

from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._types import Key


Distribution = Literal["rademacher", "gaussian"]


def sample_coordinates(key: Key, dim: int, num: int) -> Int[Array, " num"]:
    """`num` distinct coordinates drawn uniformly from `range(dim)`, without replacement.

    Robert Floyd's algorithm: `num` steps of $O(\\text{num})$ work, so the cost does not grow
    with `dim` (no permutation of all coordinates is drawn).
    """
    if num > dim:
        raise ValueError(
            f"cannot draw {num} distinct coordinates in dimension {dim}; use num_samples <= dim"
        )
    keys = jax.random.split(key, num)

    def body(i, chosen):
        j = dim - num + i
        t = jax.random.randint(keys[i], (), 0, j + 1)
        taken = jnp.any((chosen == t) & (jnp.arange(num) < i))
        return chosen.at[i].set(jnp.where(taken, j, t).astype(chosen.dtype))

    return jax.lax.fori_loop(0, num, body, jnp.zeros(num, dtype=jnp.int32))


def sample_directions(
    key: Key, num: int, dim: int, distribution: Distribution, dtype=None
) -> Float[Array, "num dim"]:
    """`num` random vectors with $E[v v^\\top] = I$: Rademacher signs or standard normals."""
    if distribution == "rademacher":
        return jax.random.rademacher(key, (num, dim), dtype=dtype or jnp.float32)
    if distribution == "gaussian":
        return jax.random.normal(key, (num, dim), dtype=dtype)
    raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")


def signed_factors(matrix: Float[Array, "dim dim"]) -> tuple[Array, Array]:
    r"""Factors $A_\pm$ with $\tfrac12(C + C^\top) = A_+ A_+^\top - A_- A_-^\top$.

    From the eigendecomposition $Q \Lambda Q^\top$: $A_\pm = Q \sqrt{\max(\pm\Lambda, 0)}$.
    For a positive semi-definite $C$, $A_- = 0$.
    """
    eigenvalues, eigenvectors = jnp.linalg.eigh(0.5 * (matrix + matrix.T))
    positive = eigenvectors * jnp.sqrt(jnp.maximum(eigenvalues, 0.0))
    negative = eigenvectors * jnp.sqrt(jnp.maximum(-eigenvalues, 0.0))
    return positive, negative


def padded_directions(
    key: Key, num: int, dims: int, x: Float[Array, " dim"], distribution: Distribution
) -> Float[Array, "num dim"]:
    """`num` random vectors in the first `dims` coordinates of `x`'s space, zero in the rest
    (for [`pinnkit.SpatialLaplacian`][]): $E[v v^\\top]$ is the identity on those coordinates."""
    head = sample_directions(key, num, dims, distribution, x.dtype)
    return jnp.concatenate([head, jnp.zeros((num, x.shape[0] - dims), x.dtype)], axis=1)
