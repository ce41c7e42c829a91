"""The Feynman–Kac read-out `pinnkit.feynman_kac_value` against closed-form solutions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rejected

import pinnkit as pk
from pinnkit.problems import get_problem


T = 0.3


def _linear_solution(c: float, dim: int):
    """u = exp(c (T - t)) (|x|^2 + 2d (T - t)) solves u_t + Δu + c u = 0, u(T) = |x|^2."""

    def u(z):
        return jnp.exp(c * (T - z[-1])) * (jnp.sum(z[:-1] ** 2) + 2 * dim * (T - z[-1]))

    return u, lambda x: jnp.sum(x**2), lambda v: c * v


@pytest.mark.parametrize("origin_scale", [0.0, 0.7])
def test_linear_reaction_matches_the_closed_form(origin_scale, x64):
    dim, c = 4, 0.8
    u, g, f = _linear_solution(c, dim)
    origin = origin_scale * jnp.linspace(-1.0, 1.0, dim)
    exact = float(u(jnp.append(origin, 0.0)))
    est = pk.feynman_kac_value(u, g, f, T, jax.random.key(0), samples=2**15, origin=origin)
    assert est.samples == 2**15
    assert 0 < est.stderr < 0.01 * exact
    assert abs(est.value - exact) < 5 * est.stderr, (est, exact)


def test_nonlinear_reaction_matches_the_closed_form(x64):
    # g = c constant: u(t) solves u' = -sin u, tan(u(t)/2) = tan(c/2) e^(T - t), for all x.
    c = 1.2

    def u(z):
        return 2 * jnp.arctan(jnp.tan(c / 2) * jnp.exp(T - z[-1]))

    exact = float(u(jnp.zeros(4)))
    est = pk.feynman_kac_value(
        u,
        lambda x: jnp.asarray(c),
        jnp.sin,
        T,
        jax.random.key(1),
        samples=2**14,
        origin=jnp.zeros(3),
    )
    assert exact - c > 0.05  # the reaction moves the value: the test sees the integral of f
    assert abs(est.value - exact) < 5 * est.stderr and est.stderr < 1e-3 * exact, (est, exact)


def test_stderr_is_the_spread_of_repeated_estimates(x64):
    # Many chunks (chunk_size 256), combined on the host: the reported standard error must
    # match the spread of independent estimates (40 of them: within about 25%).
    u, g, f = _linear_solution(0.5, 3)
    runs = [
        pk.feynman_kac_value(
            u, g, f, T, jax.random.key(k), samples=2048, origin=jnp.zeros(3), chunk_size=256
        )
        for k in range(40)
    ]
    spread = np.std([r.value for r in runs], ddof=1)
    reported = np.mean([r.stderr for r in runs])
    assert 0.7 < spread / reported < 1.4, (spread, reported)


def test_samples_round_up_to_whole_chunks_and_the_key_fixes_them():
    u, g, f = _linear_solution(0.5, 2)
    key = jax.random.key(3)
    a = pk.feynman_kac_value(u, g, f, T, key, samples=1000, origin=jnp.zeros(2), chunk_size=300)
    b = pk.feynman_kac_value(u, g, f, T, key, samples=1000, origin=jnp.zeros(2), chunk_size=300)
    assert a.samples == 1200 and a == b
    # max_chunk_numbers bounds the coordinates held at once: 3 per sample here.
    c = pk.feynman_kac_value(u, g, f, T, key, samples=64, origin=jnp.zeros(2), max_chunk_numbers=30)
    assert c.samples == 70  # chunks of 10 samples


def test_problem_method_uses_the_network_dimension():
    # Heat (f = 0): the read-out is E g(X_T) whatever the network, here the exact 2dT = 1.2.
    problem = get_problem("heat-quadratic", 2)
    network = problem.network(jax.random.key(0), width=8, depth=1)
    est = problem.feynman_kac_value(network, jax.random.key(1), samples=2**14)
    assert problem.reference_value() == pytest.approx(1.2)
    assert abs(est.value - 1.2) < 5 * est.stderr and est.stderr < 0.02


def test_bad_input():
    u, g, f = _linear_solution(0.5, 2)
    key, origin = jax.random.key(0), jnp.zeros(2)
    rejected(lambda: pk.feynman_kac_value(u, g, f, 0.0, key, origin=origin), "horizon")
    rejected(lambda: pk.feynman_kac_value(u, g, f, T, key, samples=0, origin=origin), "samples")
    rejected(lambda: pk.feynman_kac_value(u, g, f, T, key), "pass origin")
    network = get_problem("heat-quadratic", 3).network(jax.random.key(0))
    rejected(lambda: pk.feynman_kac_value(network, g, f, T, key, origin=origin), "size 4")


def test_feynman_kac_names_its_sample_settings():
    with pytest.raises(
        ValueError, match="samples, chunk_size and max_chunk_numbers must be >= 1, got 0, "
    ):
        pk.feynman_kac_value(
            lambda z: z[0],
            lambda x: x[0],
            lambda u: u,
            1.0,
            jax.random.key(0),
            samples=0,
            origin=jnp.zeros(2),
        )
