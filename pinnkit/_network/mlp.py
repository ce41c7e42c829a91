"""Multilayer perceptrons and boundary-condition wrappers."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._taylor.base import AbstractTaylorMode, Series, coordinate_jets, directional_jets
from .._taylor.products import scaled_jets, scaled_line
from .._types import Point
from .base import AbstractNetwork, check_input
from .layers import (
    _ACTIVATIONS as _ACTIVATIONS,
    Initialization,
    check_sizes,
    linear_layers,
    resolve_activation,
)


class MLP(AbstractNetwork, AbstractTaylorMode):
    r"""A fully connected network $\mathbb{R}^d \to \mathbb{R}$.

    **Arguments:**

    - `in_size`: the input dimension $d$.
    - `width`: neurons per hidden layer (default 128).
    - `depth`: number of hidden layers (default 3: $d \to 128 \to 128 \to 128 \to 1$, the
      recipe of the STDE experiments).
    - `activation`: `"tanh"` (default), `"sin"`, `"gelu"`, `"silu"`, `"softplus"`, or a callable.
    - `initialization`: `"uniform"` ($U(\pm 1/\sqrt{\text{fan-in}})$, default),
      `"glorot_normal"`, `"glorot_uniform"` or `"lecun_normal"`; biases start at zero except
      for `"uniform"`, which draws them like the weights.
    - `key`: the PRNG key for the initial parameters.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: Callable[[Array], Array]
    in_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        width: int = 128,
        depth: int = 3,
        activation: str | Callable[[Array], Array] = "tanh",
        initialization: Initialization = "uniform",
        *,
        key: PRNGKeyArray,
    ):
        check_sizes("MLP", in_size=in_size, width=width, depth=depth)
        sizes = [in_size] + [width] * depth + [1]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = linear_layers(sizes, keys, initialization)
        self.activation = resolve_activation(activation, "MLP")
        self.in_size = in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        check_input(self, x)
        return self._from_first_layer(self.layers[0](x))

    def _from_first_layer(self, h: Float[Array, " width"]) -> Float[Array, ""]:
        for layer in self.layers[1:]:
            h = layer(self.activation(h))
        return h[0]

    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        check_input(self, x)
        first = self.layers[0]
        h0 = first(x)
        column = first.weight[:, index]
        return lambda t: self._from_first_layer(h0 + t * column)

    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        check_input(self, x)
        first = self.layers[0]
        tangents = first.weight[:, indices].T  # gathered columns W e_j: O(width) each
        return self._jets_from_first_layer(first(x), tangents, order, collapse)

    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        check_input(self, x)
        first = self.layers[0]
        return self._jets_from_first_layer(first(x), directions @ first.weight.T, order, collapse)

    def _jets_from_first_layer(
        self, h: Array, tangents: Float[Array, "n width"], order: int, collapse: bool
    ) -> Series:
        # Taylor coefficients of the first layer's output along each direction: (W v, 0, ...).
        # Linear layers map each coefficient once (the bias only shifts the primal); only the
        # elementwise activation needs a jet. A collapsed top order enters each activation
        # linearly, sigma'(h) * sum, so it is carried as one vector.
        n, width = tangents.shape
        lower = [tangents] + [jnp.zeros((n, width), h.dtype)] * (order - 1)
        top = None
        if collapse:
            lower, top = lower[:-1], jnp.zeros(width, h.dtype)
            if order == 1:
                lower, top = [], jnp.sum(tangents, axis=0)
        return self._jets_after_first_layer(h, lower, top, order)

    def _jets_after_first_layer(
        self, h: Array, lower: list[Array], top: Array | None, order: int
    ) -> Series:
        """The jet of the network given the full series of its first layer's output.

        `h` is the first layer's output, `lower` its Taylor coefficients per direction (each
        of shape `(n, width)`), `top` the collapsed top-order sum (shape `(width,)`) or
        `None`. `_jets_from_first_layer` starts from a first layer that is linear in the
        input (only a first-order coefficient); this accepts any series, e.g. after Fourier
        features.
        """
        n = lower[0].shape[0] if lower else 1
        for layer in self.layers[1:]:
            a, a_lower, a_top = self._activation_jet(h, lower, top, n, order)
            h = layer(a)
            lower = [c @ layer.weight.T for c in a_lower]
            top = None if a_top is None else layer.weight @ a_top
        derivatives = [c[:, 0] for c in lower]
        if top is not None:
            derivatives.append(top[0])
        return h[0], derivatives

    def _activation_jet(
        self, h: Array, lower: list[Array], top: Array | None, n: int, order: int
    ) -> tuple[Array, list[Array], Array | None]:
        if top is None:
            return self.activation(h), self._per_direction(h, lower), None
        if order == 1:
            a, slope = jax.jvp(self.activation, (h,), (jnp.ones_like(h),))
            return a, [], slope * top
        # Per direction, with the top coefficient's input set to zero; then add
        # sigma'(h) * (sum of top inputs), the only place the top input enters.
        padded = lower + [jnp.zeros((n, h.shape[0]), h.dtype)]
        a_all = self._per_direction(h, padded)
        slope = jax.jvp(self.activation, (h,), (jnp.ones_like(h),))[1]
        return self.activation(h), a_all[:-1], jnp.sum(a_all[-1], axis=0) + slope * top

    def _per_direction(self, h: Array, series: list[Array]) -> list[Array]:
        # The primal h is shared: vmap over directions leaves its pass unbatched.
        def one(*coefficients: Array) -> list[Array]:
            return list(jet.jet(self.activation, (h,), (coefficients,))[1])

        return jax.vmap(one)(*series)


class UnitBallDistance(AbstractTaylorMode):
    r"""$\varphi(x) = R^2 - |x|^2$: zero on the sphere of radius $R$, positive inside.

    **Arguments:**

    - `radius`: $R$ (default 1).
    """

    radius: float = eqx.field(default=1.0, static=True)

    def __call__(self, x: Point) -> Float[Array, ""]:
        return self.radius**2 - jnp.sum(x**2)

    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        value = self(x)
        xj = x[index]
        return lambda t: value - 2.0 * t * xj - t**2

    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        # phi(x + t e_j) = phi(x) - 2 t x_j - t^2
        return self._quadratic(x, x[indices], jnp.ones(indices.shape, x.dtype), order, collapse)

    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        # phi(x + t v) = phi(x) - 2 t <x, v> - t^2 |v|^2
        squares = jnp.sum(directions**2, axis=1)
        return self._quadratic(x, directions @ x, squares, order, collapse)

    def _quadratic(
        self, x: Point, x_dot_v: Array, v_dot_v: Array, order: int, collapse: bool
    ) -> Series:
        zero = jnp.zeros_like(x_dot_v)
        derivatives = ([-2.0 * x_dot_v, -2.0 * v_dot_v] + [zero] * order)[:order]
        if collapse:
            derivatives[-1] = jnp.sum(derivatives[-1])
        return self(x), derivatives


unit_ball_distance = UnitBallDistance()
"""$1 - |x|^2$, the default boundary factor of [`pinnkit.HardDirichlet`][]."""


class HardDirichlet(AbstractNetwork, AbstractTaylorMode):
    r"""Zero Dirichlet data imposed exactly: $u(x) = \varphi(x)\, \mathrm{net}(x) + g(x)$.

    **Arguments:**

    - `network`: the network to wrap.
    - `distance`: $\varphi$, zero on the boundary and nonzero inside; default
      $1 - |x|^2$ for the unit ball.
    - `boundary_value`: $g$, a function equal to the Dirichlet data on the boundary, or
      `None` for zero data.
    """

    network: AbstractNetwork
    distance: Callable[[Point], Float[Array, ""]]
    boundary_value: Callable[[Point], Float[Array, ""]] | None

    def __init__(
        self,
        network: AbstractNetwork,
        distance: Callable[[Point], Float[Array, ""]] = unit_ball_distance,
        boundary_value: Callable[[Point], Float[Array, ""]] | None = None,
    ):
        self.network = network
        self.distance = distance
        self.boundary_value = boundary_value

    @property
    def in_size(self) -> int:
        return self.network.in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        out = self.distance(x) * self.network(x)
        if self.boundary_value is not None:
            out = out + self.boundary_value(x)
        return out

    def coordinate_line(self, x: Point, index: Array) -> Callable[[Array], Array]:
        return scaled_line(self.distance, self.network, self.boundary_value, x, index)

    def coordinate_jets(
        self, x: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        return self._combine(coordinate_jets, x, indices, order, collapse)

    def directional_jets(
        self, x: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        return self._combine(directional_jets, x, directions, order, collapse)

    def _combine(self, jets, x: Point, tangents: Array, order: int, collapse: bool) -> Series:
        return scaled_jets(
            jets, self.distance, self.network, self.boundary_value, x, tangents, order, collapse
        )
