"""Each static gate of `.ci/gates` fails on a fault planted in a copy of the repository.

`.ci/run` runs the gates on the repository itself; these tests show that each one can fail,
and that it fails for the planted reason.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "venv", "runs", "site", "__pycache__", ".pytest_cache", "*.egg-info"
)


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=_SKIP)
    return copy


def _gate(copy: Path, gate: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(copy / ".ci" / "gates"), gate],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PINNKIT_PYTHON": sys.executable},
    )


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


# (gate, file to plant in, planted text, what the gate's output must name)
_PLANTS = {
    "ruff": ("pinnkit/_types.py", "\nimport os\n", "F401"),
    "format": ("pinnkit/_types.py", "\n_PLANTED = ( 1,2 )\n", "pinnkit/_types.py"),
    "pyright": (
        "pinnkit/_types.py",
        '\n\ndef _planted() -> int:\n    return "not an int"\n',
        "_types.py",
    ),
    "docs": (
        "docs/index.md",
        "\nA [planted reference][pinnkit.NoSuchName].\n",
        "pinnkit.NoSuchName",
    ),
}


@pytest.mark.parametrize("gate", sorted(_PLANTS))
def test_gate_fails_on_a_planted_fault(tmp_path, gate):
    copy = _copy(tmp_path)
    target, text, named = _PLANTS[gate]
    _append(copy / target, text)
    result = _gate(copy, gate)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"gate {gate} passed a planted fault:\n{output}"
    assert named in output, output
    assert "gates passed" not in output


def test_unknown_gate_is_refused(tmp_path):
    result = _gate(ROOT, "lint")
    assert result.returncode == 2 and "unknown gate 'lint'" in result.stderr
