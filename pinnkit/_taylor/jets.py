"""Jet plumbing shared by the Taylor-mode estimators.

`jax.experimental.jet.jet` pushes the curve $x + \\sum_j v_j t^j / j!$ through a function and
returns the derivatives $\\frac{d^j}{dt^j} f$ at $t = 0$ (the derivative convention).
"""

import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float

from .._types import Point, ScalarField


def directional_jet(
    fn: ScalarField, x: Point, tangent: Float[Array, " dim"], order: int
) -> tuple[Float[Array, ""], list[Float[Array, ""]]]:
    r"""Push the line $x + t v$ through `fn` to `order`.

    **Returns:** `(u(x), [d/dt u, ..., d^order/dt^order u])` at $t = 0$; for order 2 the
    outputs are $\langle \nabla u, v\rangle$ and $v^\top D^2 u\, v$.
    """
    zeros = jnp.zeros_like(x)
    series = (tangent,) + (zeros,) * (order - 1)
    primal, outputs = jet.jet(fn, (x,), (series,))
    return primal, list(outputs)


def second_directional(
    fn: ScalarField, x: Point, tangent: Float[Array, " dim"]
) -> Float[Array, ""]:
    r"""$v^\top D^2 u(x)\, v$ from one 2-jet with tangents `(v, 0)`."""
    return directional_jet(fn, x, tangent, 2)[1][1]
