"""The private parts of pinnkit that the tests reach, in one place.

Tests use the public API: `pinnkit`, `pinnkit.problems` and the command line's
`pinnkit.cli.main`. A few tests check a private piece directly, because no public name exposes
it (a helper's formula, a benchmark's bookkeeping, a table a test compares with the
registries); those pieces are imported here, each with its reason, so that a rename shows up
in this one file, and `tests/test_imports.py` checks that no other test reaches past the
public names.
"""

# The benchmark runners: their record bookkeeping and argument parsing, below `pinnkit bench`.
from pinnkit._bench.accuracy import (
    PAPER_STDE_REL_L2 as PAPER_STDE_REL_L2,
    finished as finished,
    markdown_table as markdown_table,
    run_name as run_name,
)
from pinnkit._bench.estimators import precheck as precheck, run_isolated as run_isolated
from pinnkit._bench.reports import parse_dims as parse_dims, parse_estimators as parse_estimators

# Geometry helpers whose formulas are checked against independent ones.
from pinnkit._domain.domains import sincos as sincos, sphere_directions as sphere_directions
from pinnkit._domain.sphere import (
    sphere_coordinates as sphere_coordinates,
    sphere_from_unit as sphere_from_unit,
)

# The coordinate draws of the sparse estimators (checked for distinctness and uniformity).
from pinnkit._estimator.sampling import sample_coordinates as sample_coordinates

# The activation table, checked entry by entry against formulas written in the test.
from pinnkit._network.mlp import _ACTIVATIONS as ACTIVATIONS

# How Sum and Scaled operators expand into atoms (the estimators evaluate atoms only).
from pinnkit._operator.base import linear_terms as linear_terms

# The run pipeline: the name tables RunConfig validates against (tested against the
# registries), and the parabolic module whose optimizer a test replaces.
from pinnkit._run import config as run_config, parabolic as run_parabolic
from pinnkit._run.config import with_defaults as with_defaults
from pinnkit._run.parabolic import METHODS as PARABOLIC_METHODS, pinn_loss as pinn_loss

# The figure of a run's history (its panels and labels are checked).
from pinnkit._run.plots import history_figure as history_figure

# The PRNG switch of the draws (tested for equal shapes and different streams).
from pinnkit._sampler.prng import with_prng as with_prng

# The Sobol direction numbers, checked against the published table, and the map from their
# 32-bit words to floats strictly inside (0, 1).
from pinnkit._sampler.quasi import (
    _sobol_directions as sobol_directions,
    _to_unit_interval as to_unit_interval,
)

# The averaged-parameter rule of the parabolic PINN (checked against plain SGD).
from pinnkit._solver.optimizers import tail_average as tail_average

# The copy of a module onto every device of a mesh (its static parts kept).
from pinnkit._solver.parallel import replicate as replicate

# The sharded training step, run on a forced multi-device CPU mesh.
from pinnkit._solver.pinn import _make_run as make_run, _split_batch as split_batch

# Taylor mode: the jet primitives and the Faà di Bruno bookkeeping (the coefficient checked
# against set partitions counted by brute force, the jet sum against nested jvp).
from pinnkit._taylor import base as taylor
from pinnkit._taylor.base import coordinate_jets as coordinate_jets
from pinnkit._taylor.partitions import (
    count_vectors as count_vectors,
    faa_di_bruno_coefficient as faa_di_bruno_coefficient,
    slot_pattern as slot_pattern,
)
from pinnkit._taylor.products import sum_jets as sum_jets

# The command line's parser and its mapping onto RunConfig.
from pinnkit.cli import _build_parser as build_parser, config_from_args as config_from_args

# The closed-form pieces of the ready-made problems, checked against autodiff.
from pinnkit.problems._annulus import (
    annulus_distance as annulus_distance,
    annulus_three_body as annulus_three_body,
)
from pinnkit.problems._ball_solutions import three_body as three_body, two_body as two_body
from pinnkit.problems._unit_ball import NONLINEARITIES as NONLINEARITIES


__all__ = [
    "with_defaults",
    "history_figure",
    "ACTIVATIONS",
    "NONLINEARITIES",
    "PAPER_STDE_REL_L2",
    "PARABOLIC_METHODS",
    "annulus_distance",
    "annulus_three_body",
    "build_parser",
    "config_from_args",
    "coordinate_jets",
    "count_vectors",
    "faa_di_bruno_coefficient",
    "finished",
    "linear_terms",
    "make_run",
    "markdown_table",
    "parse_dims",
    "parse_estimators",
    "pinn_loss",
    "precheck",
    "run_config",
    "run_isolated",
    "run_name",
    "replicate",
    "run_parabolic",
    "sample_coordinates",
    "sincos",
    "slot_pattern",
    "sobol_directions",
    "sphere_coordinates",
    "sphere_directions",
    "sphere_from_unit",
    "split_batch",
    "sum_jets",
    "tail_average",
    "taylor",
    "three_body",
    "to_unit_interval",
    "two_body",
    "with_prng",
]
