r"""Semilinear parabolic problems: the STDE paper's trio and heat cases with closed forms.

The problems, their references and the parabolic forms are in docs/math.md ("Semilinear
parabolic problems", "Parabolic forms").

Every problem is stored in the *forward* form used by time stepping,

$$v_\tau = F(v) = \Delta v + f(v), \qquad v(0, x) = g(x), \qquad \text{answer } v(T, 0),$$

with $F$ an [`pinnkit.AbstractPDE`][] whose `residual` returns $\Delta v + f(v)$. The same
problem in the backward form of the papers is $u_t + \Delta u + f(u) = 0$, $u(T, x) = g(x)$,
answer $u(0, 0)$, with $u(t, x) = v(T - t, x)$; the space-time PINN solves that form.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._estimator.base import AbstractEstimator
from .._estimator.exact import Exact
from .._loss.losses import ResidualLoss, WeightedSum
from .._loss.spacetime import TerminalLoss
from .._network.base import AbstractNetwork
from .._network.initial import HardInitial
from .._network.mlp import MLP
from .._operator.base import AbstractOperator, Laplacian
from .._operator.pde import AbstractPDE
from .._operator.spacetime import SpaceTimePDE
from .._sampler.spacetime import Brownian
from .._solver.feynman_kac import FeynmanKacValue, feynman_kac_value
from .._types import Point


def _semilinear_heat(u: Array) -> Array:
    return (1 - u**2) / (1 + u**2)


def _allen_cahn(u: Array) -> Array:
    return u - u**3


def _zero(u: Array) -> Array:
    return jnp.zeros_like(u)


REACTIONS: dict[str, Callable[[Array], Array]] = {
    "semilinear-heat": _semilinear_heat,
    "allen-cahn": _allen_cahn,
    "sine-gordon": jnp.sin,
    "heat": _zero,
}
"""The reactions $f(v)$ of $v_\\tau = \\Delta v + f(v)$, by name."""


class SemilinearParabolicPDE(AbstractPDE):
    r"""The right-hand side $F(v) = \Delta v + f(v)$ of $v_\tau = F(v)$ (forward time).

    `residual` returns $F(v)$ itself, so a time stepper (method of lines, Neural Galerkin)
    reads it as the velocity $v_\tau$. Its one operator is the [`pinnkit.Laplacian`][] in
    space.

    **Arguments:**

    - `reaction`: a name in `REACTIONS`: `"semilinear-heat"` ($f = (1 - v^2)/(1 + v^2)$),
      `"allen-cahn"` ($f = v - v^3$), `"sine-gordon"` ($f = \sin v$) or `"heat"` ($f = 0$).
    """

    reaction: str = eqx.field(static=True)
    operators: tuple[AbstractOperator, ...]

    def __init__(self, reaction: str):
        if reaction not in REACTIONS:
            raise ValueError(f"reaction must be one of {sorted(REACTIONS)}, got {reaction!r}")
        self.reaction = reaction
        self.operators = (Laplacian(),)

    def nonlinearity(self, u: Array) -> Array:
        """The reaction $f(u)$, elementwise."""
        return REACTIONS[self.reaction](u)

    def source(self, x: Point) -> Float[Array, ""]:
        del x
        return jnp.zeros(())

    def residual(
        self,
        x: Point,
        u: Float[Array, ""],
        derivatives: tuple[Array, ...],
        source: Float[Array, ""],
    ) -> Float[Array, ""]:
        del x, source
        (laplacian,) = derivatives
        return laplacian + self.nonlinearity(u)


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


@functools.lru_cache(maxsize=64)
def _radial_reference(equation: str, dim: int, horizon: float) -> float:
    from .._timestepping.mol import radial_reference

    return radial_reference(equation, dim, t=horizon)


class ParabolicProblem(eqx.Module):
    r"""A semilinear parabolic problem $v_\tau = \Delta v + f(v)$, $v(0, x) = g(x)$ on
    $\mathbb{R}^d \times [0, T]$, with the quantity of interest $v(T, 0)$.

    In the backward form of the papers this is $u_t + \Delta u + f(u) = 0$ with terminal data
    $u(T, x) = g(x)$ and answer $u(0, 0)$; $u(t, x) = v(T - t, x)$.

    **Attributes:**

    - `name`: the registry name, e.g. `"semilinear-heat"`.
    - `dim`: the space dimension $d$.
    - `T`: the horizon (0.3 for the trio).
    - `pde`: the forward right-hand side $F$, a [`pinnkit.problems.SemilinearParabolicPDE`][].
    - `initial`: $g$, a function of one point `x` of shape `(dim,)`.
    - `reference_source`: where [`reference`][pinnkit.problems.ParabolicProblem.reference]
      comes from: `"closed form"`, `"radial method of lines"` or `"multilevel Picard Monte
      Carlo (STDE paper)"` (see [math](../math.md#semilinear-parabolic-problems)), or `""`
      where no value is known.
    - `known_reference`: the reference value when it is known without computation (closed
      form, Monte Carlo table), else `None`.
    - `solution`: the closed-form $v(\tau, x)$ as `solution(x, tau)`, or `None`.
    - `radial`: $g$ and $f$ depend on $x$ only through $s = |x|^2$, so the radial method of
      lines applies; then `radial_initial(s)` is $g$ as a function of $s$.
    """

    name: str = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True)
    pde: SemilinearParabolicPDE
    initial: Callable[[Point], Float[Array, ""]]
    reference_source: str = eqx.field(static=True)
    known_reference: float | None = eqx.field(default=None, static=True)
    solution: Callable[..., Float[Array, ""]] | None = None
    radial_initial: Callable[[Array], Array] | None = None

    @property
    def reference(self) -> float | None:
        """$v(T, 0) = u(0, 0)$, or `None` where no value is known. For the radial trio it is
        computed (once per dimension, in float64, a few seconds) by
        [`pinnkit.radial_reference`][]."""
        if self.reference_source == "radial method of lines":
            return _radial_reference(self.pde.reaction, self.dim, self.T)
        return self.known_reference

    @property
    def radial(self) -> bool:
        """Whether the problem depends on $x$ only through $|x|^2$."""
        return self.radial_initial is not None

    def terminal(self, x: Point) -> Float[Array, ""]:
        """The terminal data $u(T, x) = g(x)$ of the backward form (the same function as
        `initial`)."""
        return self.initial(x)

    def backward_solution(self, x: Point, t: Float[Array, ""] | float) -> Float[Array, ""]:
        """The closed-form solution of the backward form, $u(t, x) = v(T - t, x)$.

        Raises `ValueError` when the problem has no closed form.
        """
        if self.solution is None:
            raise ValueError(f"problem {self.name!r} has no closed-form solution")
        return self.solution(x, self.T - t)

    def feynman_kac_value(
        self, network: Callable[[Point], Float[Array, ""]], key: PRNGKeyArray, samples: int = 2**20
    ) -> FeynmanKacValue:
        r"""The Feynman–Kac read-out of $u(0, 0)$ from a space-time network $u_\theta(x, t)$:
        the mean of $g(X_T) + T f(u_\theta(t, X_t))$ over Brownian paths from the origin
        ([`pinnkit.feynman_kac_value`][], which explains why it beats the network's own
        value $u_\theta(0, 0)$). `samples` is the number of Monte Carlo samples."""
        return feynman_kac_value(
            network, self.terminal, self.pde.nonlinearity, self.T, key, samples=samples
        )

    # The space-time PINN: a network u(z) of z = (x, t), time last, in the backward form.

    def space_time_pde(self) -> SpaceTimePDE:
        r"""The backward residual $u_t + \Delta_x u + f(u)$ for a network of $z = (x, t)$."""
        return SpaceTimePDE(self.pde, self.dim, "backward")

    def space_time_network(
        self,
        key: PRNGKeyArray,
        width: int = 128,
        depth: int = 3,
        activation: str = "tanh",
        terminal: str = "soft",
    ) -> AbstractNetwork:
        r"""A network of $z = (x, t)$ (dimension `dim + 1`, time last).

        **Arguments:**

        - `key`: the initialization key.
        - `width`, `depth`, `activation`: the [`pinnkit.MLP`][] (default 128, 3, `"tanh"`).
        - `terminal`: `"soft"` (default) for the MLP itself, whose terminal data a loss term
          imposes; `"hard"` for $u(x, t) = g(x) + (t - T)\,\mathrm{MLP}(x, t)$, a
          [`pinnkit.HardInitial`][] with `initial_time=T`: exact at $t = T$ whatever the
          parameters, so the MLP only learns the correction. Pair it with
          `space_time_loss(..., terminal="hard")`.

        **Returns:** the [`pinnkit.MLP`][], or the [`pinnkit.HardInitial`][] around it.
        """
        _check_terminal(terminal)
        mlp = MLP(self.dim + 1, width, depth, activation, key=key)
        if terminal == "soft":
            return mlp
        return HardInitial(mlp, self.terminal, initial_time=self.T)

    def space_time_loss(
        self,
        estimator: AbstractEstimator | None = None,
        batch_size: int = 100,
        terminal_weight: float = 20.0,
        gradient_weight: float = 0.05,
        terminal: str = "soft",
        **kwargs,
    ) -> WeightedSum:
        r"""The space-time PINN loss of the STDE paper
        ([math](../math.md#the-space-time-pinn-loss)):
        residual $+ 20\,[\mathrm{MSE}(u - g) + 0.05\,\mathrm{MSE}(\nabla_x u - \nabla g)]$
        at $t = T$.

        Residual points are [`pinnkit.Brownian`][] points $(x, t)$, $t \sim U[0, T]$,
        $x \sim N(0, 2t I)$; terminal points are their ends $x \sim N(0, 2T I)$ at $t = T$.

        **Arguments:**

        - `estimator`: evaluates $u_t$ and $\Delta_x u$ (default [`pinnkit.Exact`][]).
        - `batch_size`: residual and terminal points per step (default 100).
        - `terminal_weight`, `gradient_weight`: the weights 20 and 0.05 above.
        - `terminal`: `"soft"` (default) for the loss above; `"hard"` for the residual alone,
          for the network of `space_time_network(..., terminal="hard")`, which meets the
          terminal data exactly.
        - `kwargs`: passed to [`pinnkit.ResidualLoss`][] (`sharing`, `unbiased`).

        **Returns:** a [`pinnkit.WeightedSum`][] with terms `"residual"` and `"terminal"`
        (`"residual"` only for `terminal="hard"`).
        """
        _check_terminal(terminal)
        residual = ResidualLoss(
            self.space_time_pde(),
            Brownian(self.dim, self.T),
            estimator or Exact(),
            batch_size=batch_size,
            **kwargs,
        )
        if terminal == "hard":
            return WeightedSum({"residual": residual})
        data = TerminalLoss(
            self.terminal,
            Brownian(self.dim, self.T, time=self.T),
            self.T,
            gradient_weight=gradient_weight,
            batch_size=batch_size,
        )
        return WeightedSum({"residual": residual, "terminal": data}, {"terminal": terminal_weight})


def _check_terminal(terminal: str) -> None:
    if terminal not in ("soft", "hard"):
        raise ValueError(f"terminal must be 'soft' or 'hard', got {terminal!r}")


@dataclass(frozen=True)
class ParabolicProblemSpec:
    """A registry entry: how to build a parabolic problem in a given dimension.

    **Attributes:**

    - `name`: the registry name.
    - `description`: one line for `pinnkit problems`.
    - `build`: `build(dim)` returns the [`pinnkit.problems.ParabolicProblem`][].
    - `min_dim`: the smallest dimension (1).
    - `default_dim`: the dimension used when none is given (100).
    """

    name: str
    description: str
    build: Callable[[int], ParabolicProblem]
    min_dim: int = 1
    default_dim: int = 100

    def __call__(self, dim: int | None = None) -> ParabolicProblem:
        dim = self.default_dim if dim is None else dim
        if not isinstance(dim, int) or dim < self.min_dim:
            raise ValueError(f"{self.name} needs dim >= {self.min_dim}, got {dim!r}")
        return self.build(dim)


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
        pde=SemilinearParabolicPDE("heat"),
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
        pde=SemilinearParabolicPDE("heat"),
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
        pde=SemilinearParabolicPDE("heat"),
        initial=solution,
        known_reference=float((v / (v + 2 * HORIZON)) ** (dim / 2)),
        reference_source="closed form",
        solution=solution,
        radial_initial=_GaussianOfS(v),
    )


PARABOLIC_SPECS: tuple[ParabolicProblemSpec, ...] = (
    ParabolicProblemSpec(
        "semilinear-heat",
        "u_t + Δu + (1-u²)/(1+u²) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        _trio_radial("semilinear-heat", "semilinear-heat"),
    ),
    ParabolicProblemSpec(
        "allen-cahn-parabolic",
        "u_t + Δu + u - u³ = 0, u(T,x) = arctan(max_i x_i), T = 0.3; value u(0,0)",
        _allen_cahn_problem,
    ),
    ParabolicProblemSpec(
        "sine-gordon-parabolic",
        "u_t + Δu + sin(u) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        _trio_radial("sine-gordon", "sine-gordon-parabolic"),
    ),
    ParabolicProblemSpec(
        "heat-quadratic",
        "heat v_τ = Δv, v(0,x) = |x|², exact |x|² + 2dτ, T = 0.3; value v(T,0)",
        _heat_quadratic,
    ),
    ParabolicProblemSpec(
        "heat-exponential",
        "heat v_τ = Δv, v(0,x) = exp(a·x), exact exp(a·x + |a|²τ), |a| = 0.5; value v(T,0)",
        _heat_exponential,
    ),
    ParabolicProblemSpec(
        "heat-gaussian",
        "heat v_τ = Δv, v(0,x) = exp(-|x|²/(2d)), stays Gaussian, T = 0.3; value v(T,0)",
        _heat_gaussian,
    ),
)
