import time

import jax
import jax.numpy as jnp
import numpy as np


def t(f, *a, r=5):
    f(*a).block_until_ready() if not isinstance(f(*a), tuple) else jax.block_until_ready(f(*a))
    ts = []
    for _ in range(r):
        s = time.perf_counter()
        jax.block_until_ready(f(*a))
        ts.append(time.perf_counter() - s)
    return 1e3 * np.median(ts)


n, d = 100, 100_000
key = jax.random.key(0)
x = jax.random.uniform(key, (n, d), minval=-3, maxval=3)
print("sin", t(jax.jit(jnp.sin), x))
print("sin+cos", t(jax.jit(lambda x: (jnp.sin(x), jnp.cos(x))), x))
print("sin+cos sum", t(jax.jit(lambda x: jnp.sum(jnp.sin(x) + jnp.cos(x))), x))
print("exp sum", t(jax.jit(lambda x: jnp.sum(jnp.exp(x))), x))
print("log sum", t(jax.jit(lambda x: jnp.sum(jnp.log(x + 4))), x))
print("tanh sum", t(jax.jit(lambda x: jnp.sum(jnp.tanh(x))), x))
print("poly sum", t(jax.jit(lambda x: jnp.sum(((x * x + 1.0) * x + 2.0) * x * x + 3.0)), x))
print("uniform", t(jax.jit(lambda k: jax.random.uniform(k, (n, d))), key))
print("bits", t(jax.jit(lambda k: jax.random.bits(k, (n, d))), key))
print("normal", t(jax.jit(lambda k: jax.random.normal(k, (n, d))), key))
print("normal sum", t(jax.jit(lambda k: jnp.sum(jax.random.normal(k, (n, d)))), key))
print("uniform sum", t(jax.jit(lambda k: jnp.sum(jax.random.uniform(k, (n, d)))), key))
