"""One problem registry: every ready-made problem is an `AbstractProblem`, listed with its
methods, and `pinnkit solve` runs each of them."""

import json

import jax
import jax.numpy as jnp
import pytest
from helpers import no_typecheck, rejected

import pinnkit as pk
from pinnkit.cli import main
from pinnkit.problems import (
    PROBLEMS,
    AbstractProblem,
    KdVProblem,
    ParabolicProblem,
    Problem,
    get_problem,
)


METHODS = {"pinn", "deep-bsde", "mol", "galerkin"}


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_every_entry_builds_its_kind(name):
    spec = PROBLEMS[name]
    problem = get_problem(name, spec.min_dim + (spec.max_dim is None))
    assert isinstance(problem, AbstractProblem)
    assert problem.name == name and problem.dim == spec.min_dim + (spec.max_dim is None)
    assert spec.methods and set(spec.methods) <= METHODS and spec.methods[0] == "pinn"
    assert spec.description
    expected = {"value": ParabolicProblem, "solution": (Problem, KdVProblem)}[spec.answer]
    assert isinstance(problem, expected), (name, type(problem))
    network = problem.network(jax.random.key(0), width=4, depth=1)
    assert isinstance(network, pk.AbstractNetwork)
    assert isinstance(problem.loss(batch_size=3), pk.AbstractLoss)


def test_kdv_is_registered_in_one_dimension():
    assert isinstance(get_problem("kdv"), KdVProblem)
    rejected(lambda: get_problem("kdv", 2), "kdv needs dim 1, got 2")
    assert PROBLEMS["kdv"].dims == "1" and PROBLEMS["poisson-two-body"].dims == ">= 2"


def test_reactions_are_written_once():
    """The ball suite and the parabolic problems share the one table of reactions."""
    from internals import NONLINEARITIES

    assert NONLINEARITIES["allen-cahn"] is pk.problems.REACTIONS["allen-cahn"]
    assert NONLINEARITIES["poisson"] is pk.problems.REACTIONS["zero"]
    heat = get_problem("heat-quadratic", 2)
    assert isinstance(heat, ParabolicProblem)
    assert isinstance(heat.equation, pk.problems.SemilinearParabolicPDE)
    assert heat.equation.reaction == "zero"
    rejected(
        lambda: pk.problems.SemilinearParabolicPDE("heat", 2, 0.3, jnp.sum),
        "unknown reaction 'heat'",
    )


def test_a_method_a_problem_lacks_is_refused_before_any_work(tmp_path):
    for name, method in [("allen-cahn-parabolic", "mol"), ("kdv", "galerkin")]:
        config = pk.RunConfig(problem=name, dim=1 if name == "kdv" else 2, method=method)
        rejected(lambda c=config: pk.run(c), f"valid methods: {', '.join(PROBLEMS[name].methods)}")


def _tiny(name: str, out) -> list[str]:
    spec = PROBLEMS[name]
    dim = spec.min_dim
    args = ["solve", name, "--dim", str(dim), "--steps", "4", "--batch", "8", "--width", "8"]
    args += ["--depth", "1", "--test-size", "64", "--eval-every", "2", "--no-progress"]
    if spec.answer == "value":
        args += ["--readout-samples", "64"]
    return [*args, "--out", str(out)]


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_solve_runs_every_problem(name, tmp_path):
    """`pinnkit solve NAME` runs each registered problem with its default method, and reports
    the metric its answer is measured by."""
    assert main(_tiny(name, tmp_path)) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["problem"] == name and result["result"] == "successful"
    if PROBLEMS[name].answer == "solution":
        assert result["rel_l2"] > 0 and result["rel_l1"] > 0 and result["value"] is None
    else:
        horizon = {"hjb": 1.0, "black-scholes-barenblatt": 1.0, "hjb-lin": 1.0}
        horizon["black-scholes-default-risk"] = 1.0
        assert result["value"] is not None
        assert result["details"]["T"] == horizon.get(name, 0.3)
        assert (result["reference"] is None) == (result["rel_error"] is None)


def test_register_problem_refuses_what_it_cannot_run():
    from pinnkit.problems import ProblemSpec, register_problem

    spec = PROBLEMS["poisson-two-body"]
    with no_typecheck(), pytest.raises(TypeError, match="expects a ProblemSpec, got str"):
        register_problem("poisson")  # type: ignore[arg-type]
    rejected(lambda: register_problem(spec), "'poisson-two-body' is already registered")
    odd = ProblemSpec(name="mine", description="d", build=spec.build, methods=("fem",))
    rejected(
        lambda: register_problem(odd),
        "methods must be a non-empty tuple of pinn, deep-bsde, mol, galerkin; got \\('fem',\\)",
    )
    mine = ProblemSpec(
        name="mine", description="d", build=spec.build, build_args=spec.build_args, min_dim=2
    )
    register_problem(mine)
    try:
        assert pk.problems.PROBLEMS["mine"] is mine
        problem = get_problem("mine", 3)
        assert isinstance(problem, Problem) and problem.dim == 3
    finally:
        del PROBLEMS["mine"]
