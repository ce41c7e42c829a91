"""The best constant network's error for every accuracy cell of docs/benchmarks.md.

For the unit-ball two-body problems the hard-constraint ansatz is (1 - |x|^2) N(x), and the
best constant network N = c is a trivial baseline: an accuracy figure is only evidence of
learning if it is well below that constant's error. This rebuilds the test set that
`pinnkit solve` draws for a seed (the same keys; `--prng` changes the test points) and prints
`pinnkit.problems.constant_baseline` without a network: the least-squares constant c and its
relative L2 error. The two-body Allen-Cahn, Poisson and sine-Gordon problems share their exact
solution for a given seed and dimension, so one line serves all three.

    python docs/data/constant_baselines.py > docs/data/constant_baselines.txt
"""

import time

import jax
import jax.numpy as jnp

import pinnkit as pk
from pinnkit.problems import constant_baseline, get_problem


# (dimension, seed, prng, test points): every cell the page reports an error for.
CELLS = [
    (100, 0, "threefry", 20_000),
    *((1_000, seed, "threefry", 20_000) for seed in range(8)),
    (10_000, 0, "threefry", 20_000),
    *((10_000, seed, "xla-threefry", 20_000) for seed in range(4)),
    (100_000, 0, "threefry", 1_000),
    (100_000, 0, "threefry", 20_000),
    (100_000, 0, "xla-threefry", 20_000),
    (1_000_000, 0, "threefry", 100),
]


def main() -> None:
    print(f"jax {jax.__version__}, {jax.default_backend()}, float32")
    print("d | seed | prng | test points | best constant c | its rel L2 | seconds")
    for dim, seed, prng, size in CELLS:
        start = time.perf_counter()
        problem_key, _, _, test_key = jax.random.split(jax.random.key(seed), 4)
        if prng == "xla-threefry":
            test_key = pk.xla_threefry_key(test_key)
        problem = get_problem("allen-cahn-two-body", dim, problem_key)
        test_set = problem.test_set(test_key, size=size)
        out = constant_baseline(test_set, distance=lambda x: 1 - jnp.sum(x**2))
        print(
            f"{dim} | {seed} | {prng} | {size} | {float(out['constant']):.3f} | "
            f"{float(out['constant_rel_l2']):.4e} | {time.perf_counter() - start:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
