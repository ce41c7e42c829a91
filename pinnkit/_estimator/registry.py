"""Named estimators, for the command line and for tests that parametrize over all of them."""

from collections.abc import Callable

from .base import AbstractEstimator
from .exact import Exact, ExactJet, ForwardLaplacian


ESTIMATORS: dict[str, Callable[..., AbstractEstimator]] = {
    "exact": Exact,
    "jet": ExactJet,
    "forward-laplacian": ForwardLaplacian,
}
"""Estimator names (as the CLI spells them) and their constructors."""


def make_estimator(name: str, **kwargs) -> AbstractEstimator:
    """Build a registered estimator by name, with a clear error listing the valid names."""
    try:
        make = ESTIMATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown estimator {name!r}; valid names: {', '.join(ESTIMATORS)}"
        ) from None
    return make(**kwargs)
