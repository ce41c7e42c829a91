"""The method of lines: exact heat solutions, convergence orders, solvers, reference values."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnkit as pk
from pinnkit import (
    Box,
    FiniteDifference,
    Fourier,
    MethodOfLines,
    MOLSolution,
    Radial,
    SolveError,
    radial_reference,
)


def _slope(hs, errors) -> float:
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def _fd_error(boundary: str, n: int, t: float = 0.2) -> tuple[float, float, float]:
    r"""1-D heat flow of the mode `sin(2x)` (`cos(2x)` for Neumann) on [0, pi].

    Returns the spacing, the error against the PDE's solution $e^{-4t}$, and the error against
    the semi-discrete solution $e^{\lambda_h t}$, $\lambda_h = -(4/h^2)\sin^2(h)$: the mode is
    an exact eigenvector of the stencil with each boundary condition.
    """
    k = 2.0
    mode = {"dirichlet": jnp.sin, "periodic": jnp.sin, "neumann": jnp.cos}[boundary]
    fd = FiniteDifference((0.0, np.pi), n, boundary=boundary)
    solution = MethodOfLines(fd, rtol=1e-10, atol=1e-12).solve(lambda x: mode(k * x[0]), t)
    h = fd.spacing[0]
    shape = mode(k * jnp.asarray(fd.nodes[..., 0]))
    discrete = np.exp(-4 / h**2 * np.sin(k * h / 2) ** 2 * t) * shape
    pde = np.exp(-(k**2) * t) * shape
    final = solution.values[-1]
    return h, float(jnp.max(jnp.abs(final - pde))), float(jnp.max(jnp.abs(final - discrete)))


def test_finite_difference_second_order(x64):
    hs, errors, _ = zip(*(_fd_error("dirichlet", n) for n in (15, 31, 63)), strict=True)
    assert errors[-1] < 1e-3
    assert 1.8 <= _slope(hs, errors) <= 2.2


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_finite_difference_boundaries_exact_stencil(x64, boundary):
    _, error, discrete_error = _fd_error(boundary, 24)
    assert discrete_error < 1e-9  # the stencil and boundary are exactly as documented
    assert 1e-4 < error < 1e-2  # and differ from the PDE by the O(h^2) truncation


def test_finite_difference_2d(x64):
    t, n = 0.1, 16
    fn = lambda x: jnp.sin(x[0]) * jnp.sin(2 * x[1])
    fd = FiniteDifference(Box((0.0, 0.0), (np.pi, np.pi)), n)
    h = fd.spacing[0]
    solution = MethodOfLines(fd, rtol=1e-11, atol=1e-13).solve(fn, t)
    rate = 4 / h**2 * (np.sin(h / 2) ** 2 + np.sin(h) ** 2)
    exact = np.exp(-rate * t) * jax.vmap(jax.vmap(fn))(jnp.asarray(fd.nodes))
    np.testing.assert_allclose(solution.values[-1], exact, atol=1e-9)
    # Multilinear interpolation between the nodes is second order.
    x = jnp.array([1.0, 0.7])
    assert abs(solution.interpolate(x) - np.exp(-5 * t) * fn(x)) < 2 * h**2
    # Zero on the Dirichlet boundary.
    assert abs(solution.interpolate(jnp.array([0.0, 1.0]))) < 1e-12


def _poisson_kernel(x, t, r=0.5, modes=200):
    """$\\sum_k r^{|k|} e^{-k^2 t} e^{ikx}$: heat flow of the Poisson kernel, not band-limited."""
    k = np.arange(1, modes)
    return 1 + 2 * jnp.sum(r**k * jnp.exp(-(k**2) * t) * jnp.cos(k * x[..., None]), axis=-1)


def test_fourier_spectral_accuracy(x64):
    t = 0.05
    # Periods 2 pi and 2; the lower corner's half period in y makes a sign error in the
    # interpolation's phase flip the cosine there.
    box = Box((0.0, -0.5), (2 * np.pi, 1.5))
    fn = lambda x: _poisson_kernel(x[0], 0.0) * jnp.cos(np.pi * x[1])
    fourier = Fourier(box, (48, 8), diffusivity=0.5)
    solution = MethodOfLines(fourier, rtol=1e-12, atol=1e-14).solve(fn, t)
    # u_t = 0.5 Δu: each factor decays at half its rate.
    exact = lambda x: (
        _poisson_kernel(x[..., 0], 0.5 * t)
        * jnp.exp(-0.5 * np.pi**2 * t)
        * jnp.cos(np.pi * x[..., 1])
    )
    # Not band-limited in x, yet 48 nodes give 1e-10: second-order differences would be
    # off by about 1e-3.
    error = jnp.max(jnp.abs(solution.values[-1] - exact(jnp.asarray(fourier.nodes))))
    assert error < 1e-10
    x = jnp.array([0.4, 0.3])
    assert abs(solution.interpolate(x) - exact(x)) < 1e-10


def test_radial_operator_exact_on_polynomials(x64):
    dim = 7
    radial = Radial(dim, 100.0, 24, scale=2.0)
    s = radial.nodes
    # Delta |x|^2 = 2d and Delta |x|^4 = 8|x|^2 + 4d|x|^2, in s = |x|^2.
    np.testing.assert_allclose(radial.linear(jnp.asarray(s))[:-1], 2 * dim, rtol=1e-10)
    np.testing.assert_allclose(
        radial.linear(jnp.asarray(s**2))[:-1], (8 + 4 * dim) * s[:-1], rtol=1e-9, atol=1e-9
    )
    assert radial.linear(jnp.asarray(s))[-1] == 0  # the far-field node has no transport


def test_radial_quadratic(x64):
    dim, t = 3, 0.5
    radial = Radial(dim, 200.0, 32)
    saves = np.array([0.1, 0.25, 0.5])
    solution = MethodOfLines(radial, rtol=1e-10, atol=1e-12).solve(
        lambda x: jnp.sum(x**2), t, saveat_ts=saves
    )
    np.testing.assert_allclose(solution.ts, saves)
    s = radial.nodes
    near = s < 20.0
    # Exact but for the far field: the last node stays at s_max while |x|^2 + 2dt grows, a
    # mismatch of 2dt that the global (spectral) operator spreads at the 1e-5 level. Decaying
    # data (the Gaussian below) do not see it.
    for i, ti in enumerate(saves):
        np.testing.assert_allclose(solution.values[i][near], s[near] + 2 * dim * ti, rtol=3e-5)


@pytest.mark.parametrize("dim", [1, 40])
def test_radial_gaussian_stays_gaussian(x64, dim):
    t = 0.25
    s_max = 8 * dim * t + 60
    radial = Radial(dim, s_max, 48)
    solution = MethodOfLines(radial, rtol=1e-11, atol=1e-13).solve(
        lambda x: jnp.exp(-jnp.sum(x**2)), t
    )
    exact = lambda s: (1 + 4 * t) ** (-dim / 2) * np.exp(-s / (1 + 4 * t))
    s = radial.nodes
    near = s < s_max / 2
    np.testing.assert_allclose(solution.values[-1][near], exact(s[near]), atol=1e-9)
    x = jnp.full((dim,), 0.3)
    assert abs(solution.interpolate(x) - exact(0.09 * dim)) < 1e-9


def test_radial_reference_semilinear_heat(x64):
    # docs/math.md, "Semilinear parabolic problems": 0.4695499 at d = 10 (radial method of
    # lines, 7 digits).
    value = radial_reference("semilinear-heat", 10)
    assert abs(value - 0.4695499) < 1e-6 * 0.4695499
    # Stable against the far-field boundary and the grid.
    other = radial_reference("semilinear-heat", 10, s_max=500.0, n_points=64)
    assert abs(value - other) < 1e-9


def test_radial_reference_sine_gordon_matches_monte_carlo(x64):
    # The published multilevel-Picard value (docs/math.md, "Semilinear parabolic problems")
    # carries about 1e-3 relative noise.
    value = radial_reference("sine-gordon", 100)
    assert abs(value - 0.0528368) < 2e-3 * 0.0528368


def test_radial_reference_rejects_allen_cahn():
    with pytest.raises(ValueError, match="not radial"):
        radial_reference("allen-cahn", 10)
    with pytest.raises(ValueError, match="equation must be one of"):
        radial_reference("poisson", 10)


def _reaction(u):
    return (1 - u**2) / (1 + u**2)


def _semilinear(solver=None, throw=True, **kwargs) -> MOLSolution:
    fd = FiniteDifference((0.0, np.pi), 31)
    mol = MethodOfLines(fd, _reaction, solver, **kwargs)
    return mol.solve(lambda x: jnp.sin(x[0]), 0.5, saveat_ts=[0.25, 0.5], throw=throw)


def test_imex_and_implicit_agree(x64):
    implicit = _semilinear(rtol=1e-10, atol=1e-12)
    imex = _semilinear(imex=True, rtol=1e-10, atol=1e-12)
    assert isinstance(implicit.result, pk.RESULTS)
    assert implicit.result == pk.RESULTS.successful and implicit.message == ""
    assert implicit.values.shape == (2, 31)
    np.testing.assert_allclose(imex.values, implicit.values, atol=1e-8)
    # The reaction matters: the solution is far from pure heat flow.
    heat = np.exp(-0.5) * np.sin(np.pi / 2)
    assert abs(float(implicit.values[-1, 15]) - heat) > 0.1


def test_fixed_step_implicit_euler_first_order(x64):
    reference = _semilinear(rtol=1e-10, atol=1e-12).values
    errors = [
        float(
            jnp.max(
                jnp.abs(
                    _semilinear(diffrax.ImplicitEuler(), adaptive=False, dt0=dt).values - reference
                )
            )
        )
        for dt in (0.02, 0.01, 0.005)
    ]
    assert errors[-1] < 5e-3
    assert 0.85 <= _slope([0.02, 0.01, 0.005], errors) <= 1.15


def test_failure_reported_without_throw(x64):
    with pytest.warns(RuntimeWarning, match="max_steps_reached"):
        solution = _semilinear(max_steps=3, throw=False)
    assert solution.result == pk.RESULTS.max_steps_reached
    assert "stopped at step 3" in solution.message and "Raise max_steps" in solution.message
    assert "(diffrax: The maximum number of solver steps" in solution.message
    # throw=False is the default, as for every solver.
    with pytest.warns(RuntimeWarning, match="max_steps_reached"):
        fd = FiniteDifference((0.0, np.pi), 31)
        default = MethodOfLines(fd, _reaction, max_steps=3).solve(lambda x: jnp.sin(x[0]), 0.5)
    assert default.result == pk.RESULTS.max_steps_reached


def test_diffrax_results_map_onto_pinnkit_results(x64):
    """A Newton iteration with no root (u' = u^2 from 10, implicit Euler, dt = 0.5: no real
    solution of y - y^2/2 = 10) is `time_integration_failed`, with diffrax's reason; explicit
    Euler far beyond its stability limit finishes with non-finite values, which diffrax
    calls successful and pinnkit `nonfinite_values`."""
    fd = FiniteDifference((0.0, np.pi), 15)
    square = lambda u: u**2
    newton = MethodOfLines(fd, square, diffrax.ImplicitEuler(), adaptive=False, dt0=0.5)
    with pytest.warns(RuntimeWarning, match="time_integration_failed"):
        solution = newton.solve(jnp.full(15, 10.0), 1.0)
    assert solution.result == pk.RESULTS.time_integration_failed
    assert "nonlinear solver" in solution.message  # diffrax's reason is kept
    explicit = MethodOfLines(fd, square, diffrax.Euler(), adaptive=False, dt0=0.5)
    with pytest.warns(RuntimeWarning, match="nonfinite_values"):
        solution = explicit.solve(jnp.full(15, 10.0), 5.0)
    assert solution.result == pk.RESULTS.nonfinite_values
    assert not np.all(np.isfinite(solution.values))
    with pytest.raises(SolveError, match="nonfinite_values: ") as info:
        explicit.solve(jnp.full(15, 10.0), 5.0, throw=True)
    assert info.value.result == pk.RESULTS.nonfinite_values


def test_bad_configuration_raises():
    fd = FiniteDifference((0.0, 1.0), 8)
    with pytest.raises(ValueError, match="KenCarp4"):
        MethodOfLines(fd, _reaction, diffrax.Kvaerno5(), imex=True)
    with pytest.raises(ValueError, match="imex=True"):
        MethodOfLines(fd, _reaction, diffrax.KenCarp4())
    with pytest.raises(ValueError, match="reaction is None"):
        MethodOfLines(fd, imex=True)
    with pytest.raises(ValueError, match="dt0"):
        MethodOfLines(fd, adaptive=False)
    with pytest.raises(ValueError, match="rtol"):
        MethodOfLines(fd, rtol=0.0)
    with pytest.raises(ValueError, match="shape"):
        MethodOfLines(fd).solve(jnp.zeros(9), 1.0)
    with pytest.raises(ValueError, match="t1"):
        MethodOfLines(fd).solve(jnp.zeros(8), 0.0)
    with pytest.raises(ValueError, match="boundary"):
        FiniteDifference((0.0, 1.0), 8, boundary="robin")
    with pytest.raises(ValueError, match="1 to 3"):
        Fourier(Box(0.0, 1.0, dim=4), 4)
    with pytest.raises(ValueError, match="n_points"):
        FiniteDifference(Box(0.0, 1.0, dim=2), (4, 4, 4))
    with pytest.raises(ValueError, match="s_max"):
        Radial(3, -1.0)
