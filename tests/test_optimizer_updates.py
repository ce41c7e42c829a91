"""Each optimizer name makes the updates of the method it names: eight steps of
`make_optimizer(name, lr, steps, "constant")` against the textbook update rule, written here
in NumPy (with optax's default hyperparameters), on gradients whose size and sign vary."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnkit as pk


LR = 0.1
STEPS = 8  # past RAdam's warm-up (its rectified steps start once rho_t >= 5, at t = 6)
GRADIENTS = np.random.default_rng(0).normal(size=(STEPS, 3)) * np.array(
    [[3.0], [2.0], [1.5], [0.05], [0.1], [1.0], [0.02], [2.5]]
)  # the large-then-small sizes separate AMSGrad from Adam
START = np.array([4.0, -3.0, 2.0])  # far from 0, so weight decay and LAMB's trust ratio show


def _moments(b1, b2):
    m = v = 0.0

    def step(g, t):
        nonlocal m, v
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        return m / (1 - b1**t), v / (1 - b2**t)

    return step


def _adam_like(kind):
    b1, b2 = 0.9, 0.999
    moments = _moments(b1, b2)
    v_max = 0.0

    def update(g, p, t):
        nonlocal v_max
        m_hat, v_hat = moments(g, t)
        if kind == "nadam":  # Nesterov: the next step's momentum, bias-corrected
            m_hat = b1 * m_hat * (1 - b1**t) / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        if kind == "amsgrad":
            v_max = np.maximum(v_max, v_hat)
            v_hat = v_max
        direction = m_hat / (np.sqrt(v_hat) + 1e-8)
        if kind == "adamw":
            direction = direction + 1e-4 * p
        return -LR * direction

    return update


def _adabelief():
    b1, b2 = 0.9, 0.999
    m = s = 0.0

    def update(g, p, t):
        nonlocal m, s
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2  # the "belief": spread of g around its mean
        return -LR * (m / (1 - b1**t)) / np.sqrt(s / (1 - b2**t))

    return update


def _radam():
    b1, b2 = 0.9, 0.999
    moments = _moments(b1, b2)
    rho_inf = 2 / (1 - b2) - 1

    def update(g, p, t):
        m_hat, v_hat = moments(g, t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho < 5:  # variance not yet tractable: momentum SGD
            return -LR * m_hat
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return -LR * r * m_hat / (np.sqrt(v_hat) + 1e-8)

    return update


def _lamb():
    moments = _moments(0.9, 0.999)

    def update(g, p, t):
        m_hat, v_hat = moments(g, t)
        direction = m_hat / (np.sqrt(v_hat) + 1e-6)
        trust = np.linalg.norm(p) / np.linalg.norm(direction)  # one layer: the whole vector
        return -LR * trust * direction

    return update


def _lion():
    b1, b2 = 0.9, 0.99
    m = 0.0

    def update(g, p, t):
        nonlocal m
        direction = np.sign(b1 * m + (1 - b1) * g) + 1e-3 * p
        m = b2 * m + (1 - b2) * g
        return -LR * direction

    return update


def _rmsprop():
    v = 0.0

    def update(g, p, t):
        nonlocal v
        v = 0.9 * v + 0.1 * g**2
        return -LR * g / np.sqrt(v)

    return update


def _adagrad():
    total = 0.1  # optax's initial accumulator

    def update(g, p, t):
        nonlocal total
        total = total + g**2
        return -LR * g / np.sqrt(total)

    return update


def _sgd(momentum):
    trace = 0.0

    def update(g, p, t):
        nonlocal trace
        trace = g + momentum * trace
        return -LR * trace

    return update


REFERENCES = {
    "adam": lambda: _adam_like("adam"),
    "adamw": lambda: _adam_like("adamw"),
    "amsgrad": lambda: _adam_like("amsgrad"),
    "nadam": lambda: _adam_like("nadam"),
    "adabelief": _adabelief,
    "radam": _radam,
    "lamb": _lamb,
    "lion": _lion,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
    "sgd": lambda: _sgd(0.0),
    "momentum": lambda: _sgd(0.9),
}


def test_every_optimizer_has_a_reference():
    assert set(REFERENCES) == set(pk.OPTIMIZERS)


def _reference_path(name: str) -> np.ndarray:
    update, p, path = REFERENCES[name](), START.copy(), []
    for t, g in enumerate(GRADIENTS, start=1):
        p = p + update(g, p, t)
        path.append(p)
    return np.array(path)


@pytest.mark.parametrize("name", list(pk.OPTIMIZERS))
def test_optimizer_makes_the_named_update(name, x64):
    optimizer = pk.make_optimizer(name, LR, STEPS, "constant")
    params = jnp.asarray(START)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = optimizer.update(g, state, params)
        return optax.apply_updates(params, updates), state

    path = []
    for g in GRADIENTS:
        params, state = step(params, state, jnp.asarray(g))
        path.append(np.asarray(params))
    # Tolerance: far above the placement of each method's tiny eps (~1e-8 relative), far
    # below the smallest difference between two methods (AdamW's decay: ~1e-4 of a step).
    np.testing.assert_allclose(np.array(path), _reference_path(name), rtol=1e-7, atol=1e-9)


def test_the_references_tell_the_methods_apart():
    """Guard: no two references give the same path, so each check above names one method."""
    paths = {name: _reference_path(name) for name in REFERENCES}
    for a in paths:
        for b in paths:
            if a < b:
                assert not np.allclose(paths[a], paths[b], rtol=1e-5, atol=1e-7), (a, b)
