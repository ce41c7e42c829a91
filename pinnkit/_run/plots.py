"""The figures a run writes: the training history, and a parabolic run's curve $u(t, 0)$."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_ERRORS = {
    "rel_l2": ("o-", "relative L2 error"),
    "rel_l1": ("s--", "relative L1 error"),
    "rel_error": ("o-", "relative error of u(0, 0)"),
}


def history_figure(history: Mapping[str, list], title: str, metrics: Mapping[str, Any]):
    """The training history in two panels: the loss per step, and the test errors per
    evaluation with markers and the final value written beside the last point (for a
    parabolic run, the error of $u(0, 0)$, with the value and its reference in the title)."""
    plt = _pyplot()
    fig, (loss_ax, error_ax) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    loss_ax.semilogy(history["step"], history["loss"], lw=0.6, color="C0")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title(title)
    loss_ax.grid(True, which="both", alpha=0.3)
    shown = [name for name in _ERRORS if history.get(name)]
    for i, name in enumerate(shown):
        style, label = _ERRORS[name]
        steps, values = history["eval_step"], history[name]
        error_ax.semilogy(steps, values, style, color=f"C{i + 1}", label=label, markersize=4)
        error_ax.annotate(
            f"{values[-1]:.3e}",
            (steps[-1], values[-1]),
            textcoords="offset points",
            xytext=(-6, 6 if i == 0 else -12),
            ha="right",
            fontsize=8,
            color=f"C{i + 1}",
        )
    if metrics.get("value") is not None:
        reference = metrics.get("reference")
        against = "no reference" if reference is None else f"reference {reference:.6g}"
        error_ax.set_title(f"u(0, 0) = {metrics['value']:.6g}, {against}", fontsize=9)
    error_ax.set_ylabel("test error")
    error_ax.set_xlabel("step")
    error_ax.grid(True, which="both", alpha=0.3)
    if shown:
        error_ax.legend(fontsize=8)
    else:
        error_ax.text(0.5, 0.5, "no test set", ha="center", transform=error_ax.transAxes)
    fig.tight_layout()
    return fig


def plot_history(
    history: Mapping[str, list], title: str, path: Path, metrics: Mapping[str, Any] | None = None
) -> None:
    """Save `history_figure` to `path`."""
    plt = _pyplot()
    fig = history_figure(history, title, metrics or {})
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_solution(
    curve: Mapping[str, Any], metrics: Mapping[str, Any], title: str, path: Path
) -> None:
    """The curve $u(t, 0)$ over backward time, the value at $t = 0$ and its reference."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curve["t"], curve["u"], "-", label="u(t, 0)")
    value, reference = metrics["value"], metrics["reference"]
    ax.plot([curve["t"][0]], [value], "o", label=f"u(0, 0) = {value:.6g}")
    if reference is not None:
        ax.plot([0.0], [reference], "k*", markersize=12, label=f"reference {reference:.6g}")
    ax.set_xlabel("t (backward time; terminal data at t = T)")
    ax.set_ylabel("u(t, 0)")
    ax.set_title(title)
    if curve.get("note"):
        ax.text(0.02, 0.02, curve["note"], transform=ax.transAxes, fontsize=8, color="0.3")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
