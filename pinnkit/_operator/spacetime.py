r"""A space-time PDE from the right-hand side of a parabolic one."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Point
from .base import AbstractOperator, Laplacian, SpatialLaplacian, TimeDerivative, Value
from .pde import AbstractPDE


class SpaceTimePDE(AbstractPDE):
    r"""The space-time residual of $\pm u_t = F(u)$ for a space-time network $u(z)$,
    $z = (x, t)$ with time **last**.

    `forward` is the right-hand side $F$ of $v_\tau = F(v)$: an [`pinnkit.AbstractPDE`][]
    whose `residual` returns $F(v)$ from the operators it declares (its
    [`pinnkit.Laplacian`][] is taken in space only, as [`pinnkit.SpatialLaplacian`][];
    [`pinnkit.Value`][] stays as it is). The residual is

    - `direction="backward"` (default): $u_t + F(u)$, for $u_t + F(u) = 0$ with terminal data
      at $t = T$: the form of the semilinear benchmarks, $u(t, x) = v(T - t, x)$;
    - `direction="forward"`: $u_t - F(u)$, for $u_t = F(u)$ with initial data.

    **Arguments:**

    - `forward`: the right-hand side $F$, a PDE in the space variables.
    - `space_dim`: $d$; the network takes points of dimension $d + 1$.
    - `direction`: `"backward"` or `"forward"`.
    """

    forward: AbstractPDE
    space_dim: int = eqx.field(static=True)
    direction: str = eqx.field(static=True)
    operators: tuple[AbstractOperator, ...]

    def __init__(self, forward: AbstractPDE, space_dim: int, direction: str = "backward"):
        if direction not in ("backward", "forward"):
            raise ValueError(f"direction must be 'backward' or 'forward', got {direction!r}")
        if not isinstance(space_dim, int) or space_dim < 1:
            raise ValueError(f"space_dim must be a positive integer, got {space_dim!r}")
        spatial = []
        for op in forward.operators:
            if isinstance(op, Laplacian):
                spatial.append(SpatialLaplacian(space_dim))
            elif isinstance(op, Value):
                spatial.append(op)
            else:
                raise ValueError(
                    f"SpaceTimePDE maps Laplacian and Value to space-time operators; the "
                    f"forward PDE uses {type(op).__name__}. For a drift, a gradient in the "
                    "nonlinearity or a point-dependent diffusion, subclass "
                    "pinnkit.AbstractParabolicPDE (mu, sigma, f(t, x, u, sigma^T grad u), g): "
                    "its space_time_pde() is the residual for any estimator"
                )
        self.forward = forward
        self.space_dim = space_dim
        self.direction = direction
        self.operators = (TimeDerivative(), *spatial)

    def source(self, x: Point) -> Float[Array, ""]:
        return self.forward.source(x[: self.space_dim])

    def residual(
        self,
        x: Point,
        u: Float[Array, ""],
        derivatives: tuple[Array, ...],
        source: Float[Array, ""],
    ) -> Float[Array, ""]:
        u_t, *spatial = derivatives
        rhs = self.forward.residual(x[: self.space_dim], u, tuple(spatial), source)
        sign = 1.0 if self.direction == "backward" else -1.0
        return jnp.asarray(u_t + sign * rhs)
