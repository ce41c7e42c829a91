"""What a person meets at the command line: no folder left by a refused run, a progress bar
that ends on the reported values, readable files, defaults stated in `--help`."""

import os
import re
import stat

import jax
import pytest

import pinnkit as pk
from pinnkit.cli import main


def test_a_refused_run_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Refused inside the run (5 samples > dimension 3), after the folder was made.
    with pytest.raises(SystemExit):
        main(["solve", "poisson-two-body", "--dim", "3", "--samples", "5", "--steps", "2"])
    assert not (tmp_path / "runs").exists()
    nested = tmp_path / "a" / "b"
    config = pk.RunConfig(problem="poisson-two-body", dim=3, samples=5, out=nested)
    with pytest.raises(ValueError, match="samples must be <= the dimension 3"):
        pk.run(config)
    assert not (tmp_path / "a").exists()
    # A folder that was there before is kept.
    (tmp_path / "mine").mkdir()
    with pytest.raises(ValueError):
        pk.run(pk.RunConfig(problem="poisson-two-body", dim=3, samples=5, out="mine"))
    assert (tmp_path / "mine").is_dir()


def test_progress_bar_ends_on_the_final_errors(getkey, capsys):
    problem = pk.problems.get_problem("poisson-two-body", 3, jax.random.key(0))
    assert isinstance(problem, pk.problems.Problem)
    solver = pk.PINNSolver(problem.loss(batch_size=8), eval_every=4, log_every=2)
    network = problem.network(getkey(), width=8, depth=1)
    test_set = problem.test_set(getkey(), size=64)
    # 10 steps, evaluated at 4, 8 and (the end) 10.
    solution = solver.solve(network, 10, getkey(), test_set=test_set, progress=True)
    shown = re.findall(r"rel_l2=([0-9.e+-]+)", capsys.readouterr().err)
    assert shown, "the progress bar showed no errors"
    assert shown[-1] == f"{solution.metrics['rel_l2']:.3e}"
    assert solution.history["eval_step"].tolist() == [4, 8, 10]


def test_output_files_are_readable_like_any_other(tmp_path):
    main(
        ["solve", "poisson-two-body", "--dim", "3", "--steps", "2", "--width", "4"]
        + ["--test-size", "16", "--no-progress", "--out", str(tmp_path)]
    )
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    for name in ("result.json", "network.eqx", "history.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_help_states_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: unset)" not in text
    for flag in ("--samples", "--eval-every", "--dim", "--test-size", "--estimator"):
        after = text.split(f" {flag} ", 1)[1]
        assert "default" in after.split(" --", 1)[0], flag
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "Benchmarks:" in capsys.readouterr().out


def test_history_plot_has_a_loss_panel_and_an_error_panel():
    from internals import history_figure

    history = {
        "step": list(range(100)),
        "loss": [10.0 / (1 + s) for s in range(100)],
        "eval_step": [50, 100],
        "rel_l2": [0.5, 0.0123],
        "rel_l1": [0.4, 0.0101],
    }
    fig = history_figure(history, "a run", {})
    loss_ax, error_ax = fig.axes
    assert loss_ax.get_ylabel() == "training loss" and error_ax.get_ylabel() == "test error"
    assert [line.get_marker() for line in error_ax.get_lines()] == ["o", "s"]
    assert {t.get_text() for t in error_ax.texts} == {"1.230e-02", "1.010e-02"}
    parabolic = {**history, "rel_error": [0.1, 0.02]}
    del parabolic["rel_l2"], parabolic["rel_l1"]
    fig = history_figure(parabolic, "a run", {"value": 0.31, "reference": 0.3166})
    assert fig.axes[1].get_title() == "u(0, 0) = 0.31, reference 0.3166"
