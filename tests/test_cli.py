"""The `pinnkit` command line."""

import json
import subprocess
import sys

import pytest

from pinnkit import ESTIMATORS
from pinnkit.cli import main
from pinnkit.problems import PROBLEMS


RESULT_KEYS = {
    "problem",
    "dim",
    "estimator",
    "samples",
    "steps",
    "batch",
    "seed",
    "rel_l2",
    "rel_l1",
    "wall_s",
    "steps_per_s",
    "peak_rss_mb",
}


def test_problems_lists_every_name(capsys):
    assert main(["problems"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for name, spec in PROBLEMS.items():
        assert f"  {spec.dims}  " in lines[name], lines[name]
        assert f"  {','.join(spec.methods)}  " in lines[name]
        assert f"  {spec.answer} " in lines[name]


def test_module_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "pinnkit", "problems"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for name in PROBLEMS:
        assert name in done.stdout


def test_tiny_solve(tmp_path, capsys):
    args = "solve poisson-two-body --dim 3 --steps 20 --batch 8 --width 8 --test-size 100"
    code = main([*args.split(), "--eval-every", "10", "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert RESULT_KEYS <= set(result)
    assert result["problem"] == "poisson-two-body" and result["dim"] == 3
    # The problem's estimator (stde), with at most the dimension of samples.
    assert result["estimator"] == "stde" and result["samples"] == 3
    assert result["steps"] == 20 and result["batch"] == 8 and result["seed"] == 0
    # Today (seed 0): rel_l2 = 1.4715, rel_l1 = 1.6430 (20 steps barely move the network).
    assert 0 < result["rel_l2"] < 1.25 * 1.4715 and 0 < result["rel_l1"] < 1.25 * 1.6430
    assert result["wall_s"] > 0 and result["steps_per_s"] > 0 and result["peak_rss_mb"] > 10
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "network.eqx").stat().st_size > 0
    assert "rel_l2=" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message, names",
    [
        (["solve", "heat-equation", "--dim", "3"], "unknown problem 'heat-equation'", PROBLEMS),
        (["solve", "poisson-two-body", "--estimator", "magic"], "invalid choice", ESTIMATORS),
        (["solve", "poisson-three-body", "--dim", "2"], "--dim must be >= 3", []),
        (["solve", "poisson-two-body", "--steps", "0"], "--steps must be an integer >= 1", []),
        (["solve", "poisson-two-body", "--terminal", "hard"], "--terminal = 'hard' does not", []),
        (["solve", "poisson-two-body", "--average", "0.5"], "--average = 0.5 does not apply", []),
        (["solve", "poisson-two-body", "--lr", "inf"], "--lr must be a positive finite", []),
        (["solve", "poisson-two-body", "--lbfgs-batch", "0"], "--lbfgs-batch must be", []),
    ],
)
def test_errors_exit_2(argv, message, names, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--no-progress", "--out", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    for name in names:
        assert name in err
    assert not (tmp_path / "result.json").exists()
