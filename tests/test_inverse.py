"""Inverse problems: coefficients carried by the model, written into the loss, trained jointly."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnkit as pk


def bump(x):
    return (1.0 - jnp.sum(x**2)) * jnp.cos(x[0] - x[1])


TRUE_K = 0.7


class Diffusion(pk.AbstractPDE):
    """-k Laplacian(u) = f with f made with TRUE_K from `bump`."""

    diffusivity: jax.Array
    operators: tuple = (pk.Laplacian(),)

    def source(self, x):
        return -TRUE_K * jnp.trace(jax.hessian(bump)(x))

    def residual(self, x, u, derivatives, source):
        return -self.diffusivity * derivatives[0] - source


class Amplitude(pk.AbstractNetwork):
    """u(x) = a * bump(x): one trainable number, so the fit test is quick."""

    a: jax.Array
    in_size: int = eqx.field(default=2, static=True)

    def __call__(self, x):
        return self.a * bump(x)


def where(loss):
    return loss.terms["residual"].pde.diffusivity


def make_loss(batch_size=16):
    ball = pk.Ball(2)
    points = ball.sample_interior(jax.random.key(5), 20)
    terms = {
        "residual": pk.ResidualLoss(
            Diffusion(jnp.array(1.0)), pk.UniformSampler(ball), batch_size=batch_size
        ),
        "data": pk.DataLoss(points, jax.vmap(bump)(points)),
    }
    return pk.InverseLoss(pk.WeightedSum(terms), where=where)


def test_with_parameters_is_the_network_plus_trainable_leaves(getkey):
    network = pk.MLP(2, 8, 1, key=getkey())
    model = pk.WithParameters(network, {"k": jnp.array(2.0), "c": jnp.zeros(3)})
    x = jnp.array([0.1, -0.3])
    assert model.in_size == 2 and float(model(x)) == float(network(x))
    params = eqx.filter(model, eqx.is_inexact_array)
    assert (
        len(jax.tree_util.tree_leaves(params))
        == len(jax.tree_util.tree_leaves(eqx.filter(network, eqx.is_inexact_array))) + 2
    )
    with pytest.raises(TypeError, match="AbstractNetwork"):
        pk.WithParameters(bump, jnp.array(1.0))  # pyright: ignore[reportArgumentType]


def test_parameters_replace_the_coefficient_and_get_gradients(getkey, x64):
    loss = make_loss()
    network = Amplitude(jnp.array(1.2))
    model = pk.WithParameters(network, jnp.array(0.4))
    batch = loss.sample(getkey())
    key = getkey()
    bound, bare = loss.bind(model)
    assert bare is network and float(where(bound)) == 0.4
    assert float(where(loss.loss)) == 1.0  # the wrapped loss itself is unchanged
    by_hand = eqx.tree_at(where, loss.loss, jnp.array(0.4))

    @eqx.filter_jit
    def run(model, batch, key):
        value, grads = eqx.filter_value_and_grad(lambda m: loss(m, batch, key))(model)
        points, source = batch["residual"].points, batch["residual"].source
        lap = jax.vmap(lambda x: jnp.trace(jax.hessian(network)(x)))(points)
        # d/dk mean((-k lap u - f)^2) = mean(2 R (-lap u)), with lap u from jax.hessian.
        expected = jnp.mean(2 * (-0.4 * lap - source) * (-lap))
        return value, by_hand(network, batch, key), grads.parameters, expected

    value, plain, grad, expected = run(model, batch, key)
    # Same value as the plain loss with the coefficient set by hand.
    np.testing.assert_allclose(value, plain, rtol=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-10)
    assert abs(float(expected)) > 1e-3


def test_solver_recovers_the_coefficient():
    loss = make_loss()
    model = pk.WithParameters(Amplitude(jnp.array(0.5)), jnp.array(2.0))
    solver = pk.PINNSolver(loss, optimizer=optax.adam(0.05), log_every=100)
    solution = solver.solve(model, 400, jax.random.key(0), progress=False)
    assert isinstance(solution.network, pk.WithParameters)
    assert abs(float(solution.network.parameters) - TRUE_K) < 1e-2 * TRUE_K
    assert abs(float(solution.network.network.a) - 1.0) < 1e-2


def test_state_and_errors(getkey):
    terms = make_loss().loss.terms
    adaptive = pk.InverseLoss(pk.AdaptiveWeightedSum(terms, every=5), where=where)
    state = adaptive.init_state(getkey())
    assert int(state["step"]) == 0 and set(state["weights"]) == {"residual", "data"}
    model = pk.WithParameters(Amplitude(jnp.array(1.0)), jnp.array(0.5))
    batch, state = eqx.filter_jit(adaptive.next_batch)(model, state, getkey())
    assert int(state["step"]) == 1 and isinstance(batch, pk.WeightedBatch)
    with pytest.raises(TypeError, match="WithParameters"):
        adaptive(Amplitude(jnp.array(1.0)), batch, getkey())
    with pytest.raises(ValueError, match="where"):
        pk.InverseLoss(pk.WeightedSum(terms), where=lambda loss: loss.terms["missing"])


def test_adaptive_weights_balance_the_gradient_norms(getkey):
    """The first step moves each weight a tenth of the way (momentum 0.9) from 1 to its
    "gradient-norm" target, sum_j |g_j| / |g_k|, with the gradients of the two terms in the
    network's one parameter `a` worked out by hand; the next steps (every=5) keep them."""
    terms = make_loss().loss.terms
    adaptive = pk.InverseLoss(pk.AdaptiveWeightedSum(terms, every=5), where=where)
    a, k = 1.5, 0.5
    model = pk.WithParameters(Amplitude(jnp.array(a)), jnp.array(k))
    state = adaptive.init_state(getkey())
    next_batch = eqx.filter_jit(adaptive.next_batch)
    batch, state = next_batch(model, state, getkey())
    points, source = batch.terms["residual"].points, batch.terms["residual"].source
    lap = jax.vmap(lambda x: jnp.trace(jax.hessian(bump)(x)))(points)
    # d/da mean((-k a lap - f)^2) and d/da mean((a - 1)^2 bump^2) on the data points.
    residual = jnp.mean(2 * (-k * a * lap - source) * (-k * lap))
    data_points = pk.Ball(2).sample_interior(jax.random.key(5), 20)
    data = jnp.mean(2 * (a - 1.0) * jax.vmap(bump)(data_points) ** 2)
    total = abs(residual) + abs(data)
    expected = {
        "residual": 0.9 + 0.1 * total / abs(residual),
        "data": 0.9 + 0.1 * total / abs(data),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(batch.weights[name], value, rtol=1e-4)
        np.testing.assert_allclose(state["weights"][name], value, rtol=1e-4)
    assert abs(float(expected["data"]) - float(expected["residual"])) > 0.05  # a real rebalance
    for _ in range(4):
        later, state = next_batch(model, state, getkey())
        for name in expected:
            assert float(later.weights[name]) == float(batch.weights[name])
