"""The figures a run writes: the training history, and a parabolic run's curve $u(t, 0)$."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: Mapping[str, list], title: str, path: Path) -> None:
    """The loss per step and the test errors per evaluation, on one log axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(history["step"], history["loss"], lw=0.6, alpha=0.7, label="loss")
    for name, style in (("rel_l2", "o-"), ("rel_l1", "s--"), ("rel_error", "o-")):
        if history.get(name):
            label = {"rel_error": "rel error of u(0, 0)"}.get(name, name.replace("_", " "))
            ax.semilogy(history["eval_step"], history[name], style, label=label)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
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
