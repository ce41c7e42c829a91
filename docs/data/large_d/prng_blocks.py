"""The d = 100,000 training step before and after the "xla-threefry" PRNG and the blocked
two-body source, side by side in one process.

    python docs/data/large_d/prng_blocks.py --dim 100000 [--repeats 5] [--steps 10]

"dot" is the two-body source of `pinnkit.problems._ball_solutions.two_body` (three long dot
products over arrays of d numbers per point); "blocked" sums
the same terms a block of 1,024 at a time in a `lax.scan` (tried at 31df1f1 and not kept: a
whole step was no faster, and `jax.experimental.jet` has no rule for `scan`).
Each variant is jitted and warmed up, then the variants are timed interleaved (median of
--repeats). A "step" is `PINNSolver`'s compiled chunk of --steps steps (draw, source, STDE(16)
loss gradient, Adam), Allen–Cahn two-body with the dense MLP 128 x 3; "bare scan" is the same
steps as a plain `lax.scan` without the solver's non-finite check and rollback.
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import pinnkit as pk
from pinnkit._domain.domains import sincos
from pinnkit._solver.pinn import _make_chunk, linear_decay_adam
from pinnkit.problems import _unit_ball
from pinnkit.problems._ball_solutions import two_body


_unit_ball.BODIES["two-body-dot"] = (two_body, 2)  # the library's: three dot products


def two_body_blocked(x, c, block=1024):  # the same sums a block of 1,024 terms at a time
    d = x.shape[0]
    terms = d - 1
    size = max(1, min(block, terms))
    blocks = -(-terms // size)
    x_padded = jnp.pad(x, (0, blocks * size + 1 - d))
    c_padded = jnp.pad(c, (0, blocks * size - terms))  # zero coefficients: the padding adds 0

    def add_block(sums, start):
        segment = jax.lax.dynamic_slice_in_dim(x_padded, start, size + 1)
        coefficients = jax.lax.dynamic_slice_in_dim(c_padded, start, size)
        sin_x, cos_x = sincos(segment)
        p, q = segment[:-1], segment[1:]
        sin_p, cos_p = sin_x[:-1], cos_x[:-1]
        sin_q, cos_q = sin_x[1:], cos_x[1:]
        sin_a, cos_a = sincos(p + cos_q + q * cos_p)
        a_p = 1 - q * sin_p
        a_q = cos_p - sin_q
        a_pp_plus_a_qq = -(q * cos_p + cos_q)
        per_term = jnp.stack(
            [
                sin_a,
                cos_a * a_pp_plus_a_qq - sin_a * (a_p**2 + a_q**2),
                cos_a * (p * a_p + q * a_q),
            ]
        )
        return sums + per_term @ coefficients, None

    starts = jnp.arange(blocks) * size
    zero = jnp.zeros(3, jnp.result_type(x, c))
    (s, lap_s, x_dot_grad_s), _ = jax.lax.scan(add_block, zero, starts)
    phi = 1 - jnp.dot(x, x)
    return phi * s, phi * lap_s - 4 * x_dot_grad_s - 2 * d * s


_unit_ball.BODIES["two-body-blocked"] = (two_body_blocked, 2)


def timed(fns, repeats):
    for f in fns.values():
        f()
    out = {k: [] for k in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t = time.perf_counter()
            f()
            out[name].append(time.perf_counter() - t)
    return {k: round(1e3 * float(np.median(v)), 1) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    n, d = a.batch, a.dim
    keys = {"threefry": jax.random.key(0), "xla-threefry": pk.xla_threefry_key(jax.random.key(0))}
    print(f"d={d} batch={n}, milliseconds, median of {a.repeats}")

    ball = pk.Ball(d)
    draw = jax.jit(ball.sample_interior, static_argnums=1)
    print(
        "draw points:",
        timed({k: lambda k=k: draw(keys[k], n).block_until_ready() for k in keys}, a.repeats),
    )
    x = draw(keys["threefry"], n)
    c = jax.random.normal(jax.random.key(1), (d - 1,))
    sources = {
        "dot": jax.jit(jax.vmap(lambda x: two_body(x, c))),
        "blocked": jax.jit(jax.vmap(lambda x: two_body_blocked(x, c))),
    }
    print(
        "source (u*, Laplacian):",
        timed({k: lambda f=f: jax.block_until_ready(f(x)) for k, f in sources.items()}, a.repeats),
    )
    u_dot, lap_dot = sources["dot"](x)
    u_blk, lap_blk = sources["blocked"](x)
    with jax.enable_x64(True):
        x64, c64 = jnp.asarray(np.asarray(x), jnp.float64), jnp.asarray(np.asarray(c), jnp.float64)
        u64, lap64 = jax.vmap(lambda x: two_body(x, c64))(x64)
    for name, (u, lap) in {"dot": (u_dot, lap_dot), "blocked": (u_blk, lap_blk)}.items():
        err_u = float(np.max(np.abs(np.asarray(u) - np.asarray(u64))) / np.max(np.abs(u64)))
        err_l = float(np.max(np.abs(np.asarray(lap) - np.asarray(lap64))) / np.max(np.abs(lap64)))
        print(f"  {name} float32 vs float64: max rel error u {err_u:.1e}, Laplacian {err_l:.1e}")

    chunks, states = {}, {}
    for body in ("dot", "blocked"):
        problem = _unit_ball.unit_ball_problem(
            "allen-cahn", f"two-body-{body}", d, jax.random.key(2)
        )
        loss = problem.loss(pk.STDE(16), batch_size=n)
        network = problem.network(jax.random.key(3))
        params, static = eqx.partition(network, eqx.is_inexact_array)
        optimizer = linear_decay_adam(1e-3, 10_000)
        bare_parts = (loss, optimizer)
        for prng, key in keys.items():
            name = f"{prng} + {body}"
            chunks[name] = (_make_chunk(loss, optimizer, static), key)
            p = jax.tree_util.tree_map(jnp.copy, params)
            state = (p, optimizer.init(p), loss.init_state(key))
            states[name] = [state, 0]

    def run(name):
        chunk, key = chunks[name]
        state, done = states[name]
        state, losses, _ = chunk(key, state, done, a.steps)
        losses.block_until_ready()
        states[name] = [state, done + a.steps]

    # The same steps without the solver's bookkeeping (the non-finite check and the rollback):
    # what `PINNSolver` adds to a step is the difference.
    name = "xla-threefry + blocked"
    loss, optimizer = bare_parts
    params, static = eqx.partition(network, eqx.is_inexact_array)

    @jax.jit
    def bare(params, opt_state, key):
        def step(carry, i):
            params, opt_state = carry
            sample_key, loss_key = jax.random.split(jax.random.fold_in(key, i))
            batch = loss.sample(sample_key)
            grads = jax.grad(lambda p: loss(eqx.combine(p, static), batch, loss_key))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        return jax.lax.scan(step, (params, opt_state), jnp.arange(a.steps))[0]

    opt_state = optimizer.init(params)
    chunks_and_bare = {k: lambda k=k: run(k) for k in chunks}
    chunks_and_bare[f"{name}, bare scan"] = lambda: jax.block_until_ready(
        bare(params, opt_state, keys["xla-threefry"])
    )
    per_chunk = timed(chunks_and_bare, a.repeats)
    print(
        f"training step (chunks of {a.steps}):",
        {k: round(v / a.steps, 1) for k, v in per_chunk.items()},
    )


if __name__ == "__main__":
    main()
