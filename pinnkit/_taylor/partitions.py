r"""Jet slot patterns for mixed partial derivatives, derived by enumerating partitions.

Push the curve $x + \sum_s v_s t^s / s!$ through $u$ with $v_{s_l} = e_{i_l}$ for a few
chosen slots $s_l$ and every other $v_s = 0$. By Faà di Bruno's formula the $K$-th output is

$$\frac{d^K}{dt^K} u = \sum_{p} \frac{K!}{\prod_l p_l!\, (s_l!)^{p_l}}\;
\partial_{i_1}^{p_1} \cdots \partial_{i_m}^{p_m} u,$$

summed over the count vectors $p \ge 0$ with $\sum_l p_l s_l = K$. To read off
$\partial_{i_1}^{k_1} \cdots \partial_{i_m}^{k_m} u$ we search for distinct slots $s_l$ such that
$p = k$ is the *only* solution for $K = \sum_l k_l s_l$; then the output is that one term times a
known constant. Nothing here is typed by hand: the constants come from the enumeration, and
the tests check every pattern against nested autodiff.
"""

import functools
import itertools
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SlotPattern:
    """Where to put each direction in a jet, and how to read the mixed partial back.

    **Attributes:**

    - `slots`: the slot (tangent index, 1-based) of each distinct coordinate.
    - `order`: the jet order $K$ to push; the wanted term is in output $K$.
    - `coefficient`: the Faà di Bruno constant multiplying the wanted partial in output $K$.
    """

    slots: tuple[int, ...]
    order: int
    coefficient: int


def count_vectors(slots: tuple[int, ...], total: int) -> list[tuple[int, ...]]:
    """All $p \\ge 0$ with $\\sum_l p_l s_l = $ `total`, by direct enumeration."""
    ranges = [range(total // s + 1) for s in slots]
    return [
        p
        for p in itertools.product(*ranges)
        if sum(a * s for a, s in zip(p, slots, strict=True)) == total
    ]


def faa_di_bruno_coefficient(counts: tuple[int, ...], slots: tuple[int, ...]) -> int:
    """$K! / \\prod_l (p_l!\\,(s_l!)^{p_l})$ for a partition with `counts[l]` parts of size
    `slots[l]` (sizes distinct)."""
    total = sum(p * s for p, s in zip(counts, slots, strict=True))
    denominator = 1
    for p, s in zip(counts, slots, strict=True):
        denominator *= math.factorial(p) * math.factorial(s) ** p
    return math.factorial(total) // denominator


@functools.cache
def slot_pattern(multiplicities: tuple[int, ...], max_order: int = 12) -> SlotPattern | None:
    """The cheapest slot pattern (lowest jet order) isolating the partial with these
    multiplicities, e.g. `(2, 1)` for $\\partial_i^2 \\partial_j$; `None` when every
    isolating pattern needs a jet of order above `max_order` (use [`polarization`][] then).
    """
    if not multiplicities or min(multiplicities) < 1:
        raise ValueError(f"multiplicities must be positive, got {multiplicities}")
    if len(multiplicities) == 1:
        return SlotPattern((1,), multiplicities[0], 1)
    best: SlotPattern | None = None
    for slots in itertools.permutations(range(1, max_order + 1), len(multiplicities)):
        order = sum(k * s for k, s in zip(multiplicities, slots, strict=True))
        if order > max_order or (best is not None and order >= best.order):
            continue
        if count_vectors(slots, order) == [multiplicities]:
            best = SlotPattern(slots, order, faa_di_bruno_coefficient(multiplicities, slots))
    return best


@functools.cache
def polarization(order: int) -> tuple[tuple[tuple[int, ...], float], ...]:
    r"""Signs and weights of the polarization identity for a symmetric $k$-linear form $T$:

    $$T(v_1, \dots, v_k) = \sum_{\varepsilon} w_\varepsilon\, T(w, \dots, w),\quad
    w = \sum_i \varepsilon_i v_i,\; \varepsilon_1 = +1,\;
    w_\varepsilon = \frac{\varepsilon_1 \cdots \varepsilon_k}{2^{k-1} k!}.$$

    So any $k$-th order mixed partial costs $2^{k-1}$ jets of order $k$ along $w$.

    **Returns:** `((signs, weight), ...)` with `signs` a tuple of $\pm 1$ of length `order`.
    """
    terms = []
    for rest in itertools.product((1, -1), repeat=order - 1):
        signs = (1,) + rest
        weight = math.prod(signs) / (2 ** (order - 1) * math.factorial(order))
        terms.append((signs, weight))
    return tuple(terms)
