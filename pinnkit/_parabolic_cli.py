"""`pinnkit solve` for the parabolic problems: one entry per `--method`.

A method is a function `run(problem, args, out) -> ParabolicRun` in `METHODS`. `problem` is
a [`pinnkit.problems.ParabolicProblem`][]; `args` holds the parsed `pinnkit solve` options
(`dim`, `estimator`, `samples`, `steps`, `batch`, `lr`, `seed`, `width`, `depth`,
`eval_every`, `no_progress`, ...); `out` is the output folder (for checkpoints). It returns
the value $u(0, 0) = v(T, 0)$, the curve $u(t, 0)$ on a grid of backward times
$t \\in [0, T]$ (so $t = 0$ is the answer), and any extra keys for `result.json`.
`run_parabolic` writes `result.json` and `solution.png`.
"""

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class ParabolicRun:
    """What a method returns: see the module docs.

    **Attributes:**

    - `value`: $u(0, 0)$.
    - `times`: backward times $t$ in $[0, T]$, increasing.
    - `curve`: $u(t, 0)$ at `times`.
    - `details`: extra keys for `result.json` (steps, wall time, ...).
    - `note`: a caveat printed on the plot (empty for none).
    """

    value: float
    times: np.ndarray
    curve: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""


READOUT_SAMPLES = 2**20
"""Default Monte Carlo samples of `--method pinn`'s Feynman–Kac read-out (`--readout-samples`)."""

CURVE_POINTS = 31
"""Points of the plotted curve $u(t, 0)$, $t \\in [0, T]$."""

MOL_POINTS = 128
"""Chebyshev nodes of the radial method of lines (as `pinnkit.radial_reference`)."""


def _run_mol(problem, args: argparse.Namespace, out: Path) -> ParabolicRun:
    import jax
    import jax.numpy as jnp

    from ._timestepping.discretization import Radial
    from ._timestepping.mol import MethodOfLines

    if not problem.radial:
        raise ValueError(
            f"--method mol needs a problem that depends on x only through |x| (the radial "
            f"method of lines); {problem.name!r} does not (its data is not radial): use "
            "--method pinn or --method galerkin"
        )
    horizon = problem.T
    with jax.enable_x64(True):
        discretization = Radial(
            problem.dim, 8 * problem.dim * horizon + 200.0, MOL_POINTS, scale=5.0
        )
        mol = MethodOfLines(discretization, problem.pde.nonlinearity, rtol=1e-10, atol=1e-12)
        taus = np.linspace(0.0, horizon, CURVE_POINTS)
        solution = mol.solve(problem.initial, horizon, saveat_ts=taus[1:])
        at_origin = jax.vmap(lambda v: discretization.interpolate_s(v, jnp.zeros(())))
        forward = np.concatenate(
            [
                [float(problem.initial(jnp.zeros(problem.dim)))],
                np.asarray(at_origin(solution.values)),
            ]
        )
    # Forward time tau = T - t: reverse to get u(t, 0) on increasing t.
    return ParabolicRun(
        value=float(forward[-1]),
        times=horizon - taus[::-1],
        curve=forward[::-1],
        details={
            "discretization": f"Radial({MOL_POINTS} Chebyshev nodes in s = |x|^2)",
            "solver": "Kvaerno5",
            "time_steps": solution.stats.get("num_accepted_steps"),
            "wall_s": solution.wall_s,
        },
    )


TERMINALS = ("soft", "hard")
r"""How `--method pinn` imposes the terminal data (`args.terminal`): `soft` (the default, the
STDE paper's terminal loss) or `hard` (the network $g(x) + (t - T)\,\mathrm{net}(x, t)$, exact
at $t = T$); see [`pinnkit.problems.ParabolicProblem.space_time_loss`][]. On sine-Gordon at
d = 100 the hard form trained far worse (docs/time-stepping.md): the network must then cancel
the curvature of $g$ near the origin, which the solution itself does not have."""

DEFAULT_AVERAGE = 0.0
"""`--method pinn` returns the mean of the parameters over this fraction of the last steps
(`args.average`, Polyak averaging; default 0: the last iterate)."""


SHARINGS = ("batch", "point")
"""How `--method pinn` draws the stochastic estimator's directions (`args.sharing`): once per
step for the whole batch (`batch`, the default, as published) or once per point; see
[`pinnkit.ResidualLoss`][]."""

PINN_ONLY = ("terminal", "average", "unbiased", "sharing", "readout_samples")
"""Options of `pinnkit solve` that only `--method pinn` takes (unset: `None`)."""

OPTIMIZER_DEFAULTS = {"optimizer": "adam", "schedule": "linear"}
"""The optimizer options and their defaults: `--method pinn` reads them, `mol` and
`galerkin` refuse any other value."""

ELLIPTIC_ONLY = {
    "lbfgs_steps": 0,
    "lbfgs_batch": None,
    "checkpoint_every": None,
    "resume": False,
    "devices": None,
    "prng": None,
    "fit_offset": None,
}
"""Options of `pinnkit solve` that the parabolic paths refuse (with their unset values)."""


def _refuse_set(args: argparse.Namespace, unset: dict[str, Any], where: str) -> None:
    """Raise `ValueError` for the first option in `unset` whose value in `args` differs from
    its unset value there: the option "applies to `where`"."""
    for name, value in unset.items():
        if getattr(args, name, value) != value:
            raise ValueError(f"--{name.replace('_', '-')} applies to {where}")


def pinn_loss(problem, args: argparse.Namespace, estimator):
    """The space-time loss `--method pinn` trains on: `problem.space_time_loss` with
    `--batch`, `--terminal`, `--unbiased` and `--sharing` (each `None` or absent: the
    default). Raises `ValueError` for an unknown terminal or sharing."""
    terminal = getattr(args, "terminal", None) or TERMINALS[0]
    if terminal not in TERMINALS:
        raise ValueError(f"--terminal must be one of {', '.join(TERMINALS)}, got {terminal!r}")
    sharing = getattr(args, "sharing", None) or SHARINGS[0]
    if sharing not in SHARINGS:
        raise ValueError(f"--sharing must be one of {', '.join(SHARINGS)}, got {sharing!r}")
    return problem.space_time_loss(
        estimator,
        batch_size=args.batch,
        terminal=terminal,
        sharing=sharing,
        unbiased=bool(getattr(args, "unbiased", None)),
    )


def _run_pinn(problem, args: argparse.Namespace, out: Path) -> ParabolicRun:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from ._estimator.registry import make_estimator
    from ._sampler.spacetime import Brownian
    from ._solver.optimizers import make_optimizer, tail_average
    from ._solver.pinn import PINNSolver
    from ._solver.reference import TestSet
    from ._solver.solution import result_name

    for name in ("steps", "batch", "eval_every", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    samples = args.samples
    if samples is not None and samples > problem.dim:
        raise ValueError(f"--samples must be <= --dim ({problem.dim}), got {samples}")
    terminal = getattr(args, "terminal", None) or TERMINALS[0]
    average = getattr(args, "average", None)
    average = DEFAULT_AVERAGE if average is None else average
    if not 0 <= average <= 1:
        raise ValueError(f"--average must be a fraction in [0, 1], got {average}")
    readout = getattr(args, "readout_samples", None)
    readout = READOUT_SAMPLES if readout is None else readout
    if readout < 0:
        raise ValueError(f"--readout-samples must be >= 0, got {readout}")
    estimator = make_estimator(args.estimator, samples)
    loss = pinn_loss(problem, args, estimator)
    key = jax.random.key(args.seed)
    network_key, train_key = jax.random.split(key)
    network = problem.space_time_network(
        network_key, width=args.width, depth=args.depth, terminal=terminal
    )
    averaged = int(round(average * args.steps))
    optimizer_name, schedule = (getattr(args, k, v) for k, v in OPTIMIZER_DEFAULTS.items())
    optimizer = tail_average(
        make_optimizer(optimizer_name, args.lr, args.steps, schedule), args.steps, averaged
    )
    solver = PINNSolver(
        loss, optimizer=optimizer, learning_rate=args.lr, eval_every=args.eval_every
    )

    # Tracked during training: the relative error of u(0, 0), as the "relative L2 error" of
    # a one-point test set at the origin z = 0 (Brownian points at time 0 are the origin).
    reference = problem.reference
    tracker = None
    if reference is not None:
        tracker = TestSet(
            Brownian(problem.dim, problem.T, time=0.0),
            lambda z: jnp.asarray(reference, z.dtype),
            jax.random.key(0),
            size=1,
        )

    def log(step: int, logs: dict[str, float]) -> None:
        if args.no_progress:
            fields = " ".join(
                f"{'rel_error' if name == 'rel_l2' else name}={value:.3e}"
                for name, value in logs.items()
                if name != "rel_l1"
            )
            print(f"step {step}: {fields}", flush=True)

    solution = solver.solve(
        network,
        args.steps,
        train_key,
        test_set=tracker,
        progress=not args.no_progress,
        callback=log,
    )
    times = np.linspace(0.0, problem.T, CURVE_POINTS)

    @eqx.filter_jit
    def curve(net, ts):
        z = jnp.zeros((ts.shape[0], problem.dim + 1), ts.dtype).at[:, -1].set(ts)
        return jax.vmap(net)(z)

    values = np.asarray(curve(solution.network, jnp.asarray(times, jnp.zeros(()).dtype)))
    history = solution.history
    errors: dict[str, Any] = {}
    if problem.solution is not None:  # closed form: errors over the Brownian points
        test_set = TestSet(
            Brownian(problem.dim, problem.T),
            lambda z: problem.backward_solution(z[:-1], z[-1]),
            jax.random.key(args.seed + 1),
            size=args.test_size,
        )
        errors = {k: float(v) for k, v in test_set.errors(solution.network).items()}
    eqx.tree_serialise_leaves(out / "network.eqx", solution.network)
    readout_fields: dict[str, Any] = {}
    if readout:  # u(0, 0) from the network along the paths (pinnkit.feynman_kac_value)
        fk = problem.feynman_kac_value(
            solution.network, jax.random.fold_in(key, 2), samples=readout
        )
        readout_fields = {
            "feynman_kac_value": fk.value,
            "feynman_kac_stderr": fk.stderr,
            "feynman_kac_samples": fk.samples,
        }
    return ParabolicRun(
        value=float(values[0]),
        times=times,
        curve=values,
        note=(
            "trained on x ~ N(0, 2t I): for t > 0 the origin lies off the training\n"
            "points when d is large, so only u(0, 0) is trained there"
        ),
        details={
            "estimator": args.estimator,
            "samples": args.samples,
            "terminal": terminal,
            "averaged_steps": averaged,
            "unbiased": loss.terms["residual"].unbiased,
            "sharing": loss.terms["residual"].sharing,
            "steps": solution.steps,
            "batch": args.batch,
            "lr": args.lr,
            "optimizer": optimizer_name,
            "schedule": schedule,
            "width": args.width,
            "depth": args.depth,
            "wall_s": solution.wall_s,
            "steps_per_s": solution.steps / solution.wall_s if solution.wall_s > 0 else None,
            "final_loss": float(history["loss"][-1]) if solution.steps else None,
            "rel_error_history": {
                "step": np.asarray(history.get("eval_step", [])).tolist(),
                "rel_error": np.asarray(history.get("rel_l2", [])).tolist(),
            },
            **errors,
            **readout_fields,
            "result": result_name(solution.result),
            "message": solution.message,
            "loss_history": {
                "step": history["step"][:: max(1, solution.steps // 200)].tolist(),
                "loss": history["loss"][:: max(1, solution.steps // 200)].tolist(),
            },
        },
    )


def _run_galerkin(problem, args: argparse.Namespace, out: Path) -> ParabolicRun:
    """Neural Galerkin in forward time: fit a network to g with `--steps` Adam steps (learning
    rate `--lr`, `--batch` points per step), then evolve its parameters to T with
    `NeuralGalerkin`: `--batch` points per step drawn uniformly in radius from a ball that holds
    the Brownian spread $|x| \\approx \\sqrt{2dT}$, `--estimator` for the Laplacian, Heun
    steps of T/30. The network is an MLP (`--width`, `--depth`) of $x$, or, for a radial
    problem, of $|x|^2$ (the solution is radial; the Laplacian is still estimated in $d$
    dimensions through the network). When it has more than `--batch`/2 parameters, each step
    updates a random subset of `--batch`/2 of them (randomized sparse Neural Galerkin)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from ._domain.domains import Ball
    from ._estimator.registry import make_estimator
    from ._network.base import AbstractNetwork
    from ._network.mlp import MLP
    from ._sampler.base import UniformSampler
    from ._timestepping.galerkin import NeuralGalerkin

    class RadialMLP(AbstractNetwork):
        """$u(x) = \\mathrm{MLP}(|x|^2 / \\text{scale})$."""

        mlp: MLP
        scale: float = eqx.field(static=True)
        in_size: int = eqx.field(static=True)

        def __call__(self, x):
            return self.mlp(jnp.sum(x**2, keepdims=True) / self.scale)

    for name in ("steps", "batch", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    samples = args.samples
    if samples is not None and samples > problem.dim:
        raise ValueError(f"--samples must be <= --dim ({problem.dim}), got {samples}")
    estimator = make_estimator(args.estimator, samples)
    horizon, dim = problem.T, problem.dim
    key = jax.random.key(args.seed)
    network_key, fit_key, solve_key = jax.random.split(key, 3)
    if problem.radial:
        mlp = MLP(1, args.width, args.depth, key=network_key)
        network = RadialMLP(mlp=mlp, scale=dim * horizon / 3, in_size=dim)
    else:
        network = MLP(dim, args.width, args.depth, key=network_key)
    leaves = jax.tree_util.tree_leaves(eqx.filter(network, eqx.is_inexact_array))
    parameters = sum(leaf.size for leaf in leaves)
    subset = None if parameters <= args.batch // 2 else max(1, args.batch // 2)
    radius = float(np.sqrt(2 * dim * horizon)) + 2.5
    galerkin = NeuralGalerkin(
        problem.pde,
        UniformSampler(Ball(dim, radius)),
        estimator,
        num_points=args.batch,
        dt=horizon / (CURVE_POINTS - 1),
        regularization=1e-8,
        subset_size=subset,
    )
    fit = galerkin.fit_initial(
        network,
        problem.initial,
        fit_key,
        steps=args.steps,
        num_points=max(20 * args.batch, 10 * parameters),
        batch_size=args.batch,
        learning_rate=args.lr,
        progress=not args.no_progress,
    )
    taus = np.linspace(0.0, horizon, CURVE_POINTS)
    solution = galerkin.solve(fit.network, horizon, solve_key, saveat=taus)
    forward = np.asarray(solution.values(jnp.zeros(dim)))
    eqx.tree_serialise_leaves(out / "network.eqx", solution.network())
    # Forward time tau = T - t: reverse to get u(t, 0) on increasing t.
    return ParabolicRun(
        value=float(forward[-1]),
        times=horizon - taus[::-1],
        curve=forward[::-1],
        details={
            "network": "MLP(|x|^2)" if problem.radial else "MLP(x)",
            "estimator": args.estimator,
            "samples": args.samples,
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "width": args.width,
            "depth": args.depth,
            "parameters": int(parameters),
            "subset_size": subset,
            "sampler_radius": radius,
            "time_steps": solution.num_steps,
            "fit_loss": float(fit.history["loss"][-1]) if fit.steps else None,
            "fit_wall_s": fit.wall_s,
            "wall_s": fit.wall_s + solution.wall_s,
        },
    )


METHODS: dict[str, Callable[[Any, argparse.Namespace, Path], ParabolicRun]] = {
    "mol": _run_mol,
    "pinn": _run_pinn,
    "galerkin": _run_galerkin,
}
"""`pinnkit solve PARABOLIC_PROBLEM --method NAME` runs `METHODS[NAME](problem, args, out)`."""


def _plot_solution(run: ParabolicRun, reference: float | None, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(run.times, run.curve, "-", label="u(t, 0)")
    ax.plot([run.times[0]], [run.value], "o", label=f"u(0, 0) = {run.value:.6g}")
    if reference is not None:
        ax.plot([0.0], [reference], "k*", markersize=12, label=f"reference {reference:.6g}")
    ax.set_xlabel("t (backward time; terminal data at t = T)")
    ax.set_ylabel("u(t, 0)")
    ax.set_title(title)
    if run.note:
        ax.text(0.02, 0.02, run.note, transform=ax.transAxes, fontsize=8, color="0.3")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_parabolic(args: argparse.Namespace) -> dict[str, Any]:
    """Solve a parabolic problem as `pinnkit solve` does: run `METHODS[args.method]`, write
    `result.json` (with `value`, `reference`, `rel_error`) and `solution.png` (the curve
    $u(t, 0)$ with the reference marked) under `args.out` (default `runs/NAME`), and return
    the result with `"out"`. Raises `ValueError` on bad input."""
    import jax

    from .cli import _peak_rss_mb, write_atomic
    from .problems import MONTE_CARLO_REFERENCES, get_parabolic_problem

    if args.method not in METHODS:
        raise ValueError(
            f"unknown method {args.method!r} for a parabolic problem; valid methods: "
            f"{', '.join(METHODS)}"
        )
    _refuse_set(
        args,
        ELLIPTIC_ONLY,
        f"the elliptic problems only, not to the parabolic problem {args.problem!r}",
    )
    if args.method != "pinn":
        pinn_only = {**dict.fromkeys(PINN_ONLY), **OPTIMIZER_DEFAULTS}
        _refuse_set(args, pinn_only, f"--method pinn only, not to --method {args.method}")
    if getattr(args, "x64", False):
        jax.config.update("jax_enable_x64", True)
    problem = get_parabolic_problem(args.problem, args.dim)
    label = args.method if args.method != "pinn" else f"pinn-{args.estimator}"
    out = args.out or Path("runs") / f"{problem.name}-d{problem.dim}-{label}-s{args.seed}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run = METHODS[args.method](problem, args, out)
    total = time.perf_counter() - start
    reference = problem.reference
    rel_error = None if reference is None else abs(run.value - reference) / abs(reference)
    monte_carlo = MONTE_CARLO_REFERENCES.get(problem.pde.reaction, {}).get(problem.dim)
    result: dict[str, Any] = {
        "problem": problem.name,
        "dim": problem.dim,
        "method": args.method,
        "seed": args.seed,
        "T": problem.T,
        "value": run.value,
        "reference": reference,
        "reference_source": problem.reference_source,
        "rel_error": rel_error,
        "monte_carlo_reference": monte_carlo,
        "monte_carlo_rel_error": (
            None if monte_carlo is None else abs(run.value - monte_carlo) / abs(monte_carlo)
        ),
        "rel_l2": None,
        "rel_l1": None,
        "peak_rss_mb": _peak_rss_mb(),
        **run.details,
        "total_wall_s": total,
        "curve": {"t": run.times.tolist(), "u": run.curve.tolist()},
    }
    if "feynman_kac_value" in result:
        fk = result["feynman_kac_value"]
        result["feynman_kac_rel_error"] = (
            None if reference is None else abs(fk - reference) / abs(reference)
        )
    result.setdefault("message", "")
    result.setdefault("wall_s", total)
    write_atomic(out / "result.json", json.dumps(result, indent=2).encode())
    _plot_solution(
        run, reference, f"{problem.name}, d = {problem.dim}, {label}", out / "solution.png"
    )
    return {**result, "out": str(out)}


def summary_line(result: dict[str, Any]) -> str:
    """The one line `pinnkit solve` prints for a parabolic result."""
    reference = result["reference"]
    error = result["rel_error"]
    against = (
        "no reference" if reference is None else f"reference={reference:.7g} rel_error={error:.3e}"
    )
    readout = ""
    if result.get("feynman_kac_value") is not None:
        readout = f" feynman_kac={result['feynman_kac_value']:.7g}"
        if result.get("feynman_kac_rel_error") is not None:
            readout += f" (rel_error={result['feynman_kac_rel_error']:.3e})"
    return (
        f"{result['problem']} d={result['dim']} method={result['method']}: "
        f"u(0,0)={result['value']:.7g} {against}{readout} wall={result['total_wall_s']:.1f}s "
        f"-> {Path(result['out']) / 'result.json'}"
    )
