"""One outcome convention for every solver: a planted fault in each gives a solution whose
`result` and `message` name the cause (with a warning) by default, and an error naming it
with `throw=True`.

Each case plants a fault that its solver can only find at run time:

- `solve`, `fit_initial`: a learning rate of 1e30, so the loss overflows after one step;
- `refine`: a loss that is NaN everywhere, so L-BFGS stops at its first iteration;
- `mol`: `max_steps=3` for a solve that needs dozens of steps;
- `galerkin`: $u_t = 50 u$ with a term $0 \\cdot \\sqrt{4 - u^2}$ that is NaN once $|u| > 2$,
  so the parameters become NaN after a few steps.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnkit as pk
from pinnkit import AbstractSolution, FiniteDifference, MethodOfLines, SolveError


def _data_loss() -> pk.DataLoss:
    points = jnp.linspace(-1.0, 1.0, 16)[:, None]
    return pk.DataLoss(points, jnp.sin(3 * points[:, 0]))


def _solve(**throw) -> AbstractSolution:
    network = pk.MLP(1, 8, 1, key=jax.random.key(0))
    solver = pk.PINNSolver(_data_loss(), learning_rate=1e30, log_every=4)
    return solver.solve(network, 20, jax.random.key(1), progress=False, **throw)


class _NaNLoss(pk.AbstractLoss):
    """$\\log(-1 - u(0)^2)$: NaN for every network."""

    def sample(self, key):
        return jnp.zeros(1)

    def __call__(self, model, batch, key):
        return jnp.log(-1.0 - model(batch) ** 2)


def _refine(**throw) -> AbstractSolution:
    network = pk.MLP(1, 8, 1, key=jax.random.key(0))
    solver = pk.PINNSolver(_NaNLoss())
    return solver.refine(network, 10, jax.random.key(1), progress=False, **throw)


def _mol(**throw) -> AbstractSolution:
    fd = FiniteDifference((0.0, np.pi), 15)
    mol = MethodOfLines(fd, lambda u: (1 - u**2) / (1 + u**2), max_steps=3)
    return mol.solve(lambda x: jnp.sin(x[0]), 0.5, **throw)


class _Growth(pk.AbstractPDE):
    """$u_t = 50 u + 0 \\cdot \\sqrt{4 - u^2}$: exponential growth, NaN once $|u| > 2$."""

    operators: tuple = (pk.Value(),)

    def source(self, x):
        return jnp.zeros((), x.dtype)

    def residual(self, x, u, derivatives, source):
        return 50.0 * u + 0.0 * jnp.sqrt(4.0 - u**2)


def _galerkin_setup() -> tuple[pk.NeuralGalerkin, pk.AbstractNetwork]:
    sampler = pk.UniformSampler(pk.Ball(1, 1.0))
    galerkin = pk.NeuralGalerkin(_Growth(), sampler, num_points=16, dt=0.02, regularization=1e-6)
    return galerkin, pk.MLP(1, 4, 1, key=jax.random.key(0))


def _galerkin(**throw) -> AbstractSolution:
    galerkin, network = _galerkin_setup()
    return galerkin.solve(network, 0.4, jax.random.key(1), **throw)


def _fit_initial(**throw) -> AbstractSolution:
    galerkin, network = _galerkin_setup()
    return galerkin.fit_initial(
        network, lambda x: jnp.sin(x[0]), jax.random.key(1), steps=20, learning_rate=1e30, **throw
    )


FAILING: dict[str, tuple[Callable[..., AbstractSolution], Any]] = {
    "solve": (_solve, pk.RESULTS.nonfinite_loss),
    "refine": (_refine, pk.RESULTS.nonfinite_loss),
    "mol": (_mol, pk.RESULTS.max_steps_reached),
    "galerkin": (_galerkin, pk.RESULTS.nonfinite_parameters),
    "fit_initial": (_fit_initial, pk.RESULTS.nonfinite_loss),
}
"""Every solver, with a planted fault and the result it must report."""


@pytest.mark.parametrize("name", FAILING)
def test_failure_is_reported_by_default_and_raised_with_throw(name):
    run, expected = FAILING[name]
    cause = f"{pk.result_name(expected)}: "
    # throw=False is every solver's default: a warning, and the partial solution.
    with pytest.warns(RuntimeWarning, match=cause):
        solution = run()
    assert isinstance(solution, AbstractSolution)
    assert isinstance(solution.result, pk.RESULTS)
    assert solution.result == expected and solution.result != pk.RESULTS.successful
    assert cause in solution.message
    assert solution.wall_s > 0
    with pytest.warns(RuntimeWarning, match=cause):
        assert run(throw=False).message == solution.message
    # throw=True raises an error whose message names the cause and the fix.
    with pytest.raises(RuntimeError, match=cause) as info:
        run(throw=True)
    if isinstance(info.value, SolveError):
        assert info.value.result == expected
        assert str(info.value) == solution.message
    else:  # Neural Galerkin stops inside its compiled loop, with eqx.error_if.
        assert isinstance(info.value, eqx.EquinoxRuntimeError)
        assert pk.RESULTS[expected] in str(info.value)
