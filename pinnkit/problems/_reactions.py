r"""The zeroth-order terms $f(u)$ of the ready-made problems, each written once.

The unit-ball suite solves $\Delta u + f(u) = s$ and the parabolic problems
$u_t + \Delta u + f(u) = 0$; both look their $f$ up here by name.
"""

from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import Array


def _zero(u: Array) -> Array:
    return jnp.zeros_like(u)


def _allen_cahn(u: Array) -> Array:
    return u - u**3


def _semilinear_heat(u: Array) -> Array:
    return (1 - u**2) / (1 + u**2)


REACTIONS: dict[str, Callable[[Array], Array]] = {
    "zero": _zero,
    "allen-cahn": _allen_cahn,
    "sine-gordon": jnp.sin,
    "semilinear-heat": _semilinear_heat,
}
"""The reactions $f(u)$ by name, elementwise: `"zero"` ($0$), `"allen-cahn"` ($u - u^3$),
`"sine-gordon"` ($\\sin u$) and `"semilinear-heat"` ($(1 - u^2)/(1 + u^2)$)."""


def check_reaction(name: str) -> None:
    """Raise `ValueError`, listing the valid names, unless `name` is in `REACTIONS`."""
    if name not in REACTIONS:
        raise ValueError(f"unknown reaction {name!r}; valid: {', '.join(REACTIONS)}")
