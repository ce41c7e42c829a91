"""Every script in examples/ runs with `--quick` and reports a finite error."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", ["first_solve.py", "custom_pde.py"])
def test_example_runs_quick(script):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"rel_l2=(\S+)", result.stdout)
    assert match, f"{script} printed no rel_l2:\n{result.stdout}"
    rel_l2 = float(match.group(1))
    assert math.isfinite(rel_l2)
    # A tiny run must still learn something: a zero network has relative error 1.
    assert rel_l2 < 0.9, f"{script} --quick reached rel_l2={rel_l2}"


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == ["custom_pde.py", "first_solve.py"], (
        f"examples/ holds {scripts}; add new scripts to test_example_runs_quick"
    )
