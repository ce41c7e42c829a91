"""Samplers: the collocation points of one training step."""

import abc
from typing import ClassVar, Literal

import equinox as eqx

from .._domain.domains import AbstractDomain
from .._types import Key, Points


class AbstractSampler(eqx.Module):
    """Draws a batch of collocation points for one step.

    A sampler is called with a key and a batch size and returns points of shape
    `(batch, dim)`. Samplers are pure functions of the key, so a run is reproducible from
    its seed.

    A sampler of space-time points $z = (x, t)$ sets the class attribute `time_last = True`
    (as [`pinnkit.Brownian`][], [`pinnkit.CylinderSampler`][] and [`pinnkit.SDEPaths`][]
    do): the losses on a time slice take only such a sampler, since they overwrite the last
    coordinate with the slice's time.
    """

    dim: eqx.AbstractVar[int]
    time_last: ClassVar[bool] = False

    @abc.abstractmethod
    def __call__(self, key: Key, batch: int) -> Points:
        """Draw `batch` points, shape `(batch, dim)`."""


class UniformSampler(AbstractSampler):
    """Points drawn i.i.d. from a domain's interior or its boundary.

    The points follow the domain's law (uniform unless the domain says otherwise), drawn by
    its [`sample_interior`][pinnkit.AbstractDomain.sample_interior] or
    [`sample_boundary`][pinnkit.AbstractDomain.sample_boundary]: for a domain of your own,
    its map from the unit cube applied to i.i.d. uniform points.

    **Arguments:**

    - `domain`: an [`pinnkit.AbstractDomain`][] such as [`pinnkit.Ball`][].
    - `where`: `"interior"` (default) or `"boundary"`.
    """

    domain: AbstractDomain
    where: Literal["interior", "boundary"] = eqx.field(static=True)

    def __init__(self, domain: AbstractDomain, where: Literal["interior", "boundary"] = "interior"):
        self.domain = domain
        self.where = where

    def __check_init__(self):
        if self.where not in ("interior", "boundary"):
            raise ValueError(f"where must be 'interior' or 'boundary', got {self.where!r}")

    @property
    def dim(self) -> int:
        return self.domain.dim

    def __call__(self, key: Key, batch: int) -> Points:
        if self.where == "interior":
            return self.domain.sample_interior(key, batch)
        return self.domain.sample_boundary(key, batch)
