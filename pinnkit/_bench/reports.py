"""Shared pieces of the `pinnkit bench` commands: option parsing and report writing."""

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def parse_dims(text: str) -> list[int]:
    """Parse `"100,1000,1e4"` into positive integers (raises `ValueError`)."""
    dims = []
    for item in text.split(","):
        item = item.strip().replace("_", "")
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"bad --dims {text!r}: {item!r} is not a number") from None
        if not value.is_integer() or value < 1:
            raise ValueError(f"bad --dims {text!r}: {item!r} is not a positive integer")
        dims.append(int(value))
    if not dims:
        raise ValueError("--dims is empty")
    return sorted(set(dims))


def parse_names(text: str, valid: Sequence[str], what: str) -> list[str]:
    """Parse a comma list of names among `valid` (duplicates dropped, order kept); `what`
    names the option in errors (`"estimator"` for `--estimators`)."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(
            f"unknown {what}{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(valid)}"
        )
    if not names:
        raise ValueError(f"--{what}s is empty")
    return names


def parse_estimators(text: str | None) -> list[str]:
    """Parse a comma list of registered estimator names; `None` means all of them."""
    from .._estimator.registry import ESTIMATORS

    if text is None:
        return list(ESTIMATORS)
    return parse_names(text, list(ESTIMATORS), "estimator")


# ------------------------------------------------------------------------------ worker


def pyplot() -> Any:
    """`matplotlib.pyplot` on the non-interactive Agg backend (imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Lay out `fig`, write it to `path` (PNG, 120 dpi; parent folders made) and close it."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)


def add_report_arguments(parser: Any, json_help: str) -> None:
    """The `--json`, `--markdown` and `--plot` options of a `pinnkit bench` subcommand."""
    parser.add_argument("--json", type=Path, default=None, help=json_help)
    parser.add_argument("--markdown", type=Path, default=None, help="write the table (stdout)")
    parser.add_argument("--plot", type=Path, default=None, help="write the plot (PNG)")


def check_positive(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Raise `ValueError` naming the first option in `names` whose value is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


def write_reports(
    args: argparse.Namespace,
    data: Any,
    table: str,
    plot_to: Callable[[Path], None],
    *,
    echo: bool,
) -> None:
    """Write what `--json` (`data`), `--markdown` (`table`) and `--plot` (by `plot_to`) ask
    for; with `echo`, print the table to stdout when there is no `--markdown` file."""
    from .._run.result import write_atomic

    if args.json is not None:
        write_atomic(args.json, (json.dumps(data, indent=2) + "\n").encode())
    if args.markdown is not None:
        write_atomic(args.markdown, table.encode())
    elif echo:
        print(table, end="")
    if args.plot is not None:
        plot_to(args.plot)
