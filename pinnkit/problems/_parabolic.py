r"""The semilinear parabolic problem model: its PDE and
[`ParabolicProblem`][pinnkit.problems.ParabolicProblem].

The problems, their references and the parabolic forms are in docs/math.md ("Semilinear
parabolic problems", "Parabolic forms").

Every problem is stored in the *forward* form used by time stepping,

$$v_\tau = F(v) = \Delta v + f(v), \qquad v(0, x) = g(x), \qquad \text{answer } v(T, 0),$$

with $F$ an [`pinnkit.AbstractPDE`][] whose `residual` returns $\Delta v + f(v)$. The same
problem in the backward form of the papers is $u_t + \Delta u + f(u) = 0$, $u(T, x) = g(x)$,
answer $u(0, 0)$, with $u(t, x) = v(T - t, x)$; the space-time PINN solves that form.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
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
from .._timestepping.discretization import Radial
from .._timestepping.mol import MethodOfLines
from .._types import Point
from ._problem import AbstractProblem
from ._reactions import REACTIONS, check_reaction


class SemilinearParabolicPDE(AbstractPDE):
    r"""The right-hand side $F(v) = \Delta v + f(v)$ of $v_\tau = F(v)$ (forward time).

    `residual` returns $F(v)$ itself, so a time stepper (method of lines, Neural Galerkin)
    reads it as the velocity $v_\tau$. Its one operator is the [`pinnkit.Laplacian`][] in
    space.

    **Arguments:**

    - `reaction`: a name in [`REACTIONS`][pinnkit.problems.REACTIONS]: `"semilinear-heat"`
      ($f = (1 - v^2)/(1 + v^2)$), `"allen-cahn"` ($f = v - v^3$), `"sine-gordon"`
      ($f = \sin v$) or `"zero"` (the heat equation).
    """

    reaction: str = eqx.field(static=True)
    operators: tuple[AbstractOperator, ...]

    def __init__(self, reaction: str):
        check_reaction(reaction)
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


class ParabolicProblem(AbstractProblem):
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
    - `reference_source`: where
      [`reference_value`][pinnkit.problems.ParabolicProblem.reference_value] comes from:
      `"closed form"`, `"radial method of lines"` or `"multilevel Picard Monte Carlo (STDE
      paper)"` (see [math](../math.md#semilinear-parabolic-problems)), or `""` where no
      value is known.
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

    def reference_value(self) -> float | None:
        """$v(T, 0) = u(0, 0)$, or `None` where no value is known.

        The closed form or the published Monte Carlo value where there is one
        (`known_reference`); for the radial trio it is computed on every call, in float64
        by [`pinnkit.radial_reference`][] (a few seconds): keep the value.
        """
        if self.reference_source == "radial method of lines":
            return radial_reference(self.pde.reaction, self.dim, t=self.T)
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

    def network(
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
          `loss(..., terminal="hard")`.

        **Returns:** the [`pinnkit.MLP`][], or the [`pinnkit.HardInitial`][] around it.
        """
        _check_terminal(terminal)
        mlp = MLP(self.dim + 1, width, depth, activation, key=key)
        if terminal == "soft":
            return mlp
        return HardInitial(mlp, self.terminal, initial_time=self.T)

    def loss(
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
          for the network of `network(..., terminal="hard")`, which meets the
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


def bump_of_s(s: Array) -> Array:
    """The trio's terminal data $g = 5 / (10 + 2 s)$ as a function of $s = |x|^2$."""
    return 5 / (10 + 2 * s)


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
        g = bump_of_s(jnp.asarray(discretization.nodes))
        solution = mol.solve(g, t, throw=True)
        return float(solution.values[-1, 0])
