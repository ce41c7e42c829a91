"""Adaptive loss weights: the gradient-norm rules, their schedule, and the fixed-weight sum."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import rejected

import pinnkit as pk


class _Probe(pk.AbstractLoss):
    """`scale * u(point)`: for a linear network u(x) = W x + b its gradient with respect to
    (W, b) is `scale * (point, 1)`, so every gradient norm is known in closed form."""

    point: jax.Array
    scale: float

    def sample(self, key):
        return self.point

    def __call__(self, model, batch, key):
        return self.scale * model(batch)


A, B = jnp.array([3.0, 0.0]), jnp.array([0.5, -0.5])
SCALE_A, SCALE_B = 2.0, -0.1


def toy(**kwargs):
    terms = {"a": _Probe(A, SCALE_A), "b": _Probe(B, SCALE_B)}
    return pk.AdaptiveWeightedSum(terms, **kwargs)


def gradients():
    """Each term's gradient with respect to (W, b), flattened: by hand."""
    return {
        "a": SCALE_A * np.concatenate([np.asarray(A), [1.0]]),
        "b": SCALE_B * np.concatenate([np.asarray(B), [1.0]]),
    }


def expected_targets(rule):
    g = gradients()
    if rule == "gradient-norm":
        norms = {k: np.linalg.norm(v) for k, v in g.items()}
        return {k: sum(norms.values()) / n for k, n in norms.items()}
    return {"a": 1.0, "b": np.max(np.abs(g["a"])) / np.mean(np.abs(g["b"]))}


def linear_network(key):
    return pk.MLP(2, 1, 0, key=key)  # depth 0: a single Linear(2 -> 1)


@pytest.mark.parametrize("rule", ["gradient-norm", "annealing"])
def test_targets_follow_the_gradient_norm_rule(rule, getkey, x64):
    loss = toy(rule=rule)
    network = linear_network(getkey())
    targets = loss.target_weights(network, loss.sample(getkey()).terms, getkey())
    expected = expected_targets(rule)
    for name in ("a", "b"):
        np.testing.assert_allclose(targets[name], expected[name], rtol=1e-10)
    if rule == "gradient-norm":  # the weighted gradients have equal norms
        g = gradients()
        norms = [targets[k] * np.linalg.norm(g[k]) for k in ("a", "b")]
        np.testing.assert_allclose(norms[0], norms[1], rtol=1e-10)


def test_update_every_k_steps_with_moving_average(x64):
    steps = 7
    # Learning rate 0: the network, hence the targets, stay fixed, so after n updates the
    # weight is m^n w0 + (1 - m^n) target. Updates happen at steps 0, 3, 6.
    loss = toy(weights={"b": 2.0}, every=3, momentum=0.5)
    network = linear_network(jax.random.key(0))
    solver = pk.PINNSolver(loss, optimizer=optax.sgd(0.0), log_every=4)
    solution = solver.solve(network, steps, jax.random.key(1), progress=False)
    state = solution.loss_state
    assert int(state["step"]) == steps
    updates = len(range(0, steps, 3))
    assert updates == 3
    target = expected_targets("gradient-norm")
    decay = 0.5**updates
    for name, w0 in (("a", 1.0), ("b", 2.0)):
        np.testing.assert_allclose(
            state["weights"][name], decay * w0 + (1 - decay) * target[name], rtol=1e-10
        )


def test_weights_change_only_on_update_steps(getkey, x64):
    loss = toy(every=2, momentum=0.5)
    network = linear_network(getkey())
    state = loss.init_state(getkey())
    seen = []
    for _ in range(5):
        batch, state = loss.next_batch(network, state, getkey())
        seen.append(float(batch.weights["b"]))
        # The batch carries this step's weights, and the loss uses them.
        by_hand = sum(
            w * loss.terms[k](network, batch.terms[k], None) for k, w in batch.weights.items()
        )
        np.testing.assert_allclose(loss(network, batch, getkey()), by_hand, rtol=1e-12)
    target = expected_targets("gradient-norm")["b"]
    # Updates at steps 0, 2, 4 only: after n updates the weight is 0.5^n + (1 - 0.5^n) target.
    expected = [0.5**n + (1 - 0.5**n) * target for n in (1, 1, 2, 2, 3)]
    np.testing.assert_allclose(seen, expected, rtol=1e-10)
    assert seen[1] == seen[0] and seen[3] == seen[2] and seen[2] != seen[1]


def test_weights_are_not_differentiated(getkey, x64):
    loss = toy(every=1, momentum=0.0)
    network = linear_network(getkey())
    batch, _ = loss.next_batch(network, loss.init_state(getkey()), getkey())
    grad = eqx.filter_grad(lambda net: loss(net, batch, getkey()))(network)
    g = gradients()
    expected = batch.weights["a"] * g["a"] + batch.weights["b"] * g["b"]
    got = np.concatenate([np.ravel(grad.layers[0].weight), np.ravel(grad.layers[0].bias)])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_fixed_weight_sum_unchanged():
    """A stateless WeightedSum still sums its fixed weights and carries no weights; frozen
    adaptive weights (momentum 1) reproduce its training step for step."""
    data = pk.DataLoss(jnp.array([[0.1, 0.2], [0.3, -0.4]]), jnp.array([1.0, -1.0]))
    terms = {"data": data, "a": _Probe(A, 0.01)}
    weights = {"data": 3.0, "a": 0.5}
    network = pk.MLP(2, 8, 1, key=jax.random.key(0))
    fixed = pk.WeightedSum(terms, weights)
    batch = fixed.sample(jax.random.key(2))
    by_hand = 3.0 * data(network, batch["data"], jax.random.key(4)) + 0.005 * network(A)
    np.testing.assert_allclose(fixed(network, batch, jax.random.key(3)), by_hand, rtol=1e-6)
    runs = [
        pk.PINNSolver(loss, optimizer=optax.adam(1e-2), log_every=5).solve(
            network, 10, jax.random.key(1), progress=False
        )
        for loss in (fixed, pk.AdaptiveWeightedSum(terms, weights, every=1, momentum=1.0))
    ]
    assert runs[0].loss_state == {"data": None, "a": None}
    assert float(runs[1].loss_state["weights"]["data"]) == 3.0
    np.testing.assert_allclose(runs[0].history["loss"], runs[1].history["loss"], rtol=1e-6)
    assert runs[0].history["loss"][-1] < runs[0].history["loss"][0]


def test_validation():
    terms = {"a": _Probe(A, 1.0)}
    with pytest.raises(ValueError, match="every"):
        pk.AdaptiveWeightedSum(terms, every=0)
    with pytest.raises(ValueError, match="momentum"):
        pk.AdaptiveWeightedSum(terms, momentum=1.5)
    rejected(lambda: pk.AdaptiveWeightedSum(terms, rule="max"), "rule must be one of")
    with pytest.raises(ValueError, match="reference 'c' is not a term"):
        pk.AdaptiveWeightedSum(terms, reference="c")
    with pytest.raises(ValueError, match="unknown terms"):
        pk.AdaptiveWeightedSum(terms, weights={"z": 1.0})
