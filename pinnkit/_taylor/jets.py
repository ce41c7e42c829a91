"""Jet plumbing shared by the Taylor-mode estimators.

`jax.experimental.jet.jet` pushes the curve $x + \\sum_j v_j t^j / j!$ through a function and
returns the derivatives $\\frac{d^j}{dt^j} f$ at $t = 0$ (the derivative convention).
"""

import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float

from .._network.taylor import directional_jet
from .._types import Point, ScalarField
from .partitions import polarization, slot_pattern


def mixed_partial(fn: ScalarField, x: Point, indices: tuple[int, ...]) -> Float[Array, ""]:
    r"""$\partial_{i_1} \cdots \partial_{i_k} u(x)$ from Taylor jets, with no nested autodiff.

    Uses one jet with a [slot pattern][pinnkit._taylor.partitions.slot_pattern] when one of
    order at most 12 isolates the term, otherwise the polarization identity
    ($2^{k-1}$ jets of order $k$). Both constant tables are derived in code.
    """
    dim = x.shape[0]
    coords = sorted(set(indices))
    multiplicities = tuple(indices.count(c) for c in coords)
    pattern = slot_pattern(multiplicities)
    if pattern is not None:
        series = [jnp.zeros_like(x)] * pattern.order
        for coord, slot in zip(coords, pattern.slots, strict=True):
            series[slot - 1] = jax.nn.one_hot(coord, dim, dtype=x.dtype)
        _, outputs = jet.jet(fn, (x,), (tuple(series),))
        return outputs[-1] / pattern.coefficient
    basis = [jax.nn.one_hot(i, dim, dtype=x.dtype) for i in indices]
    total = jnp.zeros((), x.dtype)
    for signs, weight in polarization(len(indices)):
        direction = sum((s * v for s, v in zip(signs, basis, strict=True)), jnp.zeros_like(x))
        total = total + weight * directional_jet(fn, x, direction, len(indices))[1][-1]
    return total
