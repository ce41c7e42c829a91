"""Same jitted train step, glibc malloc defaults vs no-mmap/no-trim, interleaved in one process.

python docs/data/large_d/malloc_ab.py --dim 100000 [--block-size B]
"""

import argparse
import ctypes
import time

import equinox as eqx
import jax
import numpy as np

from pinnkit._estimator.registry import make_estimator
from pinnkit.problems import get_problem


libc = ctypes.CDLL("libc.so.6")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4


def defaults():
    libc.mallopt(M_MMAP_MAX, 65536)
    libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)


def no_mmap():
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 2**30 * 64)


ap = argparse.ArgumentParser()
ap.add_argument("--dim", type=int, default=100_000)
ap.add_argument("--block-size", type=int, default=None)
ap.add_argument("--repeats", type=int, default=5)
a = ap.parse_args()
prob = get_problem("allen-cahn-two-body", a.dim, jax.random.key(3))
net = prob.network(jax.random.key(4), block_size=a.block_size)
loss = prob.loss(make_estimator("stde", 16), batch_size=100)


@eqx.filter_jit
def step(model, k):
    k1, k2 = jax.random.split(k)
    batch = loss.sample(k1)
    return eqx.filter_value_and_grad(lambda m: loss(m, batch, k2))(model)


key = jax.random.key(0)
jax.block_until_ready(step(net, key))
ts = {"glibc defaults": [], "MALLOC_MMAP_MAX_=0, no trim": []}
for r in range(a.repeats):
    for name, setup in (("glibc defaults", defaults), ("MALLOC_MMAP_MAX_=0, no trim", no_mmap)):
        setup()
        jax.block_until_ready(step(net, jax.random.fold_in(key, 1000 + r)))  # settle the allocator
        t = time.perf_counter()
        jax.block_until_ready(step(net, jax.random.fold_in(key, r)))
        ts[name].append(time.perf_counter() - t)
print(
    f"d={a.dim} block={a.block_size} train step ms:",
    {k: round(1e3 * float(np.median(v)), 1) for k, v in ts.items()},
    flush=True,
)
