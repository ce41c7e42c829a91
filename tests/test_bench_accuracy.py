"""`pinnkit bench accuracy`: records, the resume skip and the paper column, on tiny runs."""

import json

import pytest
from internals import PAPER_STDE_REL_L2, finished, markdown_table

from pinnkit.cli import main


def _argv(tmp_path, *extra):
    argv = ["bench", "accuracy", "--problems", "poisson-two-body", "--dims", "3,4"]
    argv += ["--steps", "10", "--width", "8", "--batch", "8", "--samples", "2"]
    argv += ["--test-size", "100", "--eval-every", "5", "--out", str(tmp_path / "runs")]
    argv += ["--json", str(tmp_path / "acc.json"), "--markdown", str(tmp_path / "acc.md")]
    return [*argv, "--plot", str(tmp_path / "acc.png"), *extra]


def test_records_and_resume(tmp_path, capsys):
    assert main(_argv(tmp_path)) == 0
    summary = json.loads((tmp_path / "acc.json").read_text())
    assert (summary["runs"], summary["ran"], summary["reused"], summary["error"]) == (2, 2, 0, 0)
    for record, dim in zip(summary["records"], (3, 4), strict=True):
        assert record["problem"] == "poisson-two-body" and record["dim"] == dim
        assert record["estimator"] == "stde" and record["samples"] == 2
        assert record["steps"] == 10 and record["width"] == 8 and record["test_size"] == 100
        assert record["result"] == "successful" and record["status"] == "ran"
        # Today (seed 0): rel_l2 = 1.5755 at d = 3 and 0.6540 at d = 4, after 10 steps.
        today = {3: 1.5755, 4: 0.6540}[dim]
        assert 0 < record["rel_l2"] < 1.25 * today and record["steps_per_s"] > 0
        assert "history" not in record and record["paper_stde_rel_l2"] is None
    results = sorted((tmp_path / "runs").glob("*/result.json"))
    assert [p.parent.name for p in results] == [
        "poisson-two-body-d3-stde-s0",
        "poisson-two-body-d4-stde-s0",
    ]
    mtimes = [p.stat().st_mtime_ns for p in results]
    table = (tmp_path / "acc.md").read_text()
    assert "paper STDE rel L2" in table and "| poisson-two-body | 4 | stde | 0 |" in table
    assert (tmp_path / "acc.png").read_bytes()[:4] == b"\x89PNG"
    assert "2 runs: 2 ran, 0 reused" in capsys.readouterr().err

    # Restarted with the same grid: nothing reruns.
    assert main(_argv(tmp_path)) == 0
    assert [p.stat().st_mtime_ns for p in results] == mtimes
    summary = json.loads((tmp_path / "acc.json").read_text())
    assert (summary["ran"], summary["reused"]) == (0, 2)
    assert {r["status"] for r in summary["records"]} == {"reused"}
    assert "2 runs: 0 ran, 2 reused" in capsys.readouterr().err

    # A different configuration (more steps) is not a finished run of it.
    config = {**summary["records"][0], "steps": 11}
    assert finished(results[0], config) is None
    assert finished(results[0], summary["records"][0]) is not None


def test_table_puts_the_paper_beside_the_measured_error():
    record = {
        "problem": "allen-cahn-two-body",
        "dim": 1000,
        "estimator": "stde",
        "seed": 0,
        "rel_l2": 1.234e-3,
        "rel_l1": 1e-3,
        "steps": 10_000,
        "steps_per_s": 40.0,
        "wall_s": 250.0,
        "result": "successful",
        "status": "ran",
        "paper_stde_rel_l2": PAPER_STDE_REL_L2["allen-cahn-two-body"][1000],
        "paper_stde_steps_per_s": 1559,
    }
    row = markdown_table([record]).splitlines()[2]
    assert "| 1.234e-03 | 7.07e-04 |" in row and "| 1559 |" in row


def test_bad_arguments(tmp_path):
    base = ["bench", "accuracy", "--out", str(tmp_path)]
    for extra in (
        ["--problems", "nope"],
        ["--estimators", "nope"],
        ["--dims", "x"],
        ["--seeds", "a"],
        ["--steps", "0"],
        ["--problems", "poisson-three-body", "--dims", "2"],
    ):
        with pytest.raises(SystemExit) as error:
            main([*base, *extra])
        assert error.value.code == 2
