"""A multilayer perceptron with skip connections."""

from collections.abc import Callable

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from .._types import Point
from .base import AbstractNetwork, check_input
from .layers import check_sizes, linear_layers, resolve_activation


class ResidualMLP(AbstractNetwork):
    r"""An MLP whose hidden layers add their input back (skip connections):

    $$h_0 = \sigma(W_0 x + b_0), \qquad h_{k} = h_{k-1} + \sigma(W_k h_{k-1} + b_k),
    \quad k = 1, \dots, L, \qquad u(x) = w^\top h_L + c.$$

    The identity paths keep gradients from vanishing in deep networks, so depth can grow
    without the training stalling. Jets go through the generic fallbacks
    (`jax.experimental.jet` along each direction), which every estimator supports.

    **Arguments:**

    - `in_size`: the input dimension $d$.
    - `width`: neurons per hidden layer (default 128).
    - `depth`: $L$, the number of residual layers after the first (default 3).
    - `activation`: as for [`pinnkit.MLP`][] (default `"tanh"`).
    - `key`: the PRNG key for the initial parameters.

    **Reference:** He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition",
    CVPR (2016).
    """

    layers: tuple[eqx.nn.Linear, ...]
    output: eqx.nn.Linear
    activation: Callable[[Array], Array]
    in_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        width: int = 128,
        depth: int = 3,
        activation: str | Callable[[Array], Array] = "tanh",
        *,
        key: PRNGKeyArray,
    ):
        check_sizes("ResidualMLP", in_size=in_size, width=width, depth=depth)
        keys = jax.random.split(key, depth + 2)
        # The first layer, the depth residual blocks and the output.
        *layers, self.output = linear_layers([in_size] + [width] * (depth + 1) + [1], keys)
        self.layers = tuple(layers)
        self.activation = resolve_activation(activation, "ResidualMLP")
        self.in_size = in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        check_input(self, x)
        h = self.activation(self.layers[0](x))
        for layer in self.layers[1:]:
            h = h + self.activation(layer(h))
        return self.output(h)[0]
