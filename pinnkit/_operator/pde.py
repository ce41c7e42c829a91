"""Partial differential equations as residual functions of estimated operator values."""

import abc

import equinox as eqx
from jaxtyping import Array, Float

from .._types import Point
from .base import AbstractOperator


class AbstractPDE(eqx.Module):
    r"""A PDE written as a residual $R(x, u, L_1 u, \dots, L_m u) = 0$.

    A PDE declares the linear operators $L_1, \dots, L_m$ it needs in `operators`; an estimator
    evaluates them (exactly or stochastically) and hands the values to [`residual`][]. The
    forcing is split out as [`source`][] so that it is computed once per collocation point
    when the batch is drawn, not inside the differentiated loss.

    To add a PDE, subclass this, set `operators`, and write the two methods:

    ```python
    class Poisson(pk.AbstractPDE):
        operators: tuple = (pk.Laplacian(),)

        def source(self, x):
            return jnp.sum(x**2)

        def residual(self, x, u, derivatives, source):
            (laplacian,) = derivatives
            return laplacian - source
    ```
    """

    operators: eqx.AbstractVar[tuple[AbstractOperator, ...]]

    @abc.abstractmethod
    def source(self, x: Point) -> Float[Array, ""]:
        """The forcing term at one point `x` (return `jnp.zeros(())` when there is none)."""

    @abc.abstractmethod
    def residual(
        self,
        x: Point,
        u: Float[Array, ""],
        derivatives: tuple[Array, ...],
        source: Float[Array, ""],
    ) -> Float[Array, ""]:
        """The residual at one point.

        **Arguments:**

        - `x`: the point, shape `(dim,)`.
        - `u`: the solution's value $u(x)$.
        - `derivatives`: the values of `self.operators` at `x`, in the same order (exact or
          estimated, depending on the estimator).
        - `source`: `self.source(x)`, precomputed.

        **Returns:** the scalar residual, zero for an exact solution.
        """
