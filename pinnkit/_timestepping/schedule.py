"""Neural Galerkin's time grid: the saved times, and constant steps that land on each."""

import math
from collections.abc import Sequence

import diffrax
import numpy as np
from jaxtyping import Array


def save_times(
    saveat: diffrax.SaveAt | Sequence[float] | np.ndarray | Array | None, t0: float, t1: float
) -> list[float]:
    """The sorted saved times from `saveat`, checked to lie in `[t0, t1]`."""
    if saveat is None:
        return [t1]
    if isinstance(saveat, diffrax.SaveAt):
        subs = saveat.subs
        if (
            not isinstance(subs, diffrax.SubSaveAt)
            or subs.steps
            or saveat.dense
            or subs.fn is not diffrax.SubSaveAt().fn
        ):
            raise ValueError(
                "NeuralGalerkin supports diffrax.SaveAt with t0, t1 and ts only (no steps, "
                "dense, fn or subs)"
            )
        times = [] if subs.ts is None else [float(t) for t in np.asarray(subs.ts).ravel()]
        times += [t0] if subs.t0 else []
        times += [t1] if subs.t1 else []
    else:
        times = [float(t) for t in np.asarray(saveat, dtype=float).ravel()]
    if not times:
        raise ValueError("saveat names no times; pass times in [t0, t1], or None to save t1")
    bad = [t for t in times if not (t0 <= t <= t1) or not math.isfinite(t)]
    if bad:
        raise ValueError(f"saved times must lie in [t0, t1] = [{t0}, {t1}], got {bad}")
    return sorted(set(times))


def step_schedule(
    t0: float, save_ts: list[float], dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step starts and sizes (at most `dt`, landing on every saved time), and for each step
    the slot of the saved time it ends on (-1 for none)."""
    starts: list[float] = []
    sizes: list[float] = []
    slots: list[int] = []
    t = t0
    for slot, mark in enumerate(save_ts):
        span = mark - t
        if span <= 0:
            continue
        count = max(1, math.ceil(span / dt - 1e-9))
        h = span / count
        starts += [t + i * h for i in range(count)]
        sizes += [h] * count
        slots += [-1] * (count - 1) + [slot]
        t = mark
    return np.asarray(starts), np.asarray(sizes), np.asarray(slots, dtype=np.int32)
