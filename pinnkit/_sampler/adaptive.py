r"""Residual-adaptive samplers: collocation points that follow the current residual.

An adaptive sampler keeps a *population* of collocation points in the loss state and moves
it towards where the PDE residual of the current model is large.
[`pinnkit.ResidualLoss`][] recognises an [`pinnkit.AbstractAdaptiveSampler`][]: its
[`init_state`][pinnkit.AbstractLoss.init_state] draws the first population and its
[`next_batch`][pinnkit.AbstractLoss.next_batch] evaluates the residual of the current
model at the sampler's candidate points (with the loss's own estimator), lets the sampler
update the population, and trains on it. Everything has a fixed shape, so a whole training
run stays one compiled `lax.scan`.

The loss on an adaptive population is no longer an estimate of the mean squared residual
over the domain: it weights the points where the model is worst more heavily, which is the
point of the method.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from .._types import Key, Points, Values
from .base import AbstractSampler


class AbstractAdaptiveSampler(AbstractSampler):
    r"""A sampler whose points adapt to the residual of the model being trained.

    It wraps a `base` sampler (uniform, quasi-random, ...). Called like any sampler,
    `sampler(key, batch)`, it draws from the base, so a loss that does not know about
    adaptivity still works. A [`pinnkit.ResidualLoss`][] uses the stateful interface:

    1. `state = init(key, n)`: the first population of `n` points;
    2. each step: `candidates(state, key)` names the points whose residuals the sampler needs,
       the loss evaluates the residuals $r$ there, `update(state, candidates, r, key)` returns
       the new state, and the loss trains on `points(state)`.

    All shapes are fixed by `n`, so the whole loop compiles once.
    """

    base: eqx.AbstractVar[AbstractSampler]

    @property
    def dim(self) -> int:
        return self.base.dim

    def __call__(self, key: Key, batch: int) -> Points:
        return self.base(key, batch)

    @abc.abstractmethod
    def init(self, key: Key, n: int) -> PyTree:
        """The initial state: a population of `n` points drawn from the base sampler."""

    @abc.abstractmethod
    def candidates(self, state: PyTree, key: Key) -> Points:
        """The points at which [`update`][pinnkit.AbstractAdaptiveSampler.update] needs
        the residual of the current model."""

    @abc.abstractmethod
    def update(self, state: PyTree, candidates: Points, residuals: Values, key: Key) -> PyTree:
        """The new state, given the residuals (one per candidate point)."""

    @abc.abstractmethod
    def points(self, state: PyTree) -> Points:
        """The collocation points to train on in this state."""


def _check_population(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"an adaptive sampler needs a population size n >= 1, got {n!r}")


class R3Sampler(AbstractAdaptiveSampler):
    r"""Retain–resample–release (R3) sampling.

    The population keeps a fixed size $n$. At every step the residual $r$ of the current model
    is evaluated at each point; the points with $|r_i| > \frac1n \sum_j |r_j|$ (above the
    population mean) are *retained*, the others are *released* and replaced by fresh draws
    from the base sampler. Retained points accumulate where the residual stays high (sharp
    fronts, boundary layers, propagation failures), while the resampled share keeps covering
    the whole domain. Each step costs one extra forward residual evaluation at the $n$ points.

    **Arguments:**

    - `base`: the sampler fresh points come from, e.g.
      `UniformSampler(Box(-1.0, 1.0, dim=1))` or a [`pinnkit.SobolSampler`][].

    **Reference:** Daw, Bu, Wang, Perdikaris, Karpatne, "Mitigating Propagation Failures in
    Physics-informed Neural Networks using Retain-Resample-Release (R3) Sampling", ICML (2023).
    """

    base: AbstractSampler

    def __init__(self, base: AbstractSampler):
        self.base = base

    def init(self, key: Key, n: int) -> Points:
        _check_population(n)
        return self.base(key, n)

    def candidates(self, state: Points, key: Key) -> Points:
        del key
        return state

    def update(self, state: Points, candidates: Points, residuals: Values, key: Key) -> Points:
        fitness = jnp.abs(residuals)
        retain = fitness > jnp.mean(fitness)
        fresh = self.base(key, candidates.shape[0])
        return jnp.where(retain[:, None], candidates, fresh)

    def points(self, state: Points) -> Points:
        return state


class RARState(eqx.Module):
    """The state of a [`pinnkit.RARSampler`][]: the population and the next buffer slot."""

    population: Float[Array, "n dim"]
    cursor: Int[Array, ""]


class RARSampler(AbstractAdaptiveSampler):
    r"""Residual-based adaptive refinement (RAR) with a fixed-size population.

    The population of $n$ points has two parts. The first $n - m$ points are redrawn from the
    base sampler at every step, so the whole domain stays covered. The last
    $m = \mathrm{round}(\text{fraction} \cdot n)$ points are a buffer of *added* points: at
    every step a pool of `pool_size` fresh candidates is drawn from the base sampler, the
    residual of the current model is evaluated there, and the `num_added` candidates with the
    largest $|r|$ replace the oldest points of the buffer (first in, first out). The buffer
    starts filled with base samples. A fixed size keeps the compiled step's shapes constant;
    the buffer plays the part of the growing set of added points of the original method, with
    a memory of $m / \text{num\_added}$ steps. Each step costs one extra forward residual
    evaluation at `pool_size` points.

    **Arguments:**

    - `base`: the sampler candidates and the refreshed points come from.
    - `pool_size`: candidates drawn per step (default 1,000).
    - `num_added`: candidates added to the buffer per step (default 10).
    - `fraction`: the share of the population that is the buffer of added points, in
      $(0, 1]$ (default 0.5).

    **Reference:** Lu, Meng, Mao, Karniadakis, "DeepXDE: A deep learning library for solving
    differential equations", SIAM Review 63(1) (2021), which introduced residual-based adaptive
    refinement for PINNs.
    """

    base: AbstractSampler
    pool_size: int = eqx.field(static=True)
    num_added: int = eqx.field(static=True)
    fraction: float = eqx.field(static=True)

    def __init__(
        self,
        base: AbstractSampler,
        pool_size: int = 1000,
        num_added: int = 10,
        fraction: float = 0.5,
    ):
        self.base = base
        self.pool_size = pool_size
        self.num_added = num_added
        self.fraction = fraction

    def __check_init__(self):
        if self.pool_size < 1 or self.num_added < 1:
            raise ValueError(
                f"RARSampler needs pool_size >= 1 and num_added >= 1, got pool_size="
                f"{self.pool_size}, num_added={self.num_added}"
            )
        if self.num_added > self.pool_size:
            raise ValueError(
                f"RARSampler adds the num_added={self.num_added} best of pool_size="
                f"{self.pool_size} candidates: num_added must be <= pool_size"
            )
        if not 0 < self.fraction <= 1:
            raise ValueError(f"RARSampler fraction must be in (0, 1], got {self.fraction}")

    def buffer_size(self, n: int) -> int:
        """$m$, the number of added points in a population of `n`."""
        return max(1, round(self.fraction * n))

    def init(self, key: Key, n: int) -> RARState:
        _check_population(n)
        if self.num_added > self.buffer_size(n):
            raise ValueError(
                f"RARSampler: num_added={self.num_added} exceeds the buffer of "
                f"{self.buffer_size(n)} added points (fraction={self.fraction} of n={n}); "
                "lower num_added or raise fraction or the batch size"
            )
        return RARState(self.base(key, n), jnp.zeros((), jnp.int32))

    def candidates(self, state: RARState, key: Key) -> Points:
        del state
        return self.base(key, self.pool_size)

    def update(self, state: RARState, candidates: Points, residuals: Values, key: Key) -> RARState:
        n = state.population.shape[0]
        m = self.buffer_size(n)
        _, best = jax.lax.top_k(jnp.abs(residuals), self.num_added)
        slots = (n - m) + (state.cursor + jnp.arange(self.num_added)) % m
        population = state.population.at[slots].set(candidates[best])
        if n > m:
            population = population.at[: n - m].set(self.base(key, n - m))
        return RARState(population, (state.cursor + self.num_added) % m)

    def points(self, state: RARState) -> Points:
        return state.population
