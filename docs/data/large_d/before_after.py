"""Before/after timings of issue 4's large-d engineering, side by side in one process.

    python docs/data/large_d/before_after.py --dim 100000 [--block-size B] \
        [--parts sampling,source,step,testset]

"before" is the code at commit 5499242 (copied below); "after" is pinnkit as installed.
Run from the repository root with the venv's python.
Each part is jitted, warmed up, then the variants are timed interleaved (median of --repeats).
"""

import argparse
import resource
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import pinnkit as pk
from pinnkit._domain.domains import sphere_directions
from pinnkit._estimator.registry import make_estimator
from pinnkit._sampler.base import AbstractSampler
from pinnkit.problems import _unit_ball
from pinnkit.problems._ball_solutions import two_body


def two_body_before(x, c):  # pinnkit/problems/_ball_solutions.py at 5499242
    d = x.shape[0]
    sin_x = jnp.sin(x)
    cos_x = jnp.cos(x)
    p, q = x[:-1], x[1:]
    sin_p, cos_p = sin_x[:-1], cos_x[:-1]
    sin_q, cos_q = sin_x[1:], cos_x[1:]
    a = p + cos_q + q * cos_p
    sin_a = jnp.sin(a)
    cos_a = jnp.cos(a)
    a_p = 1 - q * sin_p
    a_q = cos_p - sin_q
    a_pp_plus_a_qq = -(q * cos_p + cos_q)
    s = jnp.dot(c, sin_a)
    lap_s = jnp.dot(c, cos_a * a_pp_plus_a_qq - sin_a * (a_p**2 + a_q**2))
    x_dot_grad_s = jnp.dot(c, cos_a * (p * a_p + q * a_q))
    phi = 1 - jnp.dot(x, x)
    return phi * s, phi * lap_s - 4 * x_dot_grad_s - 2 * d * s


def ball_before(key, n, dim):  # Ball.sample_interior + sphere_directions at 5499242
    kr, kd = jax.random.split(key)
    u = jax.random.uniform(kr, (n, 1))
    g = jax.random.normal(kd, (n, dim))
    return 1.0 * u * (g / jnp.linalg.norm(g, axis=-1, keepdims=True))


class BeforeSampler(AbstractSampler):
    dim: int = eqx.field(static=True)

    def __call__(self, key, batch):
        return ball_before(key, batch, self.dim)


_unit_ball.BODIES["two-body-before"] = (two_body_before, 2)


def timed(fns, args, repeats):
    for f in fns.values():
        jax.block_until_ready(f(*args(0)))
    out = {k: [] for k in fns}
    for r in range(repeats):
        for name, f in fns.items():
            a = args(r + 1)
            t = time.perf_counter()
            jax.block_until_ready(f(*a))
            out[name].append(time.perf_counter() - t)
    return {k: 1e3 * float(np.median(v)) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--block-size", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parts", default="sampling,source,step,testset")
    ap.add_argument("--test-size", type=int, default=1000)
    a = ap.parse_args()
    n, d = a.batch, a.dim
    key = jax.random.key(0)
    keys = lambda r: (jax.random.fold_in(key, r),)
    parts = a.parts.split(",")
    print(f"d={d} batch={n}")
    if "sampling" in parts:

        def after(k):
            kr, kd = jax.random.split(k)
            u = jax.random.uniform(kr, (n, 1))
            return sphere_directions(kd, n, d, u.dtype, scale=u)

        def after_normal(k):
            kr, kd = jax.random.split(k)
            u = jax.random.uniform(kr, (n, 1))
            return sphere_directions(kd, n, d, u.dtype, scale=u, method="normal")

        r = timed(
            {
                "before": jax.jit(lambda k: ball_before(k, n, d)),
                "after normal": jax.jit(after_normal),
                "after box-muller": jax.jit(after),
            },
            keys,
            a.repeats,
        )
        print("sampling (n x d ball points) ms:", {k: round(v, 1) for k, v in r.items()})
    c = jax.random.normal(jax.random.key(1), (d - 1,))
    x = pk.Ball(d).sample_interior(jax.random.key(2), n)
    if "source" in parts:
        r = timed(
            {
                "before": jax.jit(jax.vmap(lambda x: two_body_before(x, c))),
                "after": jax.jit(jax.vmap(lambda x: two_body(x, c))),
            },
            lambda r: (x,),
            a.repeats,
        )
        print("source term (u*, lap u*) ms:", {k: round(v, 1) for k, v in r.items()})
    if "step" in parts:
        est = make_estimator("stde", 16)
        pde_after = _unit_ball.SemilinearBallPDE("allen-cahn", "two-body", c)
        pde_before = _unit_ball.SemilinearBallPDE("allen-cahn", "two-body-before", c)
        from pinnkit.problems import get_problem

        prob = get_problem("allen-cahn-two-body", d, jax.random.key(3))
        if a.block_size:
            net = prob.network(jax.random.key(4), block_size=a.block_size)
        else:
            net = prob.network(jax.random.key(4))
        loss_after = pk.ResidualLoss(pde_after, prob.sampler, est, batch_size=n)
        loss_before = pk.ResidualLoss(pde_before, BeforeSampler(d), est, batch_size=n)

        def make(loss):
            @eqx.filter_jit
            def step(model, k):
                k1, k2 = jax.random.split(k)
                batch = loss.sample(k1)
                return eqx.filter_value_and_grad(lambda m: loss(m, batch, k2))(model)

            return step

        sb, sa = make(loss_before), make(loss_after)
        r = timed(
            {"before": sb, "after": sa}, lambda r: (net, jax.random.fold_in(key, r)), a.repeats
        )
        print(
            "train step (sample + source + STDE(16) loss grad) ms:",
            {k: round(v, 1) for k, v in r.items()},
        )
    if "testset" in parts:
        from pinnkit._solver.reference import TestSet
        from pinnkit.problems import get_problem

        prob = get_problem("allen-cahn-two-body", d, jax.random.key(3))
        net = prob.network(jax.random.key(4), block_size=a.block_size)
        pde_before = _unit_ball.SemilinearBallPDE("allen-cahn", "two-body-before", c)
        pde_after = _unit_ball.SemilinearBallPDE("allen-cahn", "two-body", c)
        size = a.test_size
        before = TestSet(
            BeforeSampler(d),
            pde_before.solution,
            jax.random.key(5),
            size=size,
            chunk_size=1000,
            max_chunk_numbers=2**62,
        )
        after = TestSet(prob.sampler, pde_after.solution, jax.random.key(5), size=size)
        print(
            "test-set points per chunk: before",
            before.points_per_chunk,
            "after",
            after.points_per_chunk,
        )
        r = timed(
            {
                "before": lambda m: before.errors(m)["rel_l2"],
                "after": lambda m: after.errors(m)["rel_l2"],
            },
            lambda r: (net,),
            max(1, a.repeats // 2),
        )
        print(f"test-set errors ({size} points) ms:", {k: round(v, 1) for k, v in r.items()})
    print("peak RSS MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
