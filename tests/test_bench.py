"""`pinnkit bench estimators`: records, skips and errors, on tiny configurations."""

import json

import pytest
from internals import parse_dims, parse_estimators, precheck, run_isolated

from pinnkit import ESTIMATORS
from pinnkit.cli import main


KEYS = {
    "estimator",
    "dim",
    "batch",
    "samples",
    "ms_per_step",
    "floor_ms_per_step",
    "ratio_to_floor",
    "peak_rss_mb",
    "floor_peak_rss_mb",
    "sample_ms",
    "source_ms",
    "xla_temp_mb",
    "floor_xla_temp_mb",
}


def test_bench_estimators_records(tmp_path):
    out = tmp_path / "bench.json"
    table = tmp_path / "bench.md"
    figure = tmp_path / "bench.png"
    # The memory budget (600 bytes) admits exact's Hessians at d = 4 (4 * 4^2 * 4 = 256 bytes)
    # but not at d = 8 (1024 bytes), so d = 8 is skipped by the pre-check, with its reason.
    argv = ["bench", "estimators", "--estimators", "stde,exact", "--dims", "4,8"]
    argv += ["--batch", "4", "--samples", "2", "--width", "8", "--depth", "2", "--repeats", "1"]
    argv += ["--memory-gb", "6e-7", "--json", str(out), "--markdown", str(table)]
    argv += ["--plot", str(figure)]
    assert main(argv) == 0

    records = json.loads(out.read_text())
    assert [(r["estimator"], r["dim"]) for r in records] == [
        ("stde", 4),
        ("exact", 4),
        ("stde", 8),
        ("exact", 8),
    ]
    for r in records:
        assert KEYS <= set(r), KEYS - set(r)
        assert r["batch"] == 4
        assert r["sample_ms"] > 0 and r["source_ms"] > 0
        assert r["floor_peak_rss_mb"] > 10
    measured = [r for r in records if r["dim"] == 4]
    for r in measured:
        assert "skipped" not in r
        assert r["ms_per_step"] > 0 and r["floor_ms_per_step"] > 0
        assert r["ratio_to_floor"] == pytest.approx(r["ms_per_step"] / r["floor_ms_per_step"])
        assert r["peak_rss_mb"] > 10
        assert r["xla_temp_mb"] is None or r["xla_temp_mb"] >= 0
    assert measured[0]["samples"] == 2 and measured[1]["samples"] is None
    skipped = {r["estimator"]: r for r in records if r["dim"] == 8}
    assert "Hessians" in skipped["exact"]["skipped"]
    assert "GB" in skipped["stde"]["skipped"]  # extrapolated from d = 4's XLA temporaries
    for r in skipped.values():
        assert r["ms_per_step"] is None

    text = table.read_text()
    assert "| stde | 4 |" in text and "skipped: needs about" in text
    assert figure.stat().st_size > 1000


def test_worker_failure_is_a_skip_with_its_error():
    spec = {"problem": "allen-cahn-two-body", "dim": 1, "estimator": "stde", "seed": 0}
    spec |= {"batch": 2, "samples": 1, "repeats": 1, "width": 4, "depth": 1}
    record = run_isolated(spec, timeout=120.0)
    assert record["skipped"].startswith("worker exited with status 1")
    assert "needs dim >= 2" in record["skipped"]


def test_timeout_is_a_skip():
    spec = {"problem": "allen-cahn-two-body", "dim": 4, "estimator": "stde", "seed": 0}
    spec |= {"batch": 2, "samples": 1, "repeats": 1, "width": 4, "depth": 1}
    assert run_isolated(spec, timeout=0.01) == {"skipped": "timed out after 0.01 s"}


def test_precheck_rules():
    assert "Hessians" in str(precheck("exact", 10_000, 100, [], 18.0, 600.0))
    assert precheck("exact", 1_000, 100, [], 18.0, 600.0) is None
    jet_1000 = {"dim": 1_000, "ms_per_step": 5_000.0, "xla_temp_mb": 100.0}
    reason = precheck("jet", 10_000, 100, [jet_1000], 18.0, 600.0)
    assert reason is not None and reason.startswith("estimated 500 s per step")
    stde_1000 = {"dim": 1_000, "ms_per_step": 5.0, "xla_temp_mb": 10.0}
    assert precheck("stde", 100_000, 100, [stde_1000], 18.0, 600.0) is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="valid names: " + ", ".join(ESTIMATORS)):
        parse_estimators("stde,nope")
    with pytest.raises(ValueError, match="not a number"):
        parse_dims("100,ten")
    with pytest.raises(ValueError, match="not a positive integer"):
        parse_dims("100,-5")
    assert parse_dims("1e3, 100,1_000") == [100, 1000]
    assert parse_estimators(None) == list(ESTIMATORS)
    with pytest.raises(SystemExit) as info:
        main(["bench", "estimators", "--estimators", "nope"])
    assert info.value.code == 2


def test_bench_parabolic_tabulates_every_method_beside_the_paper(tmp_path, capsys):
    argv = "bench parabolic --problems hjb-lin,hjb --methods deep-bsde,pinn --dim 2 --steps 10"
    argv += f" --out {tmp_path / 'runs'} --json {tmp_path / 'p.json'}"
    argv += f" --markdown {tmp_path / 'p.md'} --plot {tmp_path / 'p.png'}"
    assert main(argv.split()) == 0
    records = json.loads((tmp_path / "p.json").read_text())
    assert [(r["problem"], r["method"]) for r in records] == [
        ("hjb-lin", "deep-bsde"),
        ("hjb-lin", "pinn"),
        ("hjb", "deep-bsde"),
        ("hjb", "pinn"),
    ]
    for r in records:
        assert r["reference"] is not None and r["rel_error"] is not None
        assert r["baseline_rel_error"] is not None and r["recipe"]["steps"] == 10
        assert r["paper_rel_error"] is None  # the paper's figures are for d = 100 only
    assert records[3]["recipe"]["terminal_feature"] is True  # g as an input for HJB
    table = (tmp_path / "p.md").read_text()
    # A row per run, and one for each PINN's Feynman-Kac read-out (along paths: both have
    # an f of the gradient).
    assert table.count("| `hjb") == 6 and "PNAS rel. error" in table
    assert table.count("pinn + Feynman–Kac read-out") == 2
    assert (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(SystemExit) as info:
        main("bench parabolic --methods galerkin".split())
    assert info.value.code == 2
    assert "unknown method 'galerkin'" in capsys.readouterr().err
