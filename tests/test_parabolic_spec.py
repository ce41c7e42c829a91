"""The one parabolic spec (`AbstractParabolicPDE`): its structure, its residual against nested
autodiff, its refusals, Deep BSDE's paths and recursion against hand-written Euler steps, and
the general problems' references."""

import json
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, no_typecheck, rejected

import pinnkit as pk
from pinnkit.problems import PROBLEMS, ParabolicProblem, get_problem as _get


def get_problem(name: str, dim: int) -> ParabolicProblem:
    problem = _get(name, dim)
    assert isinstance(problem, ParabolicProblem)
    return problem


D = 3


class _Rich(pk.AbstractParabolicPDE):
    """Drift, diagonal state-dependent sigma, an f of t, x, u and z: every term present."""

    dim: int = D
    T: float = 0.7

    def drift(self, t, x):
        return 0.3 * x + t

    def diffusion(self, t, x):
        return 0.5 + 0.2 * x**2 + 0.1 * t

    def nonlinearity(self, t, x, u, z):
        return jnp.sin(u) - 0.5 * jnp.sum(z**2) + t * x[0]

    def terminal(self, x):
        return jnp.sum(jnp.cos(x))

    def origin(self):
        return jnp.array([0.1, -0.2, 0.3])


class _Dense(_Rich):
    def diffusion(self, t, x):
        return jnp.array([[1.0, 0.2], [0.0, 0.5], [0.3, x[0]]])


class _Heat(pk.AbstractParabolicPDE):
    dim: int = D
    T: float = 1.0

    def diffusion(self, t, x):
        return math.sqrt(2.0)

    def terminal(self, x):
        return jnp.sum(x**2)


def _u(z):
    return jnp.sin(z[0] * z[1]) + z[2] ** 2 * z[3] + jnp.exp(0.3 * z[3]) + z[0] * z[2]


_Z = jnp.array([0.3, -0.4, 0.5, 0.7])


def _by_hand(pde, z):
    """The residual written out term by term from nested autodiff."""
    x, t = z[:D], z[-1]
    gradient, hessian = jax.grad(_u)(z), jax.hessian(_u)(z)
    sigma = jnp.asarray(pde.diffusion(t, x))
    a = sigma @ sigma.T if sigma.ndim == 2 else jnp.diag(jnp.broadcast_to(sigma, (D,)) ** 2)
    z_b = sigma.T @ gradient[:D] if sigma.ndim == 2 else sigma * gradient[:D]
    mu = pde.drift(t, x)
    return (
        gradient[-1]
        + (0.0 if mu is None else mu @ gradient[:D])
        + 0.5 * jnp.sum(a * hessian[:D, :D])
        + pde.nonlinearity(t, x, _u(z), z_b)
    )


def test_structure_reads_every_term():
    rich = _Rich().structure()
    assert rich == pk.ParabolicStructure("diagonal", D, False, True, True, False)
    assert _Dense().structure().noise == "dense" and _Dense().structure().noise_dim == 2
    heat = _Heat().structure()
    assert heat == pk.ParabolicStructure("scalar", D, True, False, False, True)


@pytest.mark.parametrize("pde", [_Rich(), _Dense(), _Heat()], ids=["diagonal", "dense", "heat"])
def test_residual_matches_nested_autodiff(pde):
    expected = _by_hand(pde, _Z)
    assert_close(pde.exact_residual(_u, _Z), expected, rtol=1e-5)
    residual = pde.space_time_pde()
    u, derivatives = pk.Exact()(_u, _Z, residual.operators, jax.random.key(0))
    assert_close(residual.residual(_Z, u, derivatives, residual.source(_Z)), expected, rtol=1e-5)


def test_a_constant_scalar_sigma_is_the_spatial_laplacian():
    residual = _Heat().space_time_pde()
    assert residual.operators == (pk.TimeDerivative(), pk.SpatialLaplacian(D))
    assert residual.laplacian_coefficient == pytest.approx(1.0)
    gradient = [op for op in _Rich().space_time_pde().operators if isinstance(op, pk.Gradient)]
    assert gradient, "an f that reads z needs the gradient"


def test_stochastic_estimators_are_unbiased_on_the_rich_residual():
    residual = _Rich().space_time_pde()
    exact = _by_hand(_Rich(), _Z)
    estimator = pk.HTE(num_samples=4)

    def one(key):
        u, derivatives = estimator(_u, _Z, residual.operators, key)
        return residual.residual(_Z, u, derivatives, residual.source(_Z))

    draws = jax.vmap(one)(jax.random.split(jax.random.key(3), 4000))
    stderr = float(jnp.std(draws)) / math.sqrt(draws.shape[0])
    assert stderr > 0
    assert abs(float(jnp.mean(draws)) - float(exact)) < 5 * stderr


class _Bad(_Heat):
    kind: str = "sigma"

    def diffusion(self, t, x):
        return jnp.ones((D + 1,)) if self.kind == "sigma" else math.sqrt(2.0)

    def drift(self, t, x):
        return jnp.ones((2,)) if self.kind == "drift" else None

    def nonlinearity(self, t, x, u, z):
        return jnp.ones((2,)) if self.kind == "f" else jnp.zeros(())

    def terminal(self, x):
        return x if self.kind == "g" else jnp.sum(x)


def test_bad_shapes_and_horizons_are_refused_by_name():
    # Each names the function, the shapes it may return and the shape it did return.
    rejected(lambda: _Bad(kind="sigma").structure(), r"diffusion must return shape .*, got \(4,\)")
    rejected(
        lambda: _Bad(kind="drift").structure(),
        r"drift must return shape \(3,\) or None, got \(2,\)",
    )
    rejected(
        lambda: _Bad(kind="f").structure(), r"nonlinearity must return shape \(\) .*, got \(2,\)"
    )
    rejected(
        lambda: _Bad(kind="g").structure(),
        r"terminal must return shape \(\) \(a scalar\), got \(3,\)",
    )
    rejected(lambda: _Bad(kind="", T=0.0).structure(), "horizon T must be")
    rejected(lambda: _Bad(kind="", dim=0).structure(), "dim must be a positive integer")
    rejected(lambda: pk.DeepBSDE(_Heat(), num_steps=0), "num_steps must be an integer >= 1")
    rejected(lambda: _Rich().forward_pde(), "use method 'pinn' or 'deep-bsde'")


def test_deep_bsde_paths_are_euler_steps_of_the_sde():
    bsde = pk.DeepBSDE(_Dense(), num_steps=5, batch_size=2)
    x, dw = bsde.path(jax.random.key(0))
    pde, times = _Dense(), np.linspace(0.0, 0.7, 6)
    expected = [pde.origin()]
    for n in range(5):
        t, xn, h = times[n], expected[-1], times[n + 1] - times[n]
        expected.append(xn + pde.drift(t, xn) * h + pde.diffusion(t, xn) @ dw[n])
    assert_close(x, jnp.stack(expected), rtol=1e-5, atol=1e-6)
    assert dw.shape == (5, 2)
    assert_close(
        jnp.var(jax.vmap(bsde.path)(jax.random.split(jax.random.key(1), 4000))[1]),
        jnp.asarray(0.7 / 5),
        rtol=0.05,
    )


def test_deep_bsde_loss_vanishes_at_the_exact_solution():
    """HJB-LIN: u = sum(x) + T - t, so Y_0 = T and Z = sigma^T grad u = sqrt(2) (1, ..., 1)
    make Y_N = g(X_N) on every path; a wrong sign or scale in the recursion breaks it."""
    problem = get_problem("hjb-lin", 4)
    bsde = pk.DeepBSDE(problem.equation, num_steps=6, batch_size=32)
    network = bsde.network(jax.random.key(0), width=8, depth=1)
    last = network.mlp.layers[-1]
    z = jnp.full((4,), math.sqrt(2.0)) / network.gradient_scale
    y = jnp.asarray((1.0 - network.value_shift) / network.value_scale, jnp.float32)
    exact = eqx.tree_at(
        lambda n: (n.mlp.layers[-1].weight, n.mlp.layers[-1].bias, n.y),
        network,
        (jnp.zeros_like(last.weight), z, y),
    )
    assert float(exact.value) == pytest.approx(1.0, rel=1e-6)
    batch = bsde.sample(jax.random.key(2))
    assert float(bsde(exact, batch, jax.random.key(3))) < 1e-9
    assert float(bsde(network, batch, jax.random.key(3))) > 1e-3


def test_deep_bsde_recursion_is_the_euler_scheme_of_the_bsde():
    """Y_{n+1} = Y_n - f(t_n, X_n, Y_n, Z_n) h + Z_n . dW_n, path by path, with an f that
    reads t, x, u and z (a recursion that dropped any of them would differ)."""
    pde = _Rich()
    bsde = pk.DeepBSDE(pde, num_steps=4, batch_size=3)
    network = bsde.network(jax.random.key(0), width=6, depth=1)
    batch = bsde.sample(jax.random.key(1))
    times = jnp.asarray(bsde.times)
    got = bsde.terminal_values(network, batch)
    for p in range(3):
        y = network.value
        for n in range(4):
            x = batch.x[p, n]
            z = network.gradient_term(times[n], x)
            h = times[n + 1] - times[n]
            y = y - pde.nonlinearity(times[n], x, y, z) * h + z @ batch.dw[p, n]
        assert_close(got[p], y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n, spec in PROBLEMS.items() if spec.answer == "value"])
def test_parabolic_problems_state_their_terminal_data_consistently(name):
    """Each parabolic entry is built under its own name and horizon, and a problem that gives
    its terminal data as a function of s = |x|^2 (for quadrature) gives the same g."""
    problem = get_problem(name, 3)
    assert problem.name == name and problem.T == problem.equation.T > 0
    if problem.solution is not None:
        assert problem.reference_source == "closed form"
    if problem.radial_initial is not None:
        x = jax.random.normal(jax.random.key(0), (6, 3))
        assert_close(
            jax.vmap(lambda p: problem.radial_initial(jnp.sum(p**2)))(x),  # pyright: ignore[reportOptionalCall]
            jax.vmap(problem.terminal)(x),
            rtol=1e-6,
            atol=0.0,
        )


@pytest.mark.parametrize("name", ["heat-quadratic", "heat-gaussian"])
def test_the_baseline_of_a_linear_radial_problem_is_its_reference(name):
    """With f = 0 the PDE is its own baseline: E g(X_T) by quadrature in float64 is the closed
    form (a problem that lost its radial data would fall back to 4,096 Monte Carlo paths,
    off by about 1e-3 to 1e-2)."""
    problem = get_problem(name, 10)
    assert problem.baseline_value() == pytest.approx(problem.reference_value(), rel=1e-8)


def test_the_baseline_of_the_radial_trio_is_a_quadrature():
    """Semilinear heat without f: E g(X_T) with |X_T|^2 = 2 T S, S ~ chi^2_d, computed here by
    scipy to 1e-10; Monte Carlo paths (the fallback without radial data) miss it by ~1e-3."""
    from scipy import integrate, stats

    problem = get_problem("semilinear-heat", 10)
    exact, _ = integrate.quad(
        lambda s: 5 / (10 + 2 * 2 * problem.T * s) * stats.chi2.pdf(s, 10), 0, np.inf, epsabs=1e-13
    )
    assert problem.baseline_value() == pytest.approx(exact, rel=1e-8)


class _ScalarState(_Heat):
    """A scalar sigma that depends on the state: not Brownian paths."""

    def diffusion(self, t, x):
        return 1.0 + 0.1 * jnp.sum(x**2)


def test_only_a_constant_scalar_sigma_without_drift_trains_on_brownian_paths():
    def sampler(equation):
        return ParabolicProblem(name="mine", equation=equation, reference_source="").path_sampler()

    assert isinstance(sampler(_Heat()), pk.Brownian)
    assert isinstance(sampler(_ScalarState()), pk.SDEPaths)
    assert isinstance(sampler(_Rich()), pk.SDEPaths)


def test_the_baseline_of_black_scholes_barenblatt_follows_the_geometric_paths():
    """Without f, u(0, x0) = E|X_T|^2 = |x0|^2 e^{sigma^2 T} for dX = sigma X dW: Euler paths
    of 100 steps reach it within their Monte Carlo error (about 2e-3 here); one Euler step
    gives |x0|^2 (1 + sigma^2 T), 1.2 % lower."""
    problem = get_problem("black-scholes-barenblatt", 100)
    x0 = np.asarray(problem.equation.origin(), np.float64)
    exact = float(np.sum(x0**2) * np.exp(0.4**2 * problem.T))
    assert problem.baseline_value() == pytest.approx(exact, rel=5e-3)


def test_hjb_reference_by_cole_hopf_matches_gauss_hermite():
    """d = 1: u(0, 0) = -ln E[2 / (1 + 2 T Z^2)], Z ~ N(0, 1), by Gauss-Hermite here."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    mean = np.sum(weights * 2 / (1 + 2 * nodes**2)) / np.sqrt(2 * np.pi)
    assert get_problem("hjb", 1).reference_value() == pytest.approx(-np.log(mean), rel=1e-6)
    assert get_problem("hjb", 100).reference_value() == pytest.approx(4.5901, rel=2e-4)


def test_general_problems_references_and_baselines():
    ac = get_problem("allen-cahn-pnas", 100)
    assert ac.reference_value() == pytest.approx(0.052802, rel=1e-3)  # PNAS, branching
    bsb = get_problem("black-scholes-barenblatt", 4)
    assert bsb.reference_value() == pytest.approx(math.exp(0.21) * 2.5, rel=1e-6)
    # Without f the HJB value is E[g], above -ln E[exp(-g)] (Jensen) and distinct from it.
    hjb = get_problem("hjb", 10)
    baseline, reference = hjb.baseline_value(), hjb.reference_value()
    assert reference is not None
    assert baseline > reference + 1e-3
    lin = get_problem("hjb-lin", 10)
    # E[sum X_T] = 0 (the answer is 1): within 5 standard errors of sum X_T ~ N(0, 2 T d).
    assert abs(lin.baseline_value(samples=1024)) < 5 * math.sqrt(2 * 1.0 * 10 / 1024)


def test_what_a_new_user_ran_into():
    """Issue 22, item 6: each of these was silent or gave no hint."""

    # SpaceTimePDE refuses a gradient, and now says what to write instead.
    class WithGradient(pk.AbstractPDE):
        operators: tuple = (pk.Gradient(),)

        def source(self, x):
            return jnp.zeros(())

        def residual(self, x, u, derivatives, source):
            return jnp.sum(derivatives[0])

    rejected(lambda: pk.SpaceTimePDE(WithGradient(), 2), "subclass pinnkit.AbstractParabolicPDE")
    # A slice loss given a space sampler would overwrite a space coordinate with T.
    space = pk.UniformSampler(pk.Ball(3))
    rejected(lambda: pk.TerminalLoss(jnp.sum, space, 1.0), "wrap a space sampler")
    cylinder = pk.CylinderSampler(space, 0.0, 1.0)
    assert pk.TerminalLoss(jnp.sum, cylinder, 1.0).sample(jax.random.key(0)).points.shape[1] == 4
    # The reference of a user's own g is computed from that g, not the built-in one.
    equation = pk.problems.SemilinearParabolicPDE(
        "semilinear-heat", 10, 0.3, lambda x: 1 / (1 + jnp.sum(x**2))
    )
    mine = ParabolicProblem(
        "mine", equation, "radial method of lines", radial_initial=lambda s: 1 / (1 + s)
    )
    built_in = get_problem("semilinear-heat", 10).reference_value()
    value = mine.reference_value()
    assert value is not None and built_in is not None
    assert abs(value - built_in) > 0.05  # 0.4695 for the built-in g
    rejected(
        lambda: ParabolicProblem("mine", equation, "radial method of lines").reference_value(),
        "no radial_initial",
    )


def test_the_method_of_lines_in_float32_says_float64():
    discretization = pk.Radial(10, 300.0, 64, scale=5.0)
    mol = pk.MethodOfLines(discretization, jnp.sin, rtol=1e-10, atol=1e-12, max_steps=200)
    with pytest.warns(RuntimeWarning, match="float64"):
        solution = mol.solve(lambda x: 1 / (1 + jnp.sum(x**2)), 0.3)
    assert solution.result != pk.RESULTS.successful
    assert "float64" in solution.message and "It stopped at t = " in solution.message
    assert float(solution.ts[-1]) < 0.3  # the value returned is from where it stopped


def test_normalized_network_reads_and_writes_in_the_problem_scales():
    inner = pk.MLP(D + 1, width=8, depth=1, key=jax.random.key(0))
    origin, spread = jnp.array([100.0, 50.0, 1.0]), jnp.array([20.0, 10.0, 0.5])
    net = pk.Normalized(inner, origin, spread, 2.0, shift=57.0, scale=3.0)
    z = jnp.array([120.0, 40.0, 1.5, 1.0])
    expected = 57.0 + 3.0 * inner(jnp.array([1.0, -1.0, 1.0, 0.5]))
    assert_close(net(z), expected, rtol=1e-6)
    rejected(lambda: pk.Normalized(inner, origin[:2], spread, 1.0), "must have shape \\(3,\\)")
    # Default risk: prices near 100, value near 57; the normalised network starts there.
    problem = get_problem("black-scholes-default-risk", 5)
    network = problem.network(jax.random.key(0), width=16, depth=2)
    x0 = problem.equation.origin()
    start = float(network(jnp.concatenate([x0, jnp.zeros(1)])))
    assert 30.0 < start < 100.0, start
    plain = get_problem("semilinear-heat", 5).network(jax.random.key(0), width=16, depth=2)
    assert isinstance(plain, pk.MLP)  # the semilinear problems keep their plain network


def test_normalized_network_takes_a_feature_of_x():
    """With `feature`, the inner network sees (phi(x) - m)/s between x and t."""
    inner = pk.MLP(D + 2, width=8, depth=1, key=jax.random.key(0))
    origin, spread = jnp.array([100.0, 50.0, 1.0]), jnp.array([20.0, 10.0, 0.5])

    def phi(x):
        return jnp.sum(x**2)

    net = pk.Normalized(inner, origin, spread, 2.0, 57.0, 3.0, phi, 10_000.0, 4_000.0)
    assert net.in_size == D + 1
    z = jnp.array([120.0, 40.0, 1.5, 1.0])
    feature = (120.0**2 + 40.0**2 + 1.5**2 - 10_000.0) / 4_000.0
    expected = 57.0 + 3.0 * inner(jnp.array([1.0, -1.0, 1.0, feature, 0.5]))
    assert_close(net(z), expected, rtol=1e-6)
    small = pk.MLP(2, width=8, depth=1, key=jax.random.key(0))
    rejected(lambda: pk.Normalized(small, origin[:1], spread[:1], 1.0, feature=phi), "too few")
    rejected(
        lambda: pk.Normalized(inner, origin, spread, 1.0, feature=phi, feature_scale=0.0),
        "feature_scale",
    )


def test_terminal_feature_is_the_terminal_data_in_its_path_scales():
    """`network(..., terminal_feature=True)` feeds g with the mean and spread of g over the
    training points; a problem without path scales refuses it, and so does Deep BSDE."""
    problem = get_problem("black-scholes-barenblatt", 6)
    network = problem.network(jax.random.key(0), width=8, depth=1, terminal_feature=True)
    assert isinstance(network, pk.Normalized) and network.feature is not None
    points = problem.path_sampler()(jax.random.fold_in(jax.random.key(0), 2), 1024)
    g = jax.vmap(problem.terminal)(points[:, :-1])
    assert network.feature_shift == pytest.approx(float(jnp.mean(g)), rel=1e-6)
    assert network.feature_scale == pytest.approx(float(jnp.std(g)), rel=1e-5)
    x = points[0, :-1]
    assert_close(network.feature(x), problem.terminal(x))
    plain = get_problem("semilinear-heat", 5)
    rejected(lambda: plain.network(jax.random.key(0), terminal_feature=True), "normalised")
    rejected(
        lambda: pk.RunConfig(problem="hjb-lin", method="deep-bsde", terminal_feature=True),
        "terminal_feature",
    )


def test_terminal_feature_lowers_the_error_of_black_scholes_barenblatt(tmp_path):
    """u = e^{(r + sigma^2)(T - t)} |x|^2 grows with g = |x|^2: with g as an input the
    network learns a function of two inputs instead of a quadratic form of all d. Same seed
    and settings at d = 10, 150 steps: rel_l2 4.5e-3 without and 2.1e-3 with the feature
    (2026-12-05)."""
    errors = {}
    for feature in (False, True):
        result = pk.run(
            pk.RunConfig(
                problem="black-scholes-barenblatt",
                dim=10,
                method="pinn",
                terminal="hard",
                terminal_feature=feature,
                estimator="stde-dense",
                samples=4,
                steps=150,
                lr=3e-3,
                batch=64,
                width=32,
                depth=2,
                test_size=1000,
                readout_samples=64,
                time_steps=5,
                eval_every=150,
                progress=False,
                out=tmp_path / str(feature),
            )
        )
        assert result.details["terminal_feature"] is feature
        errors[feature] = result.metrics["rel_l2"]
    assert errors[True] < 0.6 * errors[False], errors
    assert errors[True] < 3e-3, errors


def test_deep_bsde_runs_by_script_and_command_line_with_the_same_numbers(tmp_path):
    from pinnkit.cli import main

    settings = {"steps": 300, "lr": 1e-2, "batch": 16, "width": 8, "depth": 1, "time_steps": 4}
    api = pk.run(
        pk.RunConfig(
            problem="hjb-lin",
            dim=3,
            method="deep-bsde",
            eval_every=150,
            progress=False,
            out=tmp_path / "api",
            **settings,
        )
    )
    argv = "solve hjb-lin --dim 3 --method deep-bsde --steps 300 --lr 1e-2 --batch 16 --width 8"
    argv += " --depth 1 --time-steps 4 --eval-every 150 --no-progress --out "
    argv += str(tmp_path / "cli")
    assert main(argv.split()) == 0
    cli = json.loads((tmp_path / "cli" / "result.json").read_text())
    assert cli["value"] == api.metrics["value"] and cli["history"]["loss"] == api.history["loss"]
    assert cli["reference"] == 1.0 and cli["details"]["time_steps"] == 4
    # Learning: the loss falls and the value beats the baseline (E[g] = 0, the answer 1).
    assert api.history["loss"][-1] < 0.5 * api.history["loss"][0]
    assert api.metrics["rel_error"] < 0.5 * api.metrics["baseline_rel_error"]


def test_deep_bsde_options_are_checked_before_any_work():
    base = {"problem": "hjb", "dim": 2, "method": "deep-bsde"}
    rejected(lambda: pk.RunConfig(**base, estimator="stde"), "which estimates no operator")
    rejected(lambda: pk.RunConfig(**base, time_steps=0), "an integer >= 1")
    rejected(lambda: pk.RunConfig(problem="hjb", time_steps=5, method="mol"), "method='mol'")
    rejected(lambda: pk.RunConfig(problem="hjb", samples=4, method="deep-bsde"), "no operator")
    rejected(lambda: pk.run(pk.RunConfig(problem="hjb", method="mol")), "valid methods")
    # The estimators that cannot take a dense sigma say so by name.
    residual = _Dense().space_time_pde()
    rejected(
        lambda: pk.SDGD(num_samples=2)(_u, _Z, residual.operators, jax.random.key(0)),
        "SDGD cannot evaluate",
    )


def test_deep_bsde_starts_one_picard_step_from_the_mean_terminal_value():
    """Allen-Cahn: Y_0 starts at E[g(X_T)] + T f(E g), much nearer u(0, 0) than E[g]."""
    problem = get_problem("allen-cahn-pnas", 20)
    bsde = pk.DeepBSDE(problem.equation, num_steps=10)
    scales = bsde.scales(jax.random.key(0), pilot=512)
    x, _ = jax.vmap(bsde.path)(jax.random.split(jax.random.key(0), 512))
    mean_g = float(jnp.mean(jax.vmap(problem.equation.terminal)(x[:, -1])))
    expected = mean_g + 0.3 * (mean_g - mean_g**3)
    assert scales.value_shift == pytest.approx(expected, rel=1e-5)
    reference = problem.reference_value()
    assert reference is not None
    assert abs(scales.value_shift - reference) < 0.5 * abs(mean_g - reference)


# ---------------------------------------------------------------------------------------------
# The Feynman–Kac read-out along paths (pinnkit.feynman_kac_path_value).


class _Free(_Dense):
    """The dense spec without its nonlinearity: its residual at _u is what f must cancel."""

    def nonlinearity(self, t, x, u, z):
        return jnp.zeros_like(u)


_LAMBDA, _C = -0.8, jnp.array([0.4, -0.3])


class _Manufactured(_Dense):
    r"""Drift, dense state-dependent sigma, an f of u and z, and _u as its exact solution:
    f = -(u*_t + mu.grad u* + tr(a D^2 u*)/2) + lambda (u - u*) + c.(z - sigma^T grad u*)."""

    def nonlinearity(self, t, x, u, z):
        point = jnp.concatenate([x, jnp.asarray(t)[None]])
        exact_z = self.sigma_transpose(t, x, jax.grad(_u)(point)[:D])
        return (
            -_Free().exact_residual(_u, point)
            + _LAMBDA * (u - _u(point))
            + jnp.dot(_C, z - exact_z)
        )

    def terminal(self, x):
        return _u(jnp.concatenate([x, jnp.array([self.T])]))


def test_manufactured_solution_solves_its_spec():
    pde = _Manufactured()
    assert pde.structure().gradient_in_nonlinearity
    assert abs(float(pde.exact_residual(_u, _Z))) < 1e-5


def test_path_readout_recovers_a_manufactured_solution():
    """With the exact solution as the network the read-out is u*(0, x0) up to the Euler bias,
    which halves with the step; a network off by a constant e moves it by exactly lambda T e
    on the same paths (the network enters f only: damped by T |f_u|, not passed on)."""
    pde = _Manufactured()
    exact = float(_u(jnp.concatenate([pde.origin(), jnp.zeros(1)])))
    key = jax.random.key(3)
    errors = {}
    for steps in (25, 100):
        estimate = pk.feynman_kac_path_value(pde, _u, key, samples=2**13, steps=steps)
        errors[steps] = estimate.value - exact
        assert abs(errors[steps]) < 5 * estimate.stderr + 2.0 / steps
    assert abs(errors[100]) < 0.02
    base = pk.feynman_kac_path_value(pde, _u, key, samples=2**10, steps=50)
    shifted = pk.feynman_kac_path_value(pde, lambda z: _u(z) + 0.1, key, samples=2**10, steps=50)
    assert shifted.value - base.value == pytest.approx(_LAMBDA * pde.T * 0.1, rel=1e-3)


def test_path_readout_control_variate_cancels_the_noise():
    """HJB-LIN's exact solution makes every path's estimate the same number, u(0, x0): the
    sum of sigma^T grad u . dW cancels g's fluctuation exactly. Without it the standard error
    would be sqrt(2 d T / N) = 1.4e-2 here."""
    problem = get_problem("hjb-lin", 10)
    estimate = pk.feynman_kac_path_value(
        problem.equation,
        lambda z: problem.backward_solution(z[:-1], z[-1]),
        jax.random.key(0),
        samples=2**10,
        steps=20,
    )
    assert estimate.value == pytest.approx(problem.reference_value(), abs=1e-5)
    assert estimate.stderr < 1e-6


def test_problems_choose_their_readout():
    """Semilinear problems with sigma = sqrt(2) I keep the read-out exact in time; the others
    read along paths, and the Black-Scholes-Barenblatt closed form is read within 3e-4."""
    assert get_problem("semilinear-heat", 4).feynman_kac_applies
    problem = get_problem("black-scholes-barenblatt", 10)
    assert not problem.feynman_kac_applies
    estimate = problem.feynman_kac_value(
        lambda z: problem.backward_solution(z[:-1], z[-1]), jax.random.key(1), samples=2**11
    )
    reference = problem.reference_value()
    assert abs(estimate.value - reference) < 5 * estimate.stderr + 3e-4 * reference


def test_path_readout_refuses_bad_input():
    problem = get_problem("hjb-lin", 3)
    key = jax.random.key(0)
    with no_typecheck(), pytest.raises(TypeError, match="AbstractParabolicPDE"):
        pk.feynman_kac_path_value(problem, lambda z: z[0], key)  # type: ignore[arg-type]
    rejected(lambda: pk.feynman_kac_path_value(problem.equation, _u, key, steps=0), "steps")
    network = pk.MLP(in_size=5, width=4, depth=1, key=key)
    rejected(lambda: pk.feynman_kac_path_value(problem.equation, network, key), "size 5")


# ---------------------------------------------------------------------------------------------
# Multilevel Picard (pinnkit.multilevel_picard_value), the default-risk reference's method.


def test_multilevel_picard_matches_the_radial_reference():
    """Allen-Cahn (PNAS form) at d = 10: n = M = 3 lands within five standard errors of the
    radial method of lines (0.3165127). Planted once: without the lower levels' correction
    terms (each level counted again) it lands 0.069 off, 30 standard errors."""
    problem = get_problem("allen-cahn-pnas", 10)
    estimate = pk.multilevel_picard_value(
        problem.equation,
        pk.gaussian_transition(math.sqrt(2.0)),
        jax.random.key(0),
        levels=3,
        realizations=32,
    )
    reference = problem.reference_value()
    assert estimate.samples == 32 and 0 < estimate.stderr < 3e-3
    assert abs(estimate.value - reference) < 5 * estimate.stderr


def test_geometric_transition_is_exact_in_law():
    """E X_s = x e^{mu (s - t)} and E X_s^2 = x^2 e^{(2 mu + sigma^2)(s - t)}, to 5 sigma."""
    transition = pk.geometric_transition(0.1, 0.3)
    n = 2**16
    t, s = jnp.full((n,), 0.2), jnp.full((n,), 1.2)
    x = transition(jax.random.key(0), t, s, jnp.full((n, 1), 2.0))[:, 0]
    mean, second = 2.0 * math.exp(0.1), 4.0 * math.exp(0.2 + 0.09)
    assert abs(float(jnp.mean(x)) - mean) < 5 * float(jnp.std(x)) / math.sqrt(n)
    assert abs(float(jnp.mean(x**2)) - second) < 5 * float(jnp.std(x**2)) / math.sqrt(n)


def test_multilevel_picard_refuses_what_it_cannot_take():
    key = jax.random.key(0)
    transition = pk.gaussian_transition(1.0)
    rejected(lambda: pk.multilevel_picard_value(_Rich(), transition, key), "gradient term")
    heat = _Heat()
    rejected(lambda: pk.multilevel_picard_value(heat, transition, key, levels=0), "levels")


def test_pinn_on_a_general_problem_by_script_and_command_line(tmp_path):
    """HJB-LIN by the PINN with the terminal data imposed exactly: the script and the command
    line give the same numbers; the read-out runs along paths with the configured steps; the
    test-set error is reported beside the trivial baseline u = g, whose error is
    sqrt((1/3) / (d + 1/3)) in expectation (0.28 at d = 4)."""
    from pinnkit.cli import main

    settings = dict(steps=60, lr=1e-3, batch=32, width=16, depth=2, test_size=2000)
    api = pk.run(
        pk.RunConfig(
            problem="hjb-lin",
            dim=4,
            method="pinn",
            terminal="hard",
            time_steps=10,
            readout_samples=512,
            eval_every=60,
            progress=False,
            out=tmp_path / "api",
            **settings,
        )
    )
    argv = "solve hjb-lin --dim 4 --method pinn --terminal hard --time-steps 10"
    argv += " --readout-samples 512 --eval-every 60 --steps 60 --lr 1e-3 --batch 32 --width 16"
    argv += f" --depth 2 --test-size 2000 --no-progress --out {tmp_path / 'cli'}"
    assert main(argv.split()) == 0
    cli = json.loads((tmp_path / "cli" / "result.json").read_text())
    assert cli["value"] == api.metrics["value"] and cli["rel_l2"] == api.metrics["rel_l2"]
    readout = api.details["feynman_kac"]
    assert readout["time_steps"] == 10 and readout == cli["details"]["feynman_kac"]
    baseline = api.details["baseline_rel_l2"]
    assert baseline == pytest.approx(math.sqrt((1 / 3) / (4 + 1 / 3)), rel=0.1)
    rel_l2 = api.metrics["rel_l2"]
    assert rel_l2 is not None and rel_l2 < 0.5 * baseline  # learnt the T - t term


def test_default_risk_reference_is_reproduced():
    """The stored d = 100 reference (n = M = 5, 1,024 realizations) against a fresh, cheaper
    run with another key (n = M = 4, 128 realizations): within five combined standard errors;
    the problem at d = 100 carries it."""
    from pinnkit.problems import DEFAULT_RISK_REFERENCE, default_risk_reference

    fresh = default_risk_reference(100, levels=4, realizations=128, key=jax.random.key(11))
    stored = DEFAULT_RISK_REFERENCE
    assert fresh.samples == 128 and 0 < fresh.stderr < 0.1
    assert abs(fresh.value - stored.value) < 5 * math.hypot(fresh.stderr, stored.stderr)
    assert get_problem("black-scholes-default-risk", 100).reference_value() == stored.value
    # Its default key is the key 0 the stored value names.
    small = {"dim": 2, "levels": 2, "realizations": 4}
    assert default_risk_reference(**small) == default_risk_reference(**small, key=jax.random.key(0))


def test_path_scales_read_the_terminal_rate_from_the_pde():
    """m_T, the mean of u_t(T, X_T) = -(L g + f): exactly -1 for HJB-LIN (g linear, so the
    martingale term removes all the step's noise), and -(r + sigma^2) E|X_T|^2 for
    Black-Scholes-Barenblatt (within the Euler paths' 1 %); the hard-terminal network of a
    normalised problem starts its correction there."""
    lin = get_problem("hjb-lin", 10)
    assert pk.DeepBSDE(lin.equation).scales(jax.random.key(1)).terminal_rate == pytest.approx(
        -1.0, abs=1e-5
    )
    bsb = get_problem("black-scholes-barenblatt", 20)
    equation = bsb.equation
    rate = pk.DeepBSDE(equation).scales(jax.random.key(1), pilot=2048).terminal_rate
    second_moment = float(jnp.sum(equation.origin() ** 2)) * math.exp(equation.sigma**2)
    assert rate == pytest.approx(-(equation.r + equation.sigma**2) * second_moment, rel=0.03)
    network = bsb.network(jax.random.key(0), width=8, depth=1, terminal="hard")
    assert isinstance(network, pk.HardInitial)
    inner = network.network
    expected = pk.DeepBSDE(equation).scales(jax.random.fold_in(jax.random.key(0), 1))
    assert isinstance(inner, pk.Normalized)
    assert inner.shift == pytest.approx(expected.terminal_rate)
    assert inner.scale == pytest.approx(expected.value_scale / equation.T)
