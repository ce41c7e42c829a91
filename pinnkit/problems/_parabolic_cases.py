r"""The ready-made semilinear parabolic problems: the STDE paper's trio and heat cases with
closed forms, their registry entries, and the radial reference of the trio.

The problems and their references are in docs/math.md ("Semilinear parabolic problems").
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import Point
from ._parabolic import ParabolicProblem, SemilinearParabolicPDE, bump_of_s


# ---------------------------------------------------------------------------------------------
# Initial data g(x) and, where it exists, the closed-form solution v(tau, x).


class _Bump(eqx.Module):
    """$g(x) = 5 / (10 + 2|x|^2)$."""

    def __call__(self, x: Point) -> Float[Array, ""]:
        return 5 / (10 + 2 * jnp.sum(x**2))


class _ArctanMax(eqx.Module):
    r"""$g(x) = \arctan(\max_i x_i)$."""

    def __call__(self, x: Point) -> Float[Array, ""]:
        return jnp.arctan(jnp.max(x))


class _Quadratic(eqx.Module):
    r"""$v = |x|^2 + 2 d \tau$ (at $\tau = 0$: $|x|^2$)."""

    def __call__(self, x: Point, t: Float[Array, ""] | float = 0.0) -> Float[Array, ""]:
        return jnp.sum(x**2) + 2 * x.shape[0] * t


class _Exponential(eqx.Module):
    r"""$v = \exp(a \cdot x + |a|^2 \tau)$."""

    a: Float[Array, " dim"]

    def __call__(self, x: Point, t: Float[Array, ""] | float = 0.0) -> Float[Array, ""]:
        return jnp.exp(jnp.dot(self.a, x) + jnp.sum(self.a**2) * t)


class _Gaussian(eqx.Module):
    r"""$v = (\sigma^2/(\sigma^2 + 2\tau))^{d/2} \exp(-|x|^2 / (2(\sigma^2 + 2\tau)))$."""

    variance: float = eqx.field(static=True)

    def __call__(self, x: Point, t: Float[Array, ""] | float = 0.0) -> Float[Array, ""]:
        spread = self.variance + 2 * t
        d = x.shape[0]
        return (self.variance / spread) ** (d / 2) * jnp.exp(-jnp.sum(x**2) / (2 * spread))


# The Monte Carlo (multilevel Picard) values published in the STDE paper: about 1e-3 relative
# noise (docs/math.md, "Semilinear parabolic problems").
MONTE_CARLO_REFERENCES: dict[str, dict[int, float]] = {
    "semilinear-heat": {10: 0.47006, 100: 0.31674, 1_000: 0.28753, 10_000: 0.28433},
    "allen-cahn": {10: 0.89060, 100: 1.04510, 1_000: 1.09100, 10_000: 1.11402},
    "sine-gordon": {10: 0.3229470, 100: 0.0528368, 1_000: 0.0055896, 10_000: 0.0005621},
}
"""Published $u(0, 0)$ of the semilinear trio, by equation and dimension: multilevel Picard
Monte Carlo values from the STDE paper, about $10^{-3}$ relative noise (see
[math](../math.md#semilinear-parabolic-problems))."""


HORIZON = 0.3
"""The horizon $T$ of the semilinear trio (docs/math.md, "Semilinear parabolic problems")."""


def _trio_radial(equation: str, name: str) -> Callable[[int], ParabolicProblem]:
    def build(dim: int) -> ParabolicProblem:
        return ParabolicProblem(
            name=name,
            equation=SemilinearParabolicPDE(equation, dim, HORIZON, _Bump()),
            reference_source="radial method of lines",
            radial_initial=bump_of_s,
        )

    return build


def _allen_cahn_problem(dim: int) -> ParabolicProblem:
    reference = MONTE_CARLO_REFERENCES["allen-cahn"].get(dim)
    return ParabolicProblem(
        name="allen-cahn-parabolic",
        equation=SemilinearParabolicPDE("allen-cahn", dim, HORIZON, _ArctanMax()),
        known_reference=reference,
        reference_source="" if reference is None else "multilevel Picard Monte Carlo (STDE paper)",
    )


def _heat_quadratic(dim: int) -> ParabolicProblem:
    solution = _Quadratic()
    return ParabolicProblem(
        name="heat-quadratic",
        equation=SemilinearParabolicPDE("zero", dim, HORIZON, solution),
        known_reference=2.0 * dim * HORIZON,
        reference_source="closed form",
        solution=solution,
        radial_initial=_identity,
    )


def _identity(s: Array) -> Array:
    return s


EXPONENTIAL_RATE = 0.5
"""The heat-exponential case uses $a = (0.5/\\sqrt{d})\\,(1, \\dots, 1)$, so $|a| = 0.5$."""


def _heat_exponential(dim: int) -> ParabolicProblem:
    a = jnp.full((dim,), EXPONENTIAL_RATE / np.sqrt(dim))
    solution = _Exponential(a)
    return ParabolicProblem(
        name="heat-exponential",
        equation=SemilinearParabolicPDE("zero", dim, HORIZON, solution),
        known_reference=float(np.exp(EXPONENTIAL_RATE**2 * HORIZON)),
        reference_source="closed form",
        solution=solution,
    )


GAUSSIAN_VARIANCE = 1.0
"""The heat-gaussian case starts from $\\exp(-|x|^2 / (2\\sigma^2))$ with $\\sigma^2 = d$
times this, so that $v(T, 0) = (1 + 2T/\\sigma^2)^{-d/2} \\approx e^{-T}$ stays of order one
in any $d$."""


class _GaussianOfS(eqx.Module):
    variance: float = eqx.field(static=True)

    def __call__(self, s: Array) -> Array:
        return jnp.exp(-s / (2 * self.variance))


def _heat_gaussian(dim: int) -> ParabolicProblem:
    v = GAUSSIAN_VARIANCE * dim
    solution = _Gaussian(v)
    return ParabolicProblem(
        name="heat-gaussian",
        equation=SemilinearParabolicPDE("zero", dim, HORIZON, solution),
        known_reference=float((v / (v + 2 * HORIZON)) ** (dim / 2)),
        reference_source="closed form",
        solution=solution,
        radial_initial=_GaussianOfS(v),
    )


_BUILDERS: dict[str, Callable[[int], ParabolicProblem]] = {
    "semilinear-heat": _trio_radial("semilinear-heat", "semilinear-heat"),
    "allen-cahn-parabolic": _allen_cahn_problem,
    "sine-gordon-parabolic": _trio_radial("sine-gordon", "sine-gordon-parabolic"),
    "heat-quadratic": _heat_quadratic,
    "heat-exponential": _heat_exponential,
    "heat-gaussian": _heat_gaussian,
}


def parabolic_problem(name: str, dim: int, key: Any = None) -> ParabolicProblem:
    """The registry's builder of the parabolic problem `name` in dimension `dim` (they have no
    random coefficients, so `key` is unused)."""
    del key
    return _BUILDERS[name](dim)
