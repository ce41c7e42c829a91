"""Read u(0, 0) out of saved `pinnkit solve ... --method pinn` runs by Feynman-Kac.

For each run folder (holding `result.json` and `network.eqx`), rebuild the network, load its
parameters and print the network's own u(0, 0) beside `pinnkit.feynman_kac_value`'s estimate,
each with its relative error against the run's reference. Runs made before the read-out
existed are re-read this way; newer runs already carry `feynman_kac_value` in result.json.

    python docs/data/parabolic/readout.py runs/sine-gordon-parabolic-d100-pinn-stde-s0 ...
"""

import argparse
import json
from pathlib import Path

import equinox as eqx
import jax

from pinnkit.problems import get_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--samples", type=int, default=2**20, help="Monte Carlo samples")
    parser.add_argument("--seed", type=int, default=0, help="key of the samples")
    args = parser.parse_args()
    print("| run | network u(0,0) | rel. error | Feynman-Kac | ± stderr | rel. error |")
    print("|---|---|---|---|---|---|")
    for run in args.runs:
        result = json.loads((run / "result.json").read_text())
        problem = get_problem(result["problem"], result["dim"])
        like = problem.network(
            jax.random.key(0),
            width=result["width"],
            depth=result["depth"],
            terminal=result.get("terminal", "soft"),
        )
        network = eqx.tree_deserialise_leaves(run / "network.eqx", like)
        estimate = problem.feynman_kac_value(network, jax.random.key(args.seed), args.samples)
        reference = result["reference"]
        print(
            f"| {run.name} | {result['value']:.7f} | {abs(result['value'] / reference - 1):.1e} "
            f"| {estimate.value:.7f} | {estimate.stderr:.1e} "
            f"| {abs(estimate.value / reference - 1):.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
