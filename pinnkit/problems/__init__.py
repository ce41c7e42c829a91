"""Ready-made problems with exact solutions or reference values, in one registry.

Every problem is an [`AbstractProblem`][pinnkit.problems.AbstractProblem] built by name with
[`get_problem`][pinnkit.problems.get_problem]; its [`ProblemSpec`][pinnkit.problems.ProblemSpec]
in [`PROBLEMS`][pinnkit.problems.PROBLEMS] says which dimensions it takes, which methods solve
it and whether its answer is the solution everywhere or one value (see docs/math.md,
"Problems").
"""

from ._annulus import (
    BIHARMONIC_SPEC,
    BiharmonicAnnulusPDE as BiharmonicAnnulusPDE,
    NormalDerivativeLoss as NormalDerivativeLoss,
    annulus_biharmonic_problem as annulus_biharmonic_problem,
    biharmonic_loss as biharmonic_loss,
    constant_baseline as constant_baseline,
)
from ._kdv import KDV_SPEC, KdVPDE as KdVPDE, KdVProblem as KdVProblem, kdv_soliton as kdv_soliton
from ._parabolic import (
    ParabolicProblem as ParabolicProblem,
    SemilinearParabolicPDE as SemilinearParabolicPDE,
)
from ._parabolic_cases import (
    MONTE_CARLO_REFERENCES as MONTE_CARLO_REFERENCES,
    PARABOLIC_SPECS,
    radial_reference as radial_reference,
)
from ._problem import (
    AbstractProblem as AbstractProblem,
    Answer as Answer,
    Problem as Problem,
    ProblemSpec as ProblemSpec,
)
from ._reactions import REACTIONS as REACTIONS
from ._unit_ball import (
    UNIT_BALL_SPECS,
    SemilinearBallPDE as SemilinearBallPDE,
    unit_ball_problem as unit_ball_problem,
)


PROBLEMS: dict[str, ProblemSpec] = {
    spec.name: spec for spec in [*UNIT_BALL_SPECS, BIHARMONIC_SPEC, KDV_SPEC, *PARABOLIC_SPECS]
}
"""Every ready-made problem by name: the unit-ball suite, the biharmonic annulus, KdV and the
parabolic problems."""


def get_problem(name: str, dim: int | None = None, key=None) -> AbstractProblem:
    """Build the registered problem `name` in dimension `dim` (its default when `None`).

    **Arguments:**

    - `name`: a key of [`PROBLEMS`][pinnkit.problems.PROBLEMS] (`pinnkit problems` lists them).
    - `dim`: the space dimension; `None` for the problem's `default_dim`.
    - `key`: draws the problem's random coefficients, if it has any (default `key(0)`).

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
    taken or its methods are not among `pinn`, `mol` and `galerkin`.
    """
    if not isinstance(spec, ProblemSpec):
        raise TypeError(f"register_problem expects a ProblemSpec, got {type(spec).__name__}")
    if spec.name in PROBLEMS:
        raise ValueError(f"a problem named {spec.name!r} is already registered")
    unknown = set(spec.methods) - {"pinn", "mol", "galerkin"}
    if not spec.methods or unknown:
        raise ValueError(
            f"ProblemSpec.methods must be a non-empty tuple of pinn, mol, galerkin; "
            f"got {spec.methods!r}"
        )
    PROBLEMS[spec.name] = spec


__all__ = [
    "AbstractProblem",
    "Answer",
    "BiharmonicAnnulusPDE",
    "KdVPDE",
    "KdVProblem",
    "MONTE_CARLO_REFERENCES",
    "NormalDerivativeLoss",
    "PROBLEMS",
    "ParabolicProblem",
    "Problem",
    "ProblemSpec",
    "REACTIONS",
    "SemilinearBallPDE",
    "SemilinearParabolicPDE",
    "annulus_biharmonic_problem",
    "biharmonic_loss",
    "constant_baseline",
    "get_problem",
    "kdv_soliton",
    "radial_reference",
    "register_problem",
    "unit_ball_problem",
]
