"""Single-operation timings at 100 x 100,000 float32 (run with and without
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000)."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from pinnkit._domain.domains import sincos


def _bulk_key(key):  # an rbg key seeded from key (was a helper in an interim commit)
    width = jax.random.key_data(jax.random.key(0, impl="rbg")).shape[-1]
    return jax.random.wrap_key_data(jax.random.bits(key, (width,), dtype=jnp.uint32), impl="rbg")


n, d = 100, 100_000


def t(f, *a, r=5):
    f = jax.jit(f)
    jax.block_until_ready(f(*a))
    ts = []
    for _ in range(r):
        s = time.perf_counter()
        jax.block_until_ready(f(*a))
        ts.append(time.perf_counter() - s)
    return 1e3 * np.median(ts)


key = jax.random.key(0)
x = jax.random.uniform(key, (n, d))
print("rbg uniform (2,n,d/2)", t(lambda k: jax.random.uniform(_bulk_key(k), (2, n, d // 2)), key))
print("rbg bits (2,n,d/2)", t(lambda k: jax.random.bits(_bulk_key(k), (2, n, d // 2)), key))
print("rbg bits flat", t(lambda k: jax.random.bits(_bulk_key(k), (n * d,)), key))
print("threefry bits", t(lambda k: jax.random.bits(k, (n, d)), key))
print(
    "unsafe bits flat",
    t(
        lambda k: jax.random.bits(
            jax.random.wrap_key_data(jax.random.bits(k, (4,)), impl="unsafe_rbg"), (n * d,)
        ),
        key,
    ),
)
print("sincos n*d", t(lambda x: sincos(x), x))
print("log1p n*d", t(lambda x: jnp.log1p(-x), x))
print("copy*2 n*d", t(lambda x: x * 2, x))
print("sum n*d", t(lambda x: jnp.sum(x), x))
print("zeros n*d", t(lambda x: jnp.zeros((n, d)) + x[0, 0], x))
