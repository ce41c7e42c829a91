"""Fit a network's output bias to the loss before training: [`pinnkit.fit_output_offset`][]."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

from .._loss.losses import AbstractLoss
from .._types import Key


def _is_linear(node: Any) -> bool:
    return isinstance(node, eqx.nn.Linear)


def _get(tree: Any, path: tuple) -> Any:
    for entry in path:
        if isinstance(entry, jax.tree_util.GetAttrKey):
            tree = getattr(tree, entry.name)
        elif isinstance(entry, jax.tree_util.SequenceKey):
            tree = tree[entry.idx]
        elif isinstance(entry, jax.tree_util.DictKey):
            tree = tree[entry.key]
        else:
            raise TypeError(f"cannot follow the path entry {entry!r}")
    return tree


def output_bias(network: PyTree) -> Callable[[PyTree], Array]:
    """The selector of `network`'s output bias, for `eqx.tree_at`: the bias of the last
    `eqx.nn.Linear` layer with one output (in the network's pytree order, where the output
    layer of every pinnkit network comes last). Raises `ValueError` when there is none."""
    paths = jax.tree_util.tree_flatten_with_path(network, is_leaf=_is_linear)[0]
    found = [
        path
        for path, node in paths
        if _is_linear(node) and node.out_features in (1, "scalar") and node.bias is not None
    ]
    if not found:
        raise ValueError(
            "found no eqx.nn.Linear layer with one output and a bias in the network; give "
            "fit_output_offset a `where`, a function returning the array to shift"
        )
    path = found[-1]
    return lambda tree: _get(tree, path).bias


def fit_output_offset(
    network: PyTree,
    loss: AbstractLoss,
    key: Key,
    *,
    where: Callable[[PyTree], Array] | None = None,
    batches: int = 10,
    max_steps: int = 20,
    rtol: float = 1e-6,
) -> PyTree:
    r"""Shift the network's output bias by the constant $b$ that minimises the loss with
    every other parameter held fixed: a one-dimensional Newton solve, run once before
    training.

    With the hard boundary constraint $u_\theta = \varphi \cdot (N_\theta + b)$ the solution
    of a problem in high dimension can be mostly a constant multiple of $\varphi$: for the
    two-body problems of `pinnkit.problems` the best constant carries all but about
    $d^{-1/2}$ of $u^*$, and is of size $\sqrt d$. An MLP initialised near zero must first
    grow its output to that size; trained from there, the two-body networks sat at the
    constant's error for thousands of steps, and at d = 10,000 some never left it (see the
    benchmarks page). Fitting $b$ first, from the loss alone (no solution data), starts
    training at the constant instead.

    The loss is averaged over `batches` batches drawn from `key` (`loss.sample`), with the
    stochastic estimators' draws fixed, so that $L(b)$ is a smooth function of $b$. For a
    linear PDE it is a quadratic and one Newton step finds its minimum; otherwise Newton's
    steps are halved until the loss falls, and the solve stops when Newton's step is below
    `rtol` times $\max(1, |b|)$ (that step is not taken), after `max_steps` steps, where
    $L''(b) \le 0$, or where no step halved down to that size lowers the loss. Value, slope
    and curvature come from one forward-over-forward pass per batch, each batch drawn inside
    that pass, so the memory is that of one batch.

    **Arguments:**

    - `network`: the network, e.g. `problem.network(key)`.
    - `loss`: the training loss, e.g. `problem.loss(estimator)`.
    - `key`: draws the batches and the estimator's directions.
    - `where`: a function returning the array to shift (default: the bias of the network's
      last one-output `eqx.nn.Linear`, see [`pinnkit.output_bias`][]).
    - `batches`: batches the loss is averaged over (default 10). Each is drawn again at
      every Newton trial (from the same keys), rather than held in memory.
    - `max_steps`: Newton steps at most (default 20).
    - `rtol`: relative step size at which to stop (default 1e-6).

    **Returns:**

    The network with `b` added to the selected array; every other parameter is unchanged.

    ```python
    network = pk.fit_output_offset(network, loss, jax.random.key(1))
    solution = solver.solve(network, 10_000, key)
    ```
    """
    if batches < 1 or max_steps < 1:
        raise ValueError(f"batches and max_steps must be >= 1, got {batches}, {max_steps}")
    if where is None:
        where = output_bias(network)
    sample_key, draw_key = jax.random.split(key)
    keys = (jax.random.split(sample_key, batches), jax.random.split(draw_key, batches))
    b = _newton(
        lambda b: _loss_derivatives(network, loss, keys, b, where),
        where(network),
        max_steps,
        rtol,
    )
    return _shift(network, where, b)


def _shift(network: PyTree, where: Callable[[PyTree], Array], b: Array) -> PyTree:
    return eqx.tree_at(where, network, where(network) + b)


@eqx.filter_jit
def _loss_derivatives(network, loss, keys, b, where):
    """The loss averaged over the batches of `keys`, its slope and curvature in `b`."""

    def one_batch(item):
        sample_key, draw_key = item
        batch = loss.sample(sample_key)

        def value_and_slope(b):
            return jax.jvp(lambda b: loss(_shift(network, where, b), batch, draw_key), (b,), (one,))

        # Forward over forward: nothing is kept for a backward pass, so memory stays
        # at one batch, drawn here rather than held for every batch at once.
        (value, slope), (_, curvature) = jax.jvp(value_and_slope, (b,), (one,))
        return value, slope, curvature

    one = jnp.ones_like(b)
    return jax.tree.map(jnp.mean, jax.lax.map(one_batch, keys))


def _newton(derivatives: Callable[[Array], tuple], like: Array, max_steps: int, rtol: float):
    """Newton's method on a scalar, halving a step until the loss falls (see above)."""
    b = jnp.zeros((), jnp.result_type(like))
    value, slope, curvature = derivatives(b)
    for _ in range(max_steps):
        if not (jnp.isfinite(value) and jnp.isfinite(slope) and curvature > 0):
            break
        step = -slope / curvature
        tolerance = rtol * jnp.maximum(1.0, jnp.abs(b))
        if jnp.abs(step) <= tolerance:  # converged: what is left is below the tolerance
            break
        while jnp.abs(step) > tolerance:  # halve Newton's step until the loss falls
            trial = derivatives(b + step)
            if trial[0] < value:
                break
            step = step / 2
        else:
            break
        b = b + step
        value, slope, curvature = trial
    return b
