"""A multilayer perceptron whose first layer is shared by blocks of inputs."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._taylor.base import AbstractTaylorMode, Series
from .._types import Point
from .base import AbstractNetwork, check_input
from .mlp import MLP, Initialization


class SharedFirstLayerMLP(AbstractNetwork, AbstractTaylorMode):
    r"""An MLP on block features: blocks of $B$ consecutive inputs share one `Linear(B -> 1)`.

    The input $x \in \mathbb{R}^d$ is cut into $d / B$ consecutive blocks of $B$
    coordinates, and every block goes through the same linear map:

    $$z_k = w \cdot x_{kB : (k+1)B} + c, \qquad k = 0, \dots, d/B - 1,$$

    that is, `z = x.reshape(d // B, B) @ w + c` (the fields `block_weight` $= w$ and
    `block_bias` $= c$). Then $u(x) = \mathrm{MLP}(z)$, a
    [`pinnkit.MLP`][] with input size $d/B$ (the field `mlp`; its first layer is linear on
    $z$, so $c$ could be folded into its bias, and is kept for a plain `Linear(B -> 1)`). The
    parameter count is $B + 1$ for the shared map plus $(d/B + 1) h$ for the MLP's first layer
    plus the hidden layers: about $B + (d/B) \cdot h$ instead of the $d \cdot h$ of a plain
    MLP's first layer. With $d = 10^6$, $B = 1000$ and $h = 128$ that is about $1.6 \times
    10^5$ parameters instead of $1.3 \times 10^8$.

    Taylor mode ([`pinnkit.AbstractTaylorMode`][]): along $e_j$ the block features move by
    $w_{j \bmod B}$ in feature $\lfloor j / B \rfloor$ only, so the tangent after the MLP's
    first layer is the gathered column $w_{j \bmod B} W_{:, \lfloor j/B \rfloor}$, $O(h)$ per
    direction; a dense direction $v$ costs one `v.reshape(d // B, B) @ w`. The rest is the
    MLP's own jet propagation.

    **Arguments:**

    - `in_size`: the input dimension $d$, a multiple of `block_size`.
    - `block_size`: $B$, the inputs per block (`in_size // block_size` block features).
    - `width`: neurons per hidden layer of the MLP on the features (default 128).
    - `depth`: hidden layers of that MLP (default 3).
    - `activation`: as for [`pinnkit.MLP`][] (default `"tanh"`).
    - `initialization`: as for [`pinnkit.MLP`][], applied to its layers; the shared map
      always starts uniform, $U(\pm 1/\sqrt{B})$ for $w$ and $c$.
    - `key`: the PRNG key for the initial parameters.

    Raises `ValueError` when `block_size` is not a positive divisor of `in_size` (there is
    no padding: choose a divisor, or pad the inputs yourself).

    **Reference:** Shi, Hu, Lin, Kawaguchi, "Stochastic Taylor Derivative Estimator:
    Efficient amortization for arbitrary differential operators", NeurIPS (2024), where
    first-layer weight sharing ran to 5,000,000 dimensions.
    """

    block_weight: Float[Array, " block"]
    block_bias: Float[Array, ""]
    mlp: MLP
    in_size: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        block_size: int,
        width: int = 128,
        depth: int = 3,
        activation: str | Callable[[Array], Array] = "tanh",
        initialization: Initialization = "uniform",
        *,
        key: PRNGKeyArray,
    ):
        if block_size < 1 or in_size < 1 or in_size % block_size:
            raise ValueError(
                f"SharedFirstLayerMLP needs block_size to be a positive divisor of in_size; got "
                f"block_size={block_size} for in_size={in_size} (no padding is done: pick a "
                "divisor of in_size)"
            )
        weight_key, bias_key, mlp_key = jax.random.split(key, 3)
        limit = 1.0 / math.sqrt(block_size)
        self.block_weight = jax.random.uniform(
            weight_key, (block_size,), minval=-limit, maxval=limit
        )
        self.block_bias = jax.random.uniform(bias_key, (), minval=-limit, maxval=limit)
        self.mlp = MLP(in_size // block_size, width, depth, activation, initialization, key=mlp_key)
        self.in_size = in_size
        self.block_size = block_size

    @property
    def num_blocks(self) -> int:
        """$d / B$, the number of block features."""
        return self.in_size // self.block_size

    def features(self, x: Point) -> Float[Array, " blocks"]:
        """The block features $z_k = w \\cdot x_{kB:(k+1)B} + c$ at one point."""
        check_input(self, x)
        return self._blocks(x) + self.block_bias

    def _blocks(self, v: Array) -> Array:
        # The bias-free shared map on the last axis of v, for one point or a stack of them.
        blocked = v.reshape(*v.shape[:-1], self.num_blocks, self.block_size)
        return blocked @ self.block_weight

    def __call__(self, x: Point) -> Float[Array, ""]:
        return self.mlp(self.features(x))

    def _columns(self, index: Array) -> Array:
        # The MLP's first-layer tangent along e_j: w[j % B] * W[:, j // B].
        weight = self.block_weight[index % self.block_size]
        return weight[..., None] * self.mlp.layers[0].weight[:, index // self.block_size].T

    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        first = self.mlp.layers[0]
        h0 = first(self.features(x))
        column = self._columns(index)
        return lambda t: self.mlp._from_first_layer(h0 + t * column)

    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        first = self.mlp.layers[0]
        h0 = first(self.features(x))
        return self.mlp._jets_from_first_layer(h0, self._columns(indices), order, collapse)

    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        if directions.ndim != 2 or directions.shape[1] != self.in_size:
            raise ValueError(
                f"directions must have shape (n, {self.in_size}), got {directions.shape}"
            )
        z = self.features(x)
        return self.mlp.directional_jets(z, self._blocks(directions), order, collapse)
