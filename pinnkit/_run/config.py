"""[`pinnkit.RunConfig`][]: one run as a typed, immutable value, validated in one place.

This module imports no JAX, so the command line can build its parser from the fields cheaply.
The names a field may take (estimators, optimizers, ...) are listed here; a test checks each
list against the registry it stands for.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


ESTIMATOR_NAMES = ("exact", "jet", "forward-laplacian", "sdgd", "hte", "stde", "stde-dense")
EXACT_ESTIMATOR_NAMES = ("exact", "jet", "forward-laplacian")
"""The estimators that draw no samples (`RunConfig.samples` must stay `None`)."""
SPARSE_ESTIMATOR_NAMES = ("sdgd", "stde")
"""The estimators that draw distinct coordinates, so at most the dimension of them."""
DEFAULT_SAMPLES = 16
"""The samples per step of every stochastic estimator when `RunConfig.samples` is unset."""
OPTIMIZER_NAMES = (
    "adam",
    "adamw",
    "amsgrad",
    "adabelief",
    "nadam",
    "radam",
    "lamb",
    "lion",
    "rmsprop",
    "adagrad",
    "sgd",
    "momentum",
)
SCHEDULE_NAMES = ("constant", "linear", "cosine", "exponential", "warmup-cosine")
METHOD_NAMES = ("pinn", "mol", "galerkin", "deep-bsde")
PRNG_NAMES = ("threefry", "xla-threefry")
PRECISIONS = ("float32", "float64")
TERMINALS = ("soft", "hard")
SHARINGS = ("batch", "point")

# Which methods take an option; an option outside its methods must keep its default.
PINN_OPTIONS = ("terminal", "terminal_feature", "unbiased", "sharing", "readout_samples")
"""Options that only the parabolic space-time PINN (`method="pinn"`) takes."""
STEPPING_OPTIONS = ("time_steps",)
"""Options that only Deep BSDE and the parabolic PINN's read-out along paths take."""
ELLIPTIC_OPTIONS = (
    "lbfgs_steps",
    "lbfgs_batch",
    "checkpoint_every",
    "resume",
    "devices",
    "prng",
    "fit_offset",
    "block_size",
    "coordinator",
    "num_processes",
    "process_id",
)
"""Options that only the elliptic problems take (the parabolic paths refuse them)."""
OPTIMIZER_OPTIONS = ("optimizer", "schedule")
"""Options that the time-stepping methods (`mol`, `galerkin`) refuse."""
TRAINING_OPTIONS = (
    "estimator",
    "samples",
    "steps",
    "batch",
    "lr",
    "width",
    "depth",
    "eval_every",
    "test_size",
)
"""Options that the method of lines (`mol`), which trains no network, refuses."""


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A field with its command-line help; `cli` holds argparse extras (`choices`, `flag`)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything one run of [`pinnkit.run`][] needs, as a typed, immutable value.

    One field per option of `pinnkit solve`; the command line maps its flags onto these
    fields and nothing else. Every value is checked when the configuration is built: an
    invalid one raises `ValueError` naming the field, the value and what is allowed. What can
    only be checked against the problem (a dimension below the problem's minimum, a method
    the problem does not have) is checked by `run` before any work.

    **Arguments** (all keyword-only; only `problem` is required):

    - `problem`: a problem name (`pinnkit problems`).
    - `dim`: the space dimension (`None`: the problem's default, 100 for most, 1 for KdV).
    - `method`: `"pinn"`; for the parabolic problems also `"deep-bsde"` (Deep BSDE), and
      where they apply `"mol"` (method of lines) and `"galerkin"` (Neural Galerkin).
    - `estimator`, `samples`: the operator estimator and its samples per step (`None`: the
      problem's estimator, `stde` for most (its `ProblemSpec.estimator`), and
      `DEFAULT_SAMPLES` = 16 samples, at most the dimension for `sdgd` and `stde`;
      [`pinnkit.run`][] records the values it used).
    - `steps`, `batch`, `lr`, `seed`, `width`, `depth`, `block_size`, `eval_every`,
      `test_size`: training length, points per step, learning rate, seed, network shape,
      evaluation.
    - `precision`: `"float32"` or `"float64"`; applied to this run only.
    - `prng`, `fit_offset`, `devices`, `optimizer`, `schedule`, `lbfgs_steps`, `lbfgs_batch`,
      `checkpoint_every`, `resume`: see `pinnkit solve --help` and the runs page.
    - `coordinator`, `num_processes`, `process_id`: a multi-process run (`jax.distributed`):
      the coordinator's `"HOST:PORT"` with the process count and this process's index, or
      `"auto"` for JAX's cluster detection; `None` (default) for one process. Every process
      runs the same configuration; only process 0 writes files (see the scaling page).
    - `terminal`, `terminal_feature`, `average`, `unbiased`, `sharing`, `readout_samples`:
      options of the parabolic space-time PINN (`average` also of Deep BSDE).
    - `time_steps`: the Euler time steps $N$ of Deep BSDE (`None`: 20), and of the
      parabolic PINN's Feynman–Kac read-out along paths (`None`: 100).
    - `out`: the output folder for results and checkpoints (`None`: `runs/NAME`, a name made
      of the problem, dimension, estimator or method, and seed).
    - `progress`: show a progress bar (otherwise a line per evaluation).
    """

    problem: str = field(metadata={"help": "a problem name (see `pinnkit problems`)"})
    dim: int | None = _option(
        None, "space dimension (default: the problem's; see `pinnkit problems`)"
    )
    method: str = _option(
        "pinn",
        "solution method: pinn; for parabolic problems also deep-bsde, mol, galerkin",
        choices=METHOD_NAMES,
    )
    estimator: str | None = _option(
        None,
        "operator estimator (default: the problem's, see `pinnkit problems`: stde for most)",
        choices=ESTIMATOR_NAMES,
    )
    samples: int | None = _option(
        None,
        f"samples per step for stochastic estimators (default: {DEFAULT_SAMPLES}, at most "
        "the dimension for sdgd and stde)",
    )
    steps: int = _option(10_000, "training steps")
    batch: int = _option(100, "collocation points per step")
    lr: float = _option(1e-3, "initial learning rate")
    seed: int = _option(0, "random seed")
    width: int = _option(128, "MLP width")
    depth: int = _option(3, "MLP hidden layers")
    block_size: int | None = _option(
        None,
        "share the first layer across blocks of B inputs (SharedFirstLayerMLP; B divides the "
        "dimension; default: a plain MLP)",
    )
    eval_every: int = _option(1000, "steps between evaluations")
    test_size: int = _option(20_000, "test points")
    precision: Literal["float32", "float64"] = _option(
        "float32", "floating-point precision of the run", choices=PRECISIONS
    )
    prng: str | None = _option(
        None,
        "random numbers for the collocation and test points and the estimator's draws: "
        "threefry (jax.random's default) or xla-threefry (XLA's bit generator, faster on a "
        "CPU at large dimension; other numbers, same problem and network; default: threefry)",
        choices=PRNG_NAMES,
    )
    fit_offset: bool = _option(
        False,
        "before training, shift the network's output bias to the constant that minimises "
        "the loss (pinnkit.fit_output_offset)",
    )
    devices: int | None = _option(
        None,
        "split each batch across the first N devices (data parallel; default: one, or every "
        "device of every process in a multi-process run)",
    )
    coordinator: str | None = _option(
        None,
        "multi-process run: HOST:PORT of process 0, or 'auto' for JAX's own cluster "
        "detection (SLURM, Open MPI, Cloud TPU); default: one process",
    )
    num_processes: int | None = _option(
        None, "multi-process run: the number of processes (with --coordinator HOST:PORT)"
    )
    process_id: int | None = _option(
        None, "multi-process run: this process's index, 0 to N-1 (with --coordinator HOST:PORT)"
    )
    optimizer: str = _option("adam", "optimizer", choices=OPTIMIZER_NAMES)
    schedule: str = _option(
        "linear", "learning-rate schedule (linear: decay to 0)", choices=SCHEDULE_NAMES
    )
    lbfgs_steps: int = _option(0, "L-BFGS iterations on fixed points after the optimizer")
    lbfgs_batch: int | None = _option(None, "fixed points for L-BFGS (default: --batch)")
    checkpoint_every: int | None = _option(
        None, "steps between checkpoints in OUT/checkpoint (default: --eval-every)"
    )
    resume: bool = _option(
        False, "continue from the checkpoint in the output folder (same settings)"
    )
    terminal: str | None = _option(
        None,
        "parabolic --method pinn: terminal data by a loss term (soft, default) or exactly by "
        "the network g + (t - T) net (hard)",
        choices=TERMINALS,
    )
    terminal_feature: bool = _option(
        False,
        "parabolic --method pinn: give the network the terminal data g(x) as one more input "
        "(for a solution that grows with g, such as Black-Scholes-Barenblatt's)",
    )
    average: float | None = _option(
        None,
        "parabolic --method pinn or deep-bsde: average the parameters over this final "
        "fraction of the steps (default 0: the last iterate)",
    )
    unbiased: bool = _option(
        False,
        "parabolic --method pinn: residual loss as the product of two independent "
        "stochastic estimates (unbiased, twice the cost; default: their square)",
    )
    sharing: str | None = _option(
        None,
        "parabolic --method pinn: one draw of estimator directions per step shared by all "
        "points (batch, default) or one per point",
        choices=SHARINGS,
    )
    readout_samples: int | None = _option(
        None,
        "parabolic --method pinn: Monte Carlo samples of the Feynman-Kac read-out of u(0,x0) "
        "from the trained network (default 1048576, or 16384 paths when it reads along "
        "Euler paths; 0: none)",
    )
    time_steps: int | None = _option(
        None,
        "parabolic: Euler time steps of --method deep-bsde (default 20) and of the pinn's "
        "read-out along paths (default 100)",
    )
    out: Path | str | None = _option(None, "output folder (default: runs/NAME)")
    progress: bool = _option(True, "show a progress bar (else a line per evaluation)")

    def __post_init__(self):
        _check_types(self)
        _check_values(self)
        if self.out is not None and not isinstance(self.out, Path):
            object.__setattr__(self, "out", Path(self.out))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes` applied, validated like a new configuration."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (`out` as a string)."""
        values = dataclasses.asdict(self)
        values["out"] = None if self.out is None else str(self.out)
        return values


_INTEGERS = {
    "steps": 1,
    "batch": 1,
    "seed": None,
    "width": 1,
    "depth": 0,
    "eval_every": 1,
    "test_size": 1,
    "lbfgs_steps": 0,
}
_OPTIONAL_INTEGERS = {
    "dim": 1,
    "samples": 1,
    "block_size": 1,
    "devices": 1,
    "num_processes": 1,
    "process_id": 0,
    "lbfgs_batch": 1,
    "checkpoint_every": 1,
    "readout_samples": 0,
}
_BOOLEANS = ("fit_offset", "resume", "unbiased", "terminal_feature", "progress")
_CHOICES = {
    "method": METHOD_NAMES,
    "estimator": ESTIMATOR_NAMES,
    "precision": PRECISIONS,
    "prng": PRNG_NAMES,
    "optimizer": OPTIMIZER_NAMES,
    "schedule": SCHEDULE_NAMES,
    "terminal": TERMINALS,
    "sharing": SHARINGS,
}


def _invalid(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"RunConfig.{name} must be {allowed}, got {value!r}")


def _check_types(config: RunConfig) -> None:
    if not isinstance(config.problem, str) or not config.problem:
        raise _invalid("problem", config.problem, "a problem name (see `pinnkit problems`)")
    for name, low in {**_INTEGERS, **_OPTIONAL_INTEGERS}.items():
        value = getattr(config, name)
        if value is None and name in _OPTIONAL_INTEGERS:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, value, "an integer" + ("" if low is None else f" >= {low}"))
        if low is not None and value < low:
            raise _invalid(name, value, f"an integer >= {low}")
    for name in _BOOLEANS:
        if not isinstance(getattr(config, name), bool):
            raise _invalid(name, getattr(config, name), "True or False")
    for name, allowed in _CHOICES.items():
        value = getattr(config, name)
        if value is None and name in ("estimator", "prng", "terminal", "sharing"):
            continue
        if value not in allowed:
            raise _invalid(name, value, "one of " + ", ".join(allowed))


def _check_values(config: RunConfig) -> None:
    if isinstance(config.lr, bool) or not isinstance(config.lr, int | float):
        raise _invalid("lr", config.lr, "a positive finite number")
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise _invalid("lr", config.lr, "a positive finite number")
    if config.average is not None and not (
        isinstance(config.average, int | float) and 0 <= config.average <= 1
    ):
        raise _invalid("average", config.average, "a fraction in [0, 1]")
    if config.samples is not None and config.estimator in EXACT_ESTIMATOR_NAMES:
        raise _invalid(
            "samples",
            config.samples,
            f"None for the exact estimator {config.estimator!r} (it draws no samples)",
        )
    _check_processes(config)
    if config.time_steps is not None and not (
        isinstance(config.time_steps, int) and config.time_steps >= 1
    ):
        raise _invalid("time_steps", config.time_steps, "an integer >= 1")
    if config.method != "pinn":
        _refuse_changed(config, PINN_OPTIONS, f"method={config.method!r}")
    if config.method not in ("pinn", "deep-bsde"):
        _refuse_changed(config, ("average",), f"method={config.method!r}")
    if config.method in ("mol", "galerkin"):
        _refuse_changed(config, OPTIMIZER_OPTIONS, f"method={config.method!r}")
    if config.method not in ("pinn", "deep-bsde"):
        _refuse_changed(config, STEPPING_OPTIONS, f"method={config.method!r}")
    if config.method == "deep-bsde":
        _refuse_changed(
            config, ("estimator", "samples"), "method='deep-bsde', which estimates no operator"
        )
    if config.method == "mol":
        _refuse_changed(config, TRAINING_OPTIONS, "method='mol', which trains no network")


def _check_processes(config: RunConfig) -> None:
    """A multi-process run names its coordinator; with HOST:PORT, also how many processes
    and which one this is; with 'auto', JAX finds both."""
    coordinator, count, index = config.coordinator, config.num_processes, config.process_id
    if coordinator is None:
        if count is not None or index is not None:
            raise _invalid(
                "coordinator", None, "HOST:PORT or 'auto' when num_processes or process_id is set"
            )
        return
    if not isinstance(coordinator, str):
        raise _invalid("coordinator", coordinator, "HOST:PORT or 'auto'")
    if coordinator == "auto":
        if count is not None or index is not None:
            raise _invalid("num_processes", count, "None with coordinator='auto' (JAX finds it)")
        return
    host, _, port = str(coordinator).rpartition(":")
    if not host or not port.isdigit():
        raise _invalid("coordinator", coordinator, "HOST:PORT (e.g. 'node0:12355') or 'auto'")
    if count is None or index is None:
        raise _invalid("num_processes", count, "set, with process_id, for coordinator HOST:PORT")
    if index >= count:
        raise _invalid("process_id", index, f"between 0 and num_processes - 1 = {count - 1}")


def _refuse_changed(config: RunConfig, names: tuple[str, ...], where: str) -> None:
    """Raise for the first option in `names` that is not at its default: not taken `where`."""
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    for name in names:
        if getattr(config, name) != defaults[name]:
            raise ValueError(
                f"RunConfig.{name} = {getattr(config, name)!r} does not apply to {where}; "
                f"leave it at its default ({defaults[name]!r})"
            )


def refuse_elliptic_options(config: RunConfig, problem: str) -> None:
    """Raise when an option of the elliptic problems only is set for the parabolic `problem`."""
    _refuse_changed(config, ELLIPTIC_OPTIONS, f"the parabolic problem {problem!r}")


def refuse_parabolic_options(config: RunConfig, problem: str) -> None:
    """Raise when an option of the parabolic PINN only is set for the elliptic `problem`."""
    _refuse_changed(
        config, (*PINN_OPTIONS, "average", *STEPPING_OPTIONS), f"the elliptic problem {problem!r}"
    )


def with_defaults(config: RunConfig, estimator: str, dim: int) -> RunConfig:
    """`config` with the problem's `estimator` where none is set and, for a stochastic
    estimator without `samples`, `DEFAULT_SAMPLES` (at most `dim` for a sparse one, which
    draws distinct coordinates). The method of lines, which trains no network, keeps both
    unset, and so does Deep BSDE, which estimates no operator."""
    if config.method in ("mol", "deep-bsde"):
        return config
    name = config.estimator or estimator
    changes: dict[str, Any] = {"estimator": name}
    if config.samples is None and name not in EXACT_ESTIMATOR_NAMES:
        sparse = name in SPARSE_ESTIMATOR_NAMES
        changes["samples"] = min(DEFAULT_SAMPLES, dim) if sparse else DEFAULT_SAMPLES
    return config.replace(**changes)


def estimator_name(config: RunConfig) -> str:
    """The estimator of a configuration that `with_defaults` has completed."""
    if config.estimator is None:
        raise ValueError("RunConfig.estimator is unset; pinnkit.run sets the problem's default")
    return config.estimator


def check_samples(config: RunConfig, num_samples: int | None, dim: int) -> None:
    """Raise when a sparse estimator would draw more distinct coordinates than `dim` has."""
    if config.estimator in SPARSE_ESTIMATOR_NAMES and num_samples is not None:
        if num_samples > dim:
            default = " (the estimator's default)" if config.samples is None else ""
            raise ValueError(
                f"RunConfig.samples must be <= the dimension {dim} for the sparse estimator "
                f"{config.estimator!r}, which draws distinct coordinates; got "
                f"{num_samples}{default}"
            )
