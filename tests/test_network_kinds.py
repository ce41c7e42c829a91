"""Network architectures: Fourier features, the modified (gated) MLP, the residual MLP and
HardInitial. Every estimator through each of them against nested autodiff, the Taylor-mode
fast paths against generic jets, and what each architecture promises."""

import ast
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    ESTIMATOR_FACTORIES,
    NETWORK_FACTORIES,
    assert_close,
    is_stochastic,
    random_point,
    rejects,
)
from internals import taylor

import pinnkit as pk


pytestmark = pytest.mark.usefixtures("x64")

KINDS = ["fourier-feature-mlp", "modified-mlp", "residual-mlp", "hard-initial-mlp"]
DIM = 4


def _operators(key):
    return (pk.Laplacian(), pk.Diffusion(jax.random.normal(key, (DIM, DIM))), pk.Partial((0, 3)))


@pytest.mark.parametrize("kind", KINDS)
def test_every_estimator_matches_nested_autodiff(kind, getkey):
    """Exact estimators to 1e-8; stochastic ones unbiased (mean of 300 draws within five
    standard errors of the exact value), on every operator each one supports."""
    network = NETWORK_FACTORIES[kind](DIM, getkey())
    x = random_point(getkey(), DIM)
    operators = _operators(getkey())
    for name, make in ESTIMATOR_FACTORIES.items():
        estimator = make()
        ops = tuple(op for op in operators if estimator.supports(op))
        # Compiled, not run op by op: eager nested autodiff and jets dominate this test's time.
        exact = np.asarray(
            eqx.filter_jit(lambda n, x, ops=ops: jnp.stack([op.exact(n, x) for op in ops]))(
                network, x
            )
        )
        if not is_stochastic(estimator):
            u, values = eqx.filter_jit(estimator)(network, x, ops, getkey())
            assert_close(u, network(x), rtol=1e-12)
            assert_close(jnp.stack(values), exact, rtol=1e-8, atol=1e-10)
            continue

        def one(k, estimator=estimator, ops=ops):
            return jnp.stack(estimator(network, x, ops, k)[1])

        samples = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(getkey(), 300)))
        stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
        error = np.abs(samples.mean(axis=0) - exact)
        assert np.all(error < 5 * stderr + 1e-10), (name, error, stderr)


def _generic(network):
    """The same function without the fast path: generic `jet` fallbacks."""
    return lambda x: network(x)


def test_taylor_imports_no_higher_layer():
    """`pinnkit._taylor` is the bottom layer of Taylor mode: the networks, estimators and
    losses import it, and it imports only itself and `pinnkit._types`."""
    package = Path(taylor.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                imported.add(("." * node.level) + (node.module or ""))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (module or "").startswith("pinnkit"), (path.name, module)
    assert {".base", ".partitions", ".._types"} <= imported
    assert imported <= {".base", ".partitions", ".._types"}, imported


@pytest.mark.parametrize("kind", ["fourier-feature-mlp", "hard-initial-mlp"])
def test_taylor_fast_path_matches_generic_jets(kind, getkey):
    network = NETWORK_FACTORIES[kind](DIM, getkey())
    assert isinstance(network, pk.AbstractTaylorMode)
    x = random_point(getkey(), DIM)
    directions = jax.random.normal(getkey(), (3, DIM))
    indices = jnp.array([0, 3, 1])
    for order in (1, 2, 4):
        for collapse in (False, True):
            for jets, tangents in (
                (taylor.directional_jets, directions),
                (taylor.coordinate_jets, indices),
            ):
                fast = jets(network, x, tangents, order, collapse)
                slow = jets(_generic(network), x, tangents, order, collapse)
                assert_close(fast[0], slow[0], rtol=1e-12)
                for a, b in zip(fast[1], slow[1], strict=True):
                    assert_close(a, b, rtol=1e-9, atol=1e-10)
    for j in range(DIM):
        line = network.coordinate_line(x, jnp.array(j))
        assert_close(line(jnp.array(0.3)), network(x.at[j].add(0.3)), rtol=1e-12)


def test_fourier_frequencies_fixed_or_trained(getkey):
    key = getkey()
    x = random_point(getkey(), DIM)
    for trainable in (False, True):
        network = pk.FourierFeatureMLP(DIM, 8, 16, 2, scale=3.0, trainable_frequencies=trainable,
                                       key=key)  # fmt: skip
        grads = eqx.filter_grad(lambda net: net(x))(network)
        assert bool(jnp.any(grads.frequencies != 0)) == trainable
        assert bool(jnp.any(grads.mlp.layers[0].weight != 0))
    # The features are [cos(2 pi B x), sin(2 pi B x)], with B ~ N(0, scale^2).
    b = network.frequencies
    assert b.shape == (8, DIM)
    features = network.features(x)
    assert_close(
        features, jnp.concatenate([jnp.cos(2 * jnp.pi * b @ x), jnp.sin(2 * jnp.pi * b @ x)])
    )
    wide = pk.FourierFeatureMLP(3, 2000, 4, 1, scale=3.0, key=key).frequencies
    np.testing.assert_allclose(np.std(np.asarray(wide)), 3.0, rtol=0.05)


def test_modified_mlp_is_the_gated_recursion(getkey):
    network = pk.ModifiedMLP(DIM, 8, 2, key=getkey())
    x = random_point(getkey(), DIM)
    sigma = jnp.tanh
    u = sigma(network.encoder_u(x))
    v = sigma(network.encoder_v(x))
    h = sigma(network.layers[0](x))
    for layer in network.layers[1:]:
        z = sigma(layer(h))
        h = (1 - z) * u + z * v
    assert len(network.layers) == 3
    assert_close(network(x), network.output(h)[0])


def test_residual_mlp_adds_skip_connections(getkey):
    network = pk.ResidualMLP(DIM, 8, 2, key=getkey())
    x = random_point(getkey(), DIM)
    h = jnp.tanh(network.layers[0](x))
    for layer in network.layers[1:]:
        h = h + jnp.tanh(layer(h))
    assert_close(network(x), network.output(h)[0])
    # Zeroing the residual layers leaves the first layer and the output: the skips carry h.
    zeroed = eqx.tree_at(
        lambda n: n.layers[1:],
        network,
        tuple(jax.tree_util.tree_map(jnp.zeros_like, layer) for layer in network.layers[1:]),
    )
    assert_close(zeroed(x), network.output(jnp.tanh(network.layers[0](x)))[0])


def test_hard_initial_meets_the_initial_data(getkey):
    def initial(x):
        return jnp.sin(x[0]) * jnp.cos(x[1]) + x[2] ** 2

    network = pk.MLP(DIM, 16, 2, key=getkey())
    for t0 in (0.0, 0.5):
        model = pk.HardInitial(network, initial, initial_time=t0)
        assert model.in_size == DIM and model.initial_time == t0
        for _ in range(3):
            z = random_point(getkey(), DIM).at[-1].set(t0)
            assert_close(model(z), initial(z[:-1]), rtol=1e-12)
            # d/dt [(t - t0) net] at t0 is net: the time derivative there is net(z).
            assert_close(pk.TimeDerivative().exact(model, z), network(z), rtol=1e-10)
        z = random_point(getkey(), DIM).at[-1].set(t0 + 0.3)
        assert_close(model(z), initial(z[:-1]) + 0.3 * network(z), rtol=1e-10)
    zero_data = pk.HardInitial(network)
    assert_close(zero_data(jnp.zeros(DIM)), jnp.zeros(()))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda k: pk.FourierFeatureMLP(3, 0, key=k), "num_features >= 1"),
        (lambda k: pk.FourierFeatureMLP(3, scale=-1.0, key=k), "positive scale"),
        (lambda k: pk.ModifiedMLP(0, key=k), "in_size >= 1"),
        (lambda k: pk.ResidualMLP(3, depth=-1, key=k), "depth >= 0"),
        (lambda k: pk.ResidualMLP(3, activation="relu6", key=k), "valid names: tanh"),
        (lambda k: pk.HardInitial(pk.MLP(1, 4, 1, key=k)), "in_size = d \\+ 1 >= 2"),
    ],
)
def test_bad_arguments(make, match, getkey):
    with rejects(match):
        make(getkey())
