"""The `"xla-threefry"` PRNG: keys, determinism, the distributions drawn with it, and its use
through the solver, the command line and `pinnkit bench accuracy`."""

import json
import math
import signal

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from internals import finished, run_name, with_prng

import pinnkit as pk
from pinnkit.cli import main


def _impl(key):
    return jax.random.key_impl(key)


XTF = _impl(jax.random.key(0, impl=pk.XLA_THREEFRY))


def test_keys_derived_deterministically_and_idempotently():
    base = jax.random.key(3)
    key = pk.xla_threefry_key(base)
    assert _impl(key) == XTF and key.shape == ()
    same = pk.xla_threefry_key(jax.random.key(3))
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(same))
    assert pk.xla_threefry_key(key) is key
    other = jax.random.key_data(pk.xla_threefry_key(jax.random.key(4)))
    assert not np.array_equal(jax.random.key_data(key), other)
    assert with_prng(base, "threefry") is base
    np.testing.assert_array_equal(
        jax.random.key_data(with_prng(base, "xla-threefry")), jax.random.key_data(key)
    )
    assert pk.PRNGS == ("threefry", "xla-threefry")


def test_bad_input():
    with pytest.raises(TypeError, match="typed PRNG key"):
        pk.xla_threefry_key(jax.random.PRNGKey(0))  # a raw uint32 array
    # An array of keys: refused by the function, or first by the tests' type checker.
    with pytest.raises((ValueError, jaxtyping.TypeCheckError)):
        pk.xla_threefry_key(jax.random.split(jax.random.key(0)))
    with pytest.raises(ValueError, match="unknown PRNG 'philox'"):
        with_prng(jax.random.key(0), "philox")


def test_same_key_same_numbers_split_and_fold_in_give_others():
    key = pk.xla_threefry_key(jax.random.key(0))
    draw = lambda k: jax.random.normal(k, (1000,))  # noqa: E731
    np.testing.assert_array_equal(draw(key), jax.jit(draw)(key))
    a, b = jax.random.split(key)
    # (As with jax.random's threefry keys, split(key)[1] is fold_in(key, 1): not compared.)
    folded = [jax.random.fold_in(key, data) for data in (7, 8)]
    streams = [draw(k) for k in (key, a, b, *folded)]
    for i in range(len(streams)):
        for j in range(i):
            # Independent streams: no equal values and a correlation of order 1/sqrt(n).
            assert not np.any(streams[i] == streams[j])
            assert abs(np.corrcoef(streams[i], streams[j])[0, 1]) < 5 / math.sqrt(1000)
    assert all(_impl(k) == XTF for k in (a, b, *folded))


def test_normal_and_uniform_moments():
    """Moments of 2^18 draws within 5 standard errors of N(0, 1) and U[0, 1)."""
    n = 2**18
    key = pk.xla_threefry_key(jax.random.key(1))
    z = np.asarray(jax.random.normal(key, (n,)), np.float64)
    se = 1 / math.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs((z**2).mean() - 1) < 5 * math.sqrt(2) * se
    assert abs((z**4).mean() - 3) < 5 * math.sqrt(96) * se
    u = np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), (n,)), np.float64)
    assert u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    chi2 = float(((counts - n / 10) ** 2 / (n / 10)).sum())
    assert chi2 < 35  # 9 degrees of freedom: P(chi2 > 35) < 1e-4
    # Every width of raw bits, and the integer draws built on them.
    for dtype in (jnp.uint8, jnp.uint16, jnp.uint32, jnp.uint64):
        with jax.enable_x64(dtype == jnp.uint64):
            bits = jax.random.bits(key, (4096,), dtype)
        assert bits.dtype == dtype and len(np.unique(np.asarray(bits))) > 200
    ints = np.asarray(jax.random.randint(key, (n,), 0, 7))
    assert np.all(np.abs(np.bincount(ints, minlength=7) / n - 1 / 7) < 5 * math.sqrt(6 / 49 / n))


def test_ball_points_with_the_key():
    """Radius-uniform ball points: norms at most 1, mean radius 1/2, and isotropic
    coordinates (E x_i^2 = E r^2 / d = 1/(3 d))."""
    n, d = 20_000, 8
    key = pk.xla_threefry_key(jax.random.key(2))
    x = np.asarray(pk.Ball(d).sample_interior(key, n), np.float64)
    r = np.linalg.norm(x, axis=1)
    assert r.max() <= 1 + 1e-6
    assert abs(r.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    second = (x**2).mean(axis=0)
    np.testing.assert_allclose(second, 1 / (3 * d), rtol=0.1)


def test_solver_with_the_key_is_deterministic_and_resumes(tmp_path, ctrl_c):
    problem = pk.problems.get_problem("poisson-two-body", 3)
    loss = problem.loss(pk.STDE(2), batch_size=8)
    network = problem.network(jax.random.key(1), width=8, depth=1)
    key = pk.xla_threefry_key(jax.random.key(5))
    test_set = problem.test_set(pk.xla_threefry_key(jax.random.key(6)), size=16)
    solver = pk.PINNSolver(loss, log_every=5, eval_every=5)

    def solve(key, folder=None, interrupt_at=None, resume=False):
        def callback(step, logs):
            if step == interrupt_at:
                signal.raise_signal(signal.SIGINT)

        return solver.solve(
            network, 20, key, test_set=test_set, progress=False, callback=callback,
            checkpoint_dir=folder, resume=resume,
        )  # fmt: skip

    first, again = solve(key), solve(key)
    np.testing.assert_array_equal(first.history["loss"], again.history["loss"])
    threefry = solve(jax.random.key(5))
    assert not np.array_equal(first.history["loss"], threefry.history["loss"])
    # Ctrl-C after step 10, then resumed from the checkpoint: the same numbers.
    with pytest.warns(RuntimeWarning, match="interrupted at step 10 of 20"):
        solve(key, tmp_path / "ck", interrupt_at=10)
    resumed = solve(key, tmp_path / "ck", resume=True)
    for name in ("loss", "rel_l2"):
        np.testing.assert_array_equal(resumed.history[name], first.history[name])
    leaves = lambda net: jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_array))  # noqa: E731
    for a, b in zip(leaves(resumed.network), leaves(first.network), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cli_prng_changes_the_draws_not_the_problem(tmp_path):
    argv = "solve poisson-two-body --dim 4 --steps 10 --batch 8 --width 8 --test-size 50"
    results = {}
    for prng in pk.PRNGS:
        out = tmp_path / prng
        code = main([*argv.split(), "--prng", prng, "--no-progress", "--out", str(out)])
        assert code == 0
        results[prng] = json.loads((out / "result.json").read_text())
        assert results[prng]["details"]["prng"] == prng
    assert results["threefry"]["rel_l2"] != results["xla-threefry"]["rel_l2"]
    # The same problem (coefficients) and the same initial network: only the draws differ.
    assert results["threefry"]["dim"] == results["xla-threefry"]["dim"] == 4
    assert pk.RunConfig(problem="x").prng is None  # threefry
    with pytest.raises(SystemExit):
        main([*argv.split(), "--prng", "philox", "--no-progress", "--out", str(tmp_path)])


def test_checkpoint_from_before_the_option_resumes(tmp_path):
    """A checkpoint whose fingerprint has no `prng` (written before the option existed) is
    resumed by the same command without `--prng`."""
    argv = "solve poisson-two-body --dim 3 --steps 20 --batch 8 --width 8 --test-size 20"
    argv += " --eval-every 10 --checkpoint-every 10 --no-progress --out " + str(tmp_path)
    assert main(argv.split()) == 0
    first = json.loads((tmp_path / "result.json").read_text())
    record_path = tmp_path / "checkpoint" / "checkpoint.json"
    record = json.loads(record_path.read_text())
    assert record["fingerprint"]["config"].pop("prng") is None
    # A checkpoint of that time also had no checksum of its record (nor type digests).
    del record["metadata_sha256"]
    for entry in ("loss_types", "network_types"):
        del record["fingerprint"][entry]
    record_path.write_text(json.dumps(record))
    assert main([*argv.split(), "--resume"]) == 0
    again = json.loads((tmp_path / "result.json").read_text())
    assert again["rel_l2"] == first["rel_l2"] and again["details"]["prng"] == "threefry"


def test_parabolic_problems_refuse_prng(tmp_path):
    with pytest.raises(SystemExit):
        main(
            ["solve", "heat-parabolic", "--dim", "2", "--method", "mol", "--prng", "xla-threefry"]
            + ["--no-progress", "--out", str(tmp_path)]
        )


def test_bench_accuracy_keeps_prng_runs_apart(tmp_path):
    assert run_name("p", 3, "stde", 0) == "p-d3-stde-s0"
    assert run_name("p", 3, "stde", 0, prng="xla-threefry") == "p-d3-stde-s0-xla-threefry"
    argv = ["bench", "accuracy", "--problems", "poisson-two-body", "--dims", "3"]
    argv += ["--steps", "10", "--width", "8", "--batch", "8", "--samples", "2"]
    argv += ["--test-size", "50", "--eval-every", "5", "--out", str(tmp_path / "runs")]
    argv += ["--json", str(tmp_path / "acc.json"), "--prng", "xla-threefry"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "acc.json").read_text())["records"][0]
    assert record["prng"] == "xla-threefry"
    path = tmp_path / "runs" / "poisson-two-body-d3-stde-s0-xla-threefry" / "result.json"
    assert finished(path, record) is not None
    assert finished(path, {**record, "prng": "threefry"}) is None
    # A result.json from before `prng` existed stands for a threefry run.
    old = json.loads(path.read_text())
    del old["config"]["prng"]
    path.write_text(json.dumps(old))
    assert finished(path, {**record, "prng": "threefry"}) is not None
    assert finished(path, record) is None


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_split_applies_threefry_split_to_each_half(shape):
    """The documented design: a key is two threefry2x32 keys side by side, and `split`
    splits each half with threefry2x32's own split, keeping the halves in their places."""
    key = pk.xla_threefry_key(jax.random.key(5))
    words = np.asarray(jax.random.key_data(key))
    halves = [jax.random.wrap_key_data(words[i : i + 2], impl="threefry2x32") for i in (0, 2)]
    expected = np.concatenate(
        [np.asarray(jax.random.key_data(jax.random.split(h, shape))) for h in halves], axis=-1
    )
    got = np.asarray(jax.random.key_data(jax.random.split(key, shape)))
    assert got.shape == (*shape, 4)
    np.testing.assert_array_equal(got, expected)
