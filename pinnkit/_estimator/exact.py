"""Exact estimators: nested autodiff, basis jets, and the forward Laplacian."""

import equinox as eqx
import folx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.base import AbstractOperator, Diffusion, Gradient, Laplacian, Partial, Value
from .._taylor.jets import second_directional
from .._types import Key, Point, ScalarField
from .base import AbstractEstimator


class Exact(AbstractEstimator):
    r"""Exact values by nested automatic differentiation.

    Second-order operators go through the full Hessian (`jax.hessian`, forward over reverse):
    $O(d)$ passes and $O(d^2)$ memory per point. The reference every other estimator is
    checked against; affordable up to a few thousand dimensions.
    """

    def supports(self, operator: AbstractOperator) -> bool:
        return True

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        if any(isinstance(a, Laplacian | Diffusion) for a in atoms):
            hessian = jax.jacfwd(jax.grad(fn))(x)  # once, shared by all second-order atoms
        else:
            hessian = jnp.zeros(())
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian):
                values.append(jnp.trace(hessian))
            elif isinstance(atom, Diffusion):
                values.append(jnp.sum(atom.matrix * hessian))
            else:
                values.append(atom.exact(fn, x))
        return fn(x), tuple(values)


class ExactJet(AbstractEstimator):
    r"""Exact values from $d$ basis jets, one second-order Taylor jet per direction.

    The Laplacian is $\sum_i \partial_i^2 u$ with $\partial_i^2 u$ the second output of the
    2-jet with tangents $(e_i, 0)$; a [`pinnkit.Diffusion`][] with symmetric coefficients
    $C = Q \Lambda Q^\top$ is $\sum_k \lambda_k\, q_k^\top D^2 u\, q_k$. The jets run in chunks
    of `chunk_size` directions, so no $d \times d$ matrix is built for the Laplacian.
    Partial derivatives use nested forward-mode products; gradients reverse mode.

    **Arguments:**

    - `chunk_size`: how many directions to push at once (memory against speed).
    """

    chunk_size: int = eqx.field(default=64, static=True)

    def supports(self, operator: AbstractOperator) -> bool:
        return isinstance(operator, Value | Gradient | Laplacian | Diffusion | Partial)

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        dim = x.shape[0]
        batch_size = min(self.chunk_size, dim)
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian):

                def basis_curvature(i: Array) -> Array:
                    return second_directional(fn, x, jax.nn.one_hot(i, dim, dtype=x.dtype))

                curvatures = jax.lax.map(basis_curvature, jnp.arange(dim), batch_size=batch_size)
                values.append(jnp.sum(curvatures))
            elif isinstance(atom, Diffusion):
                eigenvalues, eigenvectors = jnp.linalg.eigh(atom.symmetric())

                def eigen_curvature(q: Array) -> Array:
                    return second_directional(fn, x, q)

                curvatures = jax.lax.map(eigen_curvature, eigenvectors.T, batch_size=batch_size)
                values.append(jnp.sum(eigenvalues * curvatures))
            else:
                values.append(atom.exact(fn, x))
        return fn(x), tuple(values)


class ForwardLaplacian(AbstractEstimator):
    r"""The forward Laplacian: one forward pass carrying value, gradient and Laplacian.

    Uses the [folx](https://github.com/microsoft/folx) package. A [`pinnkit.Diffusion`][] with
    symmetric coefficients $C = A_+ A_+^\top - A_- A_-^\top$ is the Laplacian in $z$ of
    $u(x + A_\pm z)$ at $z = 0$, so it costs two forward Laplacians.
    Memory grows like $O(d \cdot \text{width})$ per point.

    **Reference:** Li, Ye, Ren, Chen, Wang, Zhao, "A computational framework for neural
    network-based variational Monte Carlo with Forward Laplacian", Nature Machine
    Intelligence (2024).
    """

    def supports(self, operator: AbstractOperator) -> bool:
        return isinstance(operator, Value | Gradient | Laplacian | Diffusion)

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        result = folx.forward_laplacian(fn, sparsity_threshold=0)(x)
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian):
                values.append(result.laplacian)
            elif isinstance(atom, Gradient):
                values.append(result.jacobian.dense_array.reshape(x.shape))
            elif isinstance(atom, Value):
                values.append(result.x)
            elif isinstance(atom, Diffusion):
                values.append(_diffusion_by_forward_laplacian(fn, x, atom))
            else:  # pragma: no cover - guarded by supports()
                raise AssertionError(atom)
        return result.x, tuple(values)


def _diffusion_by_forward_laplacian(fn: ScalarField, x: Point, op: Diffusion) -> Array:
    eigenvalues, eigenvectors = jnp.linalg.eigh(op.symmetric())
    total = jnp.zeros((), x.dtype)
    for sign in (1.0, -1.0):
        factor = eigenvectors * jnp.sqrt(jnp.maximum(sign * eigenvalues, 0.0))

        def shifted(z: Array, factor: Array = factor) -> Array:
            return fn(x + factor @ z)

        lap = folx.forward_laplacian(shifted, sparsity_threshold=0)(jnp.zeros_like(x)).laplacian
        total = total + sign * lap
    return total
