r"""How the estimators evaluate [`pinnkit.StateDiffusion`][]: the pieces they share.

$\operatorname{tr}(\sigma\sigma^\top H) = \sum_k \sigma_k^\top H \sigma_k$ (columns $\sigma_k$)
$= E_\xi[(\sigma\xi)^\top H (\sigma\xi)]$ for $E[\xi\xi^\top] = I_k$, and, for a diagonal
$\sigma$, $= \sum_j \sigma_j^2 \partial_j^2 u$. See docs/math.md, "Operators with
point-dependent coefficients".
"""

import jax.numpy as jnp
from jaxtyping import Array, Int

from .._operator.base import (
    Diffusion,
    Gradient,
    Laplacian,
    SpatialLaplacian,
    TimeDerivative,
    Value,
)
from .._operator.state import Drift, StateDiffusion
from .._taylor.base import coordinate_jets
from .._types import Key, Point, ScalarField
from .sampling import Distribution, sample_directions


TRACE_OPERATORS = (
    Value
    | Gradient
    | Laplacian
    | Diffusion
    | SpatialLaplacian
    | TimeDerivative
    | Drift
    | StateDiffusion
)
r"""The operators an estimator of Hessian traces $\operatorname{tr}(C D^2 u)$ takes (HTE, the
forward Laplacian): the trace operators, with the value, first derivatives and drift, which
it evaluates exactly."""


def weighted_curvatures(
    fn: ScalarField, x: Point, atom: StateDiffusion, factor: Array, index: Int[Array, " n"]
) -> tuple[Array, Array]:
    r"""$u(x)$ and $\sum_{j \in \text{index}} \sigma_j(x)^2\, \partial_j^2 u(x)$ by one 2-jet
    per coordinate (scalar or diagonal $\sigma$ only)."""
    primal, derivatives = coordinate_jets(fn, x, index, 2)
    return primal, jnp.dot(atom.coordinate_weights(factor, index), derivatives[-1])


def state_tangents(
    atom: StateDiffusion, factor: Array, key: Key, num: int, distribution: Distribution, x: Point
) -> Array:
    r"""`num` tangents $\sigma(x)\xi$, rows of shape `(dim,)`, with $\xi \in \mathbb{R}^k$
    Rademacher or Gaussian: $E[(\sigma\xi)(\sigma\xi)^\top] = \sigma\sigma^\top$."""
    k = atom.noise_dim(factor, x.shape[0])
    return atom.apply(factor, sample_directions(key, num, k, distribution, x.dtype))
