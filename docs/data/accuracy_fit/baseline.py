"""The best constant's error beside a trained network's, for runs of `pinnkit bench accuracy`.

For each run folder given, rebuild the run's problem and test set from its `result.json`
(the same keys `pinnkit solve` uses), load `network.eqx` and print
`pinnkit.problems.constant_baseline`: the best constant network's relative L2 error on the
20,000 test points and the trained network's error in units of it.

    python docs/data/accuracy_fit/baseline.py runs/accuracy/allen-cahn-two-body-d1000-stde-s0 ...
"""

import json
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

import pinnkit as pk
from pinnkit.problems import constant_baseline, get_problem


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        run = json.loads((folder / "result.json").read_text())
        problem_key, network_key, _, test_key = jax.random.split(jax.random.key(run["seed"]), 4)
        if run.get("prng", "threefry") == "xla-threefry":
            test_key = pk.xla_threefry_key(test_key)
        problem = get_problem(run["problem"], run["dim"], problem_key)
        skeleton = problem.network(network_key, width=run["width"], depth=run["depth"])
        network = eqx.tree_deserialise_leaves(folder / "network.eqx", skeleton)
        test_set = problem.test_set(test_key, size=run["test_size"])
        out = constant_baseline(test_set, network, distance=lambda x: 1 - jnp.sum(x**2))
        print(
            f"{folder.name}: constant={float(out['constant']):.3f} "
            f"constant_rel_l2={float(out['constant_rel_l2']):.3e} "
            f"rel_l2={float(out['rel_l2']):.3e} "
            f"ratio={float(out['rel_l2_over_constant']):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
