r"""The general parabolic problems: HJB, Allen–Cahn in the PNAS form, Black–Scholes with
default risk (Han, Jentzen & E, PNAS 2018), Black–Scholes–Barenblatt and HJB-LIN, each a
subclass of [`pinnkit.AbstractParabolicPDE`][] with its reference (docs/math.md, "General
parabolic problems")."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.parabolic import AbstractParabolicPDE
from .._solver.feynman_kac import FeynmanKacValue
from .._timestepping.picard import geometric_transition, multilevel_picard_value
from .._types import Point
from ._parabolic import ParabolicProblem, chi2_mean
from ._reactions import REACTIONS


_SQRT2 = math.sqrt(2.0)


class HJB(AbstractParabolicPDE):
    r"""$u_t + \Delta u - \lambda|\nabla u|^2 = 0$, $u(T, x) = \ln((1 + |x|^2)/2)$: $\sigma =
    \sqrt2 I$, $f = -\tfrac{\lambda}{2}|z|^2$ with $z = \sqrt2\nabla u$."""

    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True, default=1.0)
    lam: float = eqx.field(static=True, default=1.0)

    def diffusion(self, t, x):
        del t, x
        return _SQRT2

    def nonlinearity(self, t, x, u, z):
        del t, x, u
        return -0.5 * self.lam * jnp.sum(z**2)

    def terminal(self, x: Point) -> Float[Array, ""]:
        return jnp.log((1 + jnp.sum(x**2)) / 2)


class AllenCahnPNAS(AbstractParabolicPDE):
    r"""$u_t + \Delta u + u - u^3 = 0$, $u(T, x) = 1/(2 + 0.4|x|^2)$."""

    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True, default=0.3)

    def diffusion(self, t, x):
        del t, x
        return _SQRT2

    def nonlinearity(self, t, x, u, z):
        del t, x, z
        return REACTIONS["allen-cahn"](u)

    def terminal(self, x: Point) -> Float[Array, ""]:
        return 1 / (2 + 0.4 * jnp.sum(x**2))


class BlackScholesBarenblatt(AbstractParabolicPDE):
    r"""$u_t + \tfrac{\sigma^2}{2}\sum_i x_i^2\partial_{ii}u - r(u - x\cdot\nabla u) = 0$,
    $u(T, x) = |x|^2$: diagonal $\sigma(x) = \sigma x$, $f = -r(u - \sum_i z_i/\sigma)$ with
    $z_i = \sigma x_i\partial_i u$; closed form $e^{(r + \sigma^2)(T - t)}|x|^2$;
    $x_0 = (1, 0.5, 1, 0.5, \dots)$."""

    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True, default=1.0)
    sigma: float = eqx.field(static=True, default=0.4)
    r: float = eqx.field(static=True, default=0.05)

    def diffusion(self, t, x):
        del t
        return self.sigma * x

    def nonlinearity(self, t, x, u, z):
        del t, x
        return -self.r * (u - jnp.sum(z) / self.sigma)

    def terminal(self, x: Point) -> Float[Array, ""]:
        return jnp.sum(x**2)

    def origin(self) -> Point:
        return jnp.where(jnp.arange(self.dim) % 2 == 0, 1.0, 0.5)

    def solution(self, t: Float[Array, ""] | float, x: Point) -> Float[Array, ""]:
        """The closed form $e^{(r + \\sigma^2)(T - t)}|x|^2$."""
        return jnp.exp((self.r + self.sigma**2) * (self.T - t)) * jnp.sum(x**2)


class HJBLin(AbstractParabolicPDE):
    r"""$u_t + \Delta u - \tfrac1d\sum_i|\partial_i u|^c = -2$, $u(T, x) = \sum_i x_i$:
    $\sigma = \sqrt2 I$, $f = 2 - \tfrac1d\sum_i |z_i/\sqrt2|^c$; closed form
    $\sum_i x_i + T - t$."""

    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True, default=1.0)
    c: float = eqx.field(static=True, default=1.75)

    def diffusion(self, t, x):
        del t, x
        return _SQRT2

    def nonlinearity(self, t, x, u, z):
        del t, x, u
        return 2.0 - jnp.mean(jnp.abs(z / _SQRT2) ** self.c)

    def terminal(self, x: Point) -> Float[Array, ""]:
        return jnp.sum(x)

    def solution(self, t: Float[Array, ""] | float, x: Point) -> Float[Array, ""]:
        """The closed form $\\sum_i x_i + T - t$."""
        return jnp.sum(x) + self.T - t


class DefaultRisk(AbstractParabolicPDE):
    r"""Black–Scholes with default risk: $u_t + \bar\mu x\cdot\nabla u +
    \tfrac{\bar\sigma^2}{2}\sum_i x_i^2\partial_{ii}u - (1 - \delta)Q(u)u - Ru = 0$,
    $u(T, x) = \min_i x_i$, $x_0 = (100, \dots, 100)$; $Q$ is $\gamma^h$ below $v^h$,
    $\gamma^l$ above $v^l$ and linear between."""

    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True, default=1.0)
    mu: float = eqx.field(static=True, default=0.02)
    sigma: float = eqx.field(static=True, default=0.2)
    delta: float = eqx.field(static=True, default=2.0 / 3.0)
    R: float = eqx.field(static=True, default=0.02)
    gamma_high: float = eqx.field(static=True, default=0.2)
    gamma_low: float = eqx.field(static=True, default=0.02)
    v_high: float = eqx.field(static=True, default=50.0)
    v_low: float = eqx.field(static=True, default=70.0)

    def drift(self, t, x):
        del t
        return self.mu * x

    def diffusion(self, t, x):
        del t
        return self.sigma * x

    def default_intensity(self, u: Array) -> Array:
        """$Q(u)$."""
        slope = (self.gamma_high - self.gamma_low) / (self.v_high - self.v_low)
        between = slope * (u - self.v_high) + self.gamma_high
        return jnp.clip(between, self.gamma_low, self.gamma_high)

    def nonlinearity(self, t, x, u, z):
        del t, x, z
        return -(1 - self.delta) * self.default_intensity(u) * u - self.R * u

    def terminal(self, x: Point) -> Float[Array, ""]:
        return jnp.min(x)

    def origin(self) -> Point:
        return jnp.full((self.dim,), 100.0)


def hjb_reference(dim: int, T: float = 1.0, lam: float = 1.0) -> float:
    r"""$u(0, 0)$ of [`HJB`][pinnkit.problems.HJB] by the Cole–Hopf transform: $w = e^{-\lambda u}$
    solves the heat equation $w_t + \Delta w = 0$, so $u(0, 0) = -\tfrac1\lambda
    \ln E[e^{-\lambda g(\sqrt2 W_T)}] = -\tfrac1\lambda\ln E[(2/(1 + 2TS))^\lambda]$ with
    $S \sim \chi^2_d$ (docs/math.md), computed by quadrature."""
    mean = chi2_mean(lambda s: (2 / (1 + 2 * T * s)) ** lam, dim)
    return -math.log(mean) / lam


def default_risk_reference(
    dim: int = 100, levels: int = 5, realizations: int = 1024, key: Any = None
) -> FeynmanKacValue:
    r"""$u(0, x_0)$ of [`DefaultRisk`][pinnkit.problems.DefaultRisk] by multilevel Picard
    ([`pinnkit.multilevel_picard_value`][], $n = M$ = `levels`) over exactly drawn geometric
    Brownian paths, in float64: the mean of `realizations` independent realizations and its
    standard error. At $d = 100$ with the defaults (about 5 minutes on 2 CPU cores) it is
    `DEFAULT_RISK_REFERENCE`."""
    equation = DefaultRisk(dim)
    key = jax.random.key(0) if key is None else key
    with jax.enable_x64(True):
        return multilevel_picard_value(
            equation,
            geometric_transition(equation.mu, equation.sigma),
            key,
            levels=levels,
            realizations=realizations,
        )


DEFAULT_RISK_REFERENCE = FeynmanKacValue(57.29264697060982, 0.0031598290341424253, 1024)
r"""`default_risk_reference()` at $d = 100$ (key 0, $n = M = 5$, 1,024 realizations), as
computed on 2026-12-05: $57.2926 \pm 0.0032$ (standard error). With $n = M = 4$ and 2,048
realizations it gave $57.2917 \pm 0.0075$; the paper's multilevel Picard value is 57.300."""


PAPER_VALUES: dict[str, float] = {
    "hjb": 4.5901,
    "allen-cahn-pnas": 0.052802,
    "black-scholes-default-risk": 57.300,
}
"""The reference values of Han, Jentzen & E (PNAS 2018) at $d = 100$: HJB by Cole–Hopf
Monte Carlo, Allen–Cahn by the branching diffusion method, default risk by multilevel Picard.
Quoted beside ours, which are computed here."""


def general_problem(name: str, dim: int, key: Any = None) -> ParabolicProblem:
    """The registry's builder of the general parabolic problem `name` in dimension `dim`."""
    del key
    if name == "hjb":
        equation = HJB(dim)
        return ParabolicProblem(
            name,
            equation,
            "Cole–Hopf transform, quadrature",
            hjb_reference(dim),
            radial_initial=_hjb_of_s,
            normalised=True,
        )
    if name == "allen-cahn-pnas":
        return ParabolicProblem(
            name,
            AllenCahnPNAS(dim),
            "radial method of lines",
            radial_initial=_pnas_allen_cahn_of_s,
            normalised=True,
        )
    if name == "black-scholes-barenblatt":
        bsb = BlackScholesBarenblatt(dim)
        return ParabolicProblem(
            name,
            bsb,
            "closed form",
            float(bsb.solution(0.0, bsb.origin())),
            solution=lambda x, tau: bsb.solution(bsb.T - tau, x),
            normalised=True,
        )
    if name == "hjb-lin":
        lin = HJBLin(dim)
        return ParabolicProblem(
            name,
            lin,
            "closed form",
            float(lin.T),
            solution=lambda x, tau: lin.solution(lin.T - tau, x),
            normalised=True,
        )
    if name == "black-scholes-default-risk":
        known = DEFAULT_RISK_REFERENCE.value if dim == 100 else None
        return ParabolicProblem(
            name,
            DefaultRisk(dim),
            "multilevel Picard, computed here (± 0.0032)" if known is not None else "",
            known,
            normalised=True,
        )
    raise ValueError(f"unknown general parabolic problem {name!r}")


def _pnas_allen_cahn_of_s(s: Array) -> Array:
    return 1 / (2 + 0.4 * s)


def _hjb_of_s(s: Array) -> Array:
    return jnp.log((1 + s) / 2)
