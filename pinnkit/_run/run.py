"""[`pinnkit.run`][]: build everything a [`pinnkit.RunConfig`][] names, run it, save it."""

import os
from pathlib import Path

from .config import RunConfig, refuse_parabolic_options, with_defaults
from .result import RunResult


def _spec(config: RunConfig):
    """The registry entry of `config.problem`."""
    from ..problems import PROBLEMS

    if config.problem not in PROBLEMS:
        names = ", ".join(PROBLEMS)
        raise ValueError(f"unknown problem {config.problem!r}; valid names: {names}")
    return PROBLEMS[config.problem]


def _check(config: RunConfig) -> tuple[bool, int]:
    """Everything that can be checked against the problem before any work: (whether the
    answer is one value, as for the parabolic problems; the dimension)."""
    spec = _spec(config)
    dim = spec.default_dim if config.dim is None else config.dim
    if not spec.defined_in(dim):
        raise ValueError(f"RunConfig.dim must be {spec.dims} for {spec.name!r}, got {dim}")
    if config.method not in spec.methods:
        why = " (mol and galerkin solve the parabolic problems)"
        if spec.answer == "value":
            why = " (the radial method of lines needs data that depend on x only through |x|)"
        raise ValueError(
            f"RunConfig.method {config.method!r} is not available for {config.problem!r}{why}; "
            f"valid methods: {', '.join(spec.methods)}"
        )
    value = spec.answer == "value"
    if not value:
        refuse_parabolic_options(config, config.problem)
    return value, dim


def output_folder(config: RunConfig, dim: int) -> Path:
    """Where the run writes: `config.out`, or `runs/PROBLEM-dD-LABEL-sSEED` where LABEL is the
    estimator for a problem whose answer is the solution, `pinn-ESTIMATOR` or the method for
    one whose answer is a value (the parabolic problems)."""
    if config.out is not None:
        return Path(config.out)
    label = config.estimator
    if _spec(config).answer == "value":
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
    config = with_defaults(config, _spec(config).estimator, dim)
    out = output_folder(config, dim)
    check_output_folder(out)
    import jax

    if config.coordinator is not None:
        start_processes(config)
    writer = jax.process_index() == 0  # in a multi-process run, process 0 writes the files
    made = _missing_folders(out) if writer else []
    if writer:
        out.mkdir(parents=True, exist_ok=True)
    try:
        with jax.enable_x64(config.precision == "float64"):
            if parabolic:
                from .parabolic import run_parabolic

                result = run_parabolic(config, out)
            else:
                from .elliptic import run_elliptic

                result = run_elliptic(config, out)
            if writer:
                result.save(out)
    except BaseException:
        _remove_if_empty(made)  # a refused run leaves no empty folder behind
        raise
    return result


def start_processes(config: RunConfig) -> None:
    """Join the multi-process run that `config` names (`jax.distributed.initialize`), before
    JAX computes anything; on CPU the processes exchange data through Gloo."""
    import jax

    if jax.distributed.is_initialized():
        return  # already joined (a second run in the same processes)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        if config.coordinator == "auto":
            jax.distributed.initialize()
        else:
            jax.distributed.initialize(
                config.coordinator,
                num_processes=config.num_processes,
                process_id=config.process_id,
            )
    except RuntimeError as error:
        raise ValueError(
            f"RunConfig.coordinator: cannot join the multi-process run ({error}); call "
            "pinnkit.run before any other JAX computation in this process"
        ) from None


def _missing_folders(out: Path) -> list[Path]:
    """The folders `out.mkdir(parents=True)` will make, innermost first."""
    missing = []
    while not out.exists():
        missing.append(out)
        out = out.parent
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders this run made (innermost first) that are still empty."""
    for folder in folders:
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()
