r"""The Feynman–Kac read-out of $u(0, x_0)$ along simulated paths, for any
[`pinnkit.AbstractParabolicPDE`][].

Along the paths of $dX = \mu\,dt + \sigma\,dW$, $X_0 = x_0$, Itô's formula and the PDE give
$d\,u(t, X_t) = -f(t, X_t, u, \sigma^\top\nabla u)\,dt + (\sigma^\top\nabla u)\cdot dW_t$, so

$$u(0, x_0) = \mathbb{E}\Big[g(X_T) + \int_0^T f(t, X_t, u, Z_t)\,dt
              - \int_0^T Z_t\cdot dW_t\Big], \qquad Z = \sigma^\top\nabla u .$$

With a trained network $u_\theta$ for $u$ and $Z_\theta = \sigma^\top\nabla u_\theta$, on the
Euler grid of $N$ steps, the read-out is the mean over paths of

$$Y = g(X_N) + \sum_n f(t_n, X_n, u_\theta, Z_\theta)\,\Delta t - \sum_n Z_\theta\cdot\Delta W_n.$$

The network enters $f$ only, so its error reaches the value damped by $T$ times $f$'s
Lipschitz constant; the last sum has mean zero whatever $Z_\theta$ is ($Z_\theta$ at $t_n$ is
independent of $\Delta W_n$), so it biases nothing, and it is a control variate: for
$u_\theta = u$ it cancels the fluctuation of $g(X_N)$ up to the time step, which is what
lets $2^{14}$ paths give a standard error far below that of $2^{20}$ plain samples. The
remaining bias is the Euler scheme's, $O(T/N)$.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.parabolic import AbstractParabolicPDE
from .._solver.feynman_kac import FeynmanKacValue, chunk_moments, combine_chunks
from .._solver.reference import points_per_chunk
from .._types import Key, Point, Scalar
from .bsde import BSDEPaths, DeepBSDE


PATH_READOUT_SAMPLES = 2**14
"""Default paths of [`pinnkit.feynman_kac_path_value`][]."""

PATH_READOUT_STEPS = 100
"""Default Euler steps of [`pinnkit.feynman_kac_path_value`][]."""


def feynman_kac_path_value(
    equation: AbstractParabolicPDE,
    network: Callable[[Point], Scalar],
    key: Key,
    samples: int = PATH_READOUT_SAMPLES,
    steps: int = PATH_READOUT_STEPS,
    chunk_size: int = 2**12,
    max_chunk_numbers: int = 2**24,
) -> FeynmanKacValue:
    r"""Estimate $u(0, x_0)$ of any [`pinnkit.AbstractParabolicPDE`][] from a network of
    $z = (x, t)$ (time last): the mean of $Y = g(X_N) + \sum_n f(t_n, X_n, u_\theta,
    Z_\theta)\,\Delta t - \sum_n Z_\theta\cdot\Delta W_n$ over Euler paths (module docstring),
    with $Z_\theta = \sigma^\top\nabla_x u_\theta$.

    It takes drifts, scalar, diagonal or dense and state-dependent $\sigma$, and an $f$ of
    $\sigma^\top\nabla u$. For $\sigma = \sqrt2 I$, no drift and an $f$ of $u$ alone,
    [`pinnkit.feynman_kac_value`][] is exact in time and needs no gradient.

    **Arguments:**

    - `equation`: the spec.
    - `network`: $u_\theta(z)$ at one point $z = (x, t)$ of shape `(dim + 1,)`.
    - `key`: fixes the paths.
    - `samples`: paths (default $2^{14}$), rounded up to whole chunks.
    - `steps`: $N$, Euler steps on $[0, T]$ (default 100); the bias is $O(T/N)$.
    - `chunk_size`, `max_chunk_numbers`: at most this many paths, and this many path
      coordinates ($(N + 1)\,d$ per path), simulated and evaluated at once.

    **Returns:** a [`pinnkit.FeynmanKacValue`][] (value, standard error over paths, paths).
    """
    if not isinstance(equation, AbstractParabolicPDE):
        raise TypeError(f"equation must be an AbstractParabolicPDE, got {type(equation).__name__}")
    if samples < 1 or chunk_size < 1 or max_chunk_numbers < 1:
        raise ValueError(
            "samples, chunk_size and max_chunk_numbers must be >= 1, got "
            f"{samples}, {chunk_size}, {max_chunk_numbers}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"steps (Euler steps of the read-out) must be an integer >= 1, got {steps!r}"
        )
    in_size = getattr(network, "in_size", None)
    if isinstance(in_size, int) and in_size != equation.dim + 1:
        raise ValueError(
            f"the network takes points (x, t) of size {in_size}; the equation has "
            f"{equation.dim} coordinates and time"
        )
    chunk = points_per_chunk(samples, (steps + 1) * equation.dim, chunk_size, max_chunk_numbers)
    paths = DeepBSDE(equation, num_steps=steps, batch_size=chunk)  # checks steps, shapes
    n_chunks = math.ceil(samples / chunk)
    moments = jnp.stack(
        [_path_moments(paths, network, jax.random.fold_in(key, i)) for i in range(n_chunks)]
    )
    return combine_chunks(moments, chunk)


def path_estimates(
    paths: DeepBSDE, network: Callable[[Point], Scalar], batch: BSDEPaths
) -> Float[Array, " batch"]:
    r"""$Y$ of [`pinnkit.feynman_kac_path_value`][] on each path of `batch`."""
    equation, times = paths.equation, paths.times
    dt = jnp.diff(times)

    def value_and_z(t: Scalar, x: Point) -> tuple[Scalar, Array]:
        value, gradient = jax.value_and_grad(lambda y: network(jnp.concatenate([y, t[None]])))(x)
        return value, equation.sigma_transpose(t, x, gradient)

    def one(x: Float[Array, "steps1 dim"], dw: Float[Array, "steps k"]) -> Scalar:
        u, z = jax.vmap(value_and_z)(times[:-1], x[:-1])
        f = jax.vmap(equation.nonlinearity)(times[:-1], x[:-1], u, z)
        return equation.terminal(x[-1]) + jnp.sum(f * dt) - jnp.sum(z * dw)

    return jax.vmap(one)(batch.x, batch.dw)


@eqx.filter_jit
def _path_moments(paths: DeepBSDE, network, key: Key) -> Float[Array, "2"]:
    return chunk_moments(path_estimates(paths, network, paths.sample(key)))
