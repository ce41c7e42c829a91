"""The network interface."""

import abc
from collections.abc import Callable

import equinox as eqx
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


class AbstractCoordinateLine(eqx.Module):
    r"""Capability: restrict to a coordinate line without forming a basis vector.

    Sparse estimators (STDE, SDGD, the basis jets) differentiate $u$ along $x + t e_j$.
    Pushing the one-hot $e_j$ through a first linear layer costs $O(d \cdot h)$; gathering
    the column $W e_j = W_{:, j}$ costs $O(h)$. Networks and boundary factors that implement
    this return $t \mapsto u(x + t e_j)$ computed that way; the shared part
    ($W x + b$) does not depend on $j$, so it is computed once per point.
    """

    @abc.abstractmethod
    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        """The function $t \\mapsto u(x + t e_{\\text{index}})$ of a scalar $t$."""


def coordinate_line(
    fn: Callable[[Point], Array], x: Point, index: Array
) -> Callable[[Array], Array]:
    r"""$t \mapsto$ `fn`$(x + t e_{\text{index}})$, by the fast path where `fn` offers one."""
    if isinstance(fn, AbstractCoordinateLine):
        return fn.coordinate_line(x, index)
    return lambda t: fn(x.at[index].add(t))
