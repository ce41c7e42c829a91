"""A run on a problem whose answer is the solution everywhere (the elliptic and high-order
problems, KdV): fit the offset, train, refine, report."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._estimator.registry import make_estimator
from .._sampler.prng import with_prng
from .._solver.offset import fit_output_offset, output_bias
from .._solver.optimizers import make_optimizer
from .._solver.pinn import RESULTS, PINNSolver
from .._solver.solution import Solution, result_name
from ..problems import KdVProblem, Problem, get_problem
from .config import RunConfig, check_samples, estimator_name
from .result import RunResult, peak_rss_mb


FINGERPRINT_EXCLUDED = frozenset(
    {"out", "progress", "resume", "checkpoint_every", "lbfgs_steps", "lbfgs_batch"}
)
"""Fields that a checkpoint need not agree with to be resumed."""


def fingerprint(config: RunConfig) -> dict[str, Any]:
    """The settings a checkpoint must agree with to be resumed.

    Unset options (`False`) are recorded as `None` and the precision as `x64`, as the command
    line recorded them before `RunConfig`, so that older checkpoints still resume.
    """
    values = config.to_dict()
    values["x64"] = values.pop("precision") == "float64"
    for name in ("fit_offset", "unbiased", "terminal_feature"):
        values[name] = values[name] or None
    return {k: v for k, v in sorted(values.items()) if k not in FINGERPRINT_EXCLUDED}


def _mesh(devices: int | None):
    """The data-parallel mesh over the first `devices` devices; by default none, or every
    device of every process in a multi-process run."""
    if devices is None:
        if jax.process_count() == 1:
            return None
        devices = jax.device_count()
    from jax.sharding import Mesh

    available = jax.devices()
    if not 1 <= devices <= len(available):
        raise ValueError(
            f"RunConfig.devices must be between 1 and the {len(available)} available "
            f"device(s) ({available[0].platform}), got {devices}"
        )
    return Mesh(np.array(available[:devices]), ("batch",))


def _log(config: RunConfig) -> Callable[[int, dict[str, float]], None]:
    def log(step: int, logs: dict[str, float]) -> None:
        # Without a progress bar, a line per evaluation (from process 0 only).
        if not config.progress and jax.process_index() == 0:
            fields = " ".join(f"{name}={value:.3e}" for name, value in logs.items())
            print(f"step {step}: {fields}", flush=True)

    return log


def _refine(config, problem, estimator, mesh, adam: Solution, train_key, test_set, log):
    """L-BFGS on fixed points after the first-order optimizer; (solution, details)."""
    lbfgs_batch = config.lbfgs_batch or config.batch
    refiner = PINNSolver(problem.loss(estimator, batch_size=lbfgs_batch), mesh=mesh)
    solution = refiner.refine(
        adam.network,
        config.lbfgs_steps,
        jax.random.fold_in(train_key, config.steps),
        loss_state=adam.loss_state,
        test_set=test_set,
        progress=config.progress,
        callback=log,
    )
    details = {
        "steps": solution.steps,
        "batch": lbfgs_batch,
        "result": result_name(solution.result),
        "message": solution.message,
        "initial_loss": float(solution.history["loss"][0]) if solution.steps else None,
        "final_loss": float(solution.history["loss"].min()) if solution.steps else None,
        "rel_l2_before": adam.metrics.get("rel_l2"),
        "rel_l1_before": adam.metrics.get("rel_l1"),
        "wall_s": solution.wall_s,
    }
    return solution, details


def run_elliptic(config: RunConfig, out: Path) -> RunResult:
    """Train a network on the problem `config.problem` (its answer the solution everywhere),
    checkpointing into `out/checkpoint`, and return the result (not yet saved)."""
    estimator = make_estimator(estimator_name(config), config.samples)
    optimizer = make_optimizer(config.optimizer, config.lr, config.steps, config.schedule)
    mesh = _mesh(config.devices)
    if jax.process_index() != 0:  # one progress report, from the process that writes
        config = config.replace(progress=False)
    problem_key, network_key, train_key, test_key = jax.random.split(jax.random.key(config.seed), 4)
    # The PRNG changes the draws only: the problem's coefficients and the network's initial
    # parameters come from the same keys whichever it is.
    prng = config.prng or "threefry"
    train_key, test_key = with_prng(train_key, prng), with_prng(test_key, prng)
    problem = get_problem(config.problem, config.dim, problem_key)
    if not isinstance(problem, Problem | KdVProblem):
        raise TypeError(f"{config.problem!r} has no exact solution to train against")
    check_samples(config, getattr(estimator, "num_samples", None), problem.dim)
    inputs = problem.sampler.dim
    if config.block_size is not None and inputs % config.block_size:
        raise ValueError(
            f"RunConfig.block_size must divide the network's {inputs} inputs, "
            f"got {config.block_size}"
        )
    network = problem.network(
        network_key, width=config.width, depth=config.depth, block_size=config.block_size
    )
    loss = problem.loss(estimator, batch_size=config.batch)
    output_offset = None
    if config.fit_offset:
        # From its own key, so that the problem, the initial network and the draws are
        # those of the run without the fit.
        fitted = fit_output_offset(network, loss, jax.random.fold_in(network_key, 1))
        bias = output_bias(network)
        output_offset = float(jax.numpy.ravel(bias(fitted) - bias(network))[0])
        network = fitted
    solver = PINNSolver(
        loss, optimizer=optimizer, learning_rate=config.lr, eval_every=config.eval_every, mesh=mesh
    )
    test_set = problem.test_set(test_key, size=config.test_size)
    log = _log(config)
    adam = solver.solve(
        network,
        config.steps,
        train_key,
        test_set=test_set,
        progress=config.progress,
        callback=log,
        checkpoint_dir=out / "checkpoint",
        checkpoint_every=config.checkpoint_every,
        resume=config.resume,
        config=fingerprint(config),
    )
    solution, lbfgs = adam, None
    if config.lbfgs_steps and adam.result == RESULTS.successful:
        solution, lbfgs = _refine(config, problem, estimator, mesh, adam, train_key, test_set, log)
    history = {k: np.asarray(v).tolist() for k, v in adam.history.items()}
    return RunResult(
        config=config,
        problem=problem.name,
        dim=problem.dim,
        label=estimator_name(config),
        metrics={
            "rel_l2": solution.metrics.get("rel_l2"),
            "rel_l1": solution.metrics.get("rel_l1"),
        },
        result=result_name(adam.result),
        message=adam.message,
        steps=adam.steps,
        wall_s=adam.wall_s,
        peak_rss_mb=peak_rss_mb(),
        history=history,
        details={
            "lr": config.lr,
            "final_loss": float(adam.history["loss"][-1]) if adam.steps else None,
            "lbfgs": lbfgs,
            "output_offset": output_offset,
            "devices": 1 if mesh is None else mesh.size,
            "processes": jax.process_count(),
            "prng": prng,
        },
        network=solution.network,
        out=out,
    )
