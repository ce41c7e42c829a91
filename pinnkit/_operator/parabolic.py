r"""One spec for parabolic PDEs, and the space-time residual every method reads from it.

The spec is the backward (terminal-value) problem

$$u_t + \mu(t, x)\cdot\nabla u + \tfrac12 \operatorname{tr}\big(\sigma\sigma^\top(t, x)\,
  D^2 u\big) + f\big(t, x, u, \sigma^\top(t, x)\nabla u\big) = 0, \qquad u(T, x) = g(x),$$

on $[0, T] \times \mathbb{R}^d$, with the answer $u(0, x_0)$. It is the PDE of the forward
SDE $dX_t = \mu\,dt + \sigma\,dW_t$, $X_0 = x_0$, and of the backward SDE
$dY_t = -f(t, X_t, Y_t, Z_t)\,dt + Z_t\cdot dW_t$, $Y_T = g(X_T)$, with $Y_t = u(t, X_t)$ and
$Z_t = \sigma^\top\nabla u(t, X_t)$ (docs/math.md, "General parabolic problems").
"""

import abc
import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Point, Scalar, ScalarField
from .base import AbstractOperator, Gradient, Laplacian, SpatialLaplacian, TimeDerivative
from .pde import AbstractPDE
from .state import Drift, NoiseKind, StateDiffusion


class ParabolicStructure(NamedTuple):
    r"""What the methods need to know about an [`pinnkit.AbstractParabolicPDE`][], read
    from its functions by tracing them once (no computation):

    - `noise`: the kind of $\sigma$, from the shape `diffusion` returns: `"scalar"` (shape
      `()`, $\sigma = sI$), `"diagonal"` (`(dim,)`) or `"dense"` (`(dim, k)`).
    - `noise_dim`: $k$, the dimension of the Brownian motion $W$.
    - `constant_diffusion`: whether $\sigma$ reads neither $t$ nor $x$.
    - `has_drift`: whether `drift` returns a field (not `None`).
    - `gradient_in_nonlinearity`: whether $f$ reads $z = \sigma^\top\nabla u$; only then is
      the gradient estimated.
    - `time_homogeneous`: whether $\mu$, $\sigma$ and $f$ read no $t$.
    """

    noise: NoiseKind
    noise_dim: int
    constant_diffusion: bool
    has_drift: bool
    gradient_in_nonlinearity: bool
    time_homogeneous: bool


class AbstractParabolicPDE(eqx.Module):
    r"""A parabolic PDE $u_t + \mu\cdot\nabla u + \tfrac12\operatorname{tr}(\sigma\sigma^\top
    D^2 u) + f(t, x, u, \sigma^\top\nabla u) = 0$, $u(T, x) = g(x)$, answer $u(0, x_0)$.

    Subclass it with the two fields and the functions of your PDE; every method (the
    space-time PINN, Deep BSDE, and where they apply the method of lines and Neural
    Galerkin) reads the same subclass:

    ```python
    class Heat(pk.AbstractParabolicPDE):
        dim: int = 10
        T: float = 1.0

        def diffusion(self, t, x):  # sigma = sqrt(2) I: u_t + Laplacian(u) = 0
            return jnp.sqrt(2.0)

        def terminal(self, x):
            return jnp.sum(x**2)
    ```

    **Fields** (declare them in the subclass):

    - `dim`: the space dimension $d$.
    - `T`: the horizon, $> 0$.

    **Methods:** `diffusion` and `terminal` are required; `drift`, `nonlinearity` and `origin`
    have defaults (no drift, $f = 0$, $x_0 = 0$). Each takes one point: `t` a scalar array,
    `x` of shape `(dim,)`. Shapes are checked by
    [`structure`][pinnkit.AbstractParabolicPDE.structure] before any method runs.
    """

    dim: eqx.AbstractVar[int]
    T: eqx.AbstractVar[float]

    def drift(self, t: Scalar, x: Point) -> Float[Array, " dim"] | None:
        r"""$\mu(t, x)$, shape `(dim,)`, or `None` (default) for no drift term."""
        del t, x
        return None

    @abc.abstractmethod
    def diffusion(self, t: Scalar, x: Point) -> Array:
        r"""$\sigma(t, x)$: a scalar (shape `()`, $\sigma = sI$), the diagonal of $\sigma$
        (shape `(dim,)`) or a dense `(dim, k)` matrix for a $k$-dimensional Brownian motion.
        The shape fixes the kind for every point."""

    def nonlinearity(self, t: Scalar, x: Point, u: Scalar, z: Float[Array, " k"]) -> Scalar:
        r"""$f(t, x, u, z)$ with $z = \sigma^\top\nabla u$ (shape `(k,)`); default $0$.

        When $f$ does not read $z$ (found by tracing it once) the methods skip the gradient
        and pass zeros for $z$."""
        del t, x, z
        return jnp.zeros_like(u)

    @abc.abstractmethod
    def terminal(self, x: Point) -> Scalar:
        r"""$g(x) = u(T, x)$."""

    def origin(self) -> Point:
        r"""$x_0$, where the answer $u(0, x_0)$ is read (default $0$)."""
        return jnp.zeros(self.dim)

    # ---------------------------------------------------------------------------------------
    # Derived from the functions above.

    def structure(self) -> ParabolicStructure:
        """Check every function's shapes at $(0, x_0)$ and read the problem's structure
        (a [`pinnkit.ParabolicStructure`][]), by tracing only. Raises `ValueError` naming
        the function and the shape it should return."""
        return _structure(self)

    def sigma_transpose(self, t: Scalar, x: Point, vector: Float[Array, " dim"]) -> Array:
        r"""$\sigma(t, x)^\top v$, shape `(k,)`, without a $d \times d$ matrix for a scalar
        or diagonal $\sigma$."""
        sigma = jnp.asarray(self.diffusion(t, x), vector.dtype)
        return sigma.T @ vector if sigma.ndim == 2 else sigma * vector

    def sigma_times(self, t: Scalar, x: Point, noise: Float[Array, " k"]) -> Point:
        r"""$\sigma(t, x)\,\xi$ for a noise vector $\xi$ of shape `(k,)`."""
        sigma = jnp.asarray(self.diffusion(t, x), noise.dtype)
        return sigma @ noise if sigma.ndim == 2 else sigma * noise

    def forward_pde(self) -> "ForwardParabolicPDE":
        r"""The forward form $v_\tau = F(v)$ for the time steppers (constant scalar
        diffusion, no drift; see [`pinnkit.ForwardParabolicPDE`][])."""
        return ForwardParabolicPDE(self)

    def space_time_pde(self) -> "ParabolicResidual":
        r"""The residual of this PDE for a network $u(z)$ of $z = (x, t)$, time last, as an
        [`pinnkit.AbstractPDE`][] any estimator evaluates."""
        return ParabolicResidual(self)

    def exact_residual(self, u: ScalarField, z: Point) -> Scalar:
        r"""The residual of a space-time function $u(z)$ at $z = (x, t)$ by nested autodiff
        (the full Hessian): the reference the estimated residuals are tested against."""
        d = self.dim
        x, t = z[:d], z[-1]
        gradient = jax.grad(u)(z)
        hessian = jax.hessian(u)(z)[:d, :d]
        sigma = jnp.asarray(self.diffusion(t, x), z.dtype)
        if sigma.ndim == 2:
            a = sigma @ sigma.T
        else:
            a = jnp.eye(d, dtype=z.dtype) * sigma**2
        drift = self.drift(t, x)
        transport = 0.0 if drift is None else jnp.dot(drift, gradient[:d])
        value = u(z)
        f = self.nonlinearity(t, x, value, self.sigma_transpose(t, x, gradient[:d]))
        return gradient[-1] + transport + 0.5 * jnp.sum(a * hessian) + f


def _reads(fn: Callable, args: tuple, which: int) -> bool:
    """Whether `fn(*args)` depends on `args[which]` (a leaf), from its jaxpr; conservative:
    an argument handed to a nested call counts as read."""
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    var = jaxpr.invars[which]
    used = any(v is var for eqn in jaxpr.eqns for v in eqn.invars)
    return used or any(v is var for v in jaxpr.outvars)


def _shape_error(name: str, want: str, got) -> ValueError:
    return ValueError(f"{name} must return shape {want}, got {got}")


def _structure(pde: AbstractParabolicPDE) -> ParabolicStructure:
    dim, horizon = pde.dim, pde.T
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"the horizon T must be a finite number > 0, got {horizon!r}")
    x0 = jnp.asarray(pde.origin())
    if x0.shape != (dim,):
        raise _shape_error("origin", f"({dim},)", x0.shape)
    t0 = jnp.zeros((), x0.dtype)
    sigma = jax.eval_shape(pde.diffusion, t0, x0)
    shape = getattr(sigma, "shape", None)
    if shape == ():
        noise, k = "scalar", dim
    elif shape == (dim,):
        noise, k = "diagonal", dim
    elif shape is not None and len(shape) == 2 and shape[0] == dim and shape[1] >= 1:
        noise, k = "dense", shape[1]
    else:
        raise _shape_error("diffusion", f"() (scalar), ({dim},) (diagonal) or ({dim}, k)", shape)
    drift = jax.eval_shape(pde.drift, t0, x0)
    if drift is not None and getattr(drift, "shape", None) != (dim,):
        raise _shape_error("drift", f"({dim},) or None", getattr(drift, "shape", drift))
    g = jax.eval_shape(pde.terminal, x0)
    if getattr(g, "shape", None) != ():
        raise _shape_error("terminal", "() (a scalar)", getattr(g, "shape", g))
    z0 = jnp.zeros((k,), x0.dtype)
    f = jax.eval_shape(pde.nonlinearity, t0, x0, t0, z0)
    if getattr(f, "shape", None) != ():
        raise _shape_error("nonlinearity", "() (a scalar)", getattr(f, "shape", f))
    sigma_reads_t = _reads(pde.diffusion, (t0, x0), 0)
    constant = not (sigma_reads_t or _reads(pde.diffusion, (t0, x0), 1))
    reads_t = sigma_reads_t or _reads(pde.nonlinearity, (t0, x0, t0, z0), 0)
    if drift is not None:
        reads_t = reads_t or _reads(pde.drift, (t0, x0), 0)
    return ParabolicStructure(
        noise=noise,
        noise_dim=k,
        constant_diffusion=constant,
        has_drift=drift is not None,
        gradient_in_nonlinearity=_reads(pde.nonlinearity, (t0, x0, t0, z0), 3),
        time_homogeneous=not reads_t,
    )


class _SpaceTimeField(eqx.Module):
    """A coefficient of the spec as a function of $z = (x, t)$: `"drift"` pads $\\mu$ with a
    zero time component; `"diffusion"` pads $\\sigma$ with a zero time row (a scalar $\\sigma$
    becomes the diagonal $(s, \\dots, s, 0)$)."""

    pde: AbstractParabolicPDE
    which: str = eqx.field(static=True)

    def __call__(self, z: Point) -> Array:
        d = self.pde.dim
        x, t = z[:d], z[-1]
        if self.which == "drift":
            mu = jnp.asarray(self.pde.drift(t, x), z.dtype)
            return jnp.concatenate([mu, jnp.zeros((1,), z.dtype)])
        sigma = jnp.asarray(self.pde.diffusion(t, x), z.dtype)
        if sigma.ndim == 2:
            return jnp.concatenate([sigma, jnp.zeros((1, sigma.shape[1]), z.dtype)])
        return jnp.concatenate([jnp.broadcast_to(sigma, (d,)), jnp.zeros((1,), z.dtype)])


class ParabolicResidual(AbstractPDE):
    r"""The space-time residual $u_t + \mu\cdot\nabla_x u + \tfrac12\operatorname{tr}
    (\sigma\sigma^\top D_x^2 u) + f(t, x, u, \sigma^\top\nabla_x u)$ of an
    [`pinnkit.AbstractParabolicPDE`][], for a network of $z = (x, t)$ (time last).

    Its operators are [`pinnkit.TimeDerivative`][], a [`pinnkit.Drift`][] when there is a
    drift, the diffusion, and a [`pinnkit.Gradient`][] only when $f$ reads
    $\sigma^\top\nabla u$. A constant scalar $\sigma = sI$ is the
    [`pinnkit.SpatialLaplacian`][] times $s^2/2$ (every estimator's cheapest operator);
    any other $\sigma$ is a [`pinnkit.StateDiffusion`][] with a zero time row, so the
    estimators that take it (see its page) take this residual.

    **Arguments:**

    - `equation`: the spec.
    """

    equation: AbstractParabolicPDE
    operators: tuple[AbstractOperator, ...]
    structure: ParabolicStructure = eqx.field(static=True)
    laplacian_coefficient: float | None = eqx.field(static=True)

    def __init__(self, equation: AbstractParabolicPDE):
        self.equation = equation
        self.structure = structure = equation.structure()
        d = equation.dim
        operators: list[AbstractOperator] = [TimeDerivative()]
        if structure.has_drift:
            operators.append(Drift(_SpaceTimeField(equation, "drift")))
        if structure.constant_diffusion and structure.noise == "scalar":
            x0 = jnp.asarray(equation.origin())
            sigma = float(equation.diffusion(jnp.zeros((), x0.dtype), x0))
            self.laplacian_coefficient = 0.5 * sigma**2
            operators.append(SpatialLaplacian(d))
        else:
            self.laplacian_coefficient = None
            kind = "dense" if structure.noise == "dense" else "diagonal"
            operators.append(StateDiffusion(_SpaceTimeField(equation, "diffusion"), kind))
        if structure.gradient_in_nonlinearity:
            operators.append(Gradient())
        self.operators = tuple(operators)

    def source(self, x: Point) -> Float[Array, ""]:
        return jnp.zeros((), x.dtype)

    def residual(
        self,
        x: Point,
        u: Float[Array, ""],
        derivatives: tuple[Array, ...],
        source: Float[Array, ""],
    ) -> Float[Array, ""]:
        del source
        equation, structure = self.equation, self.structure
        d = equation.dim
        space, t = x[:d], x[-1]
        u_t, *rest = derivatives
        transport = rest.pop(0) if structure.has_drift else None
        diffusion = rest.pop(0)
        if self.laplacian_coefficient is not None:
            rhs = self.laplacian_coefficient * diffusion
        else:
            rhs = 0.5 * diffusion
        if transport is not None:
            rhs = transport + rhs
        if structure.gradient_in_nonlinearity:
            z = equation.sigma_transpose(t, space, rest.pop(0)[:d])
        else:
            z = jnp.zeros((structure.noise_dim,), x.dtype)
        return u_t + (rhs + equation.nonlinearity(t, space, u, z))


class ForwardParabolicPDE(AbstractPDE):
    r"""The forward, initial-value form of an [`pinnkit.AbstractParabolicPDE`][] for the time
    steppers: $v(\tau, x) = u(T - \tau, x)$ solves $v_\tau = F(v) = \tfrac{s^2}{2}\Delta v +
    f(x, v)$, $v(0) = g$, and `residual` returns $F(v)$ (the velocity a method of lines or
    Neural Galerkin integrates).

    It exists for the PDEs the time steppers take: a constant scalar $\sigma = sI$, no
    drift, and $\sigma$, $f$ that read no $t$ and an $f$ that reads no $\nabla u$. Any other
    PDE is refused with the reason, naming the methods that take it (`pinn`, `deep-bsde`).

    **Arguments:**

    - `equation`: the spec.
    """

    equation: AbstractParabolicPDE
    operators: tuple[AbstractOperator, ...]
    laplacian_coefficient: float = eqx.field(static=True)

    def __init__(self, equation: AbstractParabolicPDE):
        structure = equation.structure()
        found = {
            "a sigma that varies with t or x": not structure.constant_diffusion,
            f"a {structure.noise} sigma": structure.noise != "scalar",
            "a drift": structure.has_drift,
            "an f that reads the gradient": structure.gradient_in_nonlinearity,
            "coefficients that read t": not structure.time_homogeneous,
        }
        has = [what for what, present in found.items() if present]
        if has:
            raise ValueError(
                "the method of lines and Neural Galerkin take only a constant scalar sigma, no "
                "drift, and an f that reads neither t nor the gradient; "
                f"{type(equation).__name__} has " + ", ".join(has) + ": use method 'pinn' or "
                "'deep-bsde'"
            )
        x0 = jnp.asarray(equation.origin())
        sigma = float(equation.diffusion(jnp.zeros((), x0.dtype), x0))
        self.equation = equation
        self.laplacian_coefficient = 0.5 * sigma**2
        self.operators = (Laplacian(),)

    def nonlinearity(self, u: Array) -> Array:
        """$f(v)$ elementwise on an array of values, for a spec whose $f$ reads only $u$
        (the radial method of lines)."""
        equation = self.equation
        x0 = jnp.asarray(equation.origin(), u.dtype)
        t0 = jnp.zeros((), u.dtype)
        z0 = jnp.zeros_like(x0)
        flat = jax.vmap(lambda v: equation.nonlinearity(t0, x0, v, z0))(u.reshape(-1))
        return flat.reshape(u.shape)

    def source(self, x: Point) -> Float[Array, ""]:
        return jnp.zeros((), x.dtype)

    def residual(
        self,
        x: Point,
        u: Float[Array, ""],
        derivatives: tuple[Array, ...],
        source: Float[Array, ""],
    ) -> Float[Array, ""]:
        del source
        (laplacian,) = derivatives
        t0 = jnp.zeros((), x.dtype)
        f = self.equation.nonlinearity(t0, x, u, jnp.zeros_like(x))
        return self.laplacian_coefficient * laplacian + f
