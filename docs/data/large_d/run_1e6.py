"""d = 1,000,000 Allen-Cahn two-body, SharedFirstLayerMLP(B), STDE(16), batch 100: the same
recipe as `pinnkit solve ... --block-size B` (same keys, network, loss and Adam schedule),
with short chunks (log_every) so the step rate is visible, and a progress line per chunk.

    python docs/data/large_d/run_1e6.py --dim 1000000 --block-size 1000 --steps 1000 \
        --test-size 100 --eval-every 25 --log-every 5 --out DIR
"""

import argparse
import json
import resource
import time
from pathlib import Path

import jax

from pinnkit._estimator.registry import make_estimator
from pinnkit._solver.pinn import PINNSolver
from pinnkit.problems import get_problem


ap = argparse.ArgumentParser()
ap.add_argument("--dim", type=int, default=1_000_000)
ap.add_argument("--block-size", type=int, default=1000)
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--test-size", type=int, default=100)
ap.add_argument("--eval-every", type=int, default=25)
ap.add_argument("--log-every", type=int, default=5)
ap.add_argument("--out", type=Path, required=True)
a = ap.parse_args()
a.out.mkdir(parents=True, exist_ok=True)
key = jax.random.key(0)
problem_key, network_key, train_key, test_key = jax.random.split(key, 4)
problem = get_problem("allen-cahn-two-body", a.dim, problem_key)
network = problem.network(network_key, block_size=a.block_size)
solver = PINNSolver(
    problem.loss(make_estimator("stde", 16), batch_size=100),
    log_every=a.log_every,
    eval_every=a.eval_every,
)
test_set = problem.test_set(test_key, size=a.test_size)
start = time.time()
cpu0 = time.process_time()
evals = []


def log(step, logs):
    rec = {
        "step": step,
        "wall_s": time.time() - start,
        "cpu_s": time.process_time() - cpu0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **logs,
    }
    evals.append(rec)
    print(json.dumps(rec), flush=True)
    (a.out / "evals.json").write_text(json.dumps(evals, indent=1))


sol = solver.solve(network, a.steps, train_key, test_set=test_set, callback=log)
print("done", sol.steps, sol.metrics, sol.wall_s, flush=True)
