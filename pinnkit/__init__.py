"""pinnkit: neural-network PDE solvers in JAX and Equinox, built for high dimensions.

Public names are re-exported here from private modules, loaded on first use (see `_lazy`):
`import pinnkit` itself imports no JAX, so the command line answers `--help` at once.
"""

from typing import TYPE_CHECKING

from ._lazy import attach


__version__ = "0.1.0"

if TYPE_CHECKING:
    from . import problems as problems
    from ._domain.domains import (
        AbstractDomain as AbstractDomain,
        Annulus as Annulus,
        Ball as Ball,
        Box as Box,
        Sphere as Sphere,
    )
    from ._estimator.base import (
        AbstractEstimator as AbstractEstimator,
        AbstractStochasticEstimator as AbstractStochasticEstimator,
    )
    from ._estimator.exact import (
        Exact as Exact,
        ExactJet as ExactJet,
        ForwardLaplacian as ForwardLaplacian,
    )
    from ._estimator.registry import ESTIMATORS as ESTIMATORS, make_estimator as make_estimator
    from ._estimator.stochastic import HTE as HTE, SDGD as SDGD, STDE as STDE
    from ._loss.gradient_enhanced import (
        GradientBatch as GradientBatch,
        GradientEnhanced as GradientEnhanced,
    )
    from ._loss.inverse import InverseLoss as InverseLoss, WithParameters as WithParameters
    from ._loss.losses import (
        AbstractLoss as AbstractLoss,
        BoundaryLoss as BoundaryLoss,
        CollocationBatch as CollocationBatch,
        DataLoss as DataLoss,
        ResidualLoss as ResidualLoss,
        TargetBatch as TargetBatch,
        WeightedSum as WeightedSum,
    )
    from ._loss.spacetime import (
        InitialLoss as InitialLoss,
        SliceBatch as SliceBatch,
        TerminalLoss as TerminalLoss,
    )
    from ._loss.weighting import (
        AdaptiveWeightedSum as AdaptiveWeightedSum,
        WeightedBatch as WeightedBatch,
    )
    from ._network.base import AbstractNetwork as AbstractNetwork
    from ._network.fourier import FourierFeatureMLP as FourierFeatureMLP
    from ._network.initial import HardInitial as HardInitial
    from ._network.mlp import (
        MLP as MLP,
        HardDirichlet as HardDirichlet,
        UnitBallDistance as UnitBallDistance,
        unit_ball_distance as unit_ball_distance,
    )
    from ._network.modified import ModifiedMLP as ModifiedMLP
    from ._network.residual import ResidualMLP as ResidualMLP
    from ._network.scaled import Normalized as Normalized
    from ._network.shared import SharedFirstLayerMLP as SharedFirstLayerMLP
    from ._operator.base import (
        AbstractOperator as AbstractOperator,
        Biharmonic as Biharmonic,
        Diagonal as Diagonal,
        Diffusion as Diffusion,
        Gradient as Gradient,
        Laplacian as Laplacian,
        Partial as Partial,
        Scaled as Scaled,
        SpatialLaplacian as SpatialLaplacian,
        Sum as Sum,
        TimeDerivative as TimeDerivative,
        Value as Value,
    )
    from ._operator.parabolic import (
        AbstractParabolicPDE as AbstractParabolicPDE,
        ForwardParabolicPDE as ForwardParabolicPDE,
        ParabolicResidual as ParabolicResidual,
        ParabolicStructure as ParabolicStructure,
    )
    from ._operator.pde import AbstractPDE as AbstractPDE
    from ._operator.spacetime import SpaceTimePDE as SpaceTimePDE
    from ._operator.state import Drift as Drift, StateDiffusion as StateDiffusion
    from ._run.config import RunConfig as RunConfig
    from ._run.result import RunResult as RunResult
    from ._run.run import run as run
    from ._sampler.adaptive import (
        AbstractAdaptiveSampler as AbstractAdaptiveSampler,
        R3Sampler as R3Sampler,
        RARSampler as RARSampler,
    )
    from ._sampler.base import AbstractSampler as AbstractSampler, UniformSampler as UniformSampler
    from ._sampler.prng import (
        PRNGS as PRNGS,
        XLA_THREEFRY as XLA_THREEFRY,
        xla_threefry_key as xla_threefry_key,
    )
    from ._sampler.quasi import HaltonSampler as HaltonSampler, SobolSampler as SobolSampler
    from ._sampler.spacetime import (
        Brownian as Brownian,
        CylinderSampler as CylinderSampler,
        SDEPaths as SDEPaths,
    )
    from ._solver.checkpoint import (
        CheckpointError as CheckpointError,
        checkpoint_metadata as checkpoint_metadata,
        load_checkpoint as load_checkpoint,
        save_checkpoint as save_checkpoint,
    )
    from ._solver.feynman_kac import (
        FeynmanKacValue as FeynmanKacValue,
        feynman_kac_value as feynman_kac_value,
    )
    from ._solver.offset import fit_output_offset as fit_output_offset, output_bias as output_bias
    from ._solver.optimizers import (
        OPTIMIZERS as OPTIMIZERS,
        SCHEDULES as SCHEDULES,
        make_optimizer as make_optimizer,
        make_schedule as make_schedule,
    )
    from ._solver.pinn import (
        RESULTS as RESULTS,
        PINNSolver as PINNSolver,
        Solution as Solution,
        linear_decay_adam as linear_decay_adam,
    )
    from ._solver.reference import TestSet as TestSet
    from ._solver.solution import (
        AbstractSolution as AbstractSolution,
        SolveError as SolveError,
        result_name as result_name,
    )
    from ._taylor.base import AbstractTaylorMode as AbstractTaylorMode
    from ._taylor.multilinear import multilinear_derivative as multilinear_derivative
    from ._timestepping.bsde import (
        BSDENetwork as BSDENetwork,
        BSDEPaths as BSDEPaths,
        DeepBSDE as DeepBSDE,
        PathScales as PathScales,
    )
    from ._timestepping.discretization import (
        AbstractDiscretization as AbstractDiscretization,
        FiniteDifference as FiniteDifference,
        Fourier as Fourier,
        Radial as Radial,
    )
    from ._timestepping.galerkin import (
        GalerkinSolution as GalerkinSolution,
        NeuralGalerkin as NeuralGalerkin,
        regularized_lstsq as regularized_lstsq,
    )
    from ._timestepping.mol import (
        MethodOfLines as MethodOfLines,
        MOLSolution as MOLSolution,
    )
    from ._timestepping.picard import (
        gaussian_transition as gaussian_transition,
        geometric_transition as geometric_transition,
        multilevel_picard_value as multilevel_picard_value,
    )
    from ._timestepping.readout import feynman_kac_path_value as feynman_kac_path_value
    from .problems import radial_reference as radial_reference

__getattr__, __dir__ = attach(__name__, __file__)
