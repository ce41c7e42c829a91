r"""The Feynman–Kac read-out of a point value from a trained space-time network.

For the backward problem $u_t + \Delta u + f(u) = 0$ on $[0, T]$, $u(T, \cdot) = g$, and the
paths $X_t = x_0 + \sqrt 2\, W_t$, Itô's formula gives
$du(t, X_t) = (u_t + \Delta u)\,dt + \sqrt 2\, \nabla u \cdot dW_t = -f(u)\,dt + \sqrt 2\,
\nabla u \cdot dW_t$, so

$$u(0, x_0) = \mathbb{E}\, g(X_T) + \int_0^T \mathbb{E}\, f(u(t, X_t))\, dt
            = \mathbb{E}\left[ g(X_T) + T\, f(u(t, X_t)) \right],
  \qquad t \sim U[0, T].$$

With a trained network $u_\theta$ in place of $u$ inside $f$ only, the right-hand side is an
estimate of $u(0, x_0)$ whose error is $T\, \mathbb{E}[f(u) - f(u_\theta)]$: the network's error
*averaged along the paths*, where the space-time PINN was trained, and damped by $T \sup|f'|$
(for sine-Gordon, $|f'| \le 1$ and $T = 0.3$). The network's own value $u_\theta(0, x_0)$ is
one point of the domain, reached by few training points, and moves with every late step of
the optimizer; see the time-stepping docs for both on the same runs.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._sampler.spacetime import Brownian
from .._types import Key, Point, Scalar
from .reference import points_per_chunk


class FeynmanKacValue(NamedTuple):
    """A Monte Carlo estimate of $u(0, x_0)$ by [`pinnkit.feynman_kac_value`][].

    **Fields:**

    - `value`: the estimate.
    - `stderr`: its standard error, $\\mathrm{std}(Y) / \\sqrt{N}$ over the $N$ samples.
    - `samples`: $N$, the samples used (`samples` rounded up to whole chunks).
    """

    value: float
    stderr: float
    samples: int


def feynman_kac_value(
    network: Callable[[Point], Scalar],
    terminal: Callable[[Point], Scalar],
    reaction: Callable[[Array], Array],
    horizon: float,
    key: Key,
    samples: int = 2**20,
    origin: Float[Array, " dim"] | None = None,
    chunk_size: int = 2**14,
    max_chunk_numbers: int = 2**24,
) -> FeynmanKacValue:
    r"""Estimate $u(0, x_0)$ of $u_t + \Delta u + f(u) = 0$, $u(T) = g$, from a network of
    $z = (x, t)$ (time last) by the Feynman–Kac formula (module docstring):
    the mean of $Y = g(X_T) + T\, f(u_\theta(t, X_t))$ over independent draws of
    $t \sim U[0, T]$, $X_t \sim N(x_0, 2t\, I)$ and $X_T \sim N(x_0, 2T\, I)$.

    The network enters only through $f(u_\theta)$, never through its derivatives, so this
    costs two network-free draws and one network evaluation per sample. The points are
    regenerated from `key` in chunks, so memory does not grow with `samples`.

    **Arguments:**

    - `network`: $u_\theta(z)$ at one point $z = (x, t)$ of shape `(dim + 1,)`.
    - `terminal`: $g(x)$ at one point of shape `(dim,)`.
    - `reaction`: $f$, elementwise on an array of values.
    - `horizon`: $T > 0$.
    - `key`: fixes the samples.
    - `samples`: $N$ (default $2^{20}$), rounded up to whole chunks.
    - `origin`: $x_0$ (default $0$).
    - `chunk_size`, `max_chunk_numbers`: at most this many samples, and this many
      coordinates, drawn and evaluated at once (defaults $2^{14}$ and $2^{24}$).

    **Returns:** a [`pinnkit.FeynmanKacValue`][] (value, standard error, samples).
    """
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0, got {horizon}")
    if samples < 1 or chunk_size < 1 or max_chunk_numbers < 1:
        raise ValueError(
            "samples, chunk_size and max_chunk_numbers must be >= 1, got "
            f"{samples}, {chunk_size}, {max_chunk_numbers}"
        )
    in_size = getattr(network, "in_size", None)
    if origin is not None:
        dim = int(jnp.shape(origin)[0])
    elif isinstance(in_size, int):
        dim = in_size - 1
    else:
        raise ValueError("pass origin, of shape (dim,), for a network without in_size")
    if isinstance(in_size, int) and in_size != dim + 1:
        raise ValueError(
            f"the network takes points (x, t) of size {in_size}; origin has {dim} coordinates"
        )
    paths = Brownian(dim, horizon, origin=origin)
    ends = Brownian(dim, horizon, time=horizon, origin=origin)
    chunk = points_per_chunk(samples, dim + 1, chunk_size, max_chunk_numbers)
    n_chunks = math.ceil(samples / chunk)
    moments = _chunk_moments(network, terminal, reaction, paths, ends, key, chunk, n_chunks)
    return combine_chunks(moments, chunk)


def combine_chunks(moments: Float[Array, "chunks 2"], chunk: int) -> FeynmanKacValue:
    """The mean and standard error of all samples from each equal-sized chunk's mean and sum
    of squared deviations (row `[mean, squares]`), combined in float64 (Chan et al.)."""
    means, squares = np.asarray(moments, dtype=np.float64).T
    mean = float(np.mean(means))
    total_squares = float(np.sum(squares) + chunk * np.sum((means - mean) ** 2))
    n = chunk * len(means)
    return FeynmanKacValue(mean, math.sqrt(total_squares / (n - 1) / n) if n > 1 else 0.0, n)


def chunk_moments(y: Float[Array, " chunk"]) -> Float[Array, "2"]:
    """One chunk's row `[mean, squares]` for `combine_chunks`."""
    mean = jnp.mean(y)
    return jnp.stack([mean, jnp.sum((y - mean) ** 2)])


@eqx.filter_jit
def _chunk_moments(network, terminal, reaction, paths, ends, key, chunk, n_chunks):
    horizon = paths.t1

    def body(i: Array, moments: Array) -> Array:
        path_key, end_key = jax.random.split(jax.random.fold_in(key, i))
        y = jax.vmap(terminal)(ends(end_key, chunk)[:, :-1]) + horizon * reaction(
            jax.vmap(network)(paths(path_key, chunk))
        )
        return moments.at[i].set(chunk_moments(y))

    return jax.lax.fori_loop(0, n_chunks, body, jnp.zeros((n_chunks, 2)))
