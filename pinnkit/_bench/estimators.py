"""`pinnkit bench estimators`: the cost of one training step, per estimator and dimension.

What is timed is the gradient of the residual loss of a problem (Allen–Cahn two-body by
default) with respect to the network, on a given batch of points with their source values:

    grad = eqx.filter_value_and_grad(lambda model, batch, key: loss(model, batch, key))
    step = eqx.filter_jit(grad)

with the batch and the key passed as arguments (closing over them would let XLA fold
constants). The *floor* is the same step for the plain loss `mean(u(x)^2)` on the same
batch and network: what any loss costs, before derivatives in x. The problem's own costs
(drawing the points, evaluating the source term) are the same for every estimator and are
reported separately, per dimension.

Each configuration runs in its own subprocess
(`python -m pinnkit._bench.estimators worker SPEC`) so that its peak resident memory belongs
to it alone; the floor also runs alone once per dimension. Times are medians over repeats,
after a warm-up call, with compilation excluded; the floor is re-timed in every estimator's
process, interleaved with the estimator, so that `ratio_to_floor` compares two numbers taken
under the same load.

Skip rules (a skipped record has `"skipped": REASON` and no timings):

1. *Hessian memory* (`exact` only): the batch's Hessians alone take `batch * d^2 * 4` bytes;
   skipped when that exceeds the memory budget (`--memory-gb`, default 80% of the RAM).
2. *Extrapolated memory*: from the largest smaller dimension measured for the same
   estimator, XLA's temporary memory is scaled by `(d / d0)^q`; skipped when it exceeds the
   budget.
3. *Extrapolated time*: the step time is scaled by `(d / d0)^p`; skipped when 3 steps
   (about the compile, the warm-up and one timed step) would exceed the per-configuration
   timeout. A slow configuration that does run times fewer repeats than `--repeats` when
   they would not fit in 75% of the timeout (at least one; the record's `repeats` says how
   many).
   `p` and `q` are the estimator's cost exponents in `COST_EXPONENTS` (docs/math.md, "Cost per
   point"), raised to the exponent fitted between the two largest measured dimensions when
   that is larger.
4. *Timeout*: a worker still running after `--timeout` seconds is killed.
5. *Crash*: a worker that exits with an error or is killed (out of memory) is recorded
   with the tail of its error output.

Workers raise their own `oom_score_adj`, so that if the machine runs out of memory the
kernel kills the benchmark rather than anything else.
"""

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._run.result import peak_rss_mb
from .reports import pyplot, save_figure


PROBLEM = "allen-cahn-two-body"

COST_EXPONENTS: dict[str, tuple[float, float]] = {
    "exact": (2.0, 2.0),
    "jet": (2.0, 1.0),
    "forward-laplacian": (1.0, 1.0),
    "sdgd": (1.0, 1.0),
    "hte": (1.0, 1.0),
    "stde": (1.0, 1.0),
    "stde-dense": (1.0, 1.0),
}
"""`(p, q)`: how an estimator's step time and memory grow with `d` (d^p, d^q) at fixed
batch, width and samples; `(1, 1)` for an estimator not listed. Exact: `d` Hessian passes
of `O(d)` each, and `d^2` Hessian entries. Jet: `d` basis jets of `O(d)` each. The rest
grow like the first layer, `O(d)`."""

_RESULT_TAG = "PINNKIT_BENCH_RESULT "
_MIN_REPEAT_S = 0.1  # each timed repeat loops a fast step until it lasts about this long
_MAX_INNER = 50


# ----------------------------------------------------------------------------- parsing


def _xla_temp_mb(compiled: Any) -> float | None:
    try:
        analysis = compiled.compiled.memory_analysis()
        return analysis.temp_size_in_bytes / 2**20
    except Exception:  # not every backend reports it
        return None


def _calibrate(fn: Callable[[], Any]) -> tuple[int, float]:
    """Call once (the warm-up) and pick how many calls make one timed repeat."""
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn())
    once = time.perf_counter() - start
    return max(1, min(_MAX_INNER, int(_MIN_REPEAT_S / max(once, 1e-9)))), once


def _timed(fn: Callable[[], Any], inner: int) -> float:
    """Milliseconds per call over `inner` back-to-back calls."""
    import jax

    start = time.perf_counter()
    out = None
    for _ in range(inner):
        out = fn()
    jax.block_until_ready(out)
    return 1e3 * (time.perf_counter() - start) / inner


def _raise_oom_score() -> None:
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass


def run_worker(spec: dict[str, Any], started: float | None = None) -> dict[str, Any]:
    """Measure one configuration in this process; `spec["estimator"]` is `None` for the floor
    alone (which also times the problem's sampling and source term). With
    `spec["budget_s"]`, timed repeats are cut so as to end within that many seconds of
    `started` (a `time.perf_counter()` value, default now)."""
    started = time.perf_counter() if started is None else started
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from .._estimator.base import AbstractStochasticEstimator
    from .._estimator.registry import make_estimator
    from ..problems import Problem, get_problem

    key = jax.random.key(spec["seed"])
    problem_key, network_key, batch_key, step_key = jax.random.split(key, 4)
    problem = get_problem(spec.get("problem", PROBLEM), spec["dim"], problem_key)
    if not isinstance(problem, Problem):
        raise ValueError(f"bench estimators measures the elliptic problems, not {problem.name!r}")
    model = problem.network(network_key, width=spec["width"], depth=spec["depth"])
    name = spec["estimator"]
    estimator = None
    if name is not None:
        stochastic = isinstance(make_estimator(name), AbstractStochasticEstimator)
        estimator = make_estimator(name, spec["samples"] if stochastic else None)
    loss = problem.loss(estimator, batch_size=spec["batch"])
    batch = jax.block_until_ready(eqx.filter_jit(loss.sample)(batch_key))
    repeats = spec["repeats"]

    def floor_loss(model, batch, key):
        return jnp.mean(jax.vmap(model)(batch.points) ** 2)

    def compile_step(objective):
        grad = eqx.filter_value_and_grad(lambda model, batch, key: objective(model, batch, key))
        jitted: Any = eqx.filter_jit(grad)  # an equinox _JitWrapper, with .lower
        compiled = jitted.lower(model, batch, step_key).compile()
        return compiled, (lambda: compiled(model, batch, step_key))

    record: dict[str, Any] = {}
    budget_s = spec.get("budget_s", math.inf)
    if name is None:
        floor, floor_call = compile_step(floor_loss)
        inner, _ = _calibrate(floor_call)
        floor_ms = [_timed(floor_call, inner) for _ in range(repeats)]
        record["floor_ms_per_step"] = statistics.median(floor_ms)
        record["floor_peak_rss_mb"] = peak_rss_mb()
        record["floor_xla_temp_mb"] = _xla_temp_mb(floor)

        sample = eqx.filter_jit(lambda sampler, key: sampler(key, spec["batch"]))
        source = eqx.filter_jit(lambda pde, points: jax.vmap(pde.source)(points))
        record["sample_ms"] = _median_ms(lambda: sample(problem.sampler, batch_key), repeats)
        record["source_ms"] = _median_ms(lambda: source(problem.pde, batch.points), repeats)
        return record

    # Phase 1: the estimator alone, so that the peak memory so far is its own.
    step, step_call = compile_step(loss)
    inner, step_once = _calibrate(step_call)
    record["peak_rss_mb"] = peak_rss_mb()
    record["xla_temp_mb"] = _xla_temp_mb(step)
    # Phase 2: the floor in the same process, timed interleaved with the estimator.
    floor, floor_call = compile_step(floor_loss)
    floor_inner, floor_once = _calibrate(floor_call)
    record["floor_xla_temp_mb"] = _xla_temp_mb(floor)
    per_repeat = inner * step_once + floor_inner * floor_once
    remaining = budget_s - (time.perf_counter() - started)
    repeats = max(1, min(repeats, int(remaining / per_repeat)))
    record["repeats"] = repeats
    step_ms, floor_ms = [], []
    for _ in range(repeats):
        floor_ms.append(_timed(floor_call, floor_inner))
        step_ms.append(_timed(step_call, inner))
    record["ms_per_step"] = statistics.median(step_ms)
    record["floor_ms_per_step"] = statistics.median(floor_ms)
    record["ratio_to_floor"] = record["ms_per_step"] / record["floor_ms_per_step"]
    record["samples"] = (
        spec["samples"] if isinstance(estimator, AbstractStochasticEstimator) else None
    )
    return record


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    inner, _ = _calibrate(fn)
    return statistics.median(_timed(fn, inner) for _ in range(repeats))


def _worker_main(argv: Sequence[str]) -> int:
    started = time.perf_counter()
    _raise_oom_score()
    spec = json.loads(argv[0])
    record = run_worker(spec, started)
    print(_RESULT_TAG + json.dumps(record), flush=True)
    return 0


# ------------------------------------------------------------------------------ driver


def _tail(text: str, lines: int = 6, chars: int = 600) -> str:
    tail = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
    return tail[-chars:]


def run_isolated(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one configuration in a fresh Python process; a failure becomes `{"skipped": ...}`."""
    command = [sys.executable, "-m", "pinnkit._bench.estimators", "worker", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:g} s"}
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT_TAG):
            return json.loads(line[len(_RESULT_TAG) :])
    if done.returncode < 0:
        reason = f"killed by signal {-done.returncode}"
        if done.returncode == -9:
            reason += " (likely out of memory)"
    else:
        reason = f"worker exited with status {done.returncode}"
    tail = _tail(done.stderr)
    return {"skipped": f"{reason}: {tail}" if tail else reason}


def _memory_budget_gb() -> float:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16.0
    return 0.8 * total / 2**30


def _fitted_exponent(points: list[tuple[int, float]]) -> float | None:
    """The growth exponent between the two largest measured dimensions."""
    if len(points) < 2:
        return None
    (d1, v1), (d2, v2) = points[-2], points[-1]
    if v1 <= 0 or v2 <= 0 or d1 == d2:
        return None
    return math.log(v2 / v1) / math.log(d2 / d1)


def precheck(
    name: str,
    dim: int,
    batch: int,
    measured: list[dict[str, Any]],
    memory_gb: float,
    timeout: float,
) -> str | None:
    """The reason to skip `name` at `dim` without running it, or `None` (rules 1-3 above).

    `measured` holds this estimator's successful records at smaller dimensions, in order.
    """
    if name == "exact":
        need_gb = batch * dim**2 * 4 / 1e9
        if need_gb > memory_gb:
            return (
                f"needs about {need_gb:,.0f} GB for the batch's Hessians (batch * d^2 * 4 bytes) "
                f"> {memory_gb:.0f} GB memory budget"
            )
    if not measured:
        return None
    p, q = COST_EXPONENTS.get(name, (1.0, 1.0))
    last = measured[-1]
    d0 = last["dim"]

    temps = [(r["dim"], r["xla_temp_mb"]) for r in measured if r.get("xla_temp_mb")]
    if temps:
        fitted = _fitted_exponent(temps)
        q_used = max(q, fitted) if fitted is not None else q
        d_temp, temp_mb = temps[-1]
        need_gb = temp_mb * (dim / d_temp) ** q_used / 1024
        if need_gb > memory_gb:
            return (
                f"estimated {need_gb:,.1f} GB of XLA temporaries (from {temp_mb:,.0f} MB at "
                f"d={d_temp:,}, scaled by d^{q_used:.2f}) > {memory_gb:.0f} GB memory budget"
            )

    times = [(r["dim"], r["ms_per_step"]) for r in measured]
    fitted = _fitted_exponent(times)
    p_used = max(p, fitted) if fitted is not None else p
    step_s = last["ms_per_step"] * (dim / d0) ** p_used / 1e3
    if step_s * 3 > timeout:
        return (
            f"estimated {step_s:,.0f} s per step (from {last['ms_per_step']:,.0f} ms at "
            f"d={d0:,}, scaled by d^{p_used:.2f}); 3 steps would exceed the "
            f"{timeout:g} s timeout"
        )
    return None


def bench_estimators(
    estimators: Sequence[str],
    dims: Sequence[int],
    *,
    batch: int = 100,
    samples: int = 16,
    repeats: int = 5,
    timeout: float = 600.0,
    seed: int = 0,
    width: int = 128,
    depth: int = 3,
    memory_gb: float | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
) -> list[dict[str, Any]]:
    """Measure every estimator at every dimension; one record per pair (see the module doc)."""
    memory_gb = _memory_budget_gb() if memory_gb is None else memory_gb
    base = {
        "problem": PROBLEM,
        "batch": batch,
        "samples": samples,
        "repeats": repeats,
        "seed": seed,
        "budget_s": 0.75 * timeout,
        "width": width,
        "depth": depth,
    }
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in estimators}
    records: list[dict[str, Any]] = []
    for dim in dims:
        start = time.perf_counter()
        floor = run_isolated({**base, "dim": dim, "estimator": None}, timeout)
        log(f"d={dim:,} floor: {_summary(floor)} ({time.perf_counter() - start:.0f} s)")
        shared = {
            "floor_peak_rss_mb": floor.get("floor_peak_rss_mb"),
            "floor_alone_ms_per_step": floor.get("floor_ms_per_step"),
            "sample_ms": floor.get("sample_ms"),
            "source_ms": floor.get("source_ms"),
        }
        if "skipped" in floor:
            shared["floor_skipped"] = floor["skipped"]
        for name in estimators:
            record: dict[str, Any] = {
                "estimator": name,
                "dim": dim,
                "batch": batch,
                "samples": samples,
                "ms_per_step": None,
                "floor_ms_per_step": None,
                "ratio_to_floor": None,
                "peak_rss_mb": None,
                **shared,
                "xla_temp_mb": None,
                "floor_xla_temp_mb": floor.get("floor_xla_temp_mb"),
            }
            reason = precheck(name, dim, batch, measured[name], memory_gb, timeout)
            start = time.perf_counter()
            if reason is None:
                result = run_isolated({**base, "dim": dim, "estimator": name}, timeout)
            else:
                result = {"skipped": reason}
            record.update(result)
            if "skipped" in record:
                record["samples"] = samples
            else:
                measured[name].append(record)
            records.append(record)
            log(f"d={dim:,} {name}: {_summary(record)} ({time.perf_counter() - start:.0f} s)")
    return records


def _summary(record: dict[str, Any]) -> str:
    if "skipped" in record:
        return f"skipped: {record['skipped']}"
    if record.get("ms_per_step") is None:
        return f"floor {record['floor_ms_per_step']:.2f} ms, {record['floor_peak_rss_mb']:.0f} MB"
    return (
        f"{record['ms_per_step']:.2f} ms/step, floor {record['floor_ms_per_step']:.2f} ms, "
        f"x{record['ratio_to_floor']:.2f}, {record['peak_rss_mb']:.0f} MB"
    )


# ----------------------------------------------------------------------------- reports


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(records: Sequence[dict[str, Any]]) -> str:
    """The records as Markdown: one table of step costs, one of the problem's own costs."""
    lines = [
        "| estimator | d | ms / step | floor ms / step | ratio to floor | peak RSS MB "
        "| floor peak RSS MB | XLA temp MB | floor XLA temp MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        if "skipped" in r:
            lines.append(
                f"| {r['estimator']} | {r['dim']:,} | skipped: {r['skipped']} | "
                f"{_fmt(r.get('floor_alone_ms_per_step'))} | – | – | "
                f"{_fmt(r.get('floor_peak_rss_mb'))} | – | {_fmt(r.get('floor_xla_temp_mb'))} |"
            )
            continue
        lines.append(
            f"| {r['estimator']} | {r['dim']:,} | {_fmt(r['ms_per_step'])} | "
            f"{_fmt(r['floor_ms_per_step'])} | {_fmt(r['ratio_to_floor'])} | "
            f"{_fmt(r['peak_rss_mb'])} | {_fmt(r.get('floor_peak_rss_mb'))} | "
            f"{_fmt(r.get('xla_temp_mb'))} | {_fmt(r.get('floor_xla_temp_mb'))} |"
        )
    lines += [
        "",
        "| d | sample batch ms | source term ms | floor alone ms / step "
        "| floor alone peak RSS MB |",
        "|---:|---:|---:|---:|---:|",
    ]
    seen = set()
    for r in records:
        if r["dim"] in seen:
            continue
        seen.add(r["dim"])
        lines.append(
            f"| {r['dim']:,} | {_fmt(r.get('sample_ms'))} | {_fmt(r.get('source_ms'))} | "
            f"{_fmt(r.get('floor_alone_ms_per_step'))} | {_fmt(r.get('floor_peak_rss_mb'))} |"
        )
    return "\n".join(lines) + "\n"


def plot(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Milliseconds per step against d, log-log: one line per estimator, the floor, and the
    problem's own cost (sampling plus source term)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    names = list(dict.fromkeys(r["estimator"] for r in records))
    for name in names:
        points = [(r["dim"], r["ms_per_step"]) for r in records if r["estimator"] == name]
        points = [(d, ms) for d, ms in points if ms is not None]
        if points:
            ax.loglog(*zip(*points, strict=True), "o-", label=name)
    by_dim: dict[int, dict[str, Any]] = {}
    for r in records:
        by_dim.setdefault(r["dim"], r)
    floor = [(d, r["floor_alone_ms_per_step"]) for d, r in sorted(by_dim.items())]
    floor = [(d, ms) for d, ms in floor if ms is not None]
    if floor:
        ax.loglog(*zip(*floor, strict=True), "k--", lw=2, label="floor: grad of mean(u^2)")
    problem = [
        (d, r["sample_ms"] + r["source_ms"])
        for d, r in sorted(by_dim.items())
        if r.get("sample_ms") is not None and r.get("source_ms") is not None
    ]
    if problem:
        ax.loglog(*zip(*problem, strict=True), "k:", label="problem: sample + source")
    ax.set_xlabel("dimension d")
    ax.set_ylabel("ms per training step (loss gradient)")
    batch = records[0]["batch"] if records else None
    samples = next((r["samples"] for r in records if r.get("samples") is not None), None)
    ax.set_title(f"{PROBLEM}, batch {batch}, {samples} samples: cost per step")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(fig, path)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "worker":
        sys.exit(_worker_main(sys.argv[2:]))
    sys.exit(
        "usage: python -m pinnkit._bench.estimators worker SPEC_JSON (or: pinnkit bench estimators)"
    )
