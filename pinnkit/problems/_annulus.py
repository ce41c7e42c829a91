r"""The biharmonic problem on the annulus $1 < |x| < 2$ with the three-body exact solution.

$$\Delta^2 u = f \quad \text{in } \Omega = \{1 < |x| < 2\} \subset \mathbb{R}^d, \qquad
u = 0, \ \ \partial_r u = g \ \text{ on } \partial\Omega = \{|x| = 1\} \cup \{|x| = 2\},$$

with $u^*(x) = \varphi(x)\, s(x)$, $\varphi(x) = (1 - |x|^2)(4 - |x|^2)$,
$s(x) = \sum_{i=1}^{d-2} c_i \exp(x_i x_{i+1} x_{i+2})$, $f = \Delta^2 u^*$, $g = \partial_r u^*$.

**Boundary conditions.** A fourth-order elliptic problem needs two conditions on every part of
the boundary. $u = 0$ alone leaves it underdetermined: radial biharmonic functions
$a + b r^2 + c\, r^{2-d} + e\, r^{4-d}$ form a four-dimensional space, and two of its dimensions
vanish on both spheres (more come with every spherical harmonic). The clamped-plate conditions
$u = g_0$, $\partial_n u = g_1$ make the problem well-posed (coercive on $H^2_0(\Omega)$,
Lax–Milgram). Here $u = 0$ is imposed exactly by the ansatz $u = \varphi \cdot \mathrm{net}$,
and $\partial_r u = g$ (the normal derivative, up to its sign on the inner sphere) by a soft
boundary term, [`NormalDerivativeLoss`][pinnkit.problems.NormalDerivativeLoss]. On
$\partial\Omega$ the ansatz gives $\partial_r u = \partial_r\varphi \cdot \mathrm{net}$ with
$\partial_r \varphi = -6$ at $r = 1$ and $12$ at $r = 2$, so the term asks $\mathrm{net} = s$
there. [`biharmonic_loss`][pinnkit.problems.biharmonic_loss] builds the two-term loss.

**The source in closed form.** With $\rho = |x|^2$ and $\varphi = \rho^2 - 5\rho + 4$
($\varphi' = 2\rho - 5$, $\varphi'' = 2$): $\nabla\varphi = 2\varphi' x$,
$D^2\varphi = 2\varphi' I + 8 x x^\top$, $\Delta\varphi = 2 d \varphi' + 8\rho$,
$\nabla\Delta\varphi = 8(d + 2)\, x$, $\Delta^2\varphi = 8 d (d + 2)$, and the product rule gives

$$\Delta^2(\varphi s) = \varphi \Delta^2 s + 8\varphi'\, x\cdot\nabla\Delta s
+ 2(\Delta\varphi + 4\varphi') \Delta s + 32\, x^\top D^2 s\, x + 32 (d+2)\, x \cdot \nabla s
+ 8 d (d+2)\, s.$$

For one term $e = \exp(m)$, $m = pqr$ (three consecutive coordinates), with
$G = |\nabla m|^2 = (qr)^2 + (pr)^2 + (pq)^2$ and $S = p^2 + q^2 + r^2$:
$x\cdot\nabla e = 3 m e$, $x^\top D^2 e\, x = (9m^2 + 6m) e$, $\Delta e = G e$,
$x \cdot \nabla \Delta e = (3m + 4) G e$ ($G$ is homogeneous of degree 4) and
$\Delta^2 e = (G^2 + 4 S (2m + 1)) e$. Every quantity is a sum over terms: $O(d)$ per point.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._domain.domains import Annulus
from .._estimator.base import AbstractEstimator
from .._estimator.exact import Exact
from .._loss.losses import AbstractLoss, ResidualLoss, TargetBatch, WeightedSum
from .._operator.base import AbstractOperator, Biharmonic
from .._operator.pde import AbstractPDE
from .._sampler.base import AbstractSampler, UniformSampler
from .._solver.reference import TestSet
from .._types import Key, Point, Scalar
from ._problem import Problem


INNER = 1.0
OUTER = 2.0


def annulus_distance(x: Point) -> Scalar:
    r"""$\varphi(x) = (1 - |x|^2)(4 - |x|^2)$: zero on both spheres of the annulus."""
    rho = jnp.dot(x, x)
    return (INNER**2 - rho) * (OUTER**2 - rho)


def annulus_three_body(
    x: Float[Array, " dim"], c: Float[Array, " terms"]
) -> tuple[Float[Array, ""], Float[Array, ""], Float[Array, ""]]:
    r"""The annulus three-body solution, its radial derivative and its bilaplacian at one point.

    $u^*(x) = (1 - |x|^2)(4 - |x|^2) \sum_{i=1}^{d-2} c_i \exp(x_i x_{i+1} x_{i+2})$, in closed
    form and $O(d)$ work (the formulas are in the module docs above).

    **Arguments:**

    - `x`: a point of $\mathbb{R}^d$, shape `(d,)`, $d \ge 3$, $x \ne 0$.
    - `c`: the coefficients $c_1, \dots, c_{d-2}$, shape `(d - 2,)`.

    **Returns:**

    A triple of scalars $(u^*(x),\ \partial_r u^*(x),\ \Delta^2 u^*(x))$ with
    $\partial_r = \frac{x}{|x|} \cdot \nabla$.
    """
    d = x.shape[0]
    p, q, r = x[:-2], x[1:-1], x[2:]
    m = p * q * r
    g = (q * r) ** 2 + (p * r) ** 2 + (p * q) ** 2
    ce = c * jnp.exp(m)

    s = jnp.sum(ce)
    x_grad_s = 3 * jnp.dot(ce, m)
    x_hess_s_x = jnp.dot(ce, 9 * m**2 + 6 * m)
    lap_s = jnp.dot(ce, g)
    x_grad_lap_s = jnp.dot(ce, (3 * m + 4) * g)
    bilap_s = jnp.dot(ce, g**2 + 4 * (p**2 + q**2 + r**2) * (2 * m + 1))

    a, b = INNER**2, OUTER**2
    rho = jnp.dot(x, x)
    phi = (a - rho) * (b - rho)
    dphi = 2 * rho - (a + b)  # dphi/drho
    lap_phi = 2 * d * dphi + 8 * rho

    u = phi * s
    radial = (2 * rho * dphi * s + phi * x_grad_s) / jnp.sqrt(rho)
    bilap = (
        phi * bilap_s
        + 8 * dphi * x_grad_lap_s
        + 2 * (lap_phi + 4 * dphi) * lap_s
        + 32 * x_hess_s_x
        + 32 * (d + 2) * x_grad_s
        + 8 * d * (d + 2) * s
    )
    return u, radial, bilap


BIHARMONIC_NAME = "biharmonic-three-body-annulus"
"""The registry name of the biharmonic annulus problem."""


class BiharmonicAnnulusPDE(AbstractPDE):
    r"""$\Delta^2 u = f$ on the annulus $1 < |x| < 2$, with the three-body exact solution.

    The residual is scaled by the constant $1 / \Delta^2\varphi = 1 / (8 d (d + 2))$, the size
    of $\Delta^2$ applied to the ansatz factor, so that it stays of order one in every dimension
    and one boundary weight suits all $d$; this does not change the solution. The source
    $f = \Delta^2 u^*$ is computed in closed form, $O(d)$ per point.

    **Arguments:**

    - `coefficients`: the $c_i$ of the exact solution, shape `(d - 2,)`.
    """

    coefficients: Float[Array, " terms"]
    operators: tuple[AbstractOperator, ...]

    def __init__(self, coefficients: Float[Array, " terms"]):
        self.coefficients = coefficients
        self.operators = (Biharmonic(),)

    @property
    def scale(self) -> float:
        """$\\Delta^2 \\varphi = 8 d (d + 2)$, the residual's normalization."""
        d = self.coefficients.shape[0] + 2
        return 8.0 * d * (d + 2)

    def solution(self, x: Point) -> Scalar:
        """The exact solution $u^*(x)$."""
        return annulus_three_body(x, self.coefficients)[0]

    def radial_derivative(self, x: Point) -> Scalar:
        """$\\partial_r u^*(x) = \\frac{x}{|x|} \\cdot \\nabla u^*(x)$: the boundary data $g$."""
        return annulus_three_body(x, self.coefficients)[1]

    def source(self, x: Point) -> Scalar:
        return annulus_three_body(x, self.coefficients)[2]

    def residual(
        self, x: Point, u: Scalar, derivatives: tuple[Array, ...], source: Scalar
    ) -> Scalar:
        (bilaplacian,) = derivatives
        return (bilaplacian - source) / self.scale


def radial_normal(x: Point) -> Point:
    """The unit radial vector $x / |x|$ (outward on the outer sphere, inward on the inner)."""
    return x / jnp.linalg.norm(x)


class NormalDerivativeLoss(AbstractLoss):
    r"""The mean squared mismatch of a normal derivative with boundary data (Neumann data).

    $\frac1N \sum_n (n(x_n) \cdot \nabla u(x_n) - g(x_n))^2$ over sampled boundary points; each
    directional derivative is one forward-mode pass (`jax.jvp`), exact, $O(\text{cost of } u)$.

    **Arguments:**

    - `sampler`: draws boundary points, e.g. `UniformSampler(Annulus(1, 2, d), "boundary")`.
    - `normal`: a unit normal field $n(x)$ at one point; either orientation, as long as
      `target` uses the same one (default: the radial direction $x/|x|$).
    - `target`: the data $g(x)$ at one point; `None` for zero data.
    - `batch_size`: points per step (default 100).
    """

    sampler: AbstractSampler
    normal: Callable[[Point], Point] = radial_normal
    target: Callable[[Point], Scalar] | None = None
    batch_size: int = eqx.field(default=100, static=True)

    def __check_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def sample(self, key: Key) -> TargetBatch:
        points = self.sampler(key, self.batch_size)
        if self.target is None:
            targets = jnp.zeros(points.shape[:1], points.dtype)
        else:
            targets = jax.vmap(self.target)(points)
        return TargetBatch(points, targets)

    def __call__(self, model: Callable[[Point], Scalar], batch: TargetBatch, key: Key) -> Scalar:
        def one(x: Point) -> Scalar:
            n = self.normal(x)
            return jax.jvp(model, (x,), (n,))[1]

        return jnp.mean((jax.vmap(one)(batch.points) - batch.targets) ** 2)


def annulus_biharmonic_problem(dim: int, key: PRNGKeyArray, radial: str = "uniform") -> Problem:
    """Build the biharmonic annulus problem; coefficients $c \\sim N(0, I)$ come from `key`.

    The collocation and test points are drawn from [`pinnkit.Annulus`][]`(1, 2, dim)` with
    `radial` (`"uniform"` in radius by default, or `"volume"`). `Problem.loss` adds the
    boundary condition on $\\partial_r u$ that makes the problem well-posed, as
    [`biharmonic_loss`][pinnkit.problems.biharmonic_loss] does with its defaults.
    """
    if dim < 3:
        raise ValueError(f"the three-body solution needs dim >= 3, got {dim}")
    pde = BiharmonicAnnulusPDE(jax.random.normal(key, (dim - 2,)))
    return Problem(
        name=BIHARMONIC_NAME,
        dim=dim,
        pde=pde,
        sampler=UniformSampler(Annulus(INNER, OUTER, dim, radial=radial)),  # pyright: ignore[reportArgumentType]
        solution=pde.solution,
        distance=annulus_distance,
        extend_loss=_with_boundary,
    )


def biharmonic_loss(
    problem: Problem,
    estimator: AbstractEstimator | None = None,
    batch_size: int = 100,
    boundary_batch_size: int | None = None,
    boundary_weight: float = 1.0,
    **kwargs,
) -> WeightedSum:
    r"""The well-posed loss of the biharmonic annulus problem: residual plus boundary term.

    `WeightedSum({"residual": ResidualLoss(...), "boundary": NormalDerivativeLoss(...)})`, the
    boundary term matching $\partial_r u$ with $\partial_r u^*$ on points split equally between
    the two spheres.

    **Arguments:**

    - `problem`: a problem built by `annulus_biharmonic_problem` (registry name
      `"biharmonic-three-body-annulus"`).
    - `estimator`: evaluates $\Delta^2 u$, e.g. `pinnkit.STDE(sparse=False)` (Gaussian 4-jets)
      or `pinnkit.Exact()` (default).
    - `batch_size`: interior points per step (default 100).
    - `boundary_batch_size`: boundary points per step (default: `batch_size`).
    - `boundary_weight`: the boundary term's weight (default 1).
    - `kwargs`: passed on to [`pinnkit.ResidualLoss`][] (`sharing`, `unbiased`).

    **Returns:** a [`pinnkit.WeightedSum`][] with terms `"residual"` and `"boundary"`.
    """
    if not isinstance(problem.pde, BiharmonicAnnulusPDE):
        raise ValueError(
            f"biharmonic_loss needs the {BIHARMONIC_NAME!r} problem, got {problem.name!r}"
        )
    if not boundary_weight >= 0:
        raise ValueError(f"boundary_weight must be >= 0, got {boundary_weight}")
    residual = ResidualLoss(
        problem.pde, problem.sampler, estimator or Exact(), batch_size=batch_size, **kwargs
    )
    return _with_boundary(problem, residual, batch_size, boundary_batch_size, boundary_weight)


def _with_boundary(
    problem: Problem,
    residual: ResidualLoss,
    batch_size: int,
    boundary_batch_size: int | None = None,
    boundary_weight: float = 1.0,
) -> WeightedSum:
    """`residual` plus the term matching $\\partial_r u$ on both spheres."""
    pde = problem.pde
    assert isinstance(pde, BiharmonicAnnulusPDE)
    boundary = NormalDerivativeLoss(
        UniformSampler(Annulus(INNER, OUTER, problem.dim), where="boundary"),  # pyright: ignore[reportArgumentType]
        radial_normal,
        pde.radial_derivative,
        batch_size=batch_size if boundary_batch_size is None else boundary_batch_size,
    )
    return WeightedSum({"residual": residual, "boundary": boundary}, {"boundary": boundary_weight})


def constant_baseline(
    test_set: TestSet,
    model: Callable[[Point], Scalar] | None = None,
    distance: Callable[[Point], Scalar] = annulus_distance,
) -> dict[str, Float[Array, ""]]:
    r"""The error of the best constant network, to read a trained model's error against.

    In high dimension the three-body solution is nearly $\varphi \cdot \text{const}$ on the
    annulus (each $x_i x_{i+1} x_{i+2}$ is of size $d^{-3/2}$), so a small relative error
    alone does not show that a network has learned anything. This computes, on the points of
    `test_set` (the same points [`TestSet.errors`][pinnkit.TestSet.errors] uses), the
    least-squares constant $c^* = \langle \varphi, u^* \rangle / \langle \varphi, \varphi
    \rangle$, the relative $L^2$ error of $\varphi\, c^*$, and, given `model`, the ratio
    $\|u - u^*\| / \|\varphi c^* - u^*\|$: the model's error in units of the constant's
    (1 for the best constant network, 0.1 for a model ten times better). Two passes over the
    test set (the constant first), so the baseline error is not a difference of near-equal
    sums.

    **Arguments:**

    - `test_set`: the test set, e.g. `problem.test_set(key)`.
    - `model`: a trained network, or `None` for the baseline alone.
    - `distance`: $\varphi$ of the ansatz (default: the annulus factor
      $(1 - |x|^2)(4 - |x|^2)$).

    **Returns:** a dict with `"constant"` ($c^*$) and `"constant_rel_l2"`; with a model also
    `"rel_l2"` (as `TestSet.errors` gives it) and `"rel_l2_over_constant"`.
    """
    chunk = test_set.points_per_chunk
    n_chunks = -(-test_set.size // chunk)

    def total(per_point: Callable[[Point], Array], width: int) -> Array:
        def body(i: Array, totals: Array) -> Array:
            x = test_set.sampler(jax.random.fold_in(test_set.key, i), chunk)
            valid = (i * chunk + jnp.arange(chunk)) < test_set.size
            parts = jax.vmap(per_point)(x)
            return totals + jnp.sum(jnp.where(valid[:, None], parts, 0.0), axis=0)

        return jax.lax.fori_loop(0, n_chunks, body, jnp.zeros(width))

    @eqx.filter_jit
    def compute(test_set: TestSet, model: Callable[[Point], Scalar] | None):
        def moments(x: Point) -> Array:
            phi, exact = distance(x), test_set.solution(x)
            return jnp.stack([phi * phi, phi * exact])

        phi2, phi_u = total(moments, 2)
        constant = phi_u / phi2

        def errors(x: Point) -> Array:
            exact = test_set.solution(x)
            parts = [(constant * distance(x) - exact) ** 2, exact**2]
            if model is not None:
                parts.append((model(x) - exact) ** 2)
            return jnp.stack(parts)

        sums = total(errors, 2 if model is None else 3)
        out = {"constant": constant, "constant_rel_l2": jnp.sqrt(sums[0] / sums[1])}
        if model is not None:
            out["rel_l2"] = jnp.sqrt(sums[2] / sums[1])
            out["rel_l2_over_constant"] = jnp.sqrt(sums[2] / sums[0])
        return out

    return compute(test_set, model)
