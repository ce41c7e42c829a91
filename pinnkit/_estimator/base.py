"""The estimator interface: how linear operators are evaluated on a network."""

import abc
import inspect
from collections.abc import Callable, Iterator

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
    operators are expanded here, once. An estimator that draws from its key subclasses
    [`pinnkit.AbstractStochasticEstimator`][] instead.

    An operator that [`supports`][] refuses raises a `ValueError` naming every estimator
    that can evaluate it: the registered ones (`pinnkit.ESTIMATORS`) by their command-line
    names, and any other concrete subclass that can be built with no arguments (your own,
    say) by its class name.
    """

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


class AbstractStochasticEstimator(AbstractEstimator):
    r"""An estimator that draws random coordinates or directions from its key.

    Its values are random, and unbiased for the exact ones: $E_{\text{key}}[\widehat{L u}(x)]
    = L u(x)$. Losses check for this type to split keys per point (`sharing="point"`) or to
    draw twice (`unbiased=True`), and the command line to accept a number of samples. It adds
    no methods: subclass it instead of [`pinnkit.AbstractEstimator`][] when
    [`evaluate_atoms`][pinnkit.AbstractEstimator.evaluate_atoms] uses its key.
    [`pinnkit.SDGD`][], [`pinnkit.HTE`][] and [`pinnkit.STDE`][] are the built-in ones.
    """


CLI_NAMES: dict[str, Callable[..., AbstractEstimator]] = {}
"""The estimators the command line knows, by name. `registry.py` fills this dictionary and
exports it as `pinnkit.ESTIMATORS`; refusals read it here, so that this module, which every
estimator imports, does not import the registry."""


def _concrete_subclasses(cls: type) -> Iterator[type]:
    """The concrete subclasses of `cls` defined so far, built-in or not, depth first."""
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub):
            yield sub
        yield from _concrete_subclasses(sub)


def _supports(make: Callable[[], AbstractEstimator], operator: AbstractOperator) -> bool:
    """Whether the estimator `make()` supports `operator`; `False` when it cannot be built
    with no arguments, or its code fails (only the wording of an error depends on this)."""
    try:
        return bool(make().supports(operator))
    except Exception:
        return False


def refusal_message(estimator: AbstractEstimator, operator: AbstractOperator) -> str:
    """A message naming every estimator that can evaluate `operator`: the registered ones
    by their command-line names, then by class name the other concrete estimators (a
    user's own) that can be built with no arguments."""
    able = [name for name, make in CLI_NAMES.items() if _supports(make, operator)]
    registered = {type(make()) for make in CLI_NAMES.values()}
    for cls in dict.fromkeys(_concrete_subclasses(AbstractEstimator)):
        if cls not in registered and _supports(cls, operator):
            able.append(cls.__name__)
    return (
        f"{type(estimator).__name__} cannot evaluate {type(operator).__name__}; "
        f"estimators that can: {', '.join(able) if able else 'none'}"
    )
