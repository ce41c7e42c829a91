"""Ready-made problems with exact solutions: the benchmark suite (see MATH.md)."""

from ._problem import Problem as Problem, ProblemSpec as ProblemSpec
from ._unit_ball import (
    UNIT_BALL_SPECS,
    SemilinearBallPDE as SemilinearBallPDE,
    unit_ball_problem as unit_ball_problem,
)


PROBLEMS: dict[str, ProblemSpec] = {spec.name: spec for spec in UNIT_BALL_SPECS}
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


__all__ = [
    "PROBLEMS",
    "Problem",
    "ProblemSpec",
    "SemilinearBallPDE",
    "get_problem",
    "unit_ball_problem",
]
