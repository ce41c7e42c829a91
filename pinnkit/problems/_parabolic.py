r"""The parabolic problem model, [`ParabolicProblem`][pinnkit.problems.ParabolicProblem]
around the one spec ([`pinnkit.AbstractParabolicPDE`][]), and the spec of the semilinear
problems $u_t + \Delta u + f(u) = 0$, $u(T, x) = g(x)$, answer $u(0, 0)$.

The problems, their references and the parabolic forms are in docs/math.md ("Semilinear
parabolic problems", "Parabolic forms", "General parabolic problems"). The time steppers
solve the forward form $v_\tau = \Delta v + f(v)$, $v(0) = g$, $v(\tau, x) = u(T - \tau, x)$;
the space-time PINN solves the backward form.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
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
from .._operator.parabolic import (
    AbstractParabolicPDE,
    ForwardParabolicPDE,
    ParabolicResidual,
    ParabolicStructure,
)
from .._sampler.spacetime import Brownian, SDEPaths
from .._solver.feynman_kac import FeynmanKacValue, feynman_kac_value
from .._timestepping.discretization import Radial
from .._timestepping.mol import MethodOfLines
from .._timestepping.readout import (
    PATH_READOUT_SAMPLES,
    PATH_READOUT_STEPS,
    feynman_kac_path_value,
)
from .._types import Point
from ._problem import AbstractProblem
from ._reactions import REACTIONS, check_reaction


class SemilinearParabolicPDE(AbstractParabolicPDE):
    r"""The spec of the semilinear problems $u_t + \Delta u + f(u) = 0$, $u(T, x) = g(x)$:
    an [`pinnkit.AbstractParabolicPDE`][] with $\sigma = \sqrt2\, I$ (so
    $\tfrac12\operatorname{tr}(\sigma\sigma^\top D^2 u) = \Delta u$), no drift, and a
    reaction $f(u)$ looked up by name.

    **Arguments:**

    - `reaction`: a name in [`REACTIONS`][pinnkit.problems.REACTIONS]: `"semilinear-heat"`
      ($f = (1 - u^2)/(1 + u^2)$), `"allen-cahn"` ($f = u - u^3$), `"sine-gordon"`
      ($f = \sin u$) or `"zero"` (the heat equation).
    - `dim`: the space dimension $d$.
    - `T`: the horizon.
    - `data`: $g$, a function of one point of shape `(dim,)`.
    """

    reaction: str = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    T: float = eqx.field(static=True)
    data: Callable[[Point], Float[Array, ""]]

    def __init__(
        self, reaction: str, dim: int, T: float, data: Callable[[Point], Float[Array, ""]]
    ):
        check_reaction(reaction)
        self.reaction = reaction
        self.dim = dim
        self.T = T
        self.data = data

    def diffusion(self, t, x):
        # A Python float, so that sigma^2 / 2 is exactly 1 in float32 as well.
        del t, x
        return math.sqrt(2.0)

    def nonlinearity(self, t, x, u, z):
        del t, x, z
        return REACTIONS[self.reaction](u)

    def terminal(self, x: Point) -> Float[Array, ""]:
        return self.data(x)


class ParabolicProblem(AbstractProblem):
    r"""A ready-made parabolic problem: an [`pinnkit.AbstractParabolicPDE`][] (the one spec,
    $u_t + \mu\cdot\nabla u + \tfrac12\operatorname{tr}(\sigma\sigma^\top D^2 u) +
    f = 0$, $u(T, x) = g(x)$), its answer $u(0, x_0)$ and where the reference comes from.

    For the semilinear problems ($\sigma = \sqrt2 I$, no drift) the forward form used by
    time stepping is $v_\tau = \Delta v + f(v)$, $v(0, x) = g(x)$, answer $v(T, 0)$, with
    $u(t, x) = v(T - t, x)$.

    **Attributes:**

    - `name`: the registry name, e.g. `"semilinear-heat"`.
    - `equation`: the spec; `dim` and `T` are its own.
    - `reference_source`: where
      [`reference_value`][pinnkit.problems.ParabolicProblem.reference_value] comes from:
      `"closed form"`, `"radial method of lines"` or `"multilevel Picard Monte Carlo (STDE
      paper)"` (see [math](../math.md#semilinear-parabolic-problems)), or `""` where no
      value is known.
    - `known_reference`: the reference value when it is known without computation (closed
      form, Monte Carlo table), else `None`.
    - `solution`: the closed-form $v(\tau, x) = u(T - \tau, x)$ as `solution(x, tau)`, or
      `None`.
    - `radial_initial`: $g$ as a function of $s = |x|^2$ when $g$ and $f$ depend on $x$ only
      through $s$ (then the radial method of lines applies), else `None`.
    - `normalised`: the PINN's network reads and writes in the problem's scales
      ([`pinnkit.Normalized`][], with the [`pinnkit.PathScales`][] of its paths); `False`
      (default) for a plain MLP of $z$.
    """

    name: str = eqx.field(static=True)
    equation: AbstractParabolicPDE
    reference_source: str = eqx.field(static=True)
    known_reference: float | None = eqx.field(default=None, static=True)
    solution: Callable[..., Float[Array, ""]] | None = None
    radial_initial: Callable[[Array], Array] | None = None
    normalised: bool = eqx.field(default=False, static=True)

    def __init__(
        self,
        name: str,
        equation: AbstractParabolicPDE,
        reference_source: str,
        known_reference: float | None = None,
        solution: Callable[..., Float[Array, ""]] | None = None,
        radial_initial: Callable[[Array], Array] | None = None,
        normalised: bool = False,
    ):
        if not isinstance(equation, AbstractParabolicPDE):
            raise TypeError(
                f"equation must be an AbstractParabolicPDE, got {type(equation).__name__}"
            )
        self.name = name
        self.equation = equation
        self.reference_source = reference_source
        self.known_reference = known_reference
        self.solution = solution
        self.radial_initial = radial_initial
        self.normalised = normalised

    @property
    def dim(self) -> int:
        """The space dimension $d$ of the spec."""
        return self.equation.dim

    @property
    def T(self) -> float:
        """The horizon $T$ of the spec."""
        return self.equation.T

    @property
    def pde(self) -> ForwardParabolicPDE:
        """The forward right-hand side $F(v)$ for the time steppers
        ([`pinnkit.ForwardParabolicPDE`][]; refused, with the reason, for a spec they do not
        take)."""
        return self.equation.forward_pde()

    def initial(self, x: Point) -> Float[Array, ""]:
        """$g(x)$, the initial data of the forward form (the terminal data of the spec)."""
        return self.equation.terminal(x)

    def reference_value(self) -> float | None:
        """$v(T, 0) = u(0, 0)$, or `None` where no value is known.

        The closed form or the published Monte Carlo value where there is one
        (`known_reference`); for the radial trio it is computed on every call, in float64
        by [`pinnkit.radial_reference`][] (a few seconds): keep the value.
        """
        if self.reference_source == "radial method of lines":
            if self.radial_initial is None:
                raise ValueError(
                    f"problem {self.name!r} has reference_source 'radial method of lines' but "
                    "no radial_initial (its g as a function of s = |x|^2)"
                )
            return radial_value(self.pde.nonlinearity, self.radial_initial, self.dim, self.T)
        return self.known_reference

    @property
    def radial(self) -> bool:
        """Whether the problem depends on $x$ only through $|x|^2$."""
        return self.radial_initial is not None

    def baseline_value(self, key: PRNGKeyArray | None = None, samples: int = 4096) -> float:
        r"""The trivial baseline: $u(0, x_0)$ of the same PDE without its nonlinear term
        ($f = 0$), $E[g(X_T)]$. A solve that only reaches this value has learnt nothing
        of $f$. By quadrature in float64 for a radial problem with $\sigma = \sqrt2 I$,
        $x_0 = 0$ (then $|X_T|^2 = 2TS$, $S \sim \chi^2_d$); otherwise the mean over
        `samples` Euler paths of 100 steps (one step, which is exact, for a constant scalar
        $\sigma$ without drift)."""
        from .._timestepping.bsde import DeepBSDE

        equation = self.equation
        structure = equation.structure()
        x0 = np.asarray(equation.origin())
        brownian = _brownian(structure)
        if self.radial_initial is not None and brownian and not np.any(x0):
            g_of_s = self.radial_initial
            sigma2 = float(equation.diffusion(jnp.zeros(()), jnp.asarray(x0))) ** 2
            with jax.enable_x64(True):
                return chi2_mean(
                    lambda s: float(g_of_s(jnp.asarray(sigma2 * self.T * s))), self.dim
                )
        paths = DeepBSDE(equation, num_steps=1 if brownian else 100, batch_size=256)
        key = jax.random.key(0) if key is None else key
        terminal = eqx.filter_jit(
            lambda k: jnp.mean(jax.vmap(equation.terminal)(paths.sample(k).x[:, -1]))
        )
        chunks = max(1, samples // 256)
        return float(np.mean([float(terminal(jax.random.fold_in(key, i))) for i in range(chunks)]))

    def terminal(self, x: Point) -> Float[Array, ""]:
        """The terminal data $u(T, x) = g(x)$ of the backward form (the same function as
        `initial`)."""
        return self.equation.terminal(x)

    def backward_solution(self, x: Point, t: Float[Array, ""] | float) -> Float[Array, ""]:
        """The closed-form solution of the backward form, $u(t, x) = v(T - t, x)$.

        Raises `ValueError` when the problem has no closed form.
        """
        if self.solution is None:
            raise ValueError(f"problem {self.name!r} has no closed-form solution")
        return self.solution(x, self.T - t)

    @property
    def feynman_kac_applies(self) -> bool:
        r"""Whether the read-out exact in time, [`pinnkit.feynman_kac_value`][], takes this
        problem: $\sigma = \sqrt2 I$, no drift, an $f$ of $u$ only, $x_0 = 0$. Every other
        problem is read out along Euler paths ([`pinnkit.feynman_kac_path_value`][])."""
        try:
            forward = self.pde
        except ValueError:
            return False
        x0 = np.asarray(self.equation.origin())
        return abs(forward.laplacian_coefficient - 1.0) < 1e-6 and not np.any(x0)

    def feynman_kac_value(
        self,
        network: Callable[[Point], Float[Array, ""]],
        key: PRNGKeyArray,
        samples: int | None = None,
        steps: int | None = None,
    ) -> FeynmanKacValue:
        r"""The Feynman–Kac read-out of $u(0, x_0)$ from a space-time network
        $u_\theta(x, t)$, which beats the network's own value $u_\theta(0, x_0)$: when
        [`feynman_kac_applies`][pinnkit.problems.ParabolicProblem.feynman_kac_applies], the
        mean of $g(X_T) + T f(u_\theta(t, X_t))$ over Brownian samples exact in time
        ([`pinnkit.feynman_kac_value`][]; `samples` default $2^{20}$, `steps` unused);
        otherwise the mean over Euler paths of $g(X_N) + \sum_n f\,\Delta t -
        \sum_n \sigma^\top\nabla u_\theta\cdot\Delta W_n$
        ([`pinnkit.feynman_kac_path_value`][]; `samples` default $2^{14}$ paths of `steps`
        default 100 Euler steps)."""
        if self.feynman_kac_applies:
            return feynman_kac_value(
                network,
                self.terminal,
                self.pde.nonlinearity,
                self.T,
                key,
                samples=2**20 if samples is None else samples,
            )
        return feynman_kac_path_value(
            self.equation,
            network,
            key,
            samples=PATH_READOUT_SAMPLES if samples is None else samples,
            steps=PATH_READOUT_STEPS if steps is None else steps,
        )

    # The space-time PINN: a network u(z) of z = (x, t), time last, in the backward form.

    def path_sampler(self, time: float | None = None) -> Brownian | SDEPaths:
        r"""Points $(X_t, t)$ along the forward paths from $x_0$, where the PINN trains:
        [`pinnkit.Brownian`][] for a constant scalar $\sigma = sI$ without drift ($X_t =
        x_0 + sW_t$, exact), else [`pinnkit.SDEPaths`][] (Euler–Maruyama). `time` fixes
        every point's time (e.g. $T$ for the terminal data)."""
        structure = self.equation.structure()
        if _brownian(structure):
            x0 = self.equation.origin()
            sigma = float(self.equation.diffusion(jnp.zeros(()), x0))
            origin = None if not np.any(np.asarray(x0)) else x0
            return Brownian(self.dim, self.T, time=time, origin=origin, variance_rate=sigma**2)
        return SDEPaths(self.equation, time=time)

    def space_time_pde(self) -> ParabolicResidual:
        r"""The backward residual of the spec for a network of $z = (x, t)$."""
        return self.equation.space_time_pde()

    def network(
        self,
        key: PRNGKeyArray,
        width: int = 128,
        depth: int = 3,
        activation: str = "tanh",
        terminal: str = "soft",
        terminal_feature: bool = False,
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
        - `terminal_feature`: give the MLP the terminal data $g(x)$, in the scales of $g$ on
          the problem's paths, as one more input ([`pinnkit.Normalized`][]'s `feature`):
          for a solution that grows with $g$, such as Black–Scholes–Barenblatt's
          $e^{(r + \sigma^2)(T - t)} |x|^2$. Only for a `normalised` problem (default `False`).

        **Returns:** the [`pinnkit.MLP`][] (inside a [`pinnkit.Normalized`][] for a
        `normalised` problem, with the scales of [`pinnkit.PathScales`][]: the output's shift
        $m_g$ and scale $s_g$; for `terminal="hard"` those of the correction, $m_T$ and
        $s_g/T$), or the [`pinnkit.HardInitial`][] around it.
        """
        _check_terminal(terminal)
        if terminal_feature and not self.normalised:
            raise ValueError(
                "terminal_feature needs a normalised problem (ParabolicProblem(...,"
                " normalised=True)), whose paths give the scales of g"
            )
        mlp = MLP(self.dim + 1 + terminal_feature, width, depth, activation, key=key)
        inner: AbstractNetwork = mlp
        if self.normalised:
            from .._network.scaled import Normalized
            from .._timestepping.bsde import DeepBSDE

            scales = DeepBSDE(self.equation).scales(jax.random.fold_in(key, 1))
            # Hard terminal data: the network is the correction N of u = g + (t - T) N,
            # and N(T, x) = u_t(T, x), whose mean the PDE gives at T.
            shift, scale = (
                (scales.value_shift, scales.value_scale)
                if terminal == "soft"
                else (scales.terminal_rate, scales.value_scale / self.T)
            )
            feature = self._feature_scales(jax.random.fold_in(key, 2)) if terminal_feature else {}
            inner = Normalized(mlp, scales.origin, scales.spread, self.T, shift, scale, **feature)
        if terminal == "soft":
            return inner
        return HardInitial(inner, self.terminal, initial_time=self.T)

    def _feature_scales(self, key: PRNGKeyArray, pilot: int = 1024) -> dict:
        """The terminal data as a feature, with its mean and spread over pilot points of the
        path sampler (the training points), so that the network sees it of order one."""
        points = self.path_sampler()(key, pilot)
        values = jax.vmap(self.terminal)(points[:, :-1])
        spread = float(jnp.std(values))
        return {
            "feature": self.terminal,
            "feature_shift": float(jnp.mean(values)),
            "feature_scale": spread if spread > 0 else 1.0,
        }

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
            self.path_sampler(),
            estimator or Exact(),
            batch_size=batch_size,
            **kwargs,
        )
        if terminal == "hard":
            return WeightedSum({"residual": residual})
        data = TerminalLoss(
            self.terminal,
            self.path_sampler(time=self.T),
            self.T,
            gradient_weight=gradient_weight,
            batch_size=batch_size,
        )
        return WeightedSum({"residual": residual, "terminal": data}, {"terminal": terminal_weight})


def _check_terminal(terminal: str) -> None:
    if terminal not in ("soft", "hard"):
        raise ValueError(f"terminal must be 'soft' or 'hard', got {terminal!r}")


def _brownian(structure: ParabolicStructure) -> bool:
    """Whether the forward paths are $X_t = x_0 + sW_t$ (a constant scalar $\\sigma = sI$
    without drift), which one step of any length simulates exactly."""
    return structure.noise == "scalar" and structure.constant_diffusion and not structure.has_drift


def chi2_mean(fn: Callable[[float], float], dim: int) -> float:
    r"""$E[fn(S)]$ for $S \sim \chi^2_d$, by adaptive quadrature in float64 over the
    $\pm 40$ standard deviations around $d$ that hold all of its mass."""
    from scipy import integrate, stats

    spread = 40 * math.sqrt(2 * dim) + 50
    lower, upper = max(0.0, dim - spread), dim + spread
    value, _ = integrate.quad(
        lambda s: fn(s) * stats.chi2.pdf(s, dim), lower, upper, limit=500, epsabs=0, epsrel=1e-12
    )
    return float(value)


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
    return radial_value(
        REACTIONS[equation], bump_of_s, dim, t, n_points=n_points, s_max=s_max, rtol=rtol, atol=atol
    )


def radial_value(
    nonlinearity: Callable[[Array], Array],
    initial_of_s: Callable[[Array], Array],
    dim: int,
    t: float,
    *,
    n_points: int = 128,
    s_max: float | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> float:
    r"""$v(t, 0)$ of $v_\tau = \Delta v + f(v)$, $v(0, x) = g(|x|^2)$, by the radial method
    of lines in float64 (the computation behind [`pinnkit.radial_reference`][], for any
    radial $g$ and reaction $f$; arguments as there, with $f$ elementwise and $g$ a function
    of $s = |x|^2$)."""
    if s_max is None:
        s_max = 8 * dim * t + 200.0
    with jax.enable_x64(True):
        discretization = Radial(dim, s_max, n_points, scale=5.0)
        mol = MethodOfLines(discretization, nonlinearity, rtol=rtol, atol=atol)
        g = initial_of_s(jnp.asarray(discretization.nodes))
        solution = mol.solve(g, t, throw=True)
        return float(solution.values[-1, 0])
