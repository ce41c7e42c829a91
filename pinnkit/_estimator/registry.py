"""Named estimators, for the command line and for tests that parametrize over all of them."""

import functools
from collections.abc import Callable

from .base import CLI_NAMES, AbstractEstimator, AbstractStochasticEstimator
from .exact import Exact, ExactJet, ForwardLaplacian
from .stochastic import HTE, SDGD, STDE


CLI_NAMES.update(
    {
        "exact": Exact,
        "jet": ExactJet,
        "forward-laplacian": ForwardLaplacian,
        "sdgd": SDGD,
        "hte": HTE,
        "stde": STDE,
        "stde-dense": functools.partial(STDE, sparse=False),
    }
)
ESTIMATORS: dict[str, Callable[..., AbstractEstimator]] = CLI_NAMES
"""Estimator names (as the CLI spells them) and their constructors. Refusals of an
unsupported operator name the estimators that can by these names."""


def make_estimator(name: str, num_samples: int | None = None) -> AbstractEstimator:
    """Build a registered estimator by name.

    **Arguments:**

    - `name`: one of `ESTIMATORS` (`exact`, `jet`, `forward-laplacian`, `sdgd`, `hte`,
      `stde`, `stde-dense`).
    - `num_samples`: samples per estimate for a stochastic estimator; `None` for its default.

    Raises `ValueError` listing the valid names for an unknown name, and when `num_samples`
    is given to an exact estimator.
    """
    try:
        make = ESTIMATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown estimator {name!r}; valid names: {', '.join(ESTIMATORS)}"
        ) from None
    estimator = make()
    if num_samples is None:
        return estimator
    if not isinstance(estimator, AbstractStochasticEstimator):
        raise ValueError(f"estimator {name!r} is exact and takes no number of samples")
    return make(num_samples=num_samples)
