r"""Jets of products and sums, from the jets of the factors (Leibniz' rule).

The hard-constraint wrappers ([`pinnkit.HardDirichlet`][], [`pinnkit.HardInitial`][]) are
`factor * network + offset`; their Taylor mode combines the pieces' own jets here, so that
each piece keeps its fast path.
"""

import math
from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import Array

from .._types import Point
from .base import Series, coordinate_line


def product_jet(f: Series, g: Series, collapse: bool) -> Series:
    r"""The jet of $f g$ from those of $f$ and $g$ along the same directions, by Leibniz'
    rule $(fg)^{(k)} = \sum_m \binom{k}{m} f^{(m)} g^{(k-m)}$ per direction; a collapsed top
    order stays collapsed."""
    f0, fs = f
    g0, gs = g
    order = len(fs)
    out = []
    for k in range(1, order + 1):
        # The terms with m = 0 or m = k use the (possibly collapsed) top-order sums.
        total = f0 * gs[k - 1] + g0 * fs[k - 1]
        middle = sum(
            (math.comb(k, m) * fs[m - 1] * gs[k - m - 1] for m in range(1, k)),
            start=jnp.zeros_like(fs[0]),
        )
        total = total + (jnp.sum(middle) if collapse and k == order else middle)
        out.append(total)
    return f0 * g0, out


def sum_jets(f: Series, g: Series) -> Series:
    """The jet of $f + g$."""
    return f[0] + g[0], [a + b for a, b in zip(f[1], g[1], strict=True)]


def scaled_line(
    factor: Callable[[Point], Array],
    network: Callable[[Point], Array],
    offset: Callable[[Point], Array] | None,
    x: Point,
    index: Array,
) -> Callable[[Array], Array]:
    r"""The restriction $t \mapsto$ `factor * network + offset` at $x + t e_i$: the
    `coordinate_line` of the hard-constraint wrappers, from the pieces' own lines."""
    lines = [coordinate_line(f, x, index) for f in (factor, network)]
    if offset is None:
        return lambda t: lines[0](t) * lines[1](t)
    shift = coordinate_line(offset, x, index)
    return lambda t: lines[0](t) * lines[1](t) + shift(t)


def scaled_jets(
    jets: Callable[..., Series],
    factor: Callable[[Point], Array],
    network: Callable[[Point], Array],
    offset: Callable[[Point], Array] | None,
    x: Point,
    tangents: Array,
    order: int,
    collapse: bool,
) -> Series:
    """The jets of `factor * network + offset` along `tangents`, by Leibniz' rule from the
    pieces' own jets (`jets` is `coordinate_jets` or `directional_jets`, so each piece
    uses its fast path where it has one): the Taylor mode of the hard-constraint wrappers."""
    series = product_jet(
        jets(factor, x, tangents, order, collapse),
        jets(network, x, tangents, order, collapse),
        collapse,
    )
    if offset is not None:
        series = sum_jets(series, jets(offset, x, tangents, order, collapse))
    return series
