"""The one problem model: [`AbstractProblem`][pinnkit.problems.AbstractProblem] and the
elliptic [`Problem`][pinnkit.problems.Problem] (a [`ProblemSpec`][pinnkit.problems.ProblemSpec]
of the registry builds any problem by name)."""

import abc
from collections.abc import Callable

import equinox as eqx
from jaxtyping import PRNGKeyArray

from .._estimator.base import AbstractEstimator
from .._estimator.exact import Exact
from .._loss.losses import AbstractLoss, ResidualLoss
from .._network.base import AbstractNetwork
from .._network.mlp import MLP, HardDirichlet
from .._network.shared import SharedFirstLayerMLP
from .._operator.pde import AbstractPDE
from .._sampler.base import AbstractSampler
from .._solver.reference import TestSet
from .._types import Point, Scalar


def plain_network(
    inputs: int,
    width: int,
    depth: int,
    activation: str,
    block_size: int | None,
    key: PRNGKeyArray,
) -> AbstractNetwork:
    """A [`pinnkit.MLP`][] on `inputs` coordinates, or with a `block_size` a
    [`pinnkit.SharedFirstLayerMLP`][] (blocks of `block_size` inputs share one first-layer
    weight); the network the ready-made problems wrap or use as it is."""
    if block_size is None:
        return MLP(inputs, width, depth, activation, key=key)
    return SharedFirstLayerMLP(inputs, block_size, width, depth, activation, key=key)


class AbstractProblem(eqx.Module):
    """Every ready-made problem: a name, a space dimension, and the network and loss of its
    physics-informed solve.

    Subclasses: [`Problem`][pinnkit.problems.Problem] (elliptic and high-order problems
    with an exact solution), [`KdVProblem`][pinnkit.problems.KdVProblem] (a space-time
    problem with an exact solution) and [`ParabolicProblem`][pinnkit.problems.ParabolicProblem]
    (whose answer is one value $u(0, 0)$). [`get_problem`][pinnkit.problems.get_problem]
    builds any of them by name; its [`ProblemSpec`][pinnkit.problems.ProblemSpec] says which
    methods solve it.

    **Attributes:**

    - `name`: the registry name.
    - `dim`: the space dimension $d$ (the network of a space-time problem takes $d + 1$
      inputs, time last).
    """

    name: eqx.AbstractVar[str]
    dim: eqx.AbstractVar[int]

    @abc.abstractmethod
    def network(
        self, key: PRNGKeyArray, width: int = 128, depth: int = 3, activation: str = "tanh"
    ) -> AbstractNetwork:
        """A network for the physics-informed solve, initialized from `key`."""

    @abc.abstractmethod
    def loss(
        self, estimator: AbstractEstimator | None = None, batch_size: int = 100
    ) -> AbstractLoss:
        """The physics-informed training loss, its derivatives evaluated by `estimator`
        (default [`pinnkit.Exact`][]) on `batch_size` collocation points per step."""


class Problem(AbstractProblem):
    """An elliptic (or high-order) ready-made problem with an exact solution: an ordinary
    composition of pinnkit's public modules.

    **Attributes:**

    - `name`: the registry name, e.g. `"allen-cahn-two-body"`.
    - `dim`: the space dimension.
    - `pde`: the [`pinnkit.AbstractPDE`][].
    - `sampler`: draws interior collocation points (and the test points).
    - `solution`: the exact solution at one point.
    - `distance`: $\\varphi$ of the hard boundary ansatz $u = \\varphi \\cdot \\mathrm{net}$.
    - `extend_loss`: `None` (default) when the residual alone determines the solution (the
      ansatz meets all boundary data); otherwise `extend_loss(problem, residual, batch_size)`
      returns the full loss, e.g. a [`pinnkit.WeightedSum`][] of the residual and a boundary
      term. [`loss`][pinnkit.problems.Problem.loss] calls it, so every caller (the command line
      included) trains the well-posed problem.
    """

    name: str = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    pde: AbstractPDE
    sampler: AbstractSampler
    solution: Callable[[Point], Scalar]
    distance: Callable[[Point], Scalar]
    extend_loss: Callable[["Problem", ResidualLoss, int], AbstractLoss] | None = None

    def network(
        self,
        key: PRNGKeyArray,
        width: int = 128,
        depth: int = 3,
        activation: str = "tanh",
        block_size: int | None = None,
    ) -> AbstractNetwork:
        """The ansatz $\\varphi(x) \\cdot \\mathrm{net}(x)$ that meets the boundary data exactly.

        **Arguments:**

        - `key`: the PRNG key for the initial parameters.
        - `width`, `depth`, `activation`: the MLP's neurons per hidden layer, hidden layers
          and activation.
        - `block_size`: `None` (default) for a plain [`pinnkit.MLP`][] on $x$; an integer
          $B$ dividing `dim` for a [`pinnkit.SharedFirstLayerMLP`][] (blocks of $B$ inputs
          share one `Linear(B -> 1)`, about $B + (d/B) \\cdot$ `width` first-layer
          parameters instead of $d \\cdot$ `width`).

        **Returns:**

        A [`pinnkit.HardDirichlet`][] network. Raises `ValueError` when `block_size` does
        not divide `dim`.
        """
        return HardDirichlet(
            plain_network(self.dim, width, depth, activation, block_size, key), self.distance
        )

    def loss(
        self, estimator: AbstractEstimator | None = None, batch_size: int = 100, **kwargs
    ) -> AbstractLoss:
        """The training loss: the residual loss on this problem's collocation points (extra
        `kwargs` go to [`pinnkit.ResidualLoss`][]), extended by `extend_loss` when the problem
        has one."""
        residual = ResidualLoss(
            self.pde, self.sampler, estimator or Exact(), batch_size=batch_size, **kwargs
        )
        if self.extend_loss is None:
            return residual
        return self.extend_loss(self, residual, batch_size)

    def test_set(self, key: PRNGKeyArray, size: int = 20_000, chunk_size: int = 1_000) -> TestSet:
        """A fixed test set of `size` points drawn like the collocation points."""
        return TestSet(self.sampler, self.solution, key, size=size, chunk_size=chunk_size)
