"""Parabolic problems (forward form v_tau = Δv + f(v)) and `pinnkit solve --method mol|pinn`."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, rejected
from internals import pinn_loss, run_parabolic

import pinnkit as pk
from pinnkit.cli import main
from pinnkit.problems import MONTE_CARLO_REFERENCES, PROBLEMS, ParabolicProblem, get_problem


CLOSED_FORM = ["heat-quadratic", "heat-exponential", "heat-gaussian"]
PARABOLIC = [name for name, spec in PROBLEMS.items() if spec.answer == "value"]
PARABOLIC_KEYS = {"problem", "dim", "method", "seed", "value", "reference", "rel_error"}


def test_registry_holds_every_parabolic_problem():
    expected = ["semilinear-heat", "allen-cahn-parabolic", "sine-gordon-parabolic", *CLOSED_FORM]
    general = ["hjb", "allen-cahn-pnas", "black-scholes-barenblatt", "hjb-lin"]
    assert PARABOLIC == [*expected, *general, "black-scholes-default-risk"]
    for name in expected:
        problem = get_problem(name, 3)
        assert isinstance(problem, ParabolicProblem)
        assert ("mol" in PROBLEMS[name].methods) == problem.radial, name
        assert problem.name == name and problem.dim == 3 and problem.T == 0.3
        assert problem.pde.operators == (pk.Laplacian(),)
    rejected(lambda: get_problem("heat", 3), "valid names")
    rejected(lambda: get_problem("semilinear-heat", 0), "dim >= 1")


@pytest.mark.parametrize(
    "name, f",
    [
        ("semilinear-heat", lambda u: (1 - u**2) / (1 + u**2)),
        ("allen-cahn-parabolic", lambda u: u - u**3),
        ("sine-gordon-parabolic", jnp.sin),
        ("heat-gaussian", lambda u: 0 * u),
    ],
)
def test_forward_right_hand_side(name, f, x64):
    # residual(x, u, (Δu,), source) is F(u) = Δu + f(u), by nested autodiff on a network.
    problem = get_problem(name, 3)
    net = pk.MLP(3, 8, 1, key=jax.random.key(0))
    x = jnp.array([0.2, -0.4, 0.7])
    u, derivatives = pk.Exact()(net, x, problem.pde.operators, jax.random.key(0))
    rhs = problem.pde.residual(x, u, derivatives, problem.pde.source(x))
    assert_close(rhs, jnp.trace(jax.hessian(net)(x)) + f(net(x)), rtol=1e-10)


def test_initial_data(x64):
    x = jnp.array([0.5, -1.0, 2.0])
    heat = get_problem("semilinear-heat", 3)
    assert_close(heat.initial(x), 5 / (10 + 2 * jnp.sum(x**2)))
    allen_cahn = get_problem("allen-cahn-parabolic", 3)
    assert_close(allen_cahn.initial(x), jnp.arctan(2.0))
    assert heat.radial and not allen_cahn.radial
    assert heat.radial_initial is not None
    assert_close(heat.radial_initial(jnp.sum(x**2)), heat.initial(x))


def test_references_say_where_they_come_from():
    assert get_problem("allen-cahn-parabolic", 100).reference_value() == 1.04510
    assert get_problem("allen-cahn-parabolic", 7).reference_value() is None
    heat = get_problem("semilinear-heat", 100)
    assert heat.reference_source == "radial method of lines" and heat.known_reference is None
    assert MONTE_CARLO_REFERENCES["sine-gordon"][1_000] == 0.0055896


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_closed_forms_solve_the_heat_equation(name, x64):
    dim = 4
    problem = get_problem(name, dim)
    solution = problem.solution
    assert solution is not None
    x = jnp.array([0.3, -0.2, 0.5, 0.1])
    for tau in (0.0, 0.1, 0.3):
        v_tau = jax.grad(lambda s: solution(x, s))(tau)
        laplacian = jnp.trace(jax.hessian(lambda y, tau=tau: solution(y, tau))(x))
        assert_close(v_tau, laplacian, rtol=1e-10)
    assert_close(solution(x, 0.0), problem.initial(x), rtol=1e-12)
    assert_close(solution(jnp.zeros(dim), problem.T), problem.reference_value(), rtol=1e-12)


def test_space_time_loss_vanishes_on_the_exact_solution(x64):
    # u(t, x) = v(T - t, x) satisfies u_t + Δu = 0 and u(T) = g: residual, value and gradient
    # terms are all zero, with an exact and with a stochastic estimator.
    problem = get_problem("heat-exponential", 5)

    def exact(z):
        return problem.backward_solution(z[:-1], z[-1])

    for estimator in (pk.Exact(), pk.STDE(num_samples=2)):
        loss = problem.loss(estimator, batch_size=16)
        batch = loss.sample(jax.random.key(1))
        values = loss.values(exact, batch, jax.random.key(2))
        assert set(values) == {"residual", "terminal"}
        assert_close(values["residual"], jnp.zeros(()), atol=1e-20)
        assert_close(values["terminal"], jnp.zeros(()), atol=1e-20)
    # A wrong solution (diffusing backwards) has a residual.
    wrong = problem.loss(pk.Exact(), batch_size=16)
    batch = wrong.sample(jax.random.key(1))

    solution = problem.solution
    assert solution is not None

    def backwards(z):
        return solution(z[:-1], z[-1] - problem.T)

    assert float(wrong.values(backwards, batch, jax.random.key(2))["residual"]) > 1e-3


def _solve(tmp_path, *args):
    out = tmp_path / "run"
    code = main(["solve", *args, "--no-progress", "--out", str(out)])
    return code, json.loads((out / "result.json").read_text()), out


def test_cli_mol_matches_closed_form(tmp_path, capsys):
    code, result, out = _solve(tmp_path, "heat-gaussian", "--dim", "3", "--method", "mol")
    assert code == 0
    assert PARABOLIC_KEYS <= set(result)
    assert result["method"] == "mol" and result["details"]["reference_source"] == "closed form"
    assert result["details"]["T"] == 0.3 and result["rel_error"] < 1e-7
    assert abs(result["value"] - (1 / 1.2) ** 1.5) < 1e-7
    curve = result["details"]["curve"]
    assert curve["t"][0] == 0.0 and abs(curve["t"][-1] - 0.3) < 1e-12
    assert abs(curve["u"][0] - result["value"]) < 1e-12
    assert abs(curve["u"][-1] - 1.0) < 1e-12  # the data g(0) at t = T
    assert (out / "solution.png").stat().st_size > 1000
    assert "rel_error=" in capsys.readouterr().out


_PINN = dict(
    problem="heat-quadratic",
    dim=2,
    method="pinn",
    estimator="stde",
    samples=1,
    steps=40,
    batch=8,
    width=8,
    depth=1,
    eval_every=20,
    test_size=50,
    lr=1e-2,
    progress=False,
)


def test_pinn_run_writes_the_result(tmp_path):
    # With the hard terminal and parameter averaging.
    config = pk.RunConfig(
        **_PINN, terminal="hard", average=0.5, readout_samples=4096, out=tmp_path / "run"
    )
    run = pk.run(config)
    result = json.loads((run.out / "result.json").read_text())
    assert result == json.loads(json.dumps(run.to_dict()))  # what is saved is what is returned
    details = result["details"]
    assert details["terminal"] == "hard" and details["averaged_steps"] == 20
    assert details["unbiased"] is False and details["sharing"] == "batch"
    assert details["curve"]["u"][-1] == pytest.approx(0.0, abs=1e-6)  # g(0) at t = T, exactly
    # Heat (f = 0): the Feynman-Kac read-out is E g(X_T), 2dT = 1.2 whatever the network.
    fk = details["feynman_kac"]
    assert fk["samples"] == 4096 and abs(fk["value"] - 1.2) < 5 * fk["stderr"] < 0.15
    assert fk["rel_error"] == pytest.approx(abs(fk["value"] - 1.2) / 1.2)
    for name, value in (("terminal", "exact"), ("average", 1.5), ("readout_samples", -1)):
        rejected(
            lambda name=name, value=value: config.replace(**{name: value}), f"RunConfig.{name}"
        )
    assert PARABOLIC_KEYS <= set(result) and result["estimator"] == "stde"
    assert result["reference"] == pytest.approx(1.2)
    assert result["rel_error"] == pytest.approx(abs(result["value"] - 1.2) / 1.2)
    assert result["steps"] == 40 and result["result"] == "successful"
    # Today (seed 0): rel_l2 = 0.4212 and rel_error = 0.8617 after 40 steps.
    assert 0 < result["rel_l2"] < 1.25 * 0.4212 and result["rel_error"] < 1.25 * 0.8617
    assert result["history"]["eval_step"][-1] == 40  # evaluated at least at the end
    tracked = result["history"]["rel_error"][-1]
    assert tracked == pytest.approx(result["rel_error"], rel=1e-4)
    assert (run.out / "solution.png").exists() and (run.out / "network.eqx").exists()


def test_pinn_run_takes_the_optimizer_and_schedule(tmp_path, monkeypatch):
    calls = []
    real = pk.make_optimizer
    monkeypatch.setattr(run_parabolic, "make_optimizer", lambda *a: calls.append(a) or real(*a))
    config = pk.RunConfig(
        **{**_PINN, "steps": 4, "eval_every": 4, "test_size": 10},
        optimizer="adamw",
        schedule="cosine",
        readout_samples=0,
        out=tmp_path / "run",
    )
    result = pk.run(config).to_dict()
    assert calls == [("adamw", 1e-2, 4, "cosine")]
    assert result["config"]["optimizer"] == "adamw" and result["config"]["schedule"] == "cosine"
    assert result["steps"] == 4 and result["result"] == "successful"


def test_cli_rejects_bad_methods(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["solve", "allen-cahn-parabolic", "--dim", "3", "--method", "mol"])
    assert "radial" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["solve", "semilinear-heat", "--dim", "3", "--method", "fd"])
    assert "invalid choice: 'fd'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["solve", "poisson-two-body", "--dim", "3", "--method", "mol"])
    assert "parabolic" in capsys.readouterr().err


def test_problems_command_lists_parabolic(capsys):
    assert main(["problems"]) == 0
    out = capsys.readouterr().out
    for name in PARABOLIC:
        assert name in out


def test_hard_terminal_network_and_loss(x64):
    # terminal="hard": u = g + (t - T) net meets g at t = T exactly; the loss is the residual.
    problem = get_problem("sine-gordon-parabolic", 3)
    net = problem.network(jax.random.key(0), width=8, depth=1, terminal="hard")
    assert isinstance(net, pk.HardInitial) and net.initial_time == problem.T
    x = jnp.array([0.3, -0.2, 0.5])
    assert_close(net(jnp.append(x, problem.T)), problem.initial(x), rtol=1e-12)
    assert abs(float(net(jnp.append(x, 0.0)) - problem.initial(x))) > 1e-6
    loss = problem.loss(pk.Exact(), batch_size=4, terminal="hard")
    assert set(loss.terms) == {"residual"}
    rejected(lambda: problem.loss(terminal="exact"), "'soft' or 'hard'")
    rejected(lambda: problem.network(jax.random.key(0), terminal="x"), "'soft'")


def test_tail_average_lands_on_the_mean_of_the_last_iterates(x64):
    # SGD on |p|^2 / 2 with rate 0.1: p_k = 0.9^k p_0; the last update moves to the mean of
    # p_{n-m+1}, ..., p_n (m = tail), whatever the inner optimizer did there.
    import optax
    from internals import tail_average

    steps, tail, p0 = 6, 3, jnp.array([1.0, -2.0])
    optimizer = tail_average(optax.sgd(0.1), steps, tail)
    params, state = p0, optimizer.init(p0)
    for _ in range(steps):
        updates, state = optimizer.update(params, state, params)  # gradient of |p|^2 / 2
        params = optax.apply_updates(params, updates)
    expected = p0 * np.mean([0.9**k for k in range(steps - tail + 1, steps + 1)])
    assert_close(params, expected, rtol=1e-12)
    # With no tail the optimizer is the inner one: plain SGD, p_n = 0.9^n p_0.
    plain = tail_average(optax.sgd(0.1), steps, 0)
    params, state = p0, plain.init(p0)
    for _ in range(steps):
        updates, state = plain.update(params, state, params)
        params = optax.apply_updates(params, updates)
    assert_close(params, p0 * 0.9**steps, rtol=1e-12)
    rejected(lambda: tail_average(optax.sgd(0.1), steps, steps + 1), "averaged steps")


@pytest.mark.parametrize("unbiased, sharing", [(True, "point"), (False, None)])
def test_unbiased_and_sharing_reach_the_loss(unbiased, sharing):
    # RunConfig(unbiased=True, sharing="point") builds a residual term with those settings;
    # left out, the defaults (the square of one estimate, one draw per batch).
    config = pk.RunConfig(
        problem="sine-gordon-parabolic",
        dim=4,
        estimator="stde",
        samples=2,
        batch=8,
        unbiased=unbiased,
        sharing=sharing,
    )
    problem = get_problem("sine-gordon-parabolic", 4)
    residual = pinn_loss(problem, config, pk.make_estimator("stde", 2)).terms["residual"]
    assert isinstance(residual, pk.ResidualLoss)
    assert residual.unbiased is unbiased
    assert residual.sharing == (sharing or "batch")
    assert residual.batch_size == 8
    rejected(lambda: config.replace(sharing="points"), "RunConfig.sharing must be one of batch")


def test_cli_refuses_unbiased_and_sharing_outside_the_pinn(capsys):
    # Not for another parabolic method, nor for an elliptic problem.
    for argv, option, match in (
        ("sine-gordon-parabolic --method mol --unbiased", "--unbiased", "method='mol'"),
        ("semilinear-heat --method galerkin --sharing point", "--sharing", "method='galerkin'"),
        ("poisson-two-body --sharing batch", "--sharing", "the elliptic problem"),
        ("poisson-two-body --unbiased", "--unbiased", "the elliptic problem"),
        ("semilinear-heat --method mol --schedule cosine", "--schedule", "method='mol'"),
        ("semilinear-heat --method galerkin --optimizer sgd", "--optimizer", "method='galerkin'"),
        ("semilinear-heat --method mol --readout-samples 9", "--readout-samples", "method='mol'"),
        ("poisson-two-body --readout-samples 9", "--readout-samples", "the elliptic problem"),
        ("semilinear-heat --lbfgs-steps 5", "--lbfgs-steps", "the parabolic problem"),
        ("sine-gordon-parabolic --method mol --resume", "--resume", "the parabolic problem"),
        ("semilinear-heat --devices 2", "--devices", "the parabolic problem"),
        ("semilinear-heat --block-size 1", "--block-size", "the parabolic problem"),
        ("semilinear-heat --fit-offset", "--fit-offset", "the parabolic problem"),
    ):
        with pytest.raises(SystemExit):
            main(["solve", *argv.split(), "--dim", "3"])
        err = capsys.readouterr().err
        assert f"{option} = " in err and "does not apply to" in err and match in err, err
