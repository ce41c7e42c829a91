"""Exact estimators: nested autodiff, basis jets, and the forward Laplacian."""

import equinox as eqx
import folx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.base import (
    AbstractOperator,
    Diagonal,
    Diffusion,
    Gradient,
    Laplacian,
    Partial,
    SpatialLaplacian,
    TimeDerivative,
    Value,
)
from .._operator.state import Drift, StateDiffusion
from .._taylor.base import coordinate_jets, directional_jets
from .._taylor.multilinear import mixed_partial
from .._types import Key, Point, ScalarField
from .base import AbstractEstimator
from .sampling import signed_factors
from .state import TRACE_OPERATORS, weighted_curvatures


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
        if any(
            isinstance(a, Laplacian | Diffusion | SpatialLaplacian | StateDiffusion) for a in atoms
        ):
            hessian = jax.jacfwd(jax.grad(fn))(x)  # once, shared by all second-order atoms
        else:
            hessian = jnp.zeros(())
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian):
                values.append(jnp.trace(hessian))
            elif isinstance(atom, Diffusion):
                values.append(jnp.sum(atom.matrix * hessian))
            elif isinstance(atom, SpatialLaplacian):
                atom.check_dimension(x.shape[0])
                values.append(jnp.trace(hessian[: atom.dims, : atom.dims]))
            elif isinstance(atom, StateDiffusion):
                values.append(jnp.sum(atom.coefficients(x) * hessian))
            else:
                values.append(atom.exact(fn, x))
        return fn(x), tuple(values)


class ExactJet(AbstractEstimator):
    r"""Exact values from $d$ basis jets: one Taylor jet per coordinate direction.

    The Laplacian is $\sum_i \partial_i^2 u$, with $\partial_i^2 u$ the second output of the
    2-jet with tangents $(e_i, 0)$; [`pinnkit.Diagonal`][] of order $k$ uses $k$-jets. A
    [`pinnkit.Diffusion`][] with symmetric coefficients $A_+ A_+^\top - A_- A_-^\top$ is
    $\sum_k (A_\pm e_k)^\top D^2 u\, (A_\pm e_k)$ with signs. The jets run in chunks of
    `chunk_size` directions and take the networks' Taylor-mode fast path
    ([`pinnkit.AbstractTaylorMode`][]), so no $d \times d$ matrix is built for the
    Laplacian. Partial derivatives come from jets with slot patterns derived by enumerating
    partitions (no nested autodiff); gradients use reverse mode.

    **Arguments:**

    - `chunk_size`: how many directions to push at once (memory against speed).
    """

    chunk_size: int = eqx.field(default=64, static=True)

    def supports(self, operator: AbstractOperator) -> bool:
        return isinstance(
            operator,
            Value
            | Gradient
            | Laplacian
            | Diagonal
            | Diffusion
            | Partial
            | SpatialLaplacian
            | TimeDerivative
            | Drift
            | StateDiffusion,
        )

    def evaluate_atoms(
        self, fn: ScalarField, x: Point, atoms: tuple[AbstractOperator, ...], key: Key
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        dim = x.shape[0]
        values = []
        for atom in atoms:
            if isinstance(atom, Laplacian | Diagonal | SpatialLaplacian):
                order = atom.order if isinstance(atom, Diagonal) else 2
                count = dim
                if isinstance(atom, SpatialLaplacian):  # the first `dims` coordinates only
                    atom.check_dimension(dim)
                    count = atom.dims

                def pure(indices: Array, order: int = order) -> Array:
                    return coordinate_jets(fn, x, indices, order, collapse=True)[1][-1]

                values.append(_chunked_sum(pure, jnp.arange(count), self.chunk_size))
            elif isinstance(atom, Diffusion):

                def curvature(rows: Array) -> Array:
                    return directional_jets(fn, x, rows, 2, collapse=True)[1][-1]

                positive, negative = signed_factors(atom.matrix)
                plus = _chunked_sum(curvature, positive.T, self.chunk_size)
                minus = _chunked_sum(curvature, negative.T, self.chunk_size)
                values.append(plus - minus)
            elif isinstance(atom, StateDiffusion):
                values.append(_state_diffusion_by_jets(fn, x, atom, self.chunk_size))
            elif isinstance(atom, Partial):
                atom.check_dimension(dim)
                values.append(mixed_partial(fn, x, atom.indices))
            else:
                values.append(atom.exact(fn, x))
        return fn(x), tuple(values)


def _state_diffusion_by_jets(fn: ScalarField, x: Point, op: StateDiffusion, chunk: int) -> Array:
    r"""$\sum_k \sigma_k^\top D^2 u\, \sigma_k$ over the columns of a dense $\sigma(x)$, or
    $\sum_j \sigma_j^2 \partial_j^2 u$ for a scalar or diagonal one: one 2-jet per column."""
    factor = op.factor(x)
    if op.kind == "dense":

        def curvature(rows: Array) -> Array:
            return directional_jets(fn, x, rows, 2, collapse=True)[1][-1]

        return _chunked_sum(curvature, factor.T, chunk)

    def weighted(indices: Array) -> Array:
        return weighted_curvatures(fn, x, op, factor, indices)[1]

    return _chunked_sum(weighted, jnp.arange(x.shape[0]), chunk)


def _chunked_sum(fn, items: Array, chunk: int) -> Array:
    """`sum(fn(c) for c in chunks of items)`, with `jax.lax.map` over the full chunks."""
    n = items.shape[0]
    chunk = max(1, min(chunk, n))
    full = n // chunk
    total = jnp.sum(jax.lax.map(fn, items[: full * chunk].reshape(full, chunk, *items.shape[1:])))
    if n % chunk:
        total = total + fn(items[full * chunk :])
    return total


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
        return isinstance(operator, TRACE_OPERATORS)

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
            elif isinstance(atom, SpatialLaplacian):
                values.append(_spatial_by_forward_laplacian(fn, x, atom))
            elif isinstance(atom, StateDiffusion):
                values.append(_state_by_forward_laplacian(fn, x, atom))
            elif isinstance(atom, TimeDerivative | Drift):
                values.append(atom.exact(fn, x))
            else:  # pragma: no cover - guarded by supports()
                raise AssertionError(atom)
        return result.x, tuple(values)


def _diffusion_by_forward_laplacian(fn: ScalarField, x: Point, op: Diffusion) -> Array:
    total = jnp.zeros((), x.dtype)
    for sign, factor in zip((1.0, -1.0), signed_factors(op.matrix), strict=True):

        def shifted(z: Array, factor: Array = factor) -> Array:
            return fn(x + factor @ z)

        lap = folx.forward_laplacian(shifted, sparsity_threshold=0)(jnp.zeros_like(x)).laplacian
        total = total + sign * lap
    return total


def _spatial_by_forward_laplacian(fn: ScalarField, x: Point, op: SpatialLaplacian) -> Array:
    """The forward Laplacian of $y \\mapsto u(y, x_{k:})$ in the first $k$ coordinates."""
    op.check_dimension(x.shape[0])
    k = op.dims

    def space(y: Array) -> Array:
        return fn(jnp.concatenate([y, x[k:]]))

    return folx.forward_laplacian(space, sparsity_threshold=0)(x[:k]).laplacian


def _state_by_forward_laplacian(fn: ScalarField, x: Point, op: StateDiffusion) -> Array:
    r"""The forward Laplacian in $z \in \mathbb{R}^k$ of $u(x + \sigma(x) z)$ at $z = 0$."""
    factor = op.factor(x)

    def shifted(z: Array) -> Array:
        return fn(x + op.apply(factor, z[None])[0])

    zero = jnp.zeros(op.noise_dim(factor, x.shape[0]), x.dtype)
    return folx.forward_laplacian(shifted, sparsity_threshold=0)(zero).laplacian
