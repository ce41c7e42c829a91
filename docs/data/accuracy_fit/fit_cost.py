"""The cost of `pinnkit.fit_output_offset` alone: its wall time and the process's peak memory.

Builds the problem and initial network that `pinnkit solve` builds for the seed, with the
STDE (|J| = 16) loss on batches of 100, fits the output offset from the key `pinnkit solve
--fit-offset` uses, and prints the offset, the seconds the fit took (compilation included)
and the peak resident memory of the process.

    python docs/data/accuracy_fit/fit_cost.py 100000 allen-cahn-two-body
"""

import resource
import sys
import time

import jax

import pinnkit as pk
from pinnkit.problems import get_problem


def main(dim: int, name: str, seed: int = 0) -> None:
    problem_key, network_key, _, _ = jax.random.split(jax.random.key(seed), 4)
    problem = get_problem(name, dim, problem_key)
    network = problem.network(network_key)
    loss = problem.loss(pk.STDE(16), batch_size=100)
    start = time.perf_counter()
    fitted = pk.fit_output_offset(network, loss, jax.random.fold_in(network_key, 1))
    bias = pk.output_bias(network)
    offset = float(jax.block_until_ready(bias(fitted) - bias(network))[0])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    print(
        f"{name} d={dim:,} seed={seed}: offset {offset:.4f}, {seconds:.1f} s, "
        f"peak RSS {peak:,.0f} MB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], *(int(a) for a in sys.argv[3:4]))
