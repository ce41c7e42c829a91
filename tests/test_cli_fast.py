"""The command line answers what needs no computation without importing JAX."""

import subprocess
import sys

import pytest

import pinnkit


PROBE = """
import sys
from pinnkit.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
heavy = sorted(name for name in ("jax", "jaxlib", "equinox", "optax") if name in sys.modules)
print("HEAVY=" + ",".join(heavy))
sys.exit(code or 0)
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["problems"], ["solve", "--help"], ["bench", "--help"]],
    ids=lambda argv: " ".join(argv),
)
def test_answers_without_jax(argv):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY=\n" in done.stdout, done.stdout[-500:]


def test_import_pinnkit_is_light_until_a_name_is_used():
    code = (
        "import sys, pinnkit; light = 'jax' not in sys.modules; pinnkit.MLP; "
        "print(light, 'jax' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "True"], done.stdout + done.stderr


def test_version(capsys):
    from pinnkit.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"pinnkit {pinnkit.__version__}"


def test_every_public_name_loads():
    """Each name the lazy table lists resolves, in the package and in `problems`."""
    for package in (pinnkit, pinnkit.problems):
        for name in dir(package):
            if not name.startswith("_"):
                assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        pinnkit.NoSuchName  # noqa: B018
