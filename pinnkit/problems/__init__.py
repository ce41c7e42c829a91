"""Ready-made problems with exact solutions or reference values, in one registry.

Every problem is an [`AbstractProblem`][pinnkit.problems.AbstractProblem] built by name with
[`get_problem`][pinnkit.problems.get_problem]; its [`ProblemSpec`][pinnkit.problems.ProblemSpec]
in [`PROBLEMS`][pinnkit.problems.PROBLEMS] says which dimensions it takes, which methods solve
it and whether its answer is the solution everywhere or one value (see docs/math.md,
"Problems"). The registry imports no JAX; the problems' modules load on first use.
"""

from typing import TYPE_CHECKING

from .._lazy import attach
from ._registry import (
    PROBLEMS as PROBLEMS,
    Answer as Answer,
    ProblemSpec as ProblemSpec,
    get_problem as get_problem,
    register_problem as register_problem,
)


if TYPE_CHECKING:
    from ._annulus import (
        BiharmonicAnnulusPDE as BiharmonicAnnulusPDE,
        NormalDerivativeLoss as NormalDerivativeLoss,
        annulus_biharmonic_problem as annulus_biharmonic_problem,
        biharmonic_loss as biharmonic_loss,
        constant_baseline as constant_baseline,
    )
    from ._general import (
        DEFAULT_RISK_REFERENCE as DEFAULT_RISK_REFERENCE,
        HJB as HJB,
        PAPER_VALUES as PAPER_VALUES,
        AllenCahnPNAS as AllenCahnPNAS,
        BlackScholesBarenblatt as BlackScholesBarenblatt,
        DefaultRisk as DefaultRisk,
        HJBLin as HJBLin,
        default_risk_reference as default_risk_reference,
        hjb_reference as hjb_reference,
    )
    from ._kdv import KdVPDE as KdVPDE, KdVProblem as KdVProblem, kdv_soliton as kdv_soliton
    from ._parabolic import (
        ParabolicProblem as ParabolicProblem,
        SemilinearParabolicPDE as SemilinearParabolicPDE,
        radial_reference as radial_reference,
    )
    from ._parabolic_cases import MONTE_CARLO_REFERENCES as MONTE_CARLO_REFERENCES
    from ._problem import AbstractProblem as AbstractProblem, Problem as Problem
    from ._reactions import REACTIONS as REACTIONS
    from ._unit_ball import (
        SemilinearBallPDE as SemilinearBallPDE,
        unit_ball_problem as unit_ball_problem,
    )

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = [
    "DEFAULT_RISK_REFERENCE",
    "HJB",
    "PAPER_VALUES",
    "AbstractProblem",
    "AllenCahnPNAS",
    "BlackScholesBarenblatt",
    "DefaultRisk",
    "HJBLin",
    "default_risk_reference",
    "hjb_reference",
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
