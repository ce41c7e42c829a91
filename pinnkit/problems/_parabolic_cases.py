r"""The ready-made semilinear parabolic problems: the STDE paper's trio and heat cases with
closed forms, their registry entries, and the radial reference of the trio.

The problems and their references are in docs/math.md ("Semilinear parabolic problems").
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._timestepping.discretization import Radial
from .._timestepping.mol import MethodOfLines
from .._types import Point
from ._parabolic import ParabolicProblem, SemilinearParabolicPDE
from ._problem import ProblemSpec
from ._reactions import REACTIONS


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


def _bump_of_s(s: Array) -> Array:
    return 5 / (10 + 2 * s)


def _trio_radial(equation: str, name: str) -> Callable[[int], ParabolicProblem]:
    def build(dim: int) -> ParabolicProblem:
        return ParabolicProblem(
            name=name,
            dim=dim,
            T=HORIZON,
            pde=SemilinearParabolicPDE(equation),
            initial=_Bump(),
            reference_source="radial method of lines",
            radial_initial=_bump_of_s,
        )

    return build


def _allen_cahn_problem(dim: int) -> ParabolicProblem:
    reference = MONTE_CARLO_REFERENCES["allen-cahn"].get(dim)
    return ParabolicProblem(
        name="allen-cahn-parabolic",
        dim=dim,
        T=HORIZON,
        pde=SemilinearParabolicPDE("allen-cahn"),
        initial=_ArctanMax(),
        known_reference=reference,
        reference_source="" if reference is None else "multilevel Picard Monte Carlo (STDE paper)",
    )


def _heat_quadratic(dim: int) -> ParabolicProblem:
    solution = _Quadratic()
    return ParabolicProblem(
        name="heat-quadratic",
        dim=dim,
        T=HORIZON,
        pde=SemilinearParabolicPDE("zero"),
        initial=solution,
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
        dim=dim,
        T=HORIZON,
        pde=SemilinearParabolicPDE("zero"),
        initial=solution,
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
        dim=dim,
        T=HORIZON,
        pde=SemilinearParabolicPDE("zero"),
        initial=solution,
        known_reference=float((v / (v + 2 * HORIZON)) ** (dim / 2)),
        reference_source="closed form",
        solution=solution,
        radial_initial=_GaussianOfS(v),
    )


RADIAL_METHODS = ("pinn", "mol", "galerkin")
"""The methods of a radial problem (the method of lines needs $g$ and $f$ radial)."""


def _spec(name: str, description: str, build: Callable[[int], ParabolicProblem], radial: bool):
    return ProblemSpec(
        name=name,
        description=description,
        build=lambda dim, key: build(dim),
        methods=RADIAL_METHODS if radial else ("pinn", "galerkin"),
        answer="value",
    )


PARABOLIC_SPECS: tuple[ProblemSpec, ...] = (
    _spec(
        "semilinear-heat",
        "u_t + Δu + (1-u²)/(1+u²) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        _trio_radial("semilinear-heat", "semilinear-heat"),
        radial=True,
    ),
    _spec(
        "allen-cahn-parabolic",
        "u_t + Δu + u - u³ = 0, u(T,x) = arctan(max_i x_i), T = 0.3; value u(0,0)",
        _allen_cahn_problem,
        radial=False,
    ),
    _spec(
        "sine-gordon-parabolic",
        "u_t + Δu + sin(u) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        _trio_radial("sine-gordon", "sine-gordon-parabolic"),
        radial=True,
    ),
    _spec(
        "heat-quadratic",
        "heat v_τ = Δv, v(0,x) = |x|², exact |x|² + 2dτ, T = 0.3; value v(T,0)",
        _heat_quadratic,
        radial=True,
    ),
    _spec(
        "heat-exponential",
        "heat v_τ = Δv, v(0,x) = exp(a·x), exact exp(a·x + |a|²τ), |a| = 0.5; value v(T,0)",
        _heat_exponential,
        radial=False,
    ),
    _spec(
        "heat-gaussian",
        "heat v_τ = Δv, v(0,x) = exp(-|x|²/(2d)), stays Gaussian, T = 0.3; value v(T,0)",
        _heat_gaussian,
        radial=True,
    ),
)
"""The registry entries of the parabolic problems."""


_RADIAL_EQUATIONS = ("semilinear-heat", "sine-gordon")


def radial_reference(
    equation: str,
    dim: int,
    *,
    t: float = 0.3,
    n_points: int = 128,
    s_max: float | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> float:
    r"""$u(0, 0)$ for a semilinear parabolic benchmark, by the radial method of lines.

    The problems are $u_t + \Delta u + f(u) = 0$ on $\mathbb{R}^d \times [0, T]$ with
    $u(T, x) = g(x) = 5 / (10 + 2|x|^2)$, and $f(u) = (1 - u^2)/(1 + u^2)$
    (`"semilinear-heat"`) or $f(u) = \sin u$ (`"sine-gordon"`). In forward time
    $v_\tau = \Delta v + f(v)$, $v(0) = g$, and $u(0, 0) = v(T, 0)$. As $g$ depends on $x$
    only through $s = |x|^2$, this is the one-dimensional problem
    $v_\tau = 4 s v_{ss} + 2 d v_s + f(v)$, solved with [`pinnkit.Radial`][] (scale 5, the
    scale of $g$) and `Kvaerno5`. The Allen–Cahn problem of the same suite has
    $g(x) = \arctan(\max_i x_i)$, which is not radial, so it has no reference here.

    **Arguments:**

    - `equation`: `"semilinear-heat"` or `"sine-gordon"`.
    - `dim`: the dimension $d$.
    - `t`: the horizon $T$ (default 0.3).
    - `n_points`: Chebyshev nodes in $s$ (default 128).
    - `s_max`: the far end in $s$; `None` (default) for $8 d T + 200$ (four times the mean
      of $|\sqrt{2} W_T|^2$, plus a margin).
    - `rtol`, `atol`: the time-stepping tolerances.

    **Returns:** $u(0, 0)$ as a Python float, computed in float64.
    """
    if equation == "allen-cahn":
        raise ValueError(
            "the Allen–Cahn problem has g(x) = arctan(max_i x_i), which is not radial, so the "
            "radial method of lines cannot give its reference value"
        )
    if equation not in _RADIAL_EQUATIONS:
        raise ValueError(f"equation must be one of {sorted(_RADIAL_EQUATIONS)}, got {equation!r}")
    if s_max is None:
        s_max = 8 * dim * t + 200.0
    with jax.enable_x64(True):
        discretization = Radial(dim, s_max, n_points, scale=5.0)
        mol = MethodOfLines(discretization, REACTIONS[equation], rtol=rtol, atol=atol)
        g = _bump_of_s(jnp.asarray(discretization.nodes))
        solution = mol.solve(g, t, throw=True)
        return float(solution.values[-1, 0])
