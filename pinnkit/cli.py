"""The `pinnkit` command line: flags mapped onto [`pinnkit.RunConfig`][], nothing else.

`pinnkit solve` builds a `RunConfig` from its flags (one flag per field, generated from the
fields) and calls [`pinnkit.run`][]; `pinnkit bench` calls the benchmark functions, which call
`run` themselves.
"""

import argparse
import dataclasses
import re
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from . import __version__
from ._run.config import RunConfig


def _field_type(annotation: Any) -> Any:
    """The argparse type of a field: the first non-None member of a union."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _field_type(inner[0])
    if typing.get_origin(annotation) is typing.Literal:
        return str
    return annotation


def _flag_help(f: dataclasses.Field) -> str:
    """The field's help with its default, unless the help already states it."""
    text = f.metadata["help"]
    if "default" in text:
        return text
    return f"{text} (default: {f.default})"


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of `RunConfig` (`problem` positional); unset flags keep the
    field's default. `--x64` is kept as a shorthand for `--precision float64`."""
    for f in dataclasses.fields(RunConfig):
        if f.name == "problem":
            parser.add_argument("problem", help=f.metadata["help"])
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(f.type)
        if kind is bool and f.default is True:
            parser.add_argument(
                "--no-" + f.name.replace("_", "-"),
                dest=f.name,
                action="store_false",
                default=argparse.SUPPRESS,
                help=f"do not {f.metadata['help']}",
            )
        elif kind is bool:
            parser.add_argument(
                flag, action="store_true", default=argparse.SUPPRESS, help=f.metadata["help"]
            )
        else:
            parser.add_argument(
                flag,
                type=kind,
                choices=f.metadata.get("choices"),
                default=argparse.SUPPRESS,
                help=_flag_help(f),
            )
    parser.add_argument(
        "--x64",
        dest="precision",
        action="store_const",
        const="float64",
        default=argparse.SUPPRESS,
        help="compute in float64 (the same as --precision float64)",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The `RunConfig` of parsed `pinnkit solve` flags (flags not given keep the defaults)."""
    names = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig(**{k: v for k, v in vars(args).items() if k in names})


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinnkit",
        description="Solve PDEs with neural networks, in high dimensions.",
    )
    parser.add_argument("--version", action="version", version=f"pinnkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("problems", help="list the ready-made problems")
    solve = sub.add_parser(
        "solve",
        help="train a network on a problem and report its error",
        description="Run one configuration (pinnkit.RunConfig; pinnkit.run from Python) and "
        "write result.json, plots and the trained network into the output folder.",
    )
    add_config_flags(solve)

    from ._bench import add_bench_parser

    add_bench_parser(sub)
    return parser


def _cmd_problems() -> int:
    from .problems import PROBLEMS

    rows = [("problem", "dim", "methods", "answer", "description")]
    rows += [
        (name, spec.dims, ",".join(spec.methods), spec.answer, spec.description)
        for name, spec in PROBLEMS.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)), row[4]
        )
    print(
        "\nanswer: 'solution' is measured by rel_l2 on a test set, 'value' is u(0, 0) with "
        "rel_error; the first method is the default (--method)"
    )
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    from ._run.run import run

    result = run(config_from_args(args))
    summary = result.summary()
    if "jax" in sys.modules and sys.modules["jax"].process_index() != 0:
        # In a multi-process run only process 0 writes the files the summary points to.
        summary = summary.rpartition(" -> ")[0] + " (files written by process 0)"
    print(summary)
    lbfgs = result.details.get("lbfgs")
    if lbfgs is not None and lbfgs["message"]:
        print(lbfgs["message"], file=sys.stderr)
    if result.result == "interrupted":
        print(
            f"pinnkit: {result.message}\nTo continue, run the same command with --resume.",
            file=sys.stderr,
        )
        return 130
    if result.message:
        print(result.message, file=sys.stderr)
        return 1
    return 0


def _as_flags(message: str) -> str:
    """A configuration error in the words of the command line: `RunConfig.lbfgs_batch`
    becomes `--lbfgs-batch`."""
    return re.sub(r"RunConfig\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), message)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pinnkit` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "problems":
            return _cmd_problems()
        if args.command == "bench":
            from ._bench import run_bench

            return run_bench(args)
        return _cmd_solve(args)
    except ValueError as error:
        parser.exit(2, f"pinnkit: error: {_as_flags(str(error))}\n")
    except KeyboardInterrupt:
        # A second Ctrl-C, or one outside the training loop: the last checkpoint is kept.
        print(
            "\npinnkit: interrupted; run the same command with --resume to continue from the "
            "last checkpoint",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
