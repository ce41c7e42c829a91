"""Helpers shared by the network architectures: activations by name, initialisations, size
checks, and stacks of linear layers."""

from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray


_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
}

Initialization = Literal["uniform", "glorot_normal", "glorot_uniform", "lecun_normal"]


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
        if isinstance(value, bool)
        or not isinstance(value, int)
        or value < (0 if name == "depth" else 1)
    }
    if bad:
        wanted = ", ".join(f"an integer {name} >= {0 if name == 'depth' else 1}" for name in sizes)
        got = ", ".join(f"{name}={value!r}" for name, value in sizes.items())
        raise ValueError(f"{owner} needs {wanted}; got {got}")


def _init_weight(key: PRNGKeyArray, shape: tuple[int, int], init: Initialization) -> Array:
    fan_out, fan_in = shape
    if init == "glorot_normal":
        return jax.random.normal(key, shape) * jnp.sqrt(2.0 / (fan_in + fan_out))
    if init == "glorot_uniform":
        limit = jnp.sqrt(6.0 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, minval=-limit, maxval=limit)
    if init == "lecun_normal":
        return jax.random.normal(key, shape) / jnp.sqrt(fan_in)
    limit = 1.0 / jnp.sqrt(fan_in)
    return jax.random.uniform(key, shape, minval=-limit, maxval=limit)


def linear_layers(
    sizes: Sequence[int], keys: Array, initialization: Initialization = "uniform"
) -> tuple[eqx.nn.Linear, ...]:
    """The layers `Linear(sizes[i] -> sizes[i + 1])`, the `i`-th initialised from `keys[i]`.

    `"uniform"` is Equinox's own initialisation ($U(\\pm 1/\\sqrt{\\text{fan-in}})$ for the
    weight and the bias); any other scheme draws the weight from the same key and zeroes the
    bias. `keys` is a split key array with one key per layer; a network that draws other
    parameters from the same split first passes the rest of it.
    """
    layers = []
    for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        layer = eqx.nn.Linear(fan_in, fan_out, key=k)
        if initialization != "uniform":
            weight = _init_weight(k, (fan_out, fan_in), initialization)
            layer = eqx.tree_at(
                lambda lin: (lin.weight, lin.bias), layer, (weight, jnp.zeros(fan_out))
            )
        layers.append(layer)
    return tuple(layers)
