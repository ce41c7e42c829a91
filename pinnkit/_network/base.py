"""The network interface."""

import abc

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
