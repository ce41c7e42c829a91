"""[`pinnkit.RunResult`][]: what [`pinnkit.run`][] returns, and the one `result.json` schema."""

import dataclasses
import importlib.metadata
import json
import os
import resource
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import RunConfig


SCHEMA_VERSION = 1
"""The version of the `result.json` layout; raised whenever a key changes meaning or moves."""

METRICS = ("rel_l2", "rel_l1", "value", "reference", "rel_error", "baseline", "baseline_rel_error")
"""The metric names, the same for every method (`None` where a metric does not apply):

- `rel_l2`, `rel_l1`: relative $L^2$ and $L^1$ errors of the trained solution on the test
  points against the exact solution (elliptic problems; parabolic ones with a closed form,
  on points along Brownian paths);
- `value`, `reference`, `rel_error`: a point value (for the parabolic problems
  $u(0, x_0)$), its reference and the relative error $|value - reference| / |reference|$;
- `baseline`, `baseline_rel_error`: the trivial baseline of a parabolic problem, the value
  of the same PDE without its nonlinear term
  ([`ParabolicProblem.baseline_value`][pinnkit.problems.ParabolicProblem.baseline_value]),
  and its relative error: a `rel_error` no smaller than this shows no learning.
"""


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def versions() -> dict[str, str]:
    """The versions of Python and of the packages a result depends on."""
    found = {"python": sys.version.split()[0]}
    for name in ("pinnkit", "jax", "jaxlib", "equinox", "optax", "diffrax"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so that a reader never
    sees a half-written file. The file gets the usual mode (0o666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunResult:
    """The outcome of [`pinnkit.run`][], the same for every problem and method.

    **Attributes:**

    - `config`: the [`pinnkit.RunConfig`][] that was run.
    - `problem`, `dim`, `label`: the problem's name, its dimension, and the estimator (for a
      PINN) or method that solved it.
    - `metrics`: a mapping with every name of `METRICS` (`None` where it does not apply).
    - `result`: the outcome's name (`"successful"`, `"nonfinite_loss"`, ...; see
      [`pinnkit.RESULTS`][]); `message`: why it stopped early, empty when successful.
    - `steps`: training steps (or time steps) completed; `wall_s`: seconds of the solve;
      `steps_per_s`; `peak_rss_mb`: the process's peak memory.
    - `history`: per-step and per-evaluation records (lists), e.g. `step`, `loss`,
      `eval_step`, `rel_l2`.
    - `details`: what only this method reports (L-BFGS, the fitted offset, the curve
      $u(t, 0)$, the Feynman–Kac read-out, ...).
    - `network`: the trained network (`None` for the method of lines).
    - `out`: the folder the run wrote to.
    """

    config: RunConfig
    problem: str
    dim: int
    label: str
    metrics: Mapping[str, float | None]
    result: str
    message: str
    steps: int
    wall_s: float
    peak_rss_mb: float
    history: Mapping[str, list]
    details: Mapping[str, Any]
    network: Any
    out: Path

    def __post_init__(self):
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; known: {', '.join(METRICS)}")
        object.__setattr__(self, "metrics", {name: self.metrics.get(name) for name in METRICS})

    @property
    def steps_per_s(self) -> float | None:
        return self.steps / self.wall_s if self.wall_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The `result.json` record: schema version, identity, metrics, outcome, timings,
        versions, the whole configuration, history and details."""
        return {
            "schema_version": SCHEMA_VERSION,
            "problem": self.problem,
            "dim": self.dim,
            "method": self.config.method,
            "estimator": self.config.estimator if self.config.method != "mol" else None,
            "samples": self.config.samples,
            "steps": self.steps,
            "batch": self.config.batch,
            "seed": self.config.seed,
            **self.metrics,
            "result": self.result,
            "message": self.message,
            "wall_s": self.wall_s,
            "steps_per_s": self.steps_per_s,
            "peak_rss_mb": self.peak_rss_mb,
            "versions": versions(),
            "config": self.config.to_dict(),
            "history": _thinned(self.history),
            "details": dict(self.details),
        }

    def summary(self) -> str:
        """The line `pinnkit solve` prints."""
        m = self.metrics
        head = f"{self.problem} d={self.dim} {self._label_field()}:"
        if m["value"] is not None:
            against = (
                "no reference"
                if m["reference"] is None
                else f"reference={m['reference']:.7g} rel_error={m['rel_error']:.3e}"
            )
            readout = ""
            fk = self.details.get("feynman_kac")
            if fk is not None:
                readout = f" feynman_kac={fk['value']:.7g}"
                if fk.get("rel_error") is not None:
                    readout += f" (rel_error={fk['rel_error']:.3e})"
            if m["baseline_rel_error"] is not None:
                against += f" baseline_rel_error={m['baseline_rel_error']:.3e}"
            at = "u(0,0)" if self.details.get("origin_zero", True) else "u(0,x0)"
            body = f"{at}={m['value']:.7g} {against}{readout} wall={self.wall_s:.1f}s"
        else:
            rate = self.steps_per_s
            body = (
                f"rel_l2={_num(m['rel_l2'])} rel_l1={_num(m['rel_l1'])} steps={self.steps} "
                f"wall={self.wall_s:.1f}s ({_num(rate, '.1f')} steps/s)"
            )
        return f"{head} {body} -> {self.out / 'result.json'}"

    def _label_field(self) -> str:
        if self.config.method == "pinn" and self.metrics["value"] is None:
            return f"estimator={self.config.estimator}"
        return f"method={self.config.method}"

    def save(self, out_dir: Path | str) -> Path:
        """Write `result.json`, the history plot and (when there is one) the trained network
        `network.eqx` into `out_dir`, as `pinnkit solve` does; return the `result.json` path."""
        import equinox as eqx

        from .plots import plot_history, plot_solution

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "result.json"
        write_atomic(path, json.dumps(self.to_dict(), indent=2).encode())
        title = f"{self.problem}, d = {self.dim}, {self.label}"
        if "curve" in self.details:
            plot_solution(self.details["curve"], self.metrics, title, out / "solution.png")
        if self.history.get("loss"):
            plot_history(self.history, title, out / "history.png", self.metrics)
        if self.network is not None:
            tmp = out / ".network.eqx.tmp"
            eqx.tree_serialise_leaves(tmp, self.network)
            os.replace(tmp, out / "network.eqx")
        return path


HISTORY_POINTS = 1000
"""At most this many per-step records (`step`, `loss`) go into `result.json`: every k-th."""


def _thinned(history: Mapping[str, list]) -> dict[str, list]:
    per_step = len(history.get("step", []))
    every = max(1, -(-per_step // HISTORY_POINTS))
    thinned = {}
    for name, values in history.items():
        thinned[name] = list(values[::every]) if name in ("step", "loss") else list(values)
    return thinned


def _num(value: float | None, spec: str = ".3e") -> str:
    return "n/a" if value is None else format(value, spec)
