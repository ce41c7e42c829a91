"""Losses: scalars to minimise, built from named terms."""

import abc
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._estimator.base import AbstractEstimator, AbstractStochasticEstimator
from .._estimator.exact import Exact
from .._operator.pde import AbstractPDE
from .._sampler.adaptive import AbstractAdaptiveSampler
from .._sampler.base import AbstractSampler
from .._types import Key, Point, Points, Scalar, Values


class AbstractLoss(eqx.Module):
    """A training objective, split into drawing a batch and evaluating the loss on it.

    [`sample`][] draws everything a step needs that does not depend on the network
    (collocation points, source values, targets); `__call__` evaluates the loss of a model
    on that batch and is what gets differentiated. Keeping them apart means the batch is
    drawn once per step, and benchmarks can time the two separately.
    """

    @abc.abstractmethod
    def sample(self, key: Key) -> PyTree:
        """Draw the batch for one step."""

    @abc.abstractmethod
    def __call__(self, model: Callable[[Point], Scalar], batch: PyTree, key: Key) -> Scalar:
        """The loss of `model` on `batch`; `key` feeds stochastic estimators."""

    def init_state(self, key: Key) -> PyTree:
        """The state this loss carries from step to step (default `None`: stateless).

        Adaptive losses keep things here that depend on the training so far, such as a
        population of collocation points or the current weights of their terms. The solver
        carries the state through training (and checkpoints) and passes it to
        [`next_batch`][pinnkit.AbstractLoss.next_batch].
        """
        del key
        return None

    def next_batch(
        self, model: Callable[[Point], Scalar], state: PyTree, key: Key
    ) -> tuple[PyTree, PyTree]:
        """The batch for one step and the updated state, given the current `model`.

        The default draws `sample(key)` and keeps `state`. Override it to adapt the batch to
        the model (e.g. residual-based resampling); the solver calls it once per step, outside
        the differentiated loss, with the model's parameters held fixed.
        """
        del model
        return self.sample(key), state


class CollocationBatch(eqx.Module):
    """Collocation points with the PDE's source term evaluated at each."""

    points: Points
    source: Values


class ResidualLoss(AbstractLoss):
    r"""The mean squared PDE residual at collocation points.

    **Arguments:**

    - `pde`: the [`pinnkit.AbstractPDE`][] whose residual is minimised.
    - `sampler`: draws the collocation points.
    - `estimator`: evaluates the PDE's operators (default [`pinnkit.Exact`][]).
    - `batch_size`: points per step (default 100).
    - `sharing`: for stochastic estimators, `"batch"` (default: one draw of directions or
      coordinates per step, shared by every point, as in the published experiments) or
      `"point"` (an independent draw per point: lower variance, more random numbers).
    - `unbiased`: with a stochastic estimator the mean of squared residual estimates is
      biased upward by the estimator's variance. `False` (default, as in the papers) uses
      it anyway; `True` multiplies two residuals from independent draws,
      $\frac1N \sum_n R^{(1)}_n R^{(2)}_n$, whose mean is the true squared residual, at
      twice the cost. Ignored for exact estimators.

    With an [`pinnkit.AbstractAdaptiveSampler`][] (such as [`pinnkit.R3Sampler`][]) the
    collocation points are a population carried in the loss state: every step evaluates the
    residual of the current model at the sampler's candidate points, with this loss's
    estimator, and trains on the updated population (see
    [`next_batch`][pinnkit.ResidualLoss.next_batch]).
    """

    pde: AbstractPDE
    sampler: AbstractSampler
    estimator: AbstractEstimator = Exact()
    batch_size: int = eqx.field(default=100, static=True)
    sharing: Literal["batch", "point"] = eqx.field(default="batch", static=True)
    unbiased: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.sharing not in ("batch", "point"):
            raise ValueError(f"sharing must be 'batch' or 'point', got {self.sharing!r}")

    def sample(self, key: Key) -> CollocationBatch:
        points = self.sampler(key, self.batch_size)
        return CollocationBatch(points, jax.vmap(self.pde.source)(points))

    def init_state(self, key: Key) -> PyTree:
        """The adaptive sampler's first population of `batch_size` points, or `None` for
        an ordinary sampler."""
        if isinstance(self.sampler, AbstractAdaptiveSampler):
            return self.sampler.init(key, self.batch_size)
        return None

    def next_batch(
        self, model: Callable[[Point], Scalar], state: PyTree, key: Key
    ) -> tuple[CollocationBatch, PyTree]:
        """With an adaptive sampler: the residuals of `model` at the sampler's candidate
        points (through this loss's estimator), the sampler's update of the population, and
        the updated population as the batch. With an ordinary sampler: `sample(key)`."""
        if not isinstance(self.sampler, AbstractAdaptiveSampler):
            return self.sample(key), state
        candidate_key, residual_key, update_key = jax.random.split(key, 3)
        candidates = self.sampler.candidates(state, candidate_key)
        at_candidates = CollocationBatch(candidates, jax.vmap(self.pde.source)(candidates))
        residuals = jax.lax.stop_gradient(self.residuals(model, at_candidates, residual_key))
        state = self.sampler.update(state, candidates, residuals, update_key)
        points = self.sampler.points(state)
        return CollocationBatch(points, jax.vmap(self.pde.source)(points)), state

    def residuals(
        self, model: Callable[[Point], Scalar], batch: CollocationBatch, key: Key
    ) -> Values:
        """The (estimated) residual at every point of the batch."""

        def one(x: Point, source: Scalar, k: Key) -> Scalar:
            u, derivatives = self.estimator(model, x, self.pde.operators, k)
            residual = jnp.asarray(self.pde.residual(x, u, derivatives, source))
            if residual.shape != ():  # known when traced, before any step
                raise ValueError(
                    f"{type(self.pde).__name__}.residual must return a scalar at one point, "
                    f"got shape {residual.shape}: reduce it (e.g. a sum over components) or "
                    "split the PDE into several ResidualLoss terms"
                )
            return residual

        n = batch.points.shape[0]
        if self.sharing == "point" and isinstance(self.estimator, AbstractStochasticEstimator):
            return jax.vmap(one)(batch.points, batch.source, jax.random.split(key, n))
        return jax.vmap(one, in_axes=(0, 0, None))(batch.points, batch.source, key)

    def __call__(
        self, model: Callable[[Point], Scalar], batch: CollocationBatch, key: Key
    ) -> Scalar:
        if self.unbiased and isinstance(self.estimator, AbstractStochasticEstimator):
            k1, k2 = jax.random.split(key)
            return jnp.mean(self.residuals(model, batch, k1) * self.residuals(model, batch, k2))
        return jnp.mean(self.residuals(model, batch, key) ** 2)


class TargetBatch(eqx.Module):
    """Points with target values."""

    points: Points
    targets: Values


class BoundaryLoss(AbstractLoss):
    """The mean squared mismatch with Dirichlet data on sampled boundary points.

    **Arguments:**

    - `sampler`: draws boundary points, e.g. `UniformSampler(Ball(d), where="boundary")`.
    - `target`: the boundary data $g(x)$ at one point; `None` for zero data.
    - `batch_size`: points per step (default 100).
    """

    sampler: AbstractSampler
    target: Callable[[Point], Scalar] | None = None
    batch_size: int = eqx.field(default=100, static=True)

    def sample(self, key: Key) -> TargetBatch:
        points = self.sampler(key, self.batch_size)
        if self.target is None:
            targets = jnp.zeros(points.shape[:1], points.dtype)
        else:
            targets = jax.vmap(self.target)(points)
        return TargetBatch(points, targets)

    def __call__(self, model: Callable[[Point], Scalar], batch: TargetBatch, key: Key) -> Scalar:
        return jnp.mean((jax.vmap(model)(batch.points) - batch.targets) ** 2)


class DataLoss(AbstractLoss):
    """The mean squared mismatch with observed values $u(x_n) \\approx y_n$.

    **Arguments:**

    - `points`: observation locations, shape `(n, dim)`.
    - `values`: observed values, shape `(n,)`.
    - `batch_size`: observations per step, or `None` (default) to use all of them.
    """

    points: Float[Array, "n dim"]
    values: Float[Array, " n"]
    batch_size: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.points.ndim != 2 or self.values.shape != self.points.shape[:1]:
            raise ValueError(
                f"DataLoss needs points (n, dim) and values (n,), got {self.points.shape} "
                f"and {self.values.shape}"
            )

    def sample(self, key: Key) -> TargetBatch:
        if self.batch_size is None:
            return TargetBatch(self.points, self.values)
        index = jax.random.choice(key, self.points.shape[0], (self.batch_size,), replace=False)
        return TargetBatch(self.points[index], self.values[index])

    def __call__(self, model: Callable[[Point], Scalar], batch: TargetBatch, key: Key) -> Scalar:
        return jnp.mean((jax.vmap(model)(batch.points) - batch.targets) ** 2)


class WeightedSum(AbstractLoss):
    r"""A weighted sum $\sum_k w_k \mathcal{L}_k$ of named loss terms.

    **Arguments:**

    - `terms`: a dict from names to losses, e.g. `{"residual": ..., "boundary": ...}`.
    - `weights`: a dict from names to fixed weights; missing names get weight 1.
    """

    terms: dict[str, AbstractLoss]
    weights: dict[str, float] = eqx.field(static=True)

    def __init__(self, terms: dict[str, AbstractLoss], weights: dict[str, float] | None = None):
        if not terms:
            raise ValueError("WeightedSum needs at least one term")
        weights = dict(weights or {})
        unknown = set(weights) - set(terms)
        if unknown:
            raise ValueError(
                f"weights name unknown terms {sorted(unknown)}; terms: {sorted(terms)}"
            )
        self.terms = dict(terms)
        self.weights = {name: float(weights.get(name, 1.0)) for name in terms}

    def sample(self, key: Key) -> dict[str, Any]:
        keys = jax.random.split(key, len(self.terms))
        return {
            name: term.sample(k) for (name, term), k in zip(self.terms.items(), keys, strict=True)
        }

    def init_state(self, key: Key) -> dict[str, PyTree]:
        keys = jax.random.split(key, len(self.terms))
        return {
            name: term.init_state(k)
            for (name, term), k in zip(self.terms.items(), keys, strict=True)
        }

    def next_batch(
        self, model: Callable[[Point], Scalar], state: dict[str, PyTree], key: Key
    ) -> tuple[dict[str, Any], dict[str, PyTree]]:
        keys = jax.random.split(key, len(self.terms))
        batch, new_state = {}, {}
        for (name, term), k in zip(self.terms.items(), keys, strict=True):
            batch[name], new_state[name] = term.next_batch(model, state[name], k)
        return batch, new_state

    def values(
        self, model: Callable[[Point], Scalar], batch: dict[str, Any], key: Key
    ) -> dict[str, Scalar]:
        """Each term's unweighted value."""
        keys = jax.random.split(key, len(self.terms))
        return {
            name: term(model, batch[name], k)
            for (name, term), k in zip(self.terms.items(), keys, strict=True)
        }

    def __call__(self, model: Callable[[Point], Scalar], batch: dict[str, Any], key: Key) -> Scalar:
        values = self.values(model, batch, key)
        return sum((self.weights[name] * v for name, v in values.items()), start=jnp.zeros(()))
