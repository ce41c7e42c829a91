r"""Taylor-mode derivatives along lines, with a fast path for networks that offer one.

A *jet along directions* $v_1, \dots, v_n$ at $x$ is the primal $u(x)$ and, for each
direction, the derivatives $\frac{d^k}{dt^k} u(x + t v_i)|_{t=0}$, $k = 1..K$. Estimators
only ever need the *sum* over directions of the top-order derivatives (a Laplacian is
$\sum_j \partial_j^2 u$), so a jet can be **collapsed**: the top order is carried as one
sum through the network instead of $n$ separate coefficients. For an MLP this halves the
matrix products of a second-order jet (the top coefficient enters each layer linearly).

Series are returned as `(primal, [d_1, ..., d_K])` with each `d_k` of shape `(n,)`, except
`d_K`, which is a scalar (the sum over directions) when `collapse=True`.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float, Int

from .._types import Point


Series = tuple[Array, list[Array]]
"""`(primal, [d_1, ..., d_K])`: a jet along several directions (see the module docs)."""


class AbstractTaylorMode(eqx.Module):
    r"""Capability: fast Taylor-mode derivatives of $u$ along lines.

    The stochastic estimators push jets along $x + t v$. A generic jet through a linear layer
    also multiplies by the (zero) derivatives of the weights, and a sparse tangent $e_j$
    costs a dense $W e_j$, $O(d \cdot h)$. Modules that implement this capability do better:
    along a coordinate line the first layer's tangent is the gathered column $W_{:, j}$,
    $O(h)$; the primal pass ($W x + b$ and on) is shared by every direction; each linear
    layer maps each Taylor coefficient once; and a collapsed top order is carried as one sum.

    [`pinnkit.MLP`][], [`pinnkit.HardDirichlet`][] and [`pinnkit.UnitBallDistance`][]
    implement it; anything else falls back to generic `jax.experimental.jet` jets.
    """

    @abc.abstractmethod
    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        """The function $t \\mapsto u(x + t e_{\\text{index}})$ of a scalar $t$."""

    @abc.abstractmethod
    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        """The jet along the coordinate directions $e_j$, $j \\in$ `indices`."""

    @abc.abstractmethod
    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        """The jet along the rows of `directions`."""


def coordinate_line(
    fn: Callable[[Point], Array], x: Point, index: Array
) -> Callable[[Array], Array]:
    r"""$t \mapsto$ `fn`$(x + t e_{\text{index}})$, by the fast path where `fn` offers one."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.coordinate_line(x, index)
    return lambda t: fn(x.at[index].add(t))


def _finish(primal: Array, derivatives: list[Array], collapse: bool) -> Series:
    if collapse:
        derivatives = derivatives[:-1] + [jnp.sum(derivatives[-1])]
    return primal, derivatives


def coordinate_jets(
    fn: Callable[[Point], Array],
    x: Point,
    indices: Int[Array, " n"],
    order: int,
    collapse: bool = False,
) -> Series:
    """The jet of `fn` along the coordinate directions `indices` (fast path if offered)."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.coordinate_jets(x, indices, order, collapse)
    zero = jnp.zeros((), x.dtype)
    series = (jnp.ones((), x.dtype),) + (zero,) * (order - 1)

    def one(index: Array) -> tuple[Array, list[Array]]:
        primal, outputs = jet.jet(coordinate_line(fn, x, index), (zero,), (series,))
        return primal, list(outputs)

    primals, derivatives = jax.vmap(one)(indices)
    return _finish(primals[0], derivatives, collapse)


def directional_jets(
    fn: Callable[[Point], Array],
    x: Point,
    directions: Float[Array, "n dim"],
    order: int,
    collapse: bool = False,
) -> Series:
    """The jet of `fn` along the rows of `directions` (fast path if offered)."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.directional_jets(x, directions, order, collapse)
    zeros = jnp.zeros_like(x)

    def one(v: Array) -> tuple[Array, list[Array]]:
        primal, outputs = jet.jet(fn, (x,), ((v,) + (zeros,) * (order - 1),))
        return primal, list(outputs)

    primal = fn(x)
    _, derivatives = jax.vmap(one)(directions)
    return _finish(primal, derivatives, collapse)


def directional_jet(
    fn: Callable[[Point], Array], x: Point, direction: Float[Array, " dim"], order: int
) -> tuple[Array, list[Array]]:
    r"""`fn`$(x)$ and $\frac{d^k}{dt^k}$ `fn`$(x + t v)$ at $t = 0$, $k = 1..$`order`, for one
    direction $v$: the jet with tangents $(v, 0, \dots, 0)$. For order 2 the outputs are
    $\langle \nabla u, v\rangle$ and $v^\top D^2 u\, v$."""
    primal, derivatives = directional_jets(fn, x, direction[None], order)
    return primal, [d[0] for d in derivatives]
