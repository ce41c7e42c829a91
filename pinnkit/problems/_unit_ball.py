"""The inseparable unit-ball suite: two- and three-body Poisson, Allen–Cahn, sine-Gordon."""

from collections.abc import Callable

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from .._domain.domains import Ball
from .._network.mlp import unit_ball_distance
from .._operator.base import AbstractOperator, Laplacian
from .._operator.pde import AbstractPDE
from .._sampler.base import UniformSampler
from .._types import Point, Scalar
from ._ball_solutions import three_body, two_body
from ._problem import Problem
from ._reactions import REACTIONS


NONLINEARITIES: dict[str, Callable[[Array], Array]] = {
    "poisson": REACTIONS["zero"],
    "allen-cahn": REACTIONS["allen-cahn"],
    "sine-gordon": REACTIONS["sine-gordon"],
}
"""The zeroth-order terms $g(u)$ of $\\Delta u + g(u) = f$, by equation (from `REACTIONS`)."""

BODIES: dict[str, tuple[Callable, int]] = {
    "two-body": (two_body, 2),
    "three-body": (three_body, 3),
}
"""Exact solutions (value and Laplacian in closed form) and their smallest dimension."""


class SemilinearBallPDE(AbstractPDE):
    r"""$\Delta u + g(u) = f$ on the unit ball with a closed-form exact solution $u^*$.

    The source is $f = \Delta u^* + g(u^*)$, computed in closed form at $O(d)$ cost per point.

    **Arguments:**

    - `nonlinearity`: `"poisson"` ($g = 0$), `"allen-cahn"` ($g = u - u^3$) or
      `"sine-gordon"` ($g = \sin u$).
    - `body`: `"two-body"` or `"three-body"` (see
      [math](../math.md#the-unit-ball-benchmark-suite)).
    - `coefficients`: the $c_i$ of the exact solution, shape `(d - 1,)` or `(d - 2,)`.
    """

    nonlinearity: str = eqx.field(static=True)
    body: str = eqx.field(static=True)
    coefficients: Float[Array, " terms"]
    operators: tuple[AbstractOperator, ...]

    def __init__(self, nonlinearity: str, body: str, coefficients: Float[Array, " terms"]):
        self.nonlinearity = nonlinearity
        self.body = body
        self.coefficients = coefficients
        self.operators = (Laplacian(),)

    def __check_init__(self):
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"unknown nonlinearity {self.nonlinearity!r}; valid: {', '.join(NONLINEARITIES)}"
            )
        if self.body not in BODIES:
            raise ValueError(f"unknown body {self.body!r}; valid: {', '.join(BODIES)}")

    def solution(self, x: Point) -> Scalar:
        """The exact solution $u^*(x)$."""
        return BODIES[self.body][0](x, self.coefficients)[0]

    def source(self, x: Point) -> Scalar:
        u, laplacian = BODIES[self.body][0](x, self.coefficients)
        return laplacian + NONLINEARITIES[self.nonlinearity](u)

    def residual(
        self, x: Point, u: Scalar, derivatives: tuple[Array, ...], source: Scalar
    ) -> Scalar:
        (laplacian,) = derivatives
        return laplacian + NONLINEARITIES[self.nonlinearity](u) - source


def unit_ball_problem(
    nonlinearity: str, body: str, dim: int, key: PRNGKeyArray, radial: str = "uniform"
) -> Problem:
    """Build one problem of the suite; coefficients $c \\sim N(0, I)$ are drawn from `key`."""
    n_terms = dim - BODIES[body][1] + 1
    if n_terms < 1:
        raise ValueError(f"the {body} solution needs dim >= {BODIES[body][1]}, got {dim}")
    coefficients = jax.random.normal(key, (n_terms,))
    pde = SemilinearBallPDE(nonlinearity, body, coefficients)
    return Problem(
        name=f"{nonlinearity}-{body}",
        dim=dim,
        pde=pde,
        sampler=UniformSampler(Ball(dim, radial=radial)),  # pyright: ignore[reportArgumentType,reportCallIssue]
        solution=pde.solution,
        distance=unit_ball_distance,
    )
