"""[`pinnkit.run`][]: build everything a [`pinnkit.RunConfig`][] names, run it, save it."""

import os
from pathlib import Path

from .config import RunConfig, refuse_parabolic_options
from .result import RunResult


def _spec(config: RunConfig):
    """The registry entry of `config.problem` and whether it is parabolic."""
    from ..problems import PARABOLIC_PROBLEMS, PROBLEMS

    if config.problem in PARABOLIC_PROBLEMS:
        return PARABOLIC_PROBLEMS[config.problem], True
    if config.problem in PROBLEMS:
        return PROBLEMS[config.problem], False
    names = ", ".join((*PROBLEMS, *PARABOLIC_PROBLEMS))
    raise ValueError(f"unknown problem {config.problem!r}; valid names: {names}")


def _check(config: RunConfig) -> tuple[bool, int]:
    """Everything that can be checked against the problem before any work: (parabolic, dim)."""
    spec, parabolic = _spec(config)
    dim = spec.default_dim if config.dim is None else config.dim
    if dim < spec.min_dim:
        raise ValueError(f"RunConfig.dim must be >= {spec.min_dim} for {spec.name!r}, got {dim}")
    if not parabolic:
        if config.method != "pinn":
            raise ValueError(
                f"RunConfig.method {config.method!r} is not available for {config.problem!r}; "
                "valid methods: pinn (mol and galerkin solve the parabolic problems)"
            )
        refuse_parabolic_options(config, config.problem)
    return parabolic, dim


def output_folder(config: RunConfig, dim: int) -> Path:
    """Where the run writes: `config.out`, or `runs/PROBLEM-dD-LABEL-sSEED` where LABEL is the
    estimator for an elliptic problem, `pinn-ESTIMATOR` or the method for a parabolic one."""
    if config.out is not None:
        return Path(config.out)
    from ..problems import PARABOLIC_PROBLEMS

    label = config.estimator
    if config.problem in PARABOLIC_PROBLEMS:
        label = config.method if config.method != "pinn" else f"pinn-{config.estimator}"
    return Path("runs") / f"{config.problem}-d{dim}-{label}-s{config.seed}"


def check_output_folder(out: Path) -> None:
    """Raise `ValueError` unless `out` is, or can be made, a writable folder."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {out} is an existing file; choose another --out")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write the output folder {out}: {parent} is not writable")


def run(config: RunConfig) -> RunResult:
    """Run one configuration, as `pinnkit solve` does, and save its results.

    Builds the problem, network, estimator, loss, sampler, optimizer and method that `config`
    names, in that order; trains or time-steps; writes `result.json`, the plots, the trained
    network and (for training) checkpoints into the output folder
    ([`pinnkit.RunConfig`][]'s `out`, default `runs/NAME`); and returns the result.

    **Arguments:**

    - `config`: the run.

    **Returns:**

    A [`pinnkit.RunResult`][]; `result.metrics["rel_l2"]` (elliptic problems) or
    `result.metrics["rel_error"]` (the value $u(0, 0)$ of a parabolic problem) is the error.

    Everything that can be checked before any work is (the problem and its dimension, the
    method, options that do not apply, the output folder), with a `ValueError` naming the
    field. The precision applies to this run only (`jax.enable_x64` around it), never to
    the process.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"run expects a pinnkit.RunConfig, got {type(config).__name__}")
    parabolic, dim = _check(config)
    out = output_folder(config, dim)
    check_output_folder(out)
    import jax

    out.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(config.precision == "float64"):
        if parabolic:
            from .parabolic import run_parabolic

            result = run_parabolic(config, out)
        else:
            from .elliptic import run_elliptic

            result = run_elliptic(config, out)
        result.save(out)
    return result
