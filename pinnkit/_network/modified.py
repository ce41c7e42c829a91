"""The modified MLP: hidden layers gated between two encodings of the input."""

from collections.abc import Callable

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from .._types import Point
from .base import AbstractNetwork, check_input
from .layers import check_sizes, linear_layers, resolve_activation


class ModifiedMLP(AbstractNetwork):
    r"""The modified (gated) MLP of Wang, Teng and Perdikaris.

    Two encoders of the input, $U = \sigma(W_U x + b_U)$ and $V = \sigma(W_V x + b_V)$, gate
    every hidden layer:

    $$H_1 = \sigma(W_1 x + b_1), \qquad
    Z_k = \sigma(W_{k+1} H_k + b_{k+1}), \qquad
    H_{k+1} = (1 - Z_k) \odot U + Z_k \odot V, \quad k = 1, \dots, L,$$

    and $u(x) = w^\top H_{L+1} + c$. The input reaches every layer through $U$ and $V$, which
    eases the gradient pathologies (unbalanced back-propagated gradients) of plain PINN MLPs.
    Its cost is about that of an MLP with $L + 3$ layers.

    Jets go through the generic fallbacks (`jax.experimental.jet` along each direction), which
    every estimator supports; there is no [`pinnkit.AbstractTaylorMode`][] fast path.

    **Arguments:**

    - `in_size`: the input dimension $d$.
    - `width`: neurons per layer, also the width of $U$ and $V$ (default 128).
    - `depth`: $L$, the number of gated layers (default 3).
    - `activation`: as for [`pinnkit.MLP`][] (default `"tanh"`).
    - `key`: the PRNG key for the initial parameters.

    **Reference:** Wang, Teng, Perdikaris, "Understanding and mitigating gradient flow
    pathologies in physics-informed neural networks", SIAM J. Sci. Comput. 43(5) (2021).
    """

    encoder_u: eqx.nn.Linear
    encoder_v: eqx.nn.Linear
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
        check_sizes("ModifiedMLP", in_size=in_size, width=width, depth=depth)
        keys = jax.random.split(key, depth + 4)
        self.encoder_u = eqx.nn.Linear(in_size, width, key=keys[0])
        self.encoder_v = eqx.nn.Linear(in_size, width, key=keys[1])
        # The first layer, the depth gates and the output, from keys[2:].
        *layers, self.output = linear_layers([in_size] + [width] * (depth + 1) + [1], keys[2:])
        self.layers = tuple(layers)
        self.activation = resolve_activation(activation, "ModifiedMLP")
        self.in_size = in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        check_input(self, x)
        u = self.activation(self.encoder_u(x))
        v = self.activation(self.encoder_v(x))
        h = self.activation(self.layers[0](x))
        for layer in self.layers[1:]:
            z = self.activation(layer(h))
            h = u + z * (v - u)  # (1 - z) u + z v
        return self.output(h)[0]
