r"""Multilevel Picard (MLP) approximation of $u(0, x_0)$ (E, Hutzenthaler, Jentzen & Kruse,
2019) for a parabolic spec whose nonlinearity reads $u$ but not $\nabla u$.

The PDE in its Feynman–Kac form is the fixed point $u = \Phi(u)$ of

$$\Phi(u)(t, x) = E\, g(X^{t,x}_T) + (T - t)\, E\, f\big(R, X^{t,x}_R, u(R, X^{t,x}_R)\big),
\qquad R \sim U[t, T],$$

where $X^{t,x}$ is the forward process started at $x$ at time $t$. Picard iteration
$u_n = \Phi(u_{n-1})$ converges like $(LT)^n / n!$ for $f$ Lipschitz with constant $L$.
MLP writes $u_n = \Phi(u_0) + \sum_{l=1}^{n-1} [\Phi(u_l) - \Phi(u_{l-1})]$ and estimates each
term by Monte Carlo with fewer samples where the difference is small:

$$U_n(t, x) = \frac{1}{M^n}\sum_{i=1}^{M^n} g(X^{i}_T)
  + \sum_{l=0}^{n-1} \frac{T - t}{M^{n-l}} \sum_{i=1}^{M^{n-l}}
  \Big[f\big(R^{i}, X^{i}_{R^{i}}, U_l^{(l, i)}\big)
       - \mathbb{1}_{l > 0}\, f\big(R^{i}, X^{i}_{R^{i}}, U_{l-1}^{(-l, i)}\big)\Big],$$

with $U_0 = 0$ and every $U_l^{(\cdot, i)}$ an independent realization of the scheme at
$(R^i, X^i_{R^i})$. One realization of $U_n(0, x_0)$ costs about $(3M)^n$ evaluations; the
mean of independent realizations, with its standard error, is the estimate. The forward
process is simulated by a `transition(key, t, s, x)` that draws $X_s$ given $X_t = x$ exactly
(a Gaussian for constant $\sigma$, a geometric Brownian motion for $\sigma(x) = \sigma x$).
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._operator.parabolic import AbstractParabolicPDE
from .._solver.feynman_kac import FeynmanKacValue, chunk_moments, combine_chunks
from .._types import Key


Transition = Callable[[Key, Array, Array, Array], Array]
"""`transition(key, t, s, x)`: $X_s$ given $X_t = x$, for `t`, `s` of shape `(P,)` and `x`
of shape `(P, dim)`."""


def gaussian_transition(sigma: float) -> Transition:
    r"""The exact transition of $dX = \sigma\,dW$ (constant scalar $\sigma$, no drift):
    $X_s = x + \sigma\sqrt{s - t}\,\xi$, $\xi \sim N(0, I)$."""

    def transition(key: Key, t: Array, s: Array, x: Array) -> Array:
        noise = jax.random.normal(key, x.shape, x.dtype)
        return x + sigma * jnp.sqrt(s - t)[:, None] * noise

    return transition


def geometric_transition(mu: float, sigma: float) -> Transition:
    r"""The exact transition of $dX_i = \mu X_i\,dt + \sigma X_i\,dW_i$ (independent
    geometric Brownian motions): $X_s = x\,\exp((\mu - \sigma^2/2)(s - t) +
    \sigma\sqrt{s - t}\,\xi)$."""

    def transition(key: Key, t: Array, s: Array, x: Array) -> Array:
        noise = jax.random.normal(key, x.shape, x.dtype)
        h = (s - t)[:, None]
        return x * jnp.exp((mu - 0.5 * sigma**2) * h + sigma * jnp.sqrt(h) * noise)

    return transition


def multilevel_picard_value(
    equation: AbstractParabolicPDE,
    transition: Transition,
    key: Key,
    levels: int = 5,
    base: int | None = None,
    realizations: int = 256,
    chunk_size: int = 8,
) -> FeynmanKacValue:
    r"""Estimate $u(0, x_0)$ by the mean of independent realizations of the multilevel
    Picard scheme $U_{n,M}(0, x_0)$ (module docstring).

    **Arguments:**

    - `equation`: the spec; its $f$ must not read $z = \sigma^\top\nabla u$.
    - `transition`: draws $X_s$ given $X_t = x$ exactly (see `Transition`).
    - `key`: fixes the realizations.
    - `levels`: $n$, the Picard levels (default 5).
    - `base`: $M$, the samples' base (default $n$, as in the literature).
    - `realizations`: independent realizations averaged (rounded up to whole chunks).
    - `chunk_size`: realizations computed at once.

    **Returns:** a [`pinnkit.FeynmanKacValue`][]: the mean, its standard error over the
    realizations, and their number. The bias left is Picard's truncation, about
    $(LT)^n / n!$, and that of $f$'s curvature at the noise of the inner levels.
    """
    if not isinstance(equation, AbstractParabolicPDE):
        raise TypeError(f"equation must be an AbstractParabolicPDE, got {type(equation).__name__}")
    if equation.structure().gradient_in_nonlinearity:
        raise ValueError(
            "multilevel Picard here takes an f of (t, x, u) only; this f reads the gradient "
            "term z (use feynman_kac_path_value on a trained network, or deep-bsde)"
        )
    base = levels if base is None else base
    for name, value in (("levels", levels), ("base", base), ("realizations", realizations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunk = min(chunk_size, realizations)
    n_chunks = math.ceil(realizations / chunk)
    x0 = jnp.asarray(equation.origin())
    moments = jnp.stack(
        [
            _realizations(equation, transition, jax.random.fold_in(key, i), x0, levels, base, chunk)
            for i in range(n_chunks)
        ]
    )
    return combine_chunks(moments, chunk)


@eqx.filter_jit
def _realizations(equation, transition, key, x0, levels: int, base: int, chunk: int):
    def one(k):
        t = jnp.zeros((1,), x0.dtype)
        return _level(equation, transition, levels, base, t, x0[None], k)[0]

    return chunk_moments(jax.vmap(one)(jax.random.split(key, chunk)))


def _level(
    equation: AbstractParabolicPDE,
    transition: Transition,
    n: int,
    base: int,
    t: Float[Array, " P"],
    x: Float[Array, "P dim"],
    key: Key,
) -> Float[Array, " P"]:
    """One realization of $U_n$ at each of the points $(t_p, x_p)$."""
    points = t.shape[0]
    if n == 0:
        return jnp.zeros((points,), x.dtype)
    horizon = equation.T
    keys = jax.random.split(key, 3 * n + 1)

    def draw(k: Key, samples: int, to: Array) -> Array:
        start = jnp.repeat(t, samples)
        origin = jnp.repeat(x, samples, axis=0)
        return transition(k, start, to.reshape(-1), origin)

    samples = base**n
    ends = draw(keys[0], samples, jnp.full((points, samples), horizon, x.dtype))
    value = jnp.mean(jax.vmap(equation.terminal)(ends).reshape(points, samples), axis=1)
    zero = jnp.zeros((equation.structure().noise_dim,), x.dtype)  # f does not read z
    f = jax.vmap(lambda s, y, u: equation.nonlinearity(s, y, u, zero))
    for level in range(n):
        samples = base ** (n - level)
        times_key, paths_key, inner_key = keys[1 + 3 * level : 4 + 3 * level]
        uniform = jax.random.uniform(times_key, (points, samples), x.dtype)
        r = t[:, None] + (horizon - t[:, None]) * uniform
        y = draw(paths_key, samples, r)
        r = r.reshape(-1)
        upper = _level(equation, transition, level, base, r, y, inner_key)
        term = f(r, y, upper)
        if level > 0:
            lower_key = jax.random.fold_in(inner_key, 1)
            term = term - f(r, y, _level(equation, transition, level - 1, base, r, y, lower_key))
        value = value + (horizon - t) * jnp.mean(term.reshape(points, samples), axis=1)
    return value
