"""Every script in examples/ runs with `--quick` and reports a finite error that shows learning.

The list of scripts is read from the folder, so a new example is tested without editing this
file. The contract for an example: it takes `--quick` (tiny sizes, about 10 to 20 s), exits 0,
and prints at least one `rel_l2=<float>` or `rel_error=<float>`.
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


def test_examples_found():
    # Guard the glob: if it found nothing, the parametrized test below would test nothing.
    assert {"first_solve.py", "custom_pde.py"} <= set(SCRIPTS), SCRIPTS


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
    for name, text in errors:
        value = float(text.rstrip(",;"))
        assert math.isfinite(value), f"{script}: {name}={text}"
        assert value < BOUND, f"{script} --quick reached {name}={value}, not below {BOUND}"
