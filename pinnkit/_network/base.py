"""The network interface."""

import abc
import math
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float

from .._types import Point


class AbstractNetwork(eqx.Module):
    r"""A trainable scalar field $u_\theta: \mathbb{R}^d \to \mathbb{R}$, acting on one point.

    Networks are Equinox modules, so their parameters are the module's array leaves and a
    batch is handled with `jax.vmap`. Every estimator differentiates through `__call__`,
    including Taylor-mode jets, so write it with ordinary `jax.numpy` operations.
    """

    in_size: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, x: Point) -> Float[Array, ""]:
        """The network's value $u_\\theta(x)$ at one point of shape `(in_size,)`."""


def check_input(network: AbstractNetwork, x: Array) -> None:
    """Raise a clear error when `x` is not one point of the network's input dimension."""
    if x.shape != (network.in_size,):
        raise ValueError(
            f"{type(network).__name__} takes one point of shape ({network.in_size},), got "
            f"shape {x.shape}; use jax.vmap for a batch"
        )


class AbstractTaylorMode(eqx.Module):
    r"""Capability: fast Taylor-mode derivatives of $u$ along lines.

    The stochastic estimators push jets along $x + t v$. A generic jet through a linear layer
    also multiplies by the (zero) derivatives of the weights, and a sparse tangent $e_j$
    costs a dense $W e_j$, $O(d \cdot h)$. Modules that implement this capability do better:
    along a coordinate line the first layer's tangent is the gathered column $W_{:, j}$,
    $O(h)$; the primal pass ($W x + b$ and on) is shared by every sampled direction; and
    each linear layer maps each Taylor coefficient once.

    Implement all three methods; [`pinnkit.MLP`][], [`pinnkit.HardDirichlet`][] and
    [`pinnkit.UnitBallDistance`][] do. Anything else falls back to generic jets.
    """

    @abc.abstractmethod
    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        """The function $t \\mapsto u(x + t e_{\\text{index}})$ of a scalar $t$."""

    @abc.abstractmethod
    def coordinate_jet(self, x: Point, index: Array, order: int) -> tuple[Array, list[Array]]:
        """$u(x)$ and $\\partial_{\\text{index}}^k u(x)$ for $k = 1..$`order`."""

    @abc.abstractmethod
    def directional_jet(self, x: Point, direction: Array, order: int) -> tuple[Array, list[Array]]:
        """$u(x)$ and $\\frac{d^k}{dt^k} u(x + t v)|_{t=0}$ for $k = 1..$`order`."""


def coordinate_line(
    fn: Callable[[Point], Array], x: Point, index: Array
) -> Callable[[Array], Array]:
    r"""$t \mapsto$ `fn`$(x + t e_{\text{index}})$, by the fast path where `fn` offers one."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.coordinate_line(x, index)
    return lambda t: fn(x.at[index].add(t))


def coordinate_jet(
    fn: Callable[[Point], Array], x: Point, index: Array, order: int
) -> tuple[Array, list[Array]]:
    r"""`fn`$(x)$ and its pure derivatives $\partial_{\text{index}}^k$, $k = 1..$`order`, by
    the fast path where `fn` offers one, else a Taylor jet along the coordinate line."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.coordinate_jet(x, index, order)
    zero = jnp.zeros((), x.dtype)
    series = (jnp.ones((), x.dtype),) + (zero,) * (order - 1)
    primal, outputs = jet.jet(coordinate_line(fn, x, index), (zero,), (series,))
    return primal, list(outputs)


def directional_jet(
    fn: Callable[[Point], Array], x: Point, direction: Array, order: int
) -> tuple[Array, list[Array]]:
    r"""`fn`$(x)$ and $\frac{d^k}{dt^k}$ `fn`$(x + t v)$ at $t = 0$, $k = 1..$`order`: the jet
    with tangents $(v, 0, \dots, 0)$; for order 2 the outputs are $\langle \nabla u, v\rangle$
    and $v^\top D^2 u\, v$. Uses the fast path where `fn` offers one."""
    if isinstance(fn, AbstractTaylorMode):
        return fn.directional_jet(x, direction, order)
    series = (direction,) + (jnp.zeros_like(x),) * (order - 1)
    primal, outputs = jet.jet(fn, (x,), (series,))
    return primal, list(outputs)


def product_jet(
    f: tuple[Array, list[Array]], g: tuple[Array, list[Array]]
) -> tuple[Array, list[Array]]:
    r"""The derivatives of $f g$ from those of $f$ and $g$ (Leibniz:
    $(fg)^{(n)} = \sum_k \binom{n}{k} f^{(k)} g^{(n-k)}$)."""
    fs = [f[0], *f[1]]
    gs = [g[0], *g[1]]
    out = []
    for n in range(len(fs)):
        total = fs[0] * gs[n]
        for k in range(1, n + 1):
            total = total + math.comb(n, k) * fs[k] * gs[n - k]
        out.append(total)
    return out[0], out[1:]
