"""`pinnkit.fit_output_offset`: the network's output bias fitted to the loss before training,
and its `--fit-offset` options in `pinnkit solve` and `pinnkit bench accuracy`."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import NETWORK_FACTORIES, random_points
from internals import finished, run_name

import pinnkit as pk
from pinnkit.cli import main


class ConstantAllenCahn(pk.AbstractPDE):
    """$\\Delta u + u - u^3 = f$ with the solution $u^* = C (1 - |x|^2)$."""

    constant: float
    operators: tuple = (pk.Laplacian(),)

    def source(self, x):
        u = self.constant * (1 - jnp.sum(x**2))
        return -2 * x.shape[0] * self.constant + u - u**3

    def residual(self, x, u, derivatives, source):
        (laplacian,) = derivatives
        return laplacian + u - u**3 - source


def _constant_network(dim: int, key) -> pk.HardDirichlet:
    """$(1 - |x|^2) N(x)$ with the output layer's weights zero: $N$ is its bias alone."""
    net = pk.HardDirichlet(pk.MLP(dim, 8, 2, key=key))
    weight = lambda n: n.network.layers[-1].weight  # noqa: E731
    return eqx.tree_at(weight, net, jnp.zeros_like(weight(net)))


@pytest.mark.parametrize("estimator", ["exact", "stde", "hte"])
def test_recovers_the_constant_of_a_nonlinear_problem(estimator):
    """With $N$ constant the network can equal $u^*$ exactly: the fit must find the constant
    (a nonlinear PDE, so several Newton steps; the stochastic estimators are exact on
    $C (1 - |x|^2)$, whose Hessian is a multiple of the identity)."""
    dim, constant = 6, 1.7
    network = _constant_network(dim, jax.random.key(0))
    pde = ConstantAllenCahn(constant)
    loss = pk.ResidualLoss(
        pde,
        pk.UniformSampler(pk.Ball(dim)),
        pk.make_estimator(estimator, None if estimator == "exact" else 3),
        batch_size=16,
    )
    fitted = pk.fit_output_offset(network, loss, jax.random.key(1))
    bias = pk.output_bias(network)
    np.testing.assert_allclose(bias(fitted), [constant], rtol=1e-5)
    x = random_points(jax.random.key(2), 5, dim)
    np.testing.assert_allclose(
        jax.vmap(fitted)(x), constant * (1 - jnp.sum(x**2, axis=1)), rtol=1e-5
    )
    # Every other parameter is unchanged.
    rest = lambda net: eqx.tree_at(bias, net, jnp.zeros(1))  # noqa: E731
    for a, b in zip(jax.tree.leaves(rest(fitted)), jax.tree.leaves(rest(network)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_quadratic_loss_is_minimised_exactly():
    """For a data loss $L(b) = \\mathrm{mean}((u_0 + b \\varphi - y)^2)$ the minimiser is
    $b^* = \\sum \\varphi (y - u_0) / \\sum \\varphi^2$."""
    key = jax.random.key(3)
    network = pk.HardDirichlet(pk.MLP(3, 8, 2, key=key))
    x = random_points(jax.random.key(4), 40, 3)
    y = jnp.sin(x.sum(axis=1)) + 2.0
    loss = pk.DataLoss(x, y)
    fitted = pk.fit_output_offset(network, loss, jax.random.key(5))
    phi = 1 - jnp.sum(x**2, axis=1)
    expected = jnp.sum(phi * (y - jax.vmap(network)(x))) / jnp.sum(phi**2)
    bias = pk.output_bias(network)
    np.testing.assert_allclose(bias(fitted) - bias(network), [expected], rtol=1e-4)
    batch = loss.sample(key)
    assert loss(fitted, batch, key) < loss(network, batch, key)


class CountingDataLoss(pk.DataLoss):
    """A data loss that counts the batches it draws, from inside compiled code."""

    def sample(self, key):
        jax.debug.callback(lambda: DRAWN.append(1))
        return super().sample(key)


DRAWN: list[int] = []


def test_a_quadratic_loss_takes_one_newton_step():
    """A quadratic is minimised by its first Newton step; the next step is below `rtol` and
    the solve stops there: two evaluations of the loss, each drawing its `batches` batches
    anew (none are held between evaluations)."""
    network = pk.HardDirichlet(pk.MLP(3, 8, 2, key=jax.random.key(3)))
    x = random_points(jax.random.key(4), 40, 3)
    loss = CountingDataLoss(x, jnp.sin(x.sum(axis=1)) + 2.0)
    DRAWN.clear()
    pk.fit_output_offset(network, loss, jax.random.key(5), batches=3)
    assert len(DRAWN) == 2 * 3


@pytest.mark.parametrize("kind", sorted(NETWORK_FACTORIES))
def test_the_selector_finds_the_output_bias(kind):
    """In every network kind the output is affine in the selected bias, with a nonzero
    slope; for a plain MLP the slope is 1."""
    network = NETWORK_FACTORIES[kind](4, jax.random.key(6))
    bias = pk.output_bias(network)
    x = random_points(jax.random.key(7), 3, 4)
    out = {s: jax.vmap(eqx.tree_at(bias, network, bias(network) + s))(x) for s in (0, 1, 2)}
    slope = out[1] - out[0]
    np.testing.assert_allclose(out[2] - out[0], 2 * slope, rtol=1e-4, atol=1e-6)
    assert np.all(np.abs(slope) > 1e-3)
    if kind == "mlp":
        np.testing.assert_allclose(slope, 1.0, rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="no eqx.nn.Linear"):
        pk.output_bias(eqx.nn.Linear(3, 2, key=jax.random.key(0)))
    network = pk.MLP(2, 4, 1, key=jax.random.key(0))
    loss = pk.DataLoss(jnp.zeros((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="batches and max_steps"):
        pk.fit_output_offset(network, loss, jax.random.key(1), batches=0)


def test_cli_fit_offset(tmp_path):
    """`--fit-offset` starts from the best constant: after one step the error is well below
    the unfitted run's, and `result.json` records the offset."""
    argv = "solve poisson-two-body --dim 40 --steps 1 --eval-every 1 --width 8 --batch 16"
    argv += " --test-size 200 --no-progress"
    results = {}
    for fit in (False, True):
        out = tmp_path / str(fit)
        extra = ["--fit-offset"] if fit else []
        assert main([*argv.split(), *extra, "--out", str(out)]) == 0
        results[fit] = json.loads((out / "result.json").read_text())
        assert results[fit]["config"]["fit_offset"] is fit
    assert results[False]["details"]["output_offset"] is None
    assert np.isfinite(results[True]["details"]["output_offset"])
    assert results[True]["rel_l2"] < 0.5 * results[False]["rel_l2"]


def test_parabolic_problems_refuse_fit_offset(tmp_path):
    with pytest.raises(SystemExit):
        main(
            ["solve", "heat-parabolic", "--dim", "2", "--method", "mol", "--fit-offset"]
            + ["--no-progress", "--out", str(tmp_path)]
        )


def test_bench_accuracy_keeps_fitted_runs_apart(tmp_path):
    assert run_name("p", 3, "stde", 0, fit_offset=True) == "p-d3-stde-s0-fit"
    argv = ["bench", "accuracy", "--problems", "poisson-two-body", "--dims", "3"]
    argv += ["--steps", "10", "--width", "8", "--batch", "8", "--samples", "2"]
    argv += ["--test-size", "50", "--eval-every", "5", "--out", str(tmp_path / "runs")]
    argv += ["--json", str(tmp_path / "acc.json"), "--fit-offset"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "acc.json").read_text())["records"][0]
    assert record["fit_offset"] is True and record["output_offset"] is not None
    path = tmp_path / "runs" / "poisson-two-body-d3-stde-s0-fit" / "result.json"
    assert finished(path, record) is not None
    assert finished(path, {**record, "fit_offset": False}) is None
    # A result.json from before `fit_offset` existed stands for a run without the fit.
    old = json.loads(path.read_text())
    del old["config"]["fit_offset"]
    path.write_text(json.dumps(old))
    assert finished(path, {**record, "fit_offset": False}) is not None
