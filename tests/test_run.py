"""`pinnkit.RunConfig`, `pinnkit.run` and the one result schema."""

import dataclasses
import json
from pathlib import Path

import jax
import pytest
from helpers import no_typecheck
from internals import PARABOLIC_METHODS, build_parser, config_from_args, run_config

import pinnkit as pk
from pinnkit.cli import main


TINY = dict(steps=6, batch=8, width=8, depth=1, eval_every=3, test_size=50, progress=False)


@pytest.mark.parametrize(
    "field, value",
    [
        ("problem", ""),
        ("dim", 0),
        ("dim", 2.5),
        ("method", "fd"),
        ("estimator", "magic"),
        ("samples", 0),
        ("steps", 0),
        ("steps", True),
        ("batch", -1),
        ("lr", float("inf")),
        ("lr", 0.0),
        ("lr", "1e-3"),
        ("width", 2.5),
        ("depth", -1),
        ("block_size", 0),
        ("eval_every", 0),
        ("test_size", 0),
        ("precision", "float16"),
        ("prng", "philox"),
        ("fit_offset", 1),
        ("devices", 0),
        ("optimizer", "adamax"),
        ("schedule", "step"),
        ("lbfgs_steps", -1),
        ("lbfgs_batch", 0),
        ("checkpoint_every", 0),
        ("terminal", "exact"),
        ("average", 1.5),
        ("sharing", "points"),
        ("readout_samples", -1),
        ("progress", "yes"),
    ],
)
def test_every_invalid_value_names_its_field(field, value):
    # As users meet it, without the test run's runtime type checks.
    with no_typecheck(), pytest.raises(ValueError, match=rf"RunConfig\.{field}\b") as info:
        pk.RunConfig(**{"problem": "poisson-two-body", field: value})
    assert repr(value) in str(info.value)


def test_samples_for_an_exact_estimator_are_refused():
    with pytest.raises(ValueError, match=r"RunConfig\.samples must be None for the exact"):
        pk.RunConfig(problem="poisson-two-body", estimator="exact", samples=4)


def test_unset_estimator_and_samples_take_the_problem_defaults(tmp_path):
    """`stde` for the unit ball, `stde-dense` for the biharmonic, `exact` for KdV; at most the
    dimension of samples for a sparse estimator, 16 for the others."""
    from internals import with_defaults

    base = pk.RunConfig(problem="poisson-two-body")
    assert (base.estimator, base.samples) == (None, None)
    assert (
        with_defaults(base, "stde", 3).to_dict()
        == base.replace(estimator="stde", samples=3).to_dict()
    )
    assert with_defaults(base, "stde", 100).samples == 16
    assert with_defaults(base.replace(estimator="hte"), "stde", 3).samples == 16
    assert with_defaults(base.replace(estimator="jet"), "stde", 3).samples is None
    mol = pk.RunConfig(problem="semilinear-heat", method="mol")
    assert with_defaults(mol, "stde", 3) == mol  # trains nothing, keeps both unset
    specs = pk.problems.PROBLEMS
    assert specs["biharmonic-three-body-annulus"].estimator == "stde-dense"
    assert specs["kdv"].estimator == "exact" and specs["semilinear-heat"].estimator == "stde"
    for spec in specs.values():  # each problem's default estimator can evaluate its operators
        assert spec.estimator in pk.ESTIMATORS
    for name, make in pk.ESTIMATORS.items():
        assert getattr(make(), "num_samples", 16) == 16, name  # DEFAULT_SAMPLES


def test_options_outside_their_method_are_refused():
    with pytest.raises(ValueError, match=r"RunConfig\.optimizer = 'sgd' does not apply"):
        pk.RunConfig(problem="semilinear-heat", method="mol", optimizer="sgd")
    base = pk.RunConfig(problem="semilinear-heat", method="galerkin")
    with pytest.raises(ValueError, match=r"RunConfig\.unbiased"):
        base.replace(unbiased=True)
    # The method of lines trains nothing: training options are refused, not ignored.
    mol = base.replace(method="mol")
    for field, value in (("estimator", "stde"), ("steps", 5), ("batch", 9), ("width", 8)):
        with pytest.raises(ValueError, match=rf"RunConfig\.{field} = .* trains no network"):
            mol.replace(**{field: value})


def test_name_lists_match_the_registries():
    # The configuration is JAX-free, so it keeps its own lists of names: they must be the
    # registries' names, in the same order.
    assert run_config.ESTIMATOR_NAMES == tuple(pk.ESTIMATORS)
    assert run_config.OPTIMIZER_NAMES == tuple(pk.OPTIMIZERS)
    assert run_config.SCHEDULE_NAMES == tuple(pk.SCHEDULES)
    assert run_config.PRNG_NAMES == tuple(pk.PRNGS)
    assert set(run_config.METHOD_NAMES) == set(PARABOLIC_METHODS)
    exact = tuple(n for n, make in pk.ESTIMATORS.items() if not hasattr(make(), "num_samples"))
    assert run_config.EXACT_ESTIMATOR_NAMES == exact


def test_every_field_is_a_flag_and_unset_flags_keep_the_defaults():
    solve = build_parser()._subparsers._group_actions[0].choices["solve"]  # type: ignore
    dests = {action.dest for action in solve._actions}
    fields = {f.name for f in dataclasses.fields(pk.RunConfig)}
    assert fields <= dests
    args = build_parser().parse_args(["solve", "poisson-two-body"])
    assert config_from_args(args) == pk.RunConfig(problem="poisson-two-body")
    argv = "solve poisson-two-body --steps 5 --no-progress --fit-offset --x64 --out o".split()
    config = config_from_args(build_parser().parse_args(argv))
    assert config == pk.RunConfig(
        problem="poisson-two-body",
        steps=5,
        progress=False,
        fit_offset=True,
        precision="float64",
        out="o",
    )


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, default in (
        ("--steps", 10000),
        ("--samples", "16, at most the dimension for sdgd and stde"),
        ("--eval-every", 1000),
    ):
        assert flag in text and f"(default: {default})" in text


def test_script_and_command_line_give_the_same_numbers(tmp_path):
    config = pk.RunConfig(problem="poisson-two-body", dim=4, out=tmp_path / "api", **TINY)
    api = pk.run(config)
    argv = "solve poisson-two-body --dim 4 --steps 6 --batch 8 --width 8 --depth 1"
    argv += " --eval-every 3 --test-size 50 --no-progress --out " + str(tmp_path / "cli")
    assert main(argv.split()) == 0
    cli = json.loads((tmp_path / "cli" / "result.json").read_text())
    assert api.metrics["rel_l2"] == cli["rel_l2"] and api.history["loss"] == cli["history"]["loss"]
    saved = json.loads((tmp_path / "api" / "result.json").read_text())
    assert saved == json.loads(json.dumps(api.to_dict()))


def test_one_schema_for_every_method(tmp_path):
    elliptic = pk.run(pk.RunConfig(problem="poisson-two-body", dim=3, out=tmp_path / "e", **TINY))
    parabolic = pk.run(
        pk.RunConfig(
            problem="heat-gaussian", dim=2, method="mol", out=tmp_path / "p", progress=False
        )
    )
    e, p = elliptic.to_dict(), parabolic.to_dict()
    assert set(e) == set(p) and e["schema_version"] == p["schema_version"] == 1
    assert e["value"] is None and e["rel_l2"] is not None
    assert p["value"] is not None and p["rel_error"] < 1e-6 and p["rel_l2"] is None
    assert set(e["config"]) == {f.name for f in dataclasses.fields(pk.RunConfig)}
    assert e["versions"]["jax"] == jax.__version__


def test_precision_is_the_runs_not_the_process(tmp_path):
    before = jax.config.read("jax_enable_x64")
    result = pk.run(
        pk.RunConfig(problem="poisson-two-body", dim=3, precision="float64", out=tmp_path, **TINY)
    )
    assert jax.config.read("jax_enable_x64") == before
    leaves = jax.tree_util.tree_leaves(result.network)
    assert any(getattr(leaf, "dtype", None) == jax.numpy.float64 for leaf in leaves)


def test_output_places_are_checked_before_any_work(tmp_path):
    existing_file = tmp_path / "file"
    existing_file.write_text("")
    with pytest.raises(ValueError, match="is an existing file"):
        pk.run(pk.RunConfig(problem="poisson-two-body", out=existing_file, **TINY))
    with pytest.raises(ValueError, match="not writable"):
        pk.run(pk.RunConfig(problem="poisson-two-body", out=existing_file / "run", **TINY))
    # A configuration refused against its problem creates no folder.
    refused = tmp_path / "refused"
    with pytest.raises(ValueError, match=r"RunConfig\.dim must be >= 3"):
        pk.run(pk.RunConfig(problem="poisson-three-body", dim=2, out=refused, **TINY))
    assert not refused.exists()


def test_run_refuses_what_is_not_a_config():
    with no_typecheck(), pytest.raises(ValueError, match="RunConfig"):
        pk.run({"problem": "poisson-two-body"})  # type: ignore[arg-type]


def test_the_command_line_page_lists_every_flag():
    text = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    missing = []
    for f in dataclasses.fields(pk.RunConfig):
        if f.name == "problem":
            continue
        flag = "--no-progress" if f.name == "progress" else "--" + f.name.replace("_", "-")
        if f"`{flag}" not in text:
            missing.append(flag)
    assert not missing, f"docs/cli.md does not describe {missing}"
