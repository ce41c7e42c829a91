"""Data-parallel training over a `jax.sharding.Mesh`: the batch is split across devices.

`pinnkit.PINNSolver(loss, mesh=mesh)` splits every array of the collocation batch along its
leading axis across the devices of the mesh, keeps a full copy of the network and optimizer
state on each, and lets XLA sum the gradient across devices. The result is the same
computation as on one device, up to the order of floating-point sums. This script trains the
same problem twice, on one device and on all of them, and prints both errors and how far apart
the two loss histories are.

On a CPU, XLA can pretend to have several devices; the flag must be set before JAX is
imported, which is why this script reads its arguments first and imports JAX afterwards.
`--host-devices 0` leaves the flag alone, to use the real devices (GPUs, TPUs).
On CPU the pretend devices share the same cores, so this shows that the sharded run computes
the same thing, not that it is faster.

Run it:

    python examples/multi_device.py                     # 4 CPU devices, d = 100, 1,000 steps
    python examples/multi_device.py --quick             # tiny sizes, a smoke test
    python examples/multi_device.py --host-devices 0    # on a machine with several GPUs

Measured on a 2-core CPU (float32, seed 0, 4 host devices, Poisson two-body, STDE with 16
samples, batch 128) at the default size, `python examples/multi_device.py`: both runs reach
rel_l2 = 1.218e-2 (17 s each), and the two loss histories differ by at most 2.6e-6 relative
(float32 rounding: the sum over the batch is taken in a different order). At `--dim 20 --steps
500 --width 64`: both 5.068e-2, histories within 3.5e-7.
"""

import argparse
import math
import os


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=str(__doc__).splitlines()[0])
    parser.add_argument("--host-devices", type=int, default=4, help="CPU devices to fake (4)")
    parser.add_argument("--problem", default="poisson-two-body", help="a problem name")
    parser.add_argument("--dim", type=int, default=100, help="space dimension (100)")
    parser.add_argument("--steps", type=int, default=1_000, help="training steps (1000)")
    parser.add_argument("--batch", type=int, default=128, help="points per step, all devices")
    parser.add_argument("--width", type=int, default=128, help="MLP width (128)")
    parser.add_argument("--samples", type=int, default=16, help="STDE samples per step (16)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.dim, args.steps, args.batch, args.width, args.samples = 5, 300, 32, 16, 2
    return args


def main() -> None:
    args = parse_args()
    if args.host_devices > 0:  # before JAX is imported
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={args.host_devices}"
        )

    import jax
    import numpy as np
    from jax.sharding import Mesh

    import pinnkit as pk
    from pinnkit.problems import get_problem

    devices = jax.devices()
    if args.batch % len(devices):
        raise SystemExit(f"--batch {args.batch} must be divisible by {len(devices)} devices")
    mesh = Mesh(np.array(devices), ("batch",))
    print(f"{len(devices)} devices: {mesh}")

    problem_key, network_key, train_key, test_key = jax.random.split(jax.random.key(args.seed), 4)
    problem = get_problem(args.problem, args.dim, problem_key)
    network = problem.network(network_key, width=args.width)
    loss = problem.loss(pk.STDE(num_samples=args.samples), batch_size=args.batch)
    test_set = problem.test_set(test_key, size=2_000 if args.quick else 20_000)

    solutions = {}
    for name, run_mesh in (("one device", None), (f"{len(devices)} devices", mesh)):
        solution = pk.PINNSolver(loss, mesh=run_mesh).solve(
            network, args.steps, train_key, test_set=test_set, progress=not args.quick
        )
        solutions[name] = solution
        print(
            f"{problem.name} d={args.dim} {name}: rel_l2={solution.metrics['rel_l2']:.3e} "
            f"wall={solution.wall_s:.1f}s",
            flush=True,
        )
        if not math.isfinite(solution.metrics["rel_l2"]) or solution.message:
            raise SystemExit(solution.message or "non-finite error")

    one, many = solutions.values()
    gap = np.max(np.abs(many.history["loss"] - one.history["loss"]) / one.history["loss"])
    print(f"largest relative difference between the two loss histories: {gap:.1e}")


if __name__ == "__main__":
    main()
