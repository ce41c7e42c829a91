"""Helpers shared by the network architectures: activations by name, size checks, and
the propagation of Taylor coefficients through an MLP's hidden layers."""

from collections.abc import Callable

from jaxtyping import Array

from .mlp import _ACTIVATIONS, MLP
from .taylor import Series


def resolve_activation(
    activation: str | Callable[[Array], Array], owner: str
) -> Callable[[Array], Array]:
    """The activation function named `activation` (or `activation` itself if callable)."""
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation {activation!r}; valid names: {', '.join(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[activation]


def check_sizes(owner: str, **sizes: int) -> None:
    """Raise a `ValueError` naming every size below its minimum (`in_size`, `width`,
    `num_features` >= 1; `depth` >= 0)."""
    bad = {
        name: value
        for name, value in sizes.items()
        if not isinstance(value, int) or value < (0 if name == "depth" else 1)
    }
    if bad:
        wanted = ", ".join(f"{name} >= {0 if name == 'depth' else 1}" for name in sizes)
        got = ", ".join(f"{name}={value!r}" for name, value in sizes.items())
        raise ValueError(f"{owner} needs {wanted}; got {got}")


def mlp_jets_after_first_layer(
    mlp: MLP, h: Array, lower: list[Array], top: Array | None, order: int
) -> Series:
    """The jet of `mlp` given the full series of its first layer's output.

    `h` is the first layer's output, `lower` its Taylor coefficients per direction (each of
    shape `(n, width)`), `top` the collapsed top-order sum (shape `(width,)`) or `None`. The
    MLP's own fast path starts from a first layer that is linear in the input (only a
    first-order coefficient); this one accepts any series, e.g. after Fourier features.
    """
    n = lower[0].shape[0] if lower else 1
    for layer in mlp.layers[1:]:
        a, a_lower, a_top = mlp._activation_jet(h, lower, top, n, order)
        h = layer(a)
        lower = [c @ layer.weight.T for c in a_lower]
        top = None if a_top is None else layer.weight @ a_top
    derivatives = [c[:, 0] for c in lower]
    if top is not None:
        derivatives.append(top[0])
    return h[0], derivatives
