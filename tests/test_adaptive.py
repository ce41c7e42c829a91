"""Residual-adaptive sampling: the R3 and RAR updates, and ResidualLoss carrying the
population in its state with residuals of the current model."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import rejects

import pinnkit as pk


BOX = pk.Box(-1.0, 1.0, dim=2)


class _FirstCoordinate(pk.AbstractPDE):
    """Residual u(x) - x_0 with zero source: for the model u = 0 it is -x_0."""

    operators: tuple = (pk.Value(),)

    def source(self, x):
        return jnp.zeros((), x.dtype)

    def residual(self, x, u, derivatives, source):
        (value,) = derivatives
        return value - x[0] - source


def _zero(x):
    return jnp.zeros((), x.dtype)


def test_r3_retains_points_above_the_mean_residual():
    sampler = pk.R3Sampler(pk.UniformSampler(BOX))
    population = sampler.init(jax.random.key(0), 64)
    assert population.shape == (64, 2)
    residuals = jnp.abs(population[:, 0]) ** 3 - 0.1  # signs are ignored: |r| counts
    new = sampler.update(population, sampler.candidates(population, jax.random.key(1)),
                         residuals, jax.random.key(2))  # fmt: skip
    retain = np.abs(np.asarray(residuals)) > np.mean(np.abs(np.asarray(residuals)))
    assert 0 < retain.sum() < 64
    np.testing.assert_array_equal(new[retain], population[retain])
    # The released points are fresh draws from the base sampler, inside the domain.
    assert np.all(np.asarray(new[~retain] != population[~retain]).any(axis=1))
    assert bool(jnp.all(BOX.contains(new)))
    np.testing.assert_array_equal(sampler.points(new), new)


def test_rar_adds_the_largest_residuals_first_in_first_out():
    sampler = pk.RARSampler(pk.UniformSampler(BOX), pool_size=50, num_added=3, fraction=0.25)
    n = 16
    state = sampler.init(jax.random.key(0), n)
    m = sampler.buffer_size(n)
    assert m == 4 and int(state.cursor) == 0
    seen = []
    for step in range(3):
        pool = sampler.candidates(state, jax.random.key(10 + step))
        assert pool.shape == (50, 2)
        residuals = -pool[:, 0] * pool[:, 1]  # |r| is what counts
        best = np.argsort(-np.abs(np.asarray(residuals)))[:3]
        old = state.population
        state = sampler.update(state, pool, residuals, jax.random.key(20 + step))
        seen.extend(np.asarray(pool[best]))
        # The refreshed part changed completely; the buffer holds the newest added points.
        assert np.all(np.asarray(state.population[: n - m] != old[: n - m]).any(axis=1))
        assert int(state.cursor) == (3 * (step + 1)) % m
    buffer = {tuple(p) for p in np.asarray(state.population[n - m :]).tolist()}
    assert buffer == {tuple(p) for p in np.asarray(seen[-m:]).tolist()}


def test_residual_loss_trains_on_the_population_and_sees_the_current_model():
    sampler = pk.R3Sampler(pk.UniformSampler(BOX))
    loss = pk.ResidualLoss(_FirstCoordinate(), sampler, batch_size=32)
    state = loss.init_state(jax.random.key(0))
    assert state.shape == (32, 2)
    batch, new_state = loss.next_batch(_zero, state, jax.random.key(1))
    np.testing.assert_array_equal(batch.points, new_state)
    # For u = 0 the residual is -x_0: exactly the points with |x_0| above the mean stay.
    keep = np.abs(state[:, 0]) > np.mean(np.abs(state[:, 0]))
    np.testing.assert_array_equal(new_state[keep], state[keep])
    # For u = x_0 the residual vanishes: nothing is above the mean, every point is redrawn.
    _, redrawn = loss.next_batch(lambda x: x[0], state, jax.random.key(1))
    assert np.all(np.asarray(redrawn != state).any(axis=1))
    # Without an adaptive sampler the loss is stateless.
    plain = pk.ResidualLoss(_FirstCoordinate(), pk.UniformSampler(BOX), batch_size=8)
    assert plain.init_state(jax.random.key(0)) is None
    assert plain.next_batch(_zero, None, jax.random.key(0))[1] is None


@pytest.mark.parametrize(
    "sampler",
    [
        pk.R3Sampler(pk.UniformSampler(BOX)),
        pk.RARSampler(pk.SobolSampler(BOX), pool_size=64, num_added=4),
    ],
    ids=["r3", "rar"],
)
def test_solver_carries_the_population(sampler):
    """A short training run: the population ends up where the residual of the trained
    model is largest, and the loss went down."""
    network = pk.MLP(2, 8, 1, key=jax.random.key(0))
    loss = pk.ResidualLoss(_FirstCoordinate(), sampler, batch_size=32)
    solver = pk.PINNSolver(loss, optimizer=optax.adam(1e-2), log_every=50)
    solution = solver.solve(network, 100, jax.random.key(1), progress=False)
    points = sampler.points(solution.loss_state)
    assert points.shape == (32, 2) and bool(jnp.all(BOX.contains(points)))
    assert solution.history["loss"][-10:].mean() < solution.history["loss"][:10].mean()
    # Adaptive points carry larger residuals than uniform ones.
    residual = jax.vmap(lambda x: jnp.abs(solution.network(x) - x[0]))
    uniform = pk.UniformSampler(BOX)(jax.random.key(5), 2000)
    assert float(jnp.mean(residual(points))) > float(jnp.mean(residual(uniform)))


def test_called_as_a_plain_sampler_it_draws_from_the_base():
    base = pk.UniformSampler(BOX)
    for sampler in (pk.R3Sampler(base), pk.RARSampler(base)):
        np.testing.assert_array_equal(sampler(jax.random.key(3), 5), base(jax.random.key(3), 5))
        assert sampler.dim == 2


def test_bad_arguments():
    base = pk.UniformSampler(BOX)
    with rejects("num_added must be <= pool_size"):
        pk.RARSampler(base, pool_size=4, num_added=5)
    with rejects("pool_size >= 1"):
        pk.RARSampler(base, pool_size=0)
    with rejects(r"fraction must be in \(0, 1\]"):
        pk.RARSampler(base, fraction=1.5)
    with rejects("exceeds the buffer"):
        pk.RARSampler(base, pool_size=100, num_added=10, fraction=0.1).init(jax.random.key(0), 20)
    with rejects("population size n >= 1"):
        pk.R3Sampler(base).init(jax.random.key(0), 0)
    # The smallest population is allowed.
    assert pk.R3Sampler(base).init(jax.random.key(0), 1).shape == (1, 2)


class _Bump(pk.AbstractPDE):
    """Residual u(x) - exp(-|x - c|^2 / (2 s^2)): for the model u = 0, a narrow bump at c."""

    operators: tuple = (pk.Value(),)

    def source(self, x):
        return jnp.exp(-jnp.sum((x - jnp.array([0.3, -0.2])) ** 2) / (2 * 0.05**2))

    def residual(self, x, u, derivatives, source):
        (value,) = derivatives
        return value - source


def test_r3_population_gathers_where_the_residual_is_large():
    """Repeated R3 updates with a fixed model whose residual is a narrow bump move the
    population onto the bump; a uniform batch keeps the bump's small area share."""
    n, steps, radius = 256, 40, 0.1
    loss = pk.ResidualLoss(_Bump(), pk.R3Sampler(pk.UniformSampler(BOX)), batch_size=n)

    @jax.jit
    def run(key):
        def step(state, k):
            _, state = loss.next_batch(_zero, state, k)
            return state, None

        init_key, steps_key = jax.random.split(key)
        state, _ = jax.lax.scan(step, loss.init_state(init_key), jax.random.split(steps_key, steps))
        return state

    state = run(jax.random.key(0))
    assert state.shape == (n, 2) and bool(jnp.all(BOX.contains(state)))
    population = np.asarray(state)
    near = np.linalg.norm(population - np.array([0.3, -0.2]), axis=1) < radius
    uniform_share = np.pi * radius**2 / 4  # about 0.8% of the box
    # Fresh draws land on the bump about twice a step and stay there: after 40 steps a
    # large share of the population is on it (about 25%), over 10x the uniform share.
    assert near.mean() > 10 * uniform_share
    # The rest of the population is still spread over the box (released points are redrawn).
    assert (~near).sum() > n // 4
