r"""Adaptive loss weights: balance the terms of a sum by the norms of their gradients."""

from collections.abc import Callable, Mapping
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PyTree

from .._types import Key, Point, Scalar
from .losses import AbstractLoss, WeightedSum


Rule = Literal["gradient-norm", "annealing"]
_RULES = ("gradient-norm", "annealing")


class WeightedBatch(eqx.Module):
    """The batch of an [`pinnkit.AdaptiveWeightedSum`][]: its terms' batches and the weights
    to use for this step.

    **Attributes:**

    - `terms`: a dict from term names to each term's batch.
    - `weights`: a dict from term names to scalar weights (held fixed in the step).
    """

    terms: dict[str, Any]
    weights: dict[str, Scalar]


class AdaptiveWeightedSum(AbstractLoss):
    r"""A weighted sum $\sum_k w_k \mathcal{L}_k$ whose weights balance the terms' gradients.

    Every `every` steps (the first step included) the weights move towards target values
    $\hat w_k$ computed from the gradients $g_k = \nabla_\theta \mathcal{L}_k$ of each
    unweighted term with respect to the current network parameters, by a moving average
    $w_k \leftarrow m\, w_k + (1 - m)\, \hat w_k$ with momentum $m$. In between, the weights
    stay fixed. Two rules for $\hat w_k$:

    - `"gradient-norm"` (default; the "global weights" of Wang, Wang and Perdikaris):
      $\hat w_k = \sum_j \|g_j\|_2 / \|g_k\|_2$, so that every weighted term's gradient has
      the same norm.
    - `"annealing"` (learning-rate annealing of Wang, Teng and Perdikaris):
      $\hat w_k = \max_\theta |g_r| / \operatorname{mean}_\theta |g_k|$ for every term but
      the `reference` term $r$ (usually the PDE residual), whose weight stays at its
      initial value.

    The weights live in the loss state ([`pinnkit.AbstractLoss.init_state`][]), so the
    solver carries them through training and returns them as
    `Solution.loss_state["weights"]`. They are computed in
    [`next_batch`][pinnkit.AbstractLoss.next_batch] (outside the differentiated loss, on
    that step's batch) and handed to `__call__` inside the batch, a [`pinnkit.WeightedBatch`][].
    Terms may carry state of their own; it is kept under `Solution.loss_state["terms"]`.

    **Arguments:**

    - `terms`: a dict from names to losses, e.g. `{"residual": ..., "boundary": ...}`.
    - `weights`: initial weights by name; missing names start at 1.
    - `every`: update the weights every this many steps (default 100).
    - `momentum`: $m \in [0, 1]$, the weight of the old value in the moving average
      (default 0.9); 1 freezes the initial weights.
    - `rule`: `"gradient-norm"` (default) or `"annealing"`.
    - `reference`: the reference term of the `"annealing"` rule (default: the first term).
    - `eps`: added to the denominators, so a vanishing gradient gives a large, finite
      weight (default 1e-12).

    Only the model's floating-point arrays count as parameters (as in
    [`pinnkit.PINNSolver`][]).

    **References:**

    - Wang, Teng, Perdikaris, "Understanding and mitigating gradient flow pathologies in
      physics-informed neural networks", SIAM J. Sci. Comput. (2021).
    - Wang, Wang, Perdikaris, "An expert's guide to training physics-informed neural
      networks", arXiv:2308.08468 (2023).
    """

    base: WeightedSum
    every: int = eqx.field(static=True)
    momentum: float = eqx.field(static=True)
    rule: Rule = eqx.field(static=True)
    reference: str = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(
        self,
        terms: Mapping[str, AbstractLoss],
        weights: Mapping[str, float] | None = None,
        every: int = 100,
        momentum: float = 0.9,
        rule: Rule = "gradient-norm",
        reference: str | None = None,
        eps: float = 1e-12,
    ):
        self.base = WeightedSum(dict(terms), None if weights is None else dict(weights))
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if rule not in _RULES:
            raise ValueError(f"rule must be one of {_RULES}, got {rule!r}")
        reference = next(iter(terms)) if reference is None else reference
        if reference not in terms:
            raise ValueError(f"reference {reference!r} is not a term; terms: {sorted(terms)}")
        self.every = every
        self.momentum = float(momentum)
        self.rule = rule
        self.reference = reference
        self.eps = float(eps)

    @property
    def terms(self) -> dict[str, AbstractLoss]:
        """The named terms."""
        return self.base.terms

    def initial_weights(self) -> dict[str, Scalar]:
        """The weights before the first update, as scalar arrays."""
        return {name: jnp.asarray(w, jnp.zeros(()).dtype) for name, w in self.base.weights.items()}

    def sample(self, key: Key) -> WeightedBatch:
        return WeightedBatch(self.base.sample(key), self.initial_weights())

    def init_state(self, key: Key) -> dict[str, PyTree]:
        return {
            "terms": self.base.init_state(key),
            "weights": self.initial_weights(),
            "step": jnp.zeros((), jnp.int32),
        }

    def target_weights(
        self, model: Callable[[Point], Scalar], batch: dict[str, Any], key: Key
    ) -> dict[str, Scalar]:
        r"""The target weights $\hat w_k$ from each term's gradient at `model` on `batch` (the
        terms' batches, by name)."""
        params, static = eqx.partition(model, eqx.is_inexact_array)
        keys = jax.random.split(key, len(self.terms))
        grads = {}
        for (name, term), k in zip(self.terms.items(), keys, strict=True):

            def value(p: PyTree, term: AbstractLoss = term, name: str = name, k: Key = k):
                return term(eqx.combine(p, static), batch[name], k)

            grads[name] = jax.tree_util.tree_leaves(jax.grad(value)(params))
        if self.rule == "gradient-norm":
            norms = {name: _norm(g) for name, g in grads.items()}
            total = sum(norms.values(), start=jnp.zeros(()))
            return {name: total / (n + self.eps) for name, n in norms.items()}
        largest = _max_abs(grads[self.reference])
        return {
            name: (
                jnp.asarray(self.base.weights[name], largest.dtype)
                if name == self.reference
                else largest / (_mean_abs(g) + self.eps)
            )
            for name, g in grads.items()
        }

    def next_batch(
        self, model: Callable[[Point], Scalar], state: dict[str, PyTree], key: Key
    ) -> tuple[WeightedBatch, dict[str, PyTree]]:
        terms_batch, terms_state = self.base.next_batch(model, state["terms"], key)
        step: Int[Array, ""] = state["step"]
        old = state["weights"]

        def update(_) -> dict[str, Scalar]:
            target = self.target_weights(model, terms_batch, jax.random.fold_in(key, 1))
            m = self.momentum
            return {
                name: (m * old[name] + (1.0 - m) * target[name]).astype(old[name].dtype)
                for name in old
            }

        weights = jax.lax.cond(step % self.every == 0, update, lambda _: old, None)
        new_state = {"terms": terms_state, "weights": weights, "step": step + 1}
        return WeightedBatch(terms_batch, weights), new_state

    def __call__(self, model: Callable[[Point], Scalar], batch: WeightedBatch, key: Key) -> Scalar:
        values = self.base.values(model, batch.terms, key)
        weights = jax.lax.stop_gradient(batch.weights)
        return sum((weights[name] * v for name, v in values.items()), start=jnp.zeros(()))


def _norm(leaves: list[Array]) -> Array:
    return jnp.sqrt(sum((jnp.sum(g**2) for g in leaves), start=jnp.zeros(())))


def _max_abs(leaves: list[Array]) -> Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in leaves] or [jnp.zeros(())]))


def _mean_abs(leaves: list[Array]) -> Array:
    count = sum(g.size for g in leaves)
    return sum((jnp.sum(jnp.abs(g)) for g in leaves), start=jnp.zeros(())) / max(count, 1)
