"""The registry of ready-made problems: names, dimensions, methods and how to build each.

This module imports no JAX: `pinnkit problems` and the command line's checks read it at
once, and a problem's own module is imported only when [`get_problem`][pinnkit.problems.get_problem]
builds it.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal


if TYPE_CHECKING:
    import pinnkit.problems._problem


Answer = Literal["solution", "value"]
"""What a problem asks for: `"solution"`, $u$ everywhere (its error the relative $L^2$ error
on a test set, `rel_l2`), or `"value"`, one number $u(0, 0)$ (its error `rel_error`)."""

METHODS = ("pinn", "deep-bsde", "mol", "galerkin")
"""The methods a problem may name: a physics-informed network, Deep BSDE, the method of lines
and Neural Galerkin."""


@dataclass(frozen=True, kw_only=True)
class ProblemSpec:
    """A registry entry of [`PROBLEMS`][pinnkit.problems.PROBLEMS]: how to build a problem in a
    given dimension, and what solves it.

    **Attributes:**

    - `name`: the registry name.
    - `description`: one line for `pinnkit problems`.
    - `build`: `build(*build_args, dim, key)` returns the
      [`AbstractProblem`][pinnkit.problems.AbstractProblem] (`key` draws its random
      coefficients, if any). A callable, or `"module:function"` naming one in
      `pinnkit.problems` (`"._unit_ball:unit_ball_problem"`), imported when first built.
    - `build_args`: the arguments before `dim` (default none).
    - `methods`: the `--method`s (`RunConfig.method`) that solve it, first the default:
      `"pinn"` (a physics-informed network), `"mol"` (the method of lines) or `"galerkin"`
      (Neural Galerkin).
    - `answer`: `"solution"` or `"value"` (see `Answer`).
    - `min_dim`, `max_dim`: the dimensions it is defined in (`max_dim` `None`: no limit).
    - `default_dim`: the dimension used when none is given.
    - `estimator`: the estimator a run uses when none is given (`RunConfig.estimator`).
    """

    name: str
    description: str
    build: Callable[..., Any] | str
    build_args: tuple[Any, ...] = ()
    methods: tuple[str, ...] = ("pinn",)
    answer: Answer = "solution"
    min_dim: int = 1
    max_dim: int | None = None
    default_dim: int = 100
    estimator: str = "stde"

    @property
    def dims(self) -> str:
        """The dimensions it is defined in, as text: `">= 2"`, `"1"` or `"2..8"`."""
        if self.max_dim is None:
            return f">= {self.min_dim}"
        if self.max_dim == self.min_dim:
            return f"{self.min_dim}"
        return f"{self.min_dim}..{self.max_dim}"

    def defined_in(self, dim: int) -> bool:
        """Whether the problem is defined in dimension `dim` (an `int`)."""
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < self.min_dim:
            return False
        return self.max_dim is None or dim <= self.max_dim

    def __call__(
        self, dim: int | None = None, key: Any = None
    ) -> "pinnkit.problems._problem.AbstractProblem":
        dim = self.default_dim if dim is None else dim
        if not self.defined_in(dim):
            raise ValueError(f"{self.name} needs dim {self.dims}, got {dim!r}")
        build = self.build
        if isinstance(build, str):
            module, function = build.split(":")
            build = getattr(importlib.import_module(module, __package__), function)
        if key is None:
            import jax

            key = jax.random.key(0)
        return build(*self.build_args, dim, key)


_EQUATIONS = {"poisson": "Poisson", "allen-cahn": "Allen-Cahn", "sine-gordon": "sine-Gordon"}
_BODY_MIN_DIM = {"two-body": 2, "three-body": 3}


def _parabolic(name: str, description: str, radial: bool) -> ProblemSpec:
    return ProblemSpec(
        name=name,
        description=description,
        build="._parabolic_cases:parabolic_problem",
        build_args=(name,),
        methods=METHODS if radial else ("pinn", "deep-bsde", "galerkin"),
        answer="value",
    )


def _general(
    name: str, description: str, methods: tuple[str, ...] = ("pinn", "deep-bsde")
) -> ProblemSpec:
    return ProblemSpec(
        name=name,
        description=description,
        build="._general:general_problem",
        build_args=(name,),
        methods=methods,
        answer="value",
    )


_BUILT_IN: list[ProblemSpec] = [
    *(
        ProblemSpec(
            name=f"{equation}-{body}",
            description=(
                f"{_EQUATIONS[equation]} on the unit ball, {body} exact solution, "
                "u = 0 on the sphere"
            ),
            build="._unit_ball:unit_ball_problem",
            build_args=(equation, body),
            min_dim=_BODY_MIN_DIM[body],
        )
        for body in _BODY_MIN_DIM
        for equation in _EQUATIONS
    ),
    ProblemSpec(
        name="biharmonic-three-body-annulus",
        description=(
            "biharmonic on the annulus 1 < |x| < 2, three-body exact solution, u = 0 (ansatz) "
            "and du/dr = data (boundary term: problems.biharmonic_loss) on both spheres"
        ),
        build="._annulus:annulus_biharmonic_problem",
        min_dim=3,
        estimator="stde-dense",
    ),
    ProblemSpec(
        name="kdv",
        description=(
            "Korteweg-de Vries u_t + 6uu_x + u_xxx = 0 on [-5,5] x [0,1], one-soliton exact "
            "solution (space-time network of (x, t))"
        ),
        build="._kdv:kdv_problem",
        min_dim=1,
        max_dim=1,
        default_dim=1,
        estimator="exact",
    ),
    _parabolic(
        "semilinear-heat",
        "u_t + Δu + (1-u²)/(1+u²) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        radial=True,
    ),
    _parabolic(
        "allen-cahn-parabolic",
        "u_t + Δu + u - u³ = 0, u(T,x) = arctan(max_i x_i), T = 0.3; value u(0,0)",
        radial=False,
    ),
    _parabolic(
        "sine-gordon-parabolic",
        "u_t + Δu + sin(u) = 0, u(T,x) = 5/(10+2|x|²), T = 0.3; value u(0,0)",
        radial=True,
    ),
    _parabolic(
        "heat-quadratic",
        "heat v_τ = Δv, v(0,x) = |x|², exact |x|² + 2dτ, T = 0.3; value v(T,0)",
        radial=True,
    ),
    _parabolic(
        "heat-exponential",
        "heat v_τ = Δv, v(0,x) = exp(a·x), exact exp(a·x + |a|²τ), |a| = 0.5; value v(T,0)",
        radial=False,
    ),
    _parabolic(
        "heat-gaussian",
        "heat v_τ = Δv, v(0,x) = exp(-|x|²/(2d)), stays Gaussian, T = 0.3; value v(T,0)",
        radial=True,
    ),
    _general("hjb", "u_t + Δu - |∇u|² = 0, u(T,x) = ln((1+|x|²)/2), T = 1; value u(0,0)"),
    _general(
        "allen-cahn-pnas",
        "u_t + Δu + u - u³ = 0, u(T,x) = 1/(2+0.4|x|²), T = 0.3; value u(0,0)",
        ("pinn", "deep-bsde", "mol", "galerkin"),
    ),
    _general(
        "black-scholes-barenblatt",
        "u_t + ½σ²Σx_i²∂_ii u - r(u - x·∇u) = 0, u(T,x) = |x|², T = 1; value u(0,(1,½,…))",
    ),
    _general("hjb-lin", "u_t + Δu - (1/d)Σ|∂_i u|^1.75 = -2, u(T,x) = Σx_i, T = 1; value u(0,0)"),
    _general(
        "black-scholes-default-risk",
        "Black-Scholes with default risk, u(T,x) = min_i x_i, T = 1; value u(0,(100,…))",
    ),
]

PROBLEMS: dict[str, ProblemSpec] = {spec.name: spec for spec in _BUILT_IN}
"""Every ready-made problem by name: the unit-ball suite, the biharmonic annulus, KdV and the
parabolic problems (and any added by [`register_problem`][pinnkit.problems.register_problem])."""


def get_problem(
    name: str, dim: int | None = None, key: Any = None
) -> "pinnkit.problems._problem.AbstractProblem":
    """Build the registered problem `name` in dimension `dim` (its default when `None`).

    **Arguments:**

    - `name`: a key of [`PROBLEMS`][pinnkit.problems.PROBLEMS] (`pinnkit problems` lists them).
    - `dim`: the space dimension; `None` for the problem's `default_dim`.
    - `key`: a PRNG key that draws the problem's random coefficients, if it has any
      (default `jax.random.key(0)`).

    **Returns:** the [`AbstractProblem`][pinnkit.problems.AbstractProblem]. Raises `ValueError`
    listing the valid names when `name` is unknown, and when the problem is not defined in
    dimension `dim`.
    """
    try:
        spec = PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; valid names: {', '.join(PROBLEMS)}") from None
    return spec(dim, key)


def register_problem(spec: ProblemSpec) -> None:
    """Add a problem of your own to [`PROBLEMS`][pinnkit.problems.PROBLEMS], so that
    [`get_problem`][pinnkit.problems.get_problem] and [`pinnkit.run`][] build it by name.

    **Arguments:**

    - `spec`: its [`ProblemSpec`][pinnkit.problems.ProblemSpec]. Its `build` returns a
      [`Problem`][pinnkit.problems.Problem] when `answer="solution"`, a
      [`ParabolicProblem`][pinnkit.problems.ParabolicProblem] when `answer="value"`.

    Raises `TypeError` when `spec` is not a `ProblemSpec`, and `ValueError` when its name is
    taken or its methods are not among `pinn`, `deep-bsde`, `mol` and `galerkin`.
    """
    if not isinstance(spec, ProblemSpec):
        raise TypeError(f"register_problem expects a ProblemSpec, got {type(spec).__name__}")
    if spec.name in PROBLEMS:
        raise ValueError(f"a problem named {spec.name!r} is already registered")
    if not spec.methods or set(spec.methods) - set(METHODS):
        raise ValueError(
            f"ProblemSpec.methods must be a non-empty tuple of {', '.join(METHODS)}; "
            f"got {spec.methods!r}"
        )
    PROBLEMS[spec.name] = spec
