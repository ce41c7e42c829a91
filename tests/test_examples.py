"""Every script in examples/ runs with `--quick` and reports a finite error that shows learning.

The list of scripts is read from the folder, so a new example is tested without editing this
file. The contract for an example: it takes `--quick` (tiny sizes, about 10 to 20 s), exits 0,
and prints at least one `rel_l2=<float>` or `rel_error=<float>`, each below twice the value
that script reached when it was last measured (`TODAY`).
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py"))
ERROR = re.compile(r"\b(rel_l2|rel_error)=(\S+)")
# A zero network has relative error 1: a tiny run must at least do better than that.
BOUND = 0.9
# What each script's --quick run printed on 2026-12-04 (seed fixed in each script), in the
# order printed; a run must stay below twice each value (or 1e-8, for values at round-off).
# A script not listed here is held to BOUND only: add its values when adding an example.
TODAY = {
    "compare_estimators.py": [6.840e-02, 7.906e-02],
    "custom_parabolic.py": [1.401e-02, 1.401e-02, 1.436e-02, 1.436e-02],
    "custom_pde.py": [1.253e-01],
    "first_solve.py": [1.487e-01],
    "high_dimensional.py": [2.838e-02],
    "inverse_problem.py": [3.348e-01],
    "multi_device.py": [7.063e-02, 7.063e-02],
    "parabolic_mol.py": [1.016e-02, 2.847e-03, 8.441e-11, 1.085e-03],
    "run_config.py": [6.676e-02, 6.676e-02, 6.676e-02],
}


def test_examples_found():
    # Guard the glob: if it found nothing, the parametrized test below would test nothing.
    assert {"first_solve.py", "custom_pde.py"} <= set(SCRIPTS), SCRIPTS


@pytest.mark.slow  # 20 to 75 s a script: `pytest -m "not slow"` leaves them out
@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_quick(script):
    source = (EXAMPLES / script).read_text()
    assert source.lstrip().startswith('"""'), f"{script} needs a module docstring"
    assert "--quick" in source, f"{script} must take a --quick flag"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    errors = ERROR.findall(result.stdout)
    assert errors, f"{script} printed no rel_l2=... or rel_error=...:\n{result.stdout}"
    today = TODAY.get(script, [BOUND / 2] * len(errors))
    assert len(errors) == len(today), f"{script} printed {errors}, expected {len(today)} errors"
    for (name, text), reached in zip(errors, today, strict=True):
        value = float(text.rstrip(",;"))
        bound = min(max(2 * reached, 1e-8), BOUND)
        assert math.isfinite(value), f"{script}: {name}={text}"
        assert value < bound, f"{script} --quick reached {name}={value}, not below {bound}"
