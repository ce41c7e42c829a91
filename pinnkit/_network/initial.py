"""Initial data imposed exactly on a space-time network."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._taylor.base import AbstractTaylorMode, Series, coordinate_jets, directional_jets
from .._taylor.products import scaled_jets, scaled_line
from .._types import Point
from .base import AbstractNetwork, check_input


class _ElapsedTime(AbstractTaylorMode):
    """$z \\mapsto t - t_0$ for $z = (x, t)$: linear, so its jets are written down."""

    origin: float = eqx.field(static=True)

    def __call__(self, z: Point) -> Float[Array, ""]:
        return z[-1] - self.origin

    def coordinate_line(self, z: Point, index: Array) -> Callable[[Array], Array]:
        value = self(z)
        slope = (index == z.shape[0] - 1).astype(z.dtype)
        return lambda t: value + t * slope

    def coordinate_jets(
        self, z: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        return self._linear(z, (indices == z.shape[0] - 1).astype(z.dtype), order, collapse)

    def directional_jets(
        self, z: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        return self._linear(z, directions[:, -1], order, collapse)

    def _linear(self, z: Point, slopes: Array, order: int, collapse: bool) -> Series:
        derivatives = [slopes] + [jnp.zeros_like(slopes)] * (order - 1)
        if collapse:
            derivatives[-1] = jnp.sum(derivatives[-1])
        return self(z), derivatives


class HardInitial(AbstractNetwork, AbstractTaylorMode):
    r"""Initial data imposed exactly: $u(x, t) = g(x) + (t - t_0)\, \mathrm{net}(x, t)$.

    The network's input is $z = (x, t) \in \mathbb{R}^{d + 1}$ with **time last**, as for
    [`pinnkit.TimeDerivative`][]; at $t = t_0$ the output is $g(x)$ whatever the parameters,
    so no initial-condition loss is needed. With `initial_time` $= T$ the same network imposes
    the terminal data $u(x, T) = g(x)$ of a backward problem exactly (the sign of $t - T$ is
    the network's to learn); see `ParabolicProblem.network(..., terminal="hard")`.

    Taylor mode ([`pinnkit.AbstractTaylorMode`][]): the jets of $t - t_0$ are written down
    (it is linear), the network's come from its own fast path where it has one, $g$'s from
    the generic fallback, and Leibniz' rule combines them.

    **Arguments:**

    - `network`: the space-time network, with `in_size` $= d + 1 \ge 2$.
    - `initial`: $g$, a function of the spatial point $x$ (shape `(d,)`) returning a
      scalar, or `None` for zero initial data.
    - `initial_time`: $t_0$ (default 0).
    """

    network: AbstractNetwork
    initial: Callable[[Point], Float[Array, ""]] | None
    elapsed: _ElapsedTime

    def __init__(
        self,
        network: AbstractNetwork,
        initial: Callable[[Point], Float[Array, ""]] | None = None,
        initial_time: float = 0.0,
    ):
        if not isinstance(network, AbstractNetwork):
            raise ValueError(f"HardInitial wraps an AbstractNetwork, got {type(network).__name__}")
        if network.in_size < 2:
            raise ValueError(
                "HardInitial needs a space-time network, in_size = d + 1 >= 2 with time last; "
                f"got in_size={network.in_size}"
            )
        self.network = network
        self.initial = initial
        self.elapsed = _ElapsedTime(float(initial_time))

    @property
    def in_size(self) -> int:
        return self.network.in_size

    @property
    def initial_time(self) -> float:
        """$t_0$, where the output equals the initial data."""
        return self.elapsed.origin

    def _initial_of_z(self, z: Point) -> Float[Array, ""]:
        assert self.initial is not None
        return self.initial(z[:-1])

    @property
    def _offset(self) -> Callable[[Point], Float[Array, ""]] | None:
        """$g$ as a function of $z = (x, t)$, or `None` for zero initial data."""
        return None if self.initial is None else self._initial_of_z

    def __call__(self, z: Point) -> Float[Array, ""]:
        check_input(self, z)
        out = self.elapsed(z) * self.network(z)
        if self.initial is not None:
            out = out + self._initial_of_z(z)
        return out

    def coordinate_line(self, z: Point, index: Array) -> Callable[[Array], Array]:
        check_input(self, z)
        return scaled_line(self.elapsed, self.network, self._offset, z, index)

    def coordinate_jets(
        self, z: Point, indices: Int[Array, " n"], order: int, collapse: bool
    ) -> Series:
        check_input(self, z)
        return self._combine(coordinate_jets, z, indices, order, collapse)

    def directional_jets(
        self, z: Point, directions: Float[Array, "n dim"], order: int, collapse: bool
    ) -> Series:
        check_input(self, z)
        return self._combine(directional_jets, z, directions, order, collapse)

    def _combine(self, jets, z: Point, tangents: Array, order: int, collapse: bool) -> Series:
        return scaled_jets(
            jets, self.elapsed, self.network, self._offset, z, tangents, order, collapse
        )
