r"""Multilinear forms of derivatives, $D^m u(x)[v_1^{\otimes k_1}, \dots, v_n^{\otimes k_n}]$,
from Taylor jets with no nested autodiff.

`jax.experimental.jet.jet` pushes the curve $x + \sum_s v_s t^s / s!$ through a function and
returns the derivatives $\frac{d^s}{dt^s} u$ at $t = 0$ (the derivative convention). With
the directions in the tangent slots of a slot pattern (`partitions.slot_pattern`) one output
is the wanted term times a known constant; without one, the polarization identity.
Mixed partial derivatives are the case $v_l = e_{i_l}$.
"""

import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float

from .._types import Point, ScalarField
from .base import directional_jet
from .partitions import polarization, slot_pattern


def multilinear_derivative(
    fn: ScalarField,
    x: Point,
    vectors: tuple[Float[Array, " dim"], ...],
    multiplicities: tuple[int, ...],
) -> Float[Array, ""]:
    r"""$D^m u(x)[v_1^{\otimes k_1}, \dots, v_n^{\otimes k_n}]$, $m = \sum_l k_l$, from jets.

    With a [slot pattern](../math.md#mixed-partials) for the multiplicities
    $(k_1, \dots, k_n)$: one jet with $v_l$ in slot $s_l$ and zeros elsewhere, whose top
    output is the wanted term times the pattern's constant. The pattern depends only on the
    multiplicities, so the result is right for any vectors, equal ones included. Without a
    pattern of order at most 12, the polarization identity ($2^{m-1}$ jets of order $m$).

    **Arguments:**

    - `fn`: the scalar field $u$.
    - `x`: the point, shape `(dim,)`.
    - `vectors`: $v_1, \dots, v_n$, each of shape `(dim,)`.
    - `multiplicities`: $k_1, \dots, k_n \ge 1$ (static).

    **Returns:** the scalar derivative.
    """
    if len(vectors) != len(multiplicities):
        raise ValueError(
            f"need one multiplicity per vector, got {len(vectors)} vectors and "
            f"multiplicities {multiplicities}"
        )
    pattern = slot_pattern(tuple(multiplicities))
    if pattern is not None:
        series = [jnp.zeros_like(x)] * pattern.order
        for v, slot in zip(vectors, pattern.slots, strict=True):
            series[slot - 1] = v
        _, outputs = jet.jet(fn, (x,), (tuple(series),))
        return outputs[-1] / pattern.coefficient
    expanded = [v for v, k in zip(vectors, multiplicities, strict=True) for _ in range(k)]
    total = jnp.zeros((), x.dtype)
    for signs, weight in polarization(len(expanded)):
        direction = sum((s * v for s, v in zip(signs, expanded, strict=True)), jnp.zeros_like(x))
        total = total + weight * directional_jet(fn, x, direction, len(expanded))[1][-1]
    return total


def mixed_partial(fn: ScalarField, x: Point, indices: tuple[int, ...]) -> Float[Array, ""]:
    r"""$\partial_{i_1} \cdots \partial_{i_k} u(x)$: the `multilinear_derivative` of the
    distinct coordinate vectors $e_i$ (in increasing order), each with its multiplicity in
    `indices`."""
    coords = sorted(set(indices))
    multiplicities = tuple(indices.count(c) for c in coords)
    basis = tuple(jax.nn.one_hot(c, x.shape[0], dtype=x.dtype) for c in coords)
    return multilinear_derivative(fn, x, basis, multiplicities)
