r"""A run on a parabolic problem: the value $u(0, 0)$ by one of `METHODS`.

Each method maps `(problem, config)` to a [`pinnkit.RunResult`][] through a `_Solved`
record: the value $u(0, 0) = v(T, 0)$, the curve $u(t, 0)$ on a grid of backward times
$t \in [0, T]$ (so $t = 0$ is the answer), and what only this method reports.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._domain.domains import Ball
from .._estimator.registry import make_estimator
from .._network.base import AbstractNetwork
from .._network.mlp import MLP
from .._sampler.base import UniformSampler
from .._sampler.spacetime import Brownian
from .._solver.optimizers import make_optimizer, tail_average
from .._solver.pinn import PINNSolver
from .._solver.reference import TestSet
from .._solver.solution import result_name
from .._timestepping.bsde import BSDENetwork, DeepBSDE
from .._timestepping.discretization import Radial
from .._timestepping.galerkin import NeuralGalerkin
from .._timestepping.mol import MethodOfLines
from .._timestepping.readout import PATH_READOUT_SAMPLES, PATH_READOUT_STEPS
from ..problems import MONTE_CARLO_REFERENCES, ParabolicProblem, get_problem
from .config import RunConfig, check_samples, estimator_name, refuse_elliptic_options
from .result import RunResult, peak_rss_mb


READOUT_SAMPLES = 2**20
"""Default Monte Carlo samples of the PINN's Feynman–Kac read-out exact in time
(`readout_samples`); the read-out along paths takes `PATH_READOUT_SAMPLES` paths of
`PATH_READOUT_STEPS` Euler steps (`time_steps`)."""

CURVE_POINTS = 31
"""Points of the curve $u(t, 0)$, $t \\in [0, T]$."""

MOL_POINTS = 128
"""Chebyshev nodes of the radial method of lines (as `pinnkit.radial_reference`)."""


@dataclass
class _Solved:
    value: float
    times: np.ndarray
    curve: np.ndarray
    steps: int
    wall_s: float
    details: dict[str, Any] = field(default_factory=dict)
    network: Any = None
    history: dict[str, list] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    result: str = "successful"
    message: str = ""
    note: str = ""


def _mol(problem: ParabolicProblem, config: RunConfig, reference: float | None) -> _Solved:
    del reference
    if not problem.radial:
        raise ValueError(
            f"method 'mol' needs a problem that depends on x only through |x| (the radial "
            f"method of lines); {problem.name!r} does not (its data is not radial): use "
            "method 'pinn' or 'galerkin'"
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
        initial = float(problem.initial(jnp.zeros(problem.dim)))
        forward = np.concatenate([[initial], np.asarray(at_origin(solution.values))])
    steps = solution.stats.get("num_accepted_steps")
    # Forward time tau = T - t: reversed, u(t, 0) on increasing t.
    return _Solved(
        value=float(forward[-1]),
        times=horizon - taus[::-1],
        curve=forward[::-1],
        steps=int(steps) if steps is not None else 0,
        wall_s=solution.wall_s,
        result=result_name(solution.result),
        message=solution.message,
        details={
            "discretization": f"Radial({MOL_POINTS} Chebyshev nodes in s = |x|^2)",
            "solver": "Kvaerno5",
        },
    )


def _tracker(problem: ParabolicProblem, reference: float | None) -> TestSet | None:
    """The relative error of $u(0, 0)$ as the error of a one-point test set at the origin
    $z = 0$ (Brownian points at time 0 are the origin)."""
    if reference is None:
        return None
    return TestSet(
        Brownian(problem.dim, problem.T, time=0.0, origin=problem.equation.origin()),
        lambda z: jnp.asarray(reference, z.dtype),
        jax.random.key(0),
        size=1,
    )


def _pinn_log(config: RunConfig) -> Callable[[int, dict[str, float]], None]:
    def log(step: int, logs: dict[str, float]) -> None:
        if not config.progress:
            fields = " ".join(
                f"{'rel_error' if name == 'rel_l2' else name}={value:.3e}"
                for name, value in logs.items()
                if name != "rel_l1"
            )
            print(f"step {step}: {fields}", flush=True)

    return log


def pinn_loss(problem: ParabolicProblem, config: RunConfig, estimator):
    """The space-time loss the PINN trains on: `problem.loss` with the
    configuration's batch, terminal, unbiased and sharing (unset: the default)."""
    return problem.loss(
        estimator,
        batch_size=config.batch,
        terminal=config.terminal or "soft",
        sharing=config.sharing or "batch",
        unbiased=config.unbiased,
    )


def _pinn_errors(
    problem: ParabolicProblem, network, config: RunConfig, key, reference: float | None
) -> dict:
    """Relative errors at points along the problem's paths (closed forms only) and the
    Feynman–Kac value."""
    metrics: dict[str, float | None] = {}
    if problem.solution is not None:
        test_set = TestSet(
            problem.path_sampler(),  # where the problem's paths go, as the training points
            lambda z: problem.backward_solution(z[:-1], z[-1]),
            jax.random.key(config.seed + 1),
            size=config.test_size,
        )
        metrics = {k: float(v) for k, v in test_set.errors(network).items()}
        # The trivial baseline of the test-set error: the terminal data held at every time.
        held = test_set.errors(lambda z: problem.terminal(z[:-1]))
        baseline_l2 = float(held["rel_l2"])
    else:
        baseline_l2 = None
    exact_in_time = problem.feynman_kac_applies
    if config.readout_samples is not None:
        readout = config.readout_samples
    else:
        readout = READOUT_SAMPLES if exact_in_time else PATH_READOUT_SAMPLES
    fk = None
    if readout:  # pinnkit.feynman_kac_value or pinnkit.feynman_kac_path_value
        steps = None if exact_in_time else config.time_steps or PATH_READOUT_STEPS
        estimate = problem.feynman_kac_value(
            network, jax.random.fold_in(key, 2), samples=readout, steps=steps
        )
        fk = {
            "value": estimate.value,
            "stderr": estimate.stderr,
            "samples": estimate.samples,
            "time_steps": steps,
            "rel_error": None
            if reference is None
            else abs(estimate.value - reference) / abs(reference),
        }
    return {"metrics": metrics, "feynman_kac": fk, "baseline_rel_l2": baseline_l2}


def _train(loss, network, key, problem: ParabolicProblem, config: RunConfig, reference):
    """Train `network` on `loss` as every trained parabolic method does: the configured
    optimizer, its parameters averaged over the final `average` fraction of the steps, the
    error of $u(0, x_0)$ tracked; returns the averaged step count, the solution and its
    history with that error named `rel_error`."""
    averaged = int(round((config.average or 0.0) * config.steps))
    optimizer = tail_average(
        make_optimizer(config.optimizer, config.lr, config.steps, config.schedule),
        config.steps,
        averaged,
    )
    solver = PINNSolver(
        loss, optimizer=optimizer, learning_rate=config.lr, eval_every=config.eval_every
    )
    solution = solver.solve(
        network,
        config.steps,
        key,
        test_set=_tracker(problem, reference),
        progress=config.progress,
        callback=_pinn_log(config),
    )
    history = {k: np.asarray(v).tolist() for k, v in solution.history.items()}
    history["rel_error"] = history.pop("rel_l2", [])
    history.pop("rel_l1", None)
    return averaged, solution, history


def _pinn(problem: ParabolicProblem, config: RunConfig, reference: float | None) -> _Solved:
    terminal = config.terminal or "soft"
    estimator = make_estimator(estimator_name(config), config.samples)
    check_samples(config, getattr(estimator, "num_samples", None), problem.dim)
    loss = pinn_loss(problem, config, estimator)
    key = jax.random.key(config.seed)
    network_key, train_key = jax.random.split(key)
    network = problem.network(
        network_key,
        width=config.width,
        depth=config.depth,
        terminal=terminal,
        terminal_feature=config.terminal_feature,
    )
    averaged, solution, history = _train(loss, network, train_key, problem, config, reference)
    times = np.linspace(0.0, problem.T, CURVE_POINTS)

    @eqx.filter_jit
    def curve(net, ts):
        x0 = jnp.asarray(problem.equation.origin(), ts.dtype)
        z = jnp.zeros((ts.shape[0], problem.dim + 1), ts.dtype).at[:, -1].set(ts)
        z = z.at[:, :-1].set(x0)
        return jax.vmap(net)(z)

    values = np.asarray(curve(solution.network, jnp.asarray(times, jnp.zeros(()).dtype)))
    errors = _pinn_errors(problem, solution.network, config, key, reference)
    return _Solved(
        value=float(values[0]),
        times=times,
        curve=values,
        steps=solution.steps,
        wall_s=solution.wall_s,
        network=solution.network,
        history=history,
        metrics=errors["metrics"],
        result=result_name(solution.result),
        message=solution.message,
        note=(
            "trained at points X_t of the problem's paths from x0: for t > 0, x0 lies\n"
            "off them when d is large, so only u(0, x0) is trained there"
        ),
        details={
            "terminal": terminal,
            "terminal_feature": config.terminal_feature,
            "averaged_steps": averaged,
            "unbiased": config.unbiased,
            "sharing": config.sharing or "batch",
            "lr": config.lr,
            "final_loss": float(solution.history["loss"][-1]) if solution.steps else None,
            "feynman_kac": errors["feynman_kac"],
            "baseline_rel_l2": errors["baseline_rel_l2"],
        },
    )


class _RadialMLP(AbstractNetwork):
    """$u(x) = \\mathrm{MLP}(|x|^2 / \\text{scale})$."""

    mlp: MLP
    scale: float = eqx.field(static=True)
    in_size: int = eqx.field(static=True)

    def __call__(self, x):
        return self.mlp(jnp.sum(x**2, keepdims=True) / self.scale)


def _galerkin(problem: ParabolicProblem, config: RunConfig, reference: float | None) -> _Solved:
    """Neural Galerkin in forward time: fit a network to g with `steps` Adam steps (learning
    rate `lr`, `batch` points per step), then evolve its parameters to T with `NeuralGalerkin`:
    `batch` points per step drawn uniformly in radius from a ball that holds the Brownian
    spread $|x| \\approx \\sqrt{2dT}$, `estimator` for the Laplacian, Heun steps of T/30. The
    network is an MLP (`width`, `depth`) of $x$, or, for a radial problem, of $|x|^2$. When it
    has more than `batch`/2 parameters, each step updates a random subset of `batch`/2 of them
    (randomized sparse Neural Galerkin)."""
    del reference
    estimator = make_estimator(estimator_name(config), config.samples)
    check_samples(config, getattr(estimator, "num_samples", None), problem.dim)
    horizon, dim = problem.T, problem.dim
    network_key, fit_key, solve_key = jax.random.split(jax.random.key(config.seed), 3)
    if problem.radial:
        mlp = MLP(1, config.width, config.depth, key=network_key)
        network = _RadialMLP(mlp=mlp, scale=dim * horizon / 3, in_size=dim)
    else:
        network = MLP(dim, config.width, config.depth, key=network_key)
    leaves = jax.tree_util.tree_leaves(eqx.filter(network, eqx.is_inexact_array))
    parameters = sum(leaf.size for leaf in leaves)
    subset = None if parameters <= config.batch // 2 else max(1, config.batch // 2)
    radius = float(np.sqrt(2 * dim * horizon)) + 2.5
    galerkin = NeuralGalerkin(
        problem.pde,
        UniformSampler(Ball(dim, radius)),
        estimator,
        num_points=config.batch,
        dt=horizon / (CURVE_POINTS - 1),
        regularization=1e-8,
        subset_size=subset,
    )
    fit = galerkin.fit_initial(
        network,
        problem.initial,
        fit_key,
        steps=config.steps,
        num_points=max(20 * config.batch, 10 * parameters),
        batch_size=config.batch,
        learning_rate=config.lr,
        progress=config.progress,
    )
    taus = np.linspace(0.0, horizon, CURVE_POINTS)
    solution = galerkin.solve(fit.network, horizon, solve_key, saveat=taus)
    forward = np.asarray(solution.values(jnp.zeros(dim)))
    # The fit's outcome first: a failed fit is the run's failure.
    ended = fit if result_name(fit.result) != "successful" else solution
    # Forward time tau = T - t: reversed, u(t, 0) on increasing t.
    return _Solved(
        result=result_name(ended.result),
        message=ended.message,
        value=float(forward[-1]),
        times=horizon - taus[::-1],
        curve=forward[::-1],
        steps=int(solution.num_steps),
        wall_s=fit.wall_s + solution.wall_s,
        network=solution.network(),
        history={k: np.asarray(v).tolist() for k, v in fit.history.items()},
        details={
            "network": "MLP(|x|^2)" if problem.radial else "MLP(x)",
            "lr": config.lr,
            "fit_steps": config.steps,
            "parameters": int(parameters),
            "subset_size": subset,
            "sampler_radius": radius,
            "fit_loss": float(fit.history["loss"][-1]) if fit.steps else None,
            "fit_wall_s": fit.wall_s,
        },
    )


BSDE_TIME_STEPS = 20
"""Default time steps $N$ of Deep BSDE (`time_steps`), as the paper's Allen–Cahn and HJB."""


def _deep_bsde(problem: ParabolicProblem, config: RunConfig, reference: float | None) -> _Solved:
    r"""Deep BSDE: `steps` optimizer steps on `batch` paths of `time_steps` Euler steps each,
    the network $\sigma^\top\nabla u$ an MLP (`width`, `depth`) of $(x, t)$."""
    bsde = DeepBSDE(
        problem.equation,
        num_steps=config.time_steps or BSDE_TIME_STEPS,
        batch_size=config.batch,
    )
    network_key, train_key = jax.random.split(jax.random.key(config.seed))
    network = bsde.network(network_key, width=config.width, depth=config.depth)
    averaged, solution, history = _train(bsde, network, train_key, problem, config, reference)
    trained = solution.network
    assert isinstance(trained, BSDENetwork)
    value = float(trained.value)
    return _Solved(
        value=value,
        times=np.zeros(1),
        curve=np.asarray([value]),
        steps=solution.steps,
        wall_s=solution.wall_s,
        network=solution.network,
        history=history,
        result=result_name(solution.result),
        message=solution.message,
        note="Deep BSDE learns u(0, x0) only",
        details={
            "time_steps": bsde.num_steps,
            "averaged_steps": averaged,
            "lr": config.lr,
            "initial_value": float(network.value),
            "final_loss": float(solution.history["loss"][-1]) if solution.steps else None,
        },
    )


METHODS: dict[str, Callable[[ParabolicProblem, RunConfig, float | None], _Solved]] = {
    "mol": _mol,
    "pinn": _pinn,
    "galerkin": _galerkin,
    "deep-bsde": _deep_bsde,
}
"""The methods of the parabolic problems, by `RunConfig.method`."""


def _monte_carlo(problem: ParabolicProblem, value: float) -> dict[str, float | None]:
    reaction = getattr(problem.equation, "reaction", "")
    monte_carlo = MONTE_CARLO_REFERENCES.get(reaction, {}).get(problem.dim)
    return {
        "value": monte_carlo,
        "rel_error": None if monte_carlo is None else abs(value - monte_carlo) / abs(monte_carlo),
    }


def run_parabolic(config: RunConfig, out: Path) -> RunResult:
    """Solve the parabolic problem `config.problem` by `config.method`; the result is not
    yet saved."""
    refuse_elliptic_options(config, config.problem)
    problem = get_problem(config.problem, config.dim)
    if not isinstance(problem, ParabolicProblem):
        raise TypeError(f"{config.problem!r} is not a parabolic problem")
    reference = problem.reference_value()
    start = time.perf_counter()
    solved = METHODS[config.method](problem, config, reference)
    total = time.perf_counter() - start
    rel_error = None if reference is None else abs(solved.value - reference) / abs(reference)
    baseline = problem.baseline_value()
    baseline_error = None if reference is None else abs(baseline - reference) / abs(reference)
    label = config.method if config.method != "pinn" else f"pinn-{config.estimator}"
    return RunResult(
        config=config,
        problem=problem.name,
        dim=problem.dim,
        label=label,
        metrics={
            **solved.metrics,
            "value": solved.value,
            "reference": reference,
            "rel_error": rel_error,
            "baseline": baseline,
            "baseline_rel_error": baseline_error,
        },
        result=solved.result,
        message=solved.message,
        steps=solved.steps,
        wall_s=solved.wall_s,
        peak_rss_mb=peak_rss_mb(),
        history=solved.history,
        details={
            **solved.details,
            "T": problem.T,
            "reference_source": problem.reference_source,
            "origin_zero": not bool(np.any(np.asarray(problem.equation.origin()))),
            "monte_carlo_reference": _monte_carlo(problem, solved.value),
            "total_wall_s": total,
            "curve": {"t": solved.times.tolist(), "u": solved.curve.tolist(), "note": solved.note},
        },
        network=solved.network,
        out=out,
    )
