"""The estimator interface: how linear operators are evaluated on a network."""

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.base import AbstractOperator, linear_terms
from .._types import Key, Point, ScalarField


class AbstractEstimator(eqx.Module):
    r"""Computes, or estimates without bias, linear operators applied to a scalar field.

    Every estimator answers the same question, so they are interchangeable in one pipeline:
    given $u$, a point $x$ and operators $L_1, \dots, L_m$, return $u(x)$ and
    $(L_1 u(x), \dots, L_m u(x))$. Exact estimators ignore the key; stochastic ones draw
    their random directions or coordinates from it. Passing the same key for every point of
    a batch shares one draw across the batch (the published experiments' choice); passing
    split keys draws per point.

    Subclasses implement [`supports`][] and [`evaluate_atoms`][]; sums and scalings of
    operators are expanded here, once.
    """

    is_random: ClassVar[bool] = False

    @abc.abstractmethod
    def supports(self, operator: AbstractOperator) -> bool:
        """Whether this estimator can evaluate `operator` (never a `Sum` or `Scaled`)."""

    @abc.abstractmethod
    def evaluate_atoms(
        self,
        fn: ScalarField,
        x: Point,
        atoms: tuple[AbstractOperator, ...],
        key: Key,
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        """Evaluate operators that are not sums or scalings.

        **Returns:** `(u(x), values)`, one value per atom.
        """

    def __call__(
        self,
        fn: ScalarField,
        x: Point,
        operators: tuple[AbstractOperator, ...],
        key: Key,
    ) -> tuple[Float[Array, ""], tuple[Array, ...]]:
        r"""Evaluate `operators` on `fn` at the point `x`.

        **Arguments:**

        - `fn`: the scalar field $u$, acting on one point of shape `(dim,)`.
        - `x`: the point, shape `(dim,)`.
        - `operators`: the linear operators to apply (sums and scalings allowed).
        - `key`: a PRNG key; ignored by exact estimators.

        **Returns:** `(u(x), values)` with `values[i]` the (estimated) `operators[i]` at `x`.
        """
        if x.ndim != 1:
            raise ValueError(
                f"{type(self).__name__} evaluates one point of shape (dim,), got shape {x.shape}; "
                "vmap over the batch"
            )
        expansions = [list(linear_terms(op)) for op in operators]
        atoms: list[AbstractOperator] = []
        for terms in expansions:
            for _, atom in terms:
                if not self.supports(atom):
                    raise ValueError(refusal_message(self, atom))
                if _index(atoms, atom) is None:
                    atoms.append(atom)
        u, atom_values = self.evaluate_atoms(fn, x, tuple(atoms), key)
        values = []
        for terms in expansions:
            total = None
            for coef, atom in terms:
                index = _index(atoms, atom)
                assert index is not None
                term = coef * atom_values[index]
                total = term if total is None else total + term
            values.append(jnp.asarray(total))
        return u, tuple(values)


def _index(atoms: list[AbstractOperator], atom: AbstractOperator) -> int | None:
    """Position of `atom` in `atoms` (same object, or equal without array data), else None."""
    for i, other in enumerate(atoms):
        if other is atom or eqx.tree_equal(other, atom) is True:
            return i
    return None


def refusal_message(estimator: AbstractEstimator, operator: AbstractOperator) -> str:
    """A message naming the registered estimators that can evaluate `operator`."""
    from .registry import ESTIMATORS

    able = [name for name, make in ESTIMATORS.items() if make().supports(operator)]
    return (
        f"{type(estimator).__name__} cannot evaluate {type(operator).__name__}; "
        f"estimators that can: {', '.join(able) if able else 'none registered'}"
    )
