r"""Inverse problems: unknown coefficients trained jointly with the network.

[`pinnkit.PINNSolver`][] trains one Equinox pytree, the network. To fit unknown PDE
coefficients as well, put them *in* the network pytree with [`pinnkit.WithParameters`][],
and let [`pinnkit.InverseLoss`][] write them into the loss (e.g. into its PDE) before every
evaluation. The solver then trains both without knowing about either.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
from jaxtyping import Array, Float, PyTree

from .._network.base import AbstractNetwork
from .._types import Key, Point, Scalar
from .losses import AbstractLoss


class WithParameters(AbstractNetwork):
    r"""A network bundled with extra trainable parameters, such as unknown PDE coefficients.

    Its value is the wrapped network's, $u(x) = \mathrm{net}(x)$; the `parameters` are only
    carried along, so that [`pinnkit.PINNSolver`][] (which trains every floating-point array
    of the network pytree) trains them jointly with the network. A loss reads them through
    [`pinnkit.InverseLoss`][]. After training, `solution.network.parameters` holds the
    fitted values.

    **Arguments:**

    - `network`: the network $u_\theta$.
    - `parameters`: a pytree of floating-point arrays, e.g. `jnp.array(1.0)` for one
      unknown coefficient, or a PDE module whose array fields are all unknown.
    """

    network: AbstractNetwork
    parameters: PyTree

    def __check_init__(self):
        if not isinstance(self.network, AbstractNetwork):
            raise TypeError(f"network must be an AbstractNetwork, got {type(self.network)}")

    @property
    def in_size(self) -> int:
        return self.network.in_size

    def __call__(self, x: Point) -> Float[Array, ""]:
        return self.network(x)


class InverseLoss(AbstractLoss):
    r"""A loss some of whose fields are trainable: taken from the model's parameters.

    The model must be a [`pinnkit.WithParameters`][]. Before drawing a batch and before
    evaluating, the part of `loss` selected by `where` is replaced by the model's
    `parameters` (with `eqx.tree_at`), and the wrapped loss sees `model.network`. Gradients
    then flow to the parameters through the residual, for instance:

    ```python
    class Diffusion(pk.AbstractPDE):
        diffusivity: jax.Array          # the unknown, trained
        operators: tuple = (pk.Laplacian(),)

        def source(self, x): ...
        def residual(self, x, u, derivatives, source):
            return -self.diffusivity * derivatives[0] - source

    terms = {"residual": pk.ResidualLoss(Diffusion(jnp.array(1.0)), sampler),
             "data": pk.DataLoss(points, observed)}
    loss = pk.InverseLoss(pk.WeightedSum(terms, {"data": 100.0}),
                          where=lambda loss: loss.terms["residual"].pde.diffusivity)
    model = pk.WithParameters(network, jnp.array(1.0))   # the initial guess
    solution = pk.PINNSolver(loss).solve(model, steps, key)
    solution.network.parameters                          # the fitted coefficient
    ```

    Put unknowns in the PDE's `residual`, not in its `source`: sources are computed when the
    batch is drawn, with the current parameters but outside the differentiated loss, so no
    gradient reaches a parameter through a source.

    **Arguments:**

    - `loss`: the loss to wrap; any loss, sums and stateful losses included (its state is
      this loss's state).
    - `where`: a function from `loss` to the node (or tuple of nodes) the parameters
      replace, as for `eqx.tree_at`; the model's `parameters` must have the same structure.
    """

    loss: AbstractLoss
    where: Callable[[AbstractLoss], Any] = eqx.field(static=True)

    def __check_init__(self):
        try:
            self.where(self.loss)
        except Exception as error:
            raise ValueError(
                f"where(loss) failed ({type(error).__name__}: {error}); where must select "
                "the nodes of `loss` that the model's parameters replace, e.g. "
                "`lambda loss: loss.terms['residual'].pde.diffusivity`"
            ) from error

    def bind(self, model: Callable[[Point], Scalar]) -> tuple[AbstractLoss, AbstractNetwork]:
        """The wrapped loss with the model's parameters in place, and the bare network.

        **Arguments:**

        - `model`: a [`pinnkit.WithParameters`][].

        **Returns:** `(loss, network)`.
        """
        if not isinstance(model, WithParameters):
            raise TypeError(
                f"InverseLoss needs a WithParameters model (the network and the unknowns), "
                f"got {type(model).__name__}"
            )
        return eqx.tree_at(self.where, self.loss, model.parameters), model.network

    def sample(self, key: Key) -> PyTree:
        return self.loss.sample(key)

    def init_state(self, key: Key) -> PyTree:
        return self.loss.init_state(key)

    def next_batch(
        self, model: Callable[[Point], Scalar], state: PyTree, key: Key
    ) -> tuple[PyTree, PyTree]:
        loss, network = self.bind(model)
        return loss.next_batch(network, state, key)

    def __call__(self, model: Callable[[Point], Scalar], batch: PyTree, key: Key) -> Scalar:
        loss, network = self.bind(model)
        return loss(network, batch, key)
