"""Ready-made problems with exact solutions: the benchmark suite (see docs/math.md, "Problems")."""

from ._annulus import (
    BIHARMONIC_SPEC,
    BiharmonicAnnulusPDE as BiharmonicAnnulusPDE,
    NormalDerivativeLoss as NormalDerivativeLoss,
    annulus_biharmonic_problem as annulus_biharmonic_problem,
    biharmonic_loss as biharmonic_loss,
    constant_baseline as constant_baseline,
)
from ._kdv import KdVPDE as KdVPDE, KdVProblem as KdVProblem, kdv_soliton as kdv_soliton
from ._parabolic import (
    MONTE_CARLO_REFERENCES as MONTE_CARLO_REFERENCES,
    PARABOLIC_SPECS,
    ParabolicProblem as ParabolicProblem,
    ParabolicProblemSpec as ParabolicProblemSpec,
    SemilinearParabolicPDE as SemilinearParabolicPDE,
)
from ._problem import Problem as Problem, ProblemSpec as ProblemSpec
from ._unit_ball import (
    UNIT_BALL_SPECS,
    SemilinearBallPDE as SemilinearBallPDE,
    unit_ball_problem as unit_ball_problem,
)


PROBLEMS: dict[str, ProblemSpec] = {spec.name: spec for spec in [*UNIT_BALL_SPECS, BIHARMONIC_SPEC]}
"""Every registered problem by name."""


def get_problem(name: str, dim: int | None = None, key=None) -> Problem:
    """Build the registered problem `name` in dimension `dim` (its default when `None`).

    Raises `ValueError` listing the valid names when `name` is unknown, and when the problem
    is not defined in dimension `dim`.
    """
    try:
        spec = PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; valid names: {', '.join(PROBLEMS)}") from None
    return spec(dim, key)


PARABOLIC_PROBLEMS: dict[str, ParabolicProblemSpec] = {spec.name: spec for spec in PARABOLIC_SPECS}
"""Every registered parabolic problem by name (forward form $v_\\tau = \\Delta v + f(v)$)."""


def get_parabolic_problem(name: str, dim: int | None = None) -> ParabolicProblem:
    """Build the registered parabolic problem `name` in dimension `dim` (default 100).

    Raises `ValueError` listing the valid names when `name` is unknown, and when `dim` is
    not a positive integer.
    """
    try:
        spec = PARABOLIC_PROBLEMS[name]
    except KeyError:
        raise ValueError(
            f"unknown parabolic problem {name!r}; valid names: {', '.join(PARABOLIC_PROBLEMS)}"
        ) from None
    return spec(dim)


__all__ = [
    "BiharmonicAnnulusPDE",
    "NormalDerivativeLoss",
    "annulus_biharmonic_problem",
    "biharmonic_loss",
    "KdVPDE",
    "KdVProblem",
    "kdv_soliton",
    "MONTE_CARLO_REFERENCES",
    "PARABOLIC_PROBLEMS",
    "ParabolicProblem",
    "ParabolicProblemSpec",
    "SemilinearParabolicPDE",
    "get_parabolic_problem",
    "PROBLEMS",
    "Problem",
    "ProblemSpec",
    "SemilinearBallPDE",
    "get_problem",
    "unit_ball_problem",
]
