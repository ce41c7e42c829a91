"""Optimizers and learning-rate schedules by name, for the command line and for scripts."""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax


def _momentum(learning_rate: Any) -> optax.GradientTransformation:
    return optax.sgd(learning_rate, momentum=0.9)


OPTIMIZERS: dict[str, Callable[[Any], optax.GradientTransformation]] = {
    "adam": optax.adam,
    "adamw": optax.adamw,
    "amsgrad": optax.amsgrad,
    "adabelief": optax.adabelief,
    "nadam": optax.nadam,
    "radam": optax.radam,
    "lamb": optax.lamb,
    "lion": optax.lion,
    "rmsprop": optax.rmsprop,
    "adagrad": optax.adagrad,
    "sgd": optax.sgd,
    "momentum": _momentum,
}
"""First-order optax optimizers by name, each a function of the learning rate (a number or
a schedule): `adam`, `adamw`, `amsgrad`, `adabelief`, `nadam`, `radam`, `lamb`, `lion`,
`rmsprop`, `adagrad`, `sgd`, and `momentum` (SGD with momentum 0.9). Optax's defaults are
used for every other setting; pass an optax optimizer to [`pinnkit.PINNSolver`][] for more
control."""


def _constant(learning_rate: float, steps: int) -> optax.Schedule:
    del steps
    return optax.constant_schedule(learning_rate)


def _linear(learning_rate: float, steps: int) -> optax.Schedule:
    return optax.linear_schedule(learning_rate, 0.0, max(steps, 1))


def _cosine(learning_rate: float, steps: int) -> optax.Schedule:
    return optax.cosine_decay_schedule(learning_rate, max(steps, 1))


def _exponential(learning_rate: float, steps: int) -> optax.Schedule:
    return optax.exponential_decay(learning_rate, max(steps, 1), decay_rate=0.01)


def _warmup_cosine(learning_rate: float, steps: int) -> optax.Schedule:
    warmup = max(steps // 20, 1)
    return optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, warmup, max(steps, warmup + 1), end_value=0.0
    )


SCHEDULES: dict[str, Callable[[float, int], optax.Schedule]] = {
    "constant": _constant,
    "linear": _linear,
    "cosine": _cosine,
    "exponential": _exponential,
    "warmup-cosine": _warmup_cosine,
}
"""Learning-rate schedules by name, each a function of the initial learning rate and the
number of steps: `constant`; `linear` (decayed linearly to 0 over the run, the recipe of
the STDE experiments); `cosine` (cosine decay to 0); `exponential` (decayed by a factor
100 over the run); `warmup-cosine` (a linear warm-up from 0 over the first 5% of the steps,
then a cosine decay to 0)."""


def _unknown(kind: str, name: str, valid: dict[str, Any]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}")


def make_schedule(name: str, learning_rate: float, steps: int) -> optax.Schedule:
    """The learning-rate schedule called `name` (a key of [`pinnkit.SCHEDULES`][]).

    **Arguments:**

    - `name`: `constant`, `linear`, `cosine`, `exponential` or `warmup-cosine`.
    - `learning_rate`: the initial (peak, for `warmup-cosine`) learning rate, positive.
    - `steps`: the length of the run the schedule spans.

    **Returns:** an optax schedule, a function of the step count.

    Raises `ValueError` for an unknown name (listing the valid ones) or a non-positive
    learning rate.
    """
    if name not in SCHEDULES:
        raise _unknown("schedule", name, SCHEDULES)
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    return SCHEDULES[name](learning_rate, steps)


@functools.lru_cache(maxsize=64)
def make_optimizer(
    name: str = "adam",
    learning_rate: float = 1e-3,
    steps: int = 1,
    schedule: str = "linear",
) -> optax.GradientTransformation:
    """The optimizer called `name` with the learning-rate schedule called `schedule`.

    `make_optimizer("adam", lr, steps, "linear")` is the default of
    [`pinnkit.PINNSolver`][] (Adam, learning rate decayed linearly to 0 over the run).

    **Arguments:**

    - `name`: a key of [`pinnkit.OPTIMIZERS`][] (default `adam`).
    - `learning_rate`: the initial learning rate (default 1e-3).
    - `steps`: the number of training steps the schedule spans.
    - `schedule`: a key of [`pinnkit.SCHEDULES`][] (default `linear`).

    **Returns:** an `optax.GradientTransformation`. The same arguments return the same
    object (optax transformations are pure), so repeated solves reuse compiled code.

    Raises `ValueError` for an unknown name (listing the valid ones).
    """
    if name not in OPTIMIZERS:
        raise _unknown("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name](make_schedule(schedule, learning_rate, steps))


def tail_average(
    inner: optax.GradientTransformation, steps: int, tail: int
) -> optax.GradientTransformation:
    """`inner` whose last update of a run of `steps` steps lands on the mean of the parameters
    after each of the last `tail` steps (Polyak tail averaging).

    The mean is kept in the optimizer state, updated after every step of the tail; the update
    of step `steps` is replaced by `mean - params`, so the trained parameters are that mean.
    With `tail = 0`, or for steps beyond `steps` (another run), it is `inner` unchanged.
    `pinnkit solve --average F` (parabolic `--method pinn`) uses it with `tail = F * steps`.

    **Arguments:**

    - `inner`: the optax optimizer that makes the steps.
    - `steps`: the length of the run.
    - `tail`: how many of the last steps are averaged, in `[0, steps]`.

    **Returns:** an `optax.GradientTransformation` whose `update` needs the parameters
    (`update(updates, state, params)`); `inner` itself for `tail = 0`.

    Raises `ValueError` unless `0 <= tail <= steps`.
    """
    if not 0 <= tail <= steps:
        raise ValueError(f"the averaged steps must lie in [0, {steps}], got {tail}")
    if tail == 0:
        return inner
    start = steps - tail

    def init(params):
        mean = jax.tree_util.tree_map(jnp.zeros_like, params)
        return (inner.init(params), jnp.zeros((), jnp.int32), mean)

    def update(updates, state, params=None):
        inner_state, count, mean = state
        if params is None:
            raise ValueError("tail_average needs the parameters in update(updates, state, params)")
        updates, inner_state = inner.update(updates, inner_state, params)
        count = count + 1
        after = optax.apply_updates(params, updates)
        # Running mean over the tail: the n-th iterate of the tail enters with weight 1/n.
        n = jnp.maximum(count - start, 1)
        in_tail = (count > start) & (count <= steps)
        mean = jax.tree_util.tree_map(
            lambda m, p: jnp.where(in_tail, m + (p - m) / n.astype(m.dtype), m), mean, after
        )
        updates = jax.tree_util.tree_map(
            lambda u, m, p: jnp.where(count == steps, m - p, u), updates, mean, params
        )
        return updates, (inner_state, count, mean)

    return optax.GradientTransformation(init, update)
