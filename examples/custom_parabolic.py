"""Solve a parabolic PDE that pinnkit does not ship: subclass `pinnkit.AbstractParabolicPDE`.

The PDE is the backward equation of an Ornstein–Uhlenbeck process with discounting,

    u_t - theta x . grad u + Laplacian(u) - r u = 0,   u(T, x) = |x|^2,

that is drift mu(x) = -theta x, sigma = sqrt(2) I and f(u) = -r u in pinnkit's spec
u_t + mu . grad u + 1/2 tr(sigma sigma^T D^2 u) + f = 0. Its answer at x0 = (1, ..., 1) has a
closed form: with m(t) = E|X_t|^2 = |x0|^2 e^{-2 theta t} + (d / theta)(1 - e^{-2 theta t}),
u(0, x0) = e^{-r T} m(T). The script solves it by Deep BSDE and by the space-time PINN, both
through `pinnkit.run`, and prints each relative error beside the trivial baseline (the same
PDE without f, whose value is m(T)).

Run it:

    python examples/custom_parabolic.py            # d = 10
    python examples/custom_parabolic.py --quick    # tiny sizes: a smoke test

Measured on a shared 2-core CPU (float32, seed 0, 2026-12-05), d = 10: Deep BSDE (3,000
steps, 100 time steps) reaches a relative error of 2.8e-3 in 23 s (with 20 time steps, 1.3e-2:
the Euler bias of the scheme), the PINN (3,000 steps, exact estimator, terminal data imposed
exactly) 3.6e-4 in 44 s, against 1.0e-1 for the baseline.
"""

import argparse
import tempfile

# --8<-- [start:spec]
import jax.numpy as jnp
import numpy as np

import pinnkit as pk
from pinnkit.problems import ParabolicProblem, ProblemSpec, register_problem


class DiscountedOU(pk.AbstractParabolicPDE):
    """u_t - theta x . grad u + Laplacian(u) - r u = 0, u(T, x) = |x|^2, x0 = (1, ..., 1)."""

    dim: int
    T: float = 1.0
    theta: float = 0.5
    r: float = 0.1

    def drift(self, t, x):
        return -self.theta * x

    def diffusion(self, t, x):
        return np.sqrt(2.0)  # a float64 number keeps sigma^2 / 2 = 1 exact

    def nonlinearity(self, t, x, u, z):
        return -self.r * u

    def terminal(self, x):
        return jnp.sum(x**2)

    def origin(self):
        return jnp.ones(self.dim)

    def second_moment(self) -> float:
        """m(T) = E|X_T|^2, the value without f (the baseline)."""
        decay = float(np.exp(-2 * self.theta * self.T))
        return self.dim * decay + self.dim / self.theta * (1 - decay)

    def value(self) -> float:
        """The closed form u(0, x0) = e^{-r T} m(T)."""
        return float(np.exp(-self.r * self.T)) * self.second_moment()


def build(dim, key):
    del key
    equation = DiscountedOU(dim)
    return ParabolicProblem("discounted-ou", equation, "closed form", equation.value())


register_problem(
    ProblemSpec(
        name="discounted-ou",
        description="Ornstein-Uhlenbeck with discounting; value u(0, (1, ..., 1))",
        build=build,
        methods=("deep-bsde", "pinn"),
        answer="value",
        default_dim=10,
    )
)
# --8<-- [end:spec]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    dim, steps, time_steps = (4, 300, 20) if args.quick else (10, 3000, 100)
    out = tempfile.mkdtemp()
    for method, extra in [
        (
            "deep-bsde",
            {"lr": 5e-3, "batch": 64, "width": dim + 10, "depth": 2, "time_steps": time_steps},
        ),
        ("pinn", {"estimator": "exact", "readout_samples": 0, "terminal": "hard"}),
    ]:
        config = pk.RunConfig(
            problem="discounted-ou",
            dim=dim,
            method=method,
            steps=steps,
            eval_every=steps,
            progress=False,
            out=f"{out}/{method}",
            **extra,
        )
        result = pk.run(config)
        m = result.metrics
        print(
            f"{method}: u(0,x0)={m['value']:.6g} reference={m['reference']:.6g} "
            f"rel_error={m['rel_error']:.3e} baseline_rel_error={m['baseline_rel_error']:.3e} "
            f"wall={result.wall_s:.1f}s"
        )


if __name__ == "__main__":
    main()
