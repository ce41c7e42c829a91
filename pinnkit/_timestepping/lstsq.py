"""The regularized least-squares solve of Neural Galerkin's parameter velocity."""

import math

import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, Float


def regularized_lstsq(
    matrix: Float[Array, "n p"],
    rhs: Float[Array, " n"],
    regularization: float | int = 0.0,
    linear_solver: lx.AbstractLinearSolver | None = None,
    *,
    throw: bool = True,
) -> Float[Array, " p"]:
    r"""The solution of $\min_z \frac1n \|J z - F\|^2 + \lambda \|z\|^2$.

    The problem is never squared into normal equations. With $J$ scaled by $1/\sqrt n$, it is
    solved as an augmented least-squares problem by `lineax` (QR by default):

    - tall ($n \ge p$): $\begin{bmatrix} J \\ \sqrt\lambda I_p \end{bmatrix} z \approx
      \begin{bmatrix} F \\ 0 \end{bmatrix}$, of size $(n + p) \times p$;
    - wide ($n < p$): the minimum-norm solution $(z, w)$ of
      $\begin{bmatrix} J & \sqrt\lambda I_n \end{bmatrix} \begin{bmatrix} z \\ w
      \end{bmatrix} = F$, of size $n \times (p + n)$; eliminating $w = (F - J z)/\sqrt\lambda$
      shows that $z$ minimises the same objective.

    Either way the matrix factored has condition number
    $\sqrt{(\sigma_{\max}^2 + \lambda) / (\sigma_{\min}^2 + \lambda)}$ (with $\sigma$ the
    singular values of $J/\sqrt n$), the square root of that of the regularized normal
    equations, and it has full rank whenever $\lambda > 0$, as `lineax.QR` requires. The cost
    is $O(\min(n, p)^2 \max(n, p))$.

    **Arguments:**

    - `matrix`: $J$, shape `(n, p)`.
    - `rhs`: $F$, shape `(n,)`.
    - `regularization`: $\lambda \ge 0$; with $\lambda = 0$, $J$ must have full rank (or
      pass `lineax.SVD()`).
    - `linear_solver`: a `lineax` solver for non-square systems; `None` for `lineax.QR()`.
    - `throw`: raise (lineax's error, inside jit) when the solve fails, e.g. on non-finite
      input (default); with `False`, return what the solver gives, NaN included, for the
      caller to check.

    **Returns:** $z$, shape `(p,)`.
    """
    if matrix.ndim != 2 or rhs.shape != matrix.shape[:1]:
        raise ValueError(
            f"regularized_lstsq needs a matrix (n, p) and a right-hand side (n,), got shapes "
            f"{matrix.shape} and {rhs.shape}"
        )
    if not regularization >= 0:
        raise ValueError(f"regularization must be >= 0, got {regularization}")
    solver = lx.QR() if linear_solver is None else linear_solver
    n, p = matrix.shape
    scale = 1.0 / math.sqrt(n)
    a, b = scale * matrix, scale * rhs
    if regularization == 0:
        operator, vector = a, b
    elif n >= p:
        root = math.sqrt(regularization) * jnp.eye(p, dtype=a.dtype)
        operator = jnp.concatenate([a, root], axis=0)
        vector = jnp.concatenate([b, jnp.zeros(p, b.dtype)])
    else:
        root = math.sqrt(regularization) * jnp.eye(n, dtype=a.dtype)
        operator, vector = jnp.concatenate([a, root], axis=1), b
    solution = lx.linear_solve(lx.MatrixLinearOperator(operator), vector, solver, throw=throw)
    return solution.value[:p]
