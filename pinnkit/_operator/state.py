r"""Operators whose coefficients depend on the point: a drift $\mu(x)\cdot\nabla u$ and a
diffusion $\operatorname{tr}(\sigma\sigma^\top(x)\, D^2 u)$."""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._types import Point, ScalarField
from .base import AbstractOperator, check_point


NoiseKind = Literal["scalar", "diagonal", "dense"]
"""How [`pinnkit.StateDiffusion`][]'s $\\sigma(x)$ is given: a scalar, the diagonal of a
$d \\times d$ matrix, or a dense $d \\times k$ matrix."""

_SHAPES = {"scalar": "()", "diagonal": "(dim,)", "dense": "(dim, k)"}


class Drift(AbstractOperator):
    r"""A drift (advection) term $\mu(x) \cdot \nabla u(x)$ with a point-dependent field $\mu$
    (order 1).

    Every estimator evaluates it exactly, with one forward-mode derivative of $u$ along
    $\mu(x)$ (`jax.jvp`): no gradient is formed and the cost does not grow with $d$.

    **Arguments:**

    - `mu`: the drift field, a function of one point $x$ of shape `(dim,)` returning shape
      `(dim,)`. For a space-time field $u(z)$, $z = (x, t)$ with time last, $\mu$ receives
      the whole $z$ and returns its `dim + 1` components (the last one $0$, or $1$ to add
      $\partial_t u$).
    """

    mu: Callable[[Point], Float[Array, " dim"]]

    @property
    def order(self) -> int:
        return 1

    def drift(self, x: Point) -> Float[Array, " dim"]:
        """$\\mu(x)$, with its shape checked against the point's."""
        check_point(x)
        value = jnp.asarray(self.mu(x))
        if value.shape != x.shape:
            raise ValueError(
                f"Drift's mu must return the shape of its point {x.shape}, got {value.shape}"
            )
        return value

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        return jax.jvp(fn, (x,), (self.drift(x).astype(x.dtype),))[1]


class StateDiffusion(AbstractOperator):
    r"""A diffusion with point-dependent coefficients, $\operatorname{tr}(\sigma(x)
    \sigma(x)^\top D^2 u(x)) = \sum_{ij} (\sigma\sigma^\top)_{ij}(x)\, \partial_i\partial_j u$
    (order 2).

    **No factor $\tfrac12$**: like [`pinnkit.Diffusion`][] (whose coefficient is $C$ in
    $\operatorname{tr}(C D^2 u)$), this is `Diffusion(σσᵀ)` with $\sigma$ evaluated at the
    point. The generator of the SDE $dX = \mu\,dt + \sigma\,dW$ is therefore
    `Drift(mu) + 0.5 * StateDiffusion(sigma, kind)`.

    Estimators: exact ones use the Hessian or one jet per column of $\sigma$; HTE and dense
    STDE push random tangents $\sigma(x)\xi$ with $E[\xi\xi^\top] = I_k$; SDGD and sparse
    STDE sample coordinates $j$ and weight $\partial_j^2 u$ by $\sigma_j(x)^2$, so they take
    only `"scalar"` and `"diagonal"` $\sigma$.

    **Arguments:**

    - `sigma`: a function of one point $x$ of shape `(dim,)` returning $\sigma(x)$: shape
      `()` for `kind="scalar"` ($\sigma = s I$), `(dim,)` for `"diagonal"`
      ($\sigma = \operatorname{diag}(s)$), `(dim, k)` for `"dense"` (any $k \ge 1$ noise
      dimensions).
    - `kind`: `"scalar"`, `"diagonal"` or `"dense"`, fixed when the operator is built so that
      an estimator can refuse a kind before anything is traced.
    """

    sigma: Callable[[Point], Array]
    kind: NoiseKind = eqx.field(static=True)

    def __check_init__(self):
        if self.kind not in _SHAPES:
            raise ValueError(
                f"StateDiffusion's kind must be 'scalar', 'diagonal' or 'dense', got {self.kind!r}"
            )

    @property
    def order(self) -> int:
        return 2

    def factor(self, x: Point) -> Array:
        """$\\sigma(x)$ as `sigma` returns it (shape `()`, `(dim,)` or `(dim, k)` by `kind`),
        checked against the point and cast to its dtype."""
        check_point(x)
        value = jnp.asarray(self.sigma(x))
        dim = x.shape[0]
        ok = {
            "scalar": value.shape == (),
            "diagonal": value.shape == (dim,),
            "dense": value.ndim == 2 and value.shape[0] == dim and value.shape[1] >= 1,
        }[self.kind]
        if not ok:
            raise ValueError(
                f"StateDiffusion(kind={self.kind!r}) needs sigma to return shape "
                f"{_SHAPES[self.kind]} with dim = {dim}, got {value.shape}"
            )
        return value.astype(x.dtype)

    def noise_dim(self, factor: Array, dim: int) -> int:
        """$k$, the number of columns of $\\sigma$ (the length of the $\\xi$ in $\\sigma\\xi$)."""
        return factor.shape[1] if self.kind == "dense" else dim

    def apply(self, factor: Array, xi: Float[Array, "n k"]) -> Float[Array, "n dim"]:
        """The tangents $\\sigma(x)\\xi$ for the rows $\\xi$ of `xi`, without building a
        $d \\times d$ matrix for a scalar or diagonal $\\sigma$."""
        return xi @ factor.T if self.kind == "dense" else xi * factor

    def coordinate_weights(self, factor: Array, index: Int[Array, " n"]) -> Float[Array, " n"]:
        """$\\sigma_j(x)^2$ for the coordinates $j$ in `index` (scalar or diagonal only)."""
        if self.kind == "dense":  # pragma: no cover - guarded by the estimators' supports()
            raise ValueError("coordinate weights exist only for scalar or diagonal sigma")
        if self.kind == "scalar":
            return jnp.full(index.shape, factor**2)
        return factor[index] ** 2

    def coefficients(self, x: Point) -> Float[Array, "dim dim"]:
        """$\\sigma(x)\\sigma(x)^\\top$, the $d \\times d$ coefficient matrix (for `Exact`)."""
        factor = self.factor(x)
        if self.kind == "dense":
            return factor @ factor.T
        return jnp.eye(x.shape[0], dtype=x.dtype) * factor**2

    def exact(self, fn: ScalarField, x: Point) -> Float[Array, ""]:
        return jnp.sum(self.coefficients(x) * jax.hessian(fn)(x))
