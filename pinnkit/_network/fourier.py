"""A multilayer perceptron on random Fourier features."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._taylor.base import AbstractTaylorMode, Series
from .._types import Point
from .base import AbstractNetwork, check_input
from .layers import check_sizes
from .mlp import MLP, Initialization


class FourierFeatureMLP(AbstractNetwork, AbstractTaylorMode):
    r"""An MLP on random Fourier features: $u(x) = \mathrm{MLP}(\gamma(x))$ with

    $$\gamma(x) = \big[\cos(2\pi B x),\ \sin(2\pi B x)\big] \in \mathbb{R}^{2m},
    \qquad B_{ij} \sim \mathcal{N}(0, \sigma^2),$$

    $B \in \mathbb{R}^{m \times d}$ (the field `frequencies`). The features let a
    plain MLP represent high frequencies: the scale $\sigma$ sets the band it fits easily
    (spectral bias is the tendency of MLPs to learn low frequencies first). With
    `trainable_frequencies=False` (default) $B$ is held fixed: it sits behind
    `jax.lax.stop_gradient`, so its gradient is zero (an optimizer with weight decay would
    still shrink it; filter it out of such an optimizer).

    Taylor mode ([`pinnkit.AbstractTaylorMode`][]): $2\pi B x$ is linear in $x$, so along
    $x + t v$ the features are $\sin(z + t a)$ with $a = 2\pi B v$ (the cosine is a sine
    shifted by $\pi/2$), whose $k$-th $t$-derivative is $a^k \sin(z + k\pi/2)$ in closed
    form; along $e_j$, $a$ is the gathered column $2\pi B_{:, j}$. From the MLP's first layer
    on, the coefficients go through the MLP's own jet propagation.

    **Arguments:**

    - `in_size`: the input dimension $d$.
    - `num_features`: $m$, the number of frequencies ($2m$ features; default 64).
    - `width`: neurons per hidden layer of the MLP on the features (default 128).
    - `depth`: hidden layers of that MLP (default 3).
    - `scale`: $\sigma$, the standard deviation of the frequencies (default 1).
    - `trainable_frequencies`: train $B$ too (default `False`).
    - `activation`, `initialization`: as for [`pinnkit.MLP`][] (defaults `"tanh"`,
      `"uniform"`).
    - `key`: the PRNG key for the frequencies and the MLP's parameters.

    **Reference:** Tancik et al., "Fourier Features Let Networks Learn High Frequency
    Functions in Low Dimensional Domains", NeurIPS (2020); Wang, Wang, Perdikaris, "On the
    eigenvector bias of Fourier feature networks", CMAME 384 (2021).
    """

    frequencies: Float[Array, "features dim"]
    mlp: MLP
    in_size: int = eqx.field(static=True)
    trainable_frequencies: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        num_features: int = 64,
        width: int = 128,
        depth: int = 3,
        scale: float = 1.0,
        trainable_frequencies: bool = False,
        activation: str | Callable[[Array], Array] = "tanh",
        initialization: Initialization = "uniform",
        *,
        key: PRNGKeyArray,
    ):
        check_sizes(
            "FourierFeatureMLP", in_size=in_size, num_features=num_features, width=width,
            depth=depth,
        )  # fmt: skip
        if not scale > 0:
            raise ValueError(f"FourierFeatureMLP needs a positive scale, got {scale}")
        frequency_key, mlp_key = jax.random.split(key)
        self.frequencies = scale * jax.random.normal(frequency_key, (num_features, in_size))
        self.mlp = MLP(2 * num_features, width, depth, activation, initialization, key=mlp_key)
        self.in_size = in_size
        self.trainable_frequencies = trainable_frequencies

    def _angular(self) -> Float[Array, "features2 dim"]:
        # 2 pi [B; B]: rows for the cosines, then for the sines.
        b = self.frequencies
        if not self.trainable_frequencies:
            b = jax.lax.stop_gradient(b)
        return (2 * math.pi) * jnp.concatenate([b, b])

    def _phases(self, x: Point) -> Array:
        # z such that gamma(x) = sin(z): cos(w.x) = sin(w.x + pi/2).
        m = self.frequencies.shape[0]
        shift = jnp.concatenate([jnp.full(m, math.pi / 2, x.dtype), jnp.zeros(m, x.dtype)])
        return self._angular() @ x + shift

    def features(self, x: Point) -> Float[Array, " features2"]:
        r"""$\gamma(x) = [\cos(2\pi B x), \sin(2\pi B x)]$ at one point."""
        check_input(self, x)
        return jnp.sin(self._phases(x))

    def __call__(self, x: Point) -> Float[Array, ""]:
        return self.mlp(self.features(x))

    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        check_input(self, x)
        z = self._phases(x)
        column = self._angular()[:, index]
        return lambda t: self.mlp(jnp.sin(z + t * column))

    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        check_input(self, x)
        return self._jets(x, self._angular()[:, indices].T, order, collapse)

    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        check_input(self, x)
        return self._jets(x, directions @ self._angular().T, order, collapse)

    def _jets(self, x: Point, a: Float[Array, "n features2"], order: int, collapse: bool) -> Series:
        z = self._phases(x)
        first = self.mlp.layers[0]
        h = first(jnp.sin(z))
        # d^k/dt^k sin(z + t a) = a^k sin(z + k pi/2), mapped by the first layer's weight.
        last = order - 1 if collapse else order
        lower = [(a**k * jnp.sin(z + k * math.pi / 2)) @ first.weight.T for k in range(1, last + 1)]
        top = None
        if collapse:
            top = first.weight @ (jnp.sin(z + order * math.pi / 2) * jnp.sum(a**order, axis=0))
        return self.mlp._jets_after_first_layer(h, lower, top, order)
