"""Parabolic PDEs by the method of lines through diffrax, checked against exact values.

`pinnkit.MethodOfLines` discretizes space and integrates the stiff ODE system
$U' = L_h U + f(U)$ with `diffrax.diffeqsolve` (implicit `Kvaerno5`, adaptive steps). Three
checks:

1. **Finite differences, 2-D heat equation.** $u_t = \\Delta u$ on $[0, \\pi]^2$, $u = 0$ on
   the boundary, $u(0) = \\sin x \\sin y$, whose exact solution is
   $e^{-2t} \\sin x \\sin y$. `pinnkit.FiniteDifference` with $n \\times n$ interior nodes;
   the error at $t = 0.5$ falls like $h^2$ (about 4 times per doubling of $n$).
2. **Radial reduction, heat equation in $d$ dimensions.** Data that depend on $x$ only
   through $s = |x|^2$ stay radial, and `pinnkit.Radial` solves the exact 1-D problem
   $v_t = 4 s v_{ss} + 2 d v_s$. For Gaussian data $e^{-|x|^2 / (2\\sigma^2)}$ the solution
   at the origin is $(\\sigma^2 / (\\sigma^2 + 2t))^{d/2}$.
3. **The semilinear heat benchmark** $v_t = \\Delta v + (1 - v^2)/(1 + v^2)$,
   $v(0) = 5/(10 + 2|x|^2)$, $T = 0.3$: $v(T, 0)$ by the radial method of lines, against the
   multilevel-Picard Monte Carlo values of the benchmark suite (which carry about 1e-3
   relative noise, so agreement to about 1e-3 is all that can be asked).

Run it:

    python examples/parabolic_mol.py            # n up to 64; d = 10, 100, 1,000
    python examples/parabolic_mol.py --quick    # coarse grids, d = 10 only: a smoke test

Measured on a shared 2-core CPU (float64), the full run prints:

- check 1: rel_error 2.85e-3, 7.55e-4, 1.95e-4 for n = 16, 32, 64 (order 1.91, 1.96);
- check 2: rel_error 8.4e-11, 4.7e-11, 4.0e-11 for d = 10, 100, 1,000;
- check 3: u(0, 0) = 0.4695499, 0.3166278, 0.2874684 for d = 10, 100, 1,000, against the Monte
  Carlo values: rel_error 1.1e-3, 3.5e-4, 2.1e-4 (within their noise).

It used 150 s of CPU time (27 minutes of wall time, as the machine was shared with about 25
other processes).
"""

import argparse
import math

import jax
import jax.numpy as jnp

import pinnkit as pk


# The Monte Carlo values of u(0, 0) for the semilinear heat problem (d = 10, 100, 1,000).
SEMILINEAR_HEAT_MONTE_CARLO = {10: 0.47006, 100: 0.31674, 1_000: 0.28753}


def finite_difference_heat(n: int, t: float = 0.5) -> float:
    """The relative max-norm error of the 2-D heat equation on an n x n grid at time t."""
    grid = pk.FiniteDifference(pk.Box((0.0, 0.0), (math.pi, math.pi)), n)  # u = 0 on the edge
    solver = pk.MethodOfLines(grid, rtol=1e-10, atol=1e-12)  # no reaction: the heat equation
    solution = solver.solve(lambda x: jnp.sin(x[0]) * jnp.sin(x[1]), t)
    exact = grid.project(lambda x: jnp.exp(-2 * t) * jnp.sin(x[0]) * jnp.sin(x[1]))
    return float(jnp.max(jnp.abs(solution.values[-1] - exact)) / jnp.max(jnp.abs(exact)))


def radial_heat(dim: int, t: float = 0.3, n_points: int = 64) -> float:
    """The relative error at the origin of the d-dimensional heat equation, Gaussian data."""
    sigma2 = float(dim)  # a Gaussian of width sqrt(d): the value at 0 stays of order one
    radial = pk.Radial(dim, s_max=8 * dim * t + 40 * sigma2, n_points=n_points, scale=sigma2)
    solution = pk.MethodOfLines(radial, rtol=1e-10, atol=1e-12).solve(
        lambda x: jnp.exp(-jnp.sum(x**2) / (2 * sigma2)), t
    )
    exact = (sigma2 / (sigma2 + 2 * t)) ** (dim / 2)
    return abs(float(solution.interpolate(jnp.zeros(dim))) - exact) / exact


def semilinear_heat(dim: int, t: float = 0.3, n_points: int = 128) -> float:
    """v(T, 0) for the semilinear heat benchmark, by the radial method of lines."""
    radial = pk.Radial(dim, s_max=8 * dim * t + 200, n_points=n_points, scale=5.0)
    solver = pk.MethodOfLines(radial, lambda v: (1 - v**2) / (1 + v**2), rtol=1e-10, atol=1e-12)
    solution = solver.solve(lambda x: 5 / (10 + 2 * jnp.sum(x**2)), t)
    return float(solution.interpolate(jnp.zeros(dim)))


def main() -> None:
    parser = argparse.ArgumentParser(description=str(__doc__).splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarse grids, for a smoke test")
    args = parser.parse_args()
    sizes, dims = ((8, 16), (10,)) if args.quick else ((16, 32, 64), (10, 100, 1_000))

    jax.config.update("jax_enable_x64", True)  # spectral and stiff solves want float64

    previous = None
    for n in sizes:
        error = finite_difference_heat(n)
        order = "" if previous is None else f" (order {math.log2(previous / error):.2f})"
        print(f"heat 2-D finite differences n={n}: rel_error={error:.3e}{order}", flush=True)
        previous = error
    for dim in dims:
        print(f"heat d={dim} radial, Gaussian data: rel_error={radial_heat(dim):.3e}", flush=True)
    for dim in dims:
        value, reference = semilinear_heat(dim), SEMILINEAR_HEAT_MONTE_CARLO[dim]
        print(
            f"semilinear heat d={dim} radial: u(0,0)={value:.7f}, Monte Carlo {reference}: "
            f"rel_error={abs(value - reference) / reference:.3e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
