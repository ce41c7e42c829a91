"""Networks: scalar output, initialization options, clear errors, exact boundary values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import NETWORK_FACTORIES, no_typecheck, random_points, rejected
from internals import ACTIVATIONS

import pinnkit as pk


@pytest.mark.parametrize("dim", [3, 8])
@pytest.mark.parametrize("name", list(NETWORK_FACTORIES))
def test_scalar_output_and_vmap(name, dim, getkey):
    network = NETWORK_FACTORIES[name](dim, getkey())
    assert isinstance(network, pk.AbstractNetwork)
    assert network.in_size == dim
    x = random_points(getkey(), 5, dim)
    out = network(x[0])
    assert out.shape == () and bool(jnp.isfinite(out))
    batch = jax.vmap(network)(x)
    assert batch.shape == (5,)
    np.testing.assert_allclose(batch[0], out, rtol=1e-6)
    assert float(jnp.std(batch)) > 0, "a random network should not be constant"


@pytest.mark.parametrize("name", list(NETWORK_FACTORIES))
def test_wrong_input_shape(name, getkey):
    network = NETWORK_FACTORIES[name](4, getkey())
    with pytest.raises(ValueError, match=r"takes one point of shape \(4,\), got shape \(5,\)"):
        network(jnp.ones(5))
    rejected(lambda: network(jnp.ones((2, 4))), r"use jax.vmap for a batch")


def test_mlp_layer_sizes(getkey):
    mlp = pk.MLP(5, width=7, depth=3, key=getkey())
    shapes = [layer.weight.shape for layer in mlp.layers]
    assert shapes == [(7, 5), (7, 7), (7, 7), (1, 7)]
    linear = pk.MLP(5, width=7, depth=0, key=getkey())
    assert [layer.weight.shape for layer in linear.layers] == [(1, 5)]
    x = jnp.arange(5.0)
    expected = linear.layers[0].weight @ x + linear.layers[0].bias
    np.testing.assert_allclose(linear(x), expected[0], rtol=1e-6)


@pytest.mark.parametrize("init", ["glorot_normal", "glorot_uniform", "lecun_normal"])
def test_initializations_zero_biases_and_scale(init, getkey):
    mlp = pk.MLP(50, width=200, depth=1, initialization=init, key=getkey())
    weight = mlp.layers[0].weight
    for layer in mlp.layers:
        assert not np.any(np.asarray(layer.bias))
    fan_in, fan_out = 50, 200
    expected_std = {
        "glorot_normal": np.sqrt(2 / (fan_in + fan_out)),
        "glorot_uniform": np.sqrt(6 / (fan_in + fan_out)) / np.sqrt(3),
        "lecun_normal": 1 / np.sqrt(fan_in),
    }[init]
    np.testing.assert_allclose(np.std(weight), expected_std, rtol=0.05)
    if init == "glorot_uniform":
        assert np.max(np.abs(weight)) <= np.sqrt(6 / (fan_in + fan_out))


def test_uniform_initialization_draws_biases(getkey):
    mlp = pk.MLP(50, width=200, depth=1, key=getkey())
    bias, weight = mlp.layers[0].bias, mlp.layers[0].weight
    assert np.any(np.asarray(bias))
    assert np.max(np.abs(weight)) <= 1 / np.sqrt(50)


# Each activation name's formula, written independently of the library's table.
ACTIVATION_FORMULAS = {
    "tanh": lambda h: (np.exp(2 * h) - 1) / (np.exp(2 * h) + 1),
    "sin": np.sin,
    # jax.nn.gelu's default, the tanh approximation of x Phi(x).
    "gelu": lambda h: 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3))),
    "silu": lambda h: h / (1 + np.exp(-h)),
    "softplus": lambda h: np.log1p(np.exp(h)),
}


def test_every_activation_has_a_formula():
    assert set(ACTIVATION_FORMULAS) == set(ACTIVATIONS)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_activation_by_name(activation, getkey):
    key = getkey()
    named = pk.MLP(3, 8, 1, activation=activation, key=key)
    explicit = pk.MLP(3, 8, 1, activation=ACTIVATIONS[activation], key=key)
    x = jnp.array([0.1, -0.4, 0.7])
    np.testing.assert_allclose(named(x), explicit(x), rtol=1e-6)
    # Over [-2, 2], where the five functions differ clearly.
    grid = np.linspace(-2.0, 2.0, 9)
    formula = ACTIVATION_FORMULAS[activation](grid)
    np.testing.assert_allclose(named.activation(jnp.asarray(grid)), formula, rtol=1e-5, atol=1e-7)
    hidden = ACTIVATION_FORMULAS[activation](np.asarray(named.layers[0](x), np.float64))
    by_hand = named.layers[1](jnp.asarray(hidden, jnp.float32))[0]
    np.testing.assert_allclose(named(x), by_hand, rtol=1e-5, atol=1e-6)


def test_callable_activation(getkey):
    key = getkey()
    mlp = pk.MLP(3, 8, 1, activation=lambda h: h, key=key)
    x, y = jnp.array([0.1, -0.4, 0.7]), jnp.array([1.0, 2.0, -0.3])
    zero = mlp(jnp.zeros(3))
    # With the identity activation the network is affine.
    np.testing.assert_allclose(mlp(x + y) - zero, (mlp(x) - zero) + (mlp(y) - zero), atol=1e-5)


def test_bad_activation_lists_valid_names(getkey):
    with pytest.raises(ValueError, match="unknown activation 'relu6'") as info:
        pk.MLP(3, 8, activation="relu6", key=getkey())
    for name in ACTIVATIONS:
        assert name in str(info.value)


@pytest.mark.parametrize("sizes", [(0, 8, 1), (3, 0, 1), (3, 8, -1), (4, 2.5, 1), (4, True, 1)])
def test_bad_sizes(sizes, getkey):
    # As users meet it: a clear error, not one from inside jax.random.
    in_size, width, depth = sizes
    with no_typecheck(), pytest.raises(ValueError, match="MLP needs an integer in_size >= 1"):
        pk.MLP(in_size, width, depth, key=getkey())


def test_same_key_same_network(getkey):
    key = getkey()
    a, b = pk.MLP(4, 16, key=key), pk.MLP(4, 16, key=key)
    c = pk.MLP(4, 16, key=getkey())
    x = jnp.array([0.1, 0.2, 0.3, 0.4])
    assert a(x) == b(x)
    assert a(x) != c(x)


@pytest.mark.parametrize("dim", [3, 8])
def test_hard_dirichlet_vanishes_on_unit_sphere(dim, getkey):
    inner = pk.MLP(dim, 16, 2, key=getkey())
    network = pk.HardDirichlet(inner)
    assert network.in_size == dim
    sphere = pk.Sphere(dim).sample_interior(getkey(), 50)
    on_sphere = jax.vmap(network)(sphere)
    np.testing.assert_allclose(on_sphere, 0.0, atol=1e-5)
    # Inside, it is (1 - |x|^2) times the wrapped network, and not zero.
    inside = 0.5 * sphere
    np.testing.assert_allclose(
        jax.vmap(network)(inside), 0.75 * jax.vmap(inner)(inside), rtol=1e-5, atol=1e-7
    )
    assert float(jnp.max(jnp.abs(jax.vmap(network)(inside)))) > 1e-3


def test_hard_dirichlet_with_boundary_value_and_distance(getkey):
    inner = pk.MLP(2, 16, 2, key=getkey())
    box_distance = lambda x: x[0] * (1 - x[0]) * x[1] * (1 - x[1])
    g = lambda x: 1.0 + x[0] - 2 * x[1]
    network = pk.HardDirichlet(inner, distance=box_distance, boundary_value=g)
    boundary = pk.Box(0.0, 1.0, dim=2).sample_boundary(getkey(), 40)
    np.testing.assert_allclose(jax.vmap(network)(boundary), jax.vmap(g)(boundary), atol=1e-6)
    x = jnp.array([0.3, 0.6])
    np.testing.assert_allclose(network(x), box_distance(x) * inner(x) + g(x), rtol=1e-6)


def test_unit_ball_distance():
    assert pk.unit_ball_distance(jnp.array([0.6, 0.8])) == pytest.approx(0.0, abs=1e-7)
    assert pk.unit_ball_distance(jnp.zeros(3)) == 1.0
    assert pk.unit_ball_distance(jnp.array([0.5, 0.0])) == pytest.approx(0.75)


def test_hard_initial_takes_one_space_coordinate_and_time(getkey):
    """in_size 2, a point (x, t), is the smallest space-time input; 1 is refused."""
    net = pk.HardInitial(pk.MLP(2, 8, 1, key=getkey()), lambda x: jnp.sin(x[0]))
    assert net.in_size == 2
    assert float(net(jnp.array([0.4, 0.0]))) == pytest.approx(float(jnp.sin(0.4)), rel=1e-6)
    rejected(
        lambda: pk.HardInitial(pk.MLP(1, 8, 1, key=getkey())),
        r"HardInitial needs a space-time network, in_size = d \+ 1 >= 2 .*got in_size=1",
    )


def test_normalized_refuses_what_it_cannot_scale_by_name(getkey):
    origin, spread = jnp.zeros(2), jnp.ones(2)

    def feature(x):
        return jnp.sum(x**2)

    rejected(
        lambda: pk.Normalized(
            pk.MLP(2, 8, 1, key=getkey()), origin[:0], spread[:0], 1.0, feature=feature
        ),
        "the inner network has 2 inputs: too few for a space-time point and the feature",
    )
    rejected(
        lambda: pk.Normalized(pk.MLP(1, 8, 1, key=getkey()), origin[:0], spread[:0], 1.0),
        "the inner network has 1 inputs: too few for a space-time point$",
    )
    inner = pk.MLP(3, 8, 1, key=getkey())
    rejected(lambda: pk.Normalized(inner, origin[:1], spread, 1.0), r"origin and spread must have")
    rejected(lambda: pk.Normalized(inner, origin, spread[:1], 1.0), r"origin and spread must have")
    rejected(lambda: pk.Normalized(inner, origin, spread, 1.0, scale=0.0), "must be nonzero")
    rejected(lambda: pk.Normalized(inner, origin, spread, 0.0), "must be nonzero")
    with_feature = pk.MLP(4, 8, 1, key=getkey())
    rejected(
        lambda: pk.Normalized(
            with_feature, origin, spread, 1.0, feature=feature, feature_scale=0.0
        ),
        "must be nonzero",
    )
    assert pk.Normalized(with_feature, origin, spread, 1.0, feature=feature).in_size == 3


def test_shared_first_layer_weights_start_symmetric_about_zero(getkey):
    """The block weights are uniform on [-1/sqrt(b), 1/sqrt(b)]: both signs, mean near 0."""
    net = pk.SharedFirstLayerMLP(400, 400, 8, 1, key=getkey())
    weights = net.block_weight
    limit = 1 / 20
    assert float(jnp.max(jnp.abs(weights))) <= limit
    assert float(jnp.min(weights)) < -0.9 * limit and float(jnp.max(weights)) > 0.9 * limit
    assert abs(float(jnp.mean(weights))) < 5 * limit / (3 * 400) ** 0.5


def test_shared_first_layer_jets_name_a_wrong_direction_shape(getkey):
    net = pk.SharedFirstLayerMLP(6, 3, 8, 1, key=getkey())
    rejected(
        lambda: net.directional_jets(jnp.zeros(6), jnp.ones((2, 5)), 2, False),
        r"directions must have shape \(n, 6\), got \(2, 5\)",
    )
