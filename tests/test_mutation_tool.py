"""The mutation-testing script's sampling and scoring (tools/mutation.py), which the scores on
the contributing page rest on."""

import importlib.util
from pathlib import Path

import pytest


def _tool():
    path = Path(__file__).resolve().parent.parent / "tools" / "mutation.py"
    spec = importlib.util.spec_from_file_location("pinnkit_mutation_tool", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _statuses(module: str, n: int) -> dict[str, str]:
    return {f"pinnkit.{module}.f.x_g__mutmut_{i}": "not checked" for i in range(n)}


def test_sample_is_a_seeded_subset_of_the_module_only():
    tool = _tool()
    statuses = _statuses("problems", 500) | _statuses("extra", 300)
    first = tool.sample("problems", statuses, 60, seed=0)
    assert len(first) == len(set(first)) == 60
    assert all(name.startswith("pinnkit.problems.") for name in first)
    assert first == tool.sample("problems", statuses, 60, seed=0)
    assert first != tool.sample("problems", statuses, 60, seed=1)
    assert len(tool.sample("problems", statuses, 10_000, seed=0)) == 500


def test_sample_is_uniform_over_the_module():
    # Each mutant is drawn with probability 60/500; over 200 seeds the first hundred mutants
    # (by name) hold 12 of each sample on average, with a standard error of about 0.2.
    tool = _tool()
    statuses = _statuses("problems", 500)
    names = sorted(statuses)[:100]
    counts = [
        len(set(tool.sample("problems", statuses, 60, seed)) & set(names)) for seed in range(200)
    ]
    assert abs(sum(counts) / len(counts) - 12.0) < 1.0


def test_score_leaves_out_equivalent_and_unrun_mutants(monkeypatch):
    tool = _tool()
    prefix = "pinnkit.problems.f.x_g__mutmut_"
    statuses = {f"{prefix}{i}": "killed" for i in range(6)}
    statuses |= {f"{prefix}6": "timeout", f"{prefix}7": "survived", f"{prefix}8": "survived"}
    statuses |= {f"{prefix}9": "not checked"}
    monkeypatch.setattr(tool, "equivalent_mutants", lambda: {f"{prefix}8": "a reason"})
    report = tool.score("problems", statuses)
    # 7 killed (a timeout counts) of the 8 run and not equivalent.
    assert f"{prefix}7 (survived)" in report
    assert f"{prefix}8" not in report.splitlines()[0]
    last = report.splitlines()[-1]
    assert "7 killed / 10 mutants, 1 equivalent, 1 not run yet" in last
    assert "score 87.5 % of 8 run and non-equivalent" in last
    assert f"at least {100 * tool.lower_bound(7, 8):.1f} % with 95 % confidence" in last


def test_lower_bound_is_the_wilson_bound():
    """Against the Wilson interval written out: all of 92 killed leaves 97.1 %, 7 of 8 leaves
    58.9 %; the bound rises with the sample and never passes the sample's score."""
    tool = _tool()
    assert tool.lower_bound(92, 92) == pytest.approx(0.9714, abs=1e-4)
    assert tool.lower_bound(7, 8) == pytest.approx(0.5888, abs=1e-4)
    assert tool.lower_bound(0, 0) == 0.0
    assert tool.lower_bound(90, 100) < tool.lower_bound(900, 1000) < 0.9


@pytest.mark.parametrize("argv", [["problems", "--sample", "0"], ["problems", "--workers", "0"]])
def test_bad_arguments_are_refused(monkeypatch, argv):
    tool = _tool()
    monkeypatch.setattr("sys.argv", ["mutation.py", *argv])
    with pytest.raises(SystemExit) as raised:
        tool.main()
    assert raised.value.code == 2
