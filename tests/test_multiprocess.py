"""A run across processes (`--coordinator HOST:PORT --num-processes N --process-id I`) trains
the same network as one process on as many devices, and only process 0 writes files."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from pinnkit.cli import main


ARGS = [
    "solve", "poisson-two-body", "--dim", "4", "--steps", "20", "--batch", "8", "--width", "8",
    "--depth", "1", "--test-size", "64", "--eval-every", "10", "--no-progress",
]  # fmt: skip


def _pinnkit(devices: int, *flags: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
    }
    command = [sys.executable, "-m", "pinnkit", *ARGS, *flags]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=300)
    text = out.decode()
    assert process.returncode == 0, text[-3000:]
    return text


def test_two_processes_train_as_one_on_four_devices(tmp_path):
    one = _pinnkit(4, "--devices", "4", "--out", str(tmp_path / "one"))
    _finish(one)
    where = f"localhost:{_free_port()}"
    group = ["--coordinator", where, "--num-processes", "2"]
    first = _pinnkit(2, *group, "--process-id", "0", "--out", str(tmp_path / "first"))
    second = _pinnkit(2, *group, "--process-id", "1", "--out", str(tmp_path / "second"))
    _finish(first)
    assert "(files written by process 0)" in _finish(second)
    alone = json.loads((tmp_path / "one" / "result.json").read_text())
    together = json.loads((tmp_path / "first" / "result.json").read_text())
    assert not (tmp_path / "second").exists()  # process 1 wrote nothing
    assert together["config"]["num_processes"] == 2 and together["details"]["devices"] == 4
    a, b = np.array(alone["history"]["loss"]), np.array(together["history"]["loss"])
    assert a.shape == b.shape == (20,)
    np.testing.assert_allclose(b, a, rtol=1e-5)  # float32 round-off of a sum in another order
    assert together["rel_l2"] == pytest.approx(alone["rel_l2"], rel=1e-5)


def test_process_flags_are_checked_before_any_work(capsys):
    cases = [
        (["--num-processes", "2"], "--coordinator must be HOST:PORT or 'auto'"),
        (["--coordinator", "node0"], "--coordinator must be HOST:PORT"),
        (["--coordinator", "node0:1234", "--num-processes", "2"], "set, with process_id"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "between 0 and"),
        (["--coordinator", "auto", "--process-id", "0"], "None with coordinator='auto'"),
    ]
    for flags, message in cases:
        with pytest.raises(SystemExit):
            main([*ARGS, *flags])
        assert message in capsys.readouterr().err, flags
