"""Closed-form exact solutions of the inseparable unit-ball benchmark suite.

Each function acts on a single point `x` of shape `(d,)` (vmap over a batch) and
returns the value of the exact solution together with its Laplacian, both in
closed form and in $O(d)$ work per point: no autodiff, no Python loops over the
dimension and no $d \\times d$ arrays. This is what makes the forcing terms
$f$ of the Poisson, Allen–Cahn and sine-Gordon problems cheap at $d = 10^6$.

Both solutions have the form $u^*(x) = \\varphi(x)\\, s(x)$ with
$\\varphi(x) = 1 - |x|^2$ (so $u^* = 0$ on the unit sphere). The Laplacian follows
from the product rule

$$\\Delta u^* = \\varphi\\, \\Delta s + 2 \\nabla\\varphi \\cdot \\nabla s + s\\, \\Delta\\varphi
= \\varphi\\, \\Delta s - 4\\, x \\cdot \\nabla s - 2 d\\, s,$$

where $x \\cdot \\nabla s$ is accumulated term by term (each term of $s$ depends on
a few consecutive coordinates only), so $\\nabla s$ is never assembled.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._domain.domains import sincos


def two_body(
    x: Float[Array, " dim"], c: Float[Array, " terms"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Two-body exact solution and its Laplacian at one point.

    $$u^*(x) = (1 - |x|^2) \sum_{i=1}^{d-1} c_i \sin(a_i), \qquad
    a_i = x_i + \cos(x_{i+1}) + x_{i+1} \cos(x_i).$$

    With $p = x_i$, $q = x_{i+1}$, each term contributes
    $\Delta \sin(a_i) = -\sin(a_i)\,(a_p^2 + a_q^2) + \cos(a_i)\,(a_{pp} + a_{qq})$
    with $a_p = 1 - q \sin p$, $a_q = \cos p - \sin q$, $a_{pp} = -q \cos p$,
    $a_{qq} = -\cos q$, and $x \cdot \nabla \sin(a_i) = \cos(a_i)\,(p\, a_p + q\, a_q)$.
    $\sin$ and $\cos$ are evaluated together, once per coordinate and once per term (one
    range reduction and two polynomials each; see `sincos` in `pinnkit._domain.domains`):
    $u^*$, $x \cdot \nabla u^*$ and $\Delta u^*$ share them.

    **Arguments:**

    - `x`: a point of $\mathbb{R}^d$, shape `(d,)`, $d \geq 2$.
    - `c`: the coefficients $c_1, \dots, c_{d-1}$, shape `(d - 1,)`.

    **Returns:**

    A pair `(u, lap_u)` of scalars: $u^*(x)$ and $\Delta u^*(x)$.
    """
    d = x.shape[0]
    sin_x, cos_x = sincos(x)
    p, q = x[:-1], x[1:]
    sin_p, cos_p = sin_x[:-1], cos_x[:-1]
    sin_q, cos_q = sin_x[1:], cos_x[1:]

    a = p + cos_q + q * cos_p
    sin_a, cos_a = sincos(a)
    a_p = 1 - q * sin_p
    a_q = cos_p - sin_q
    a_pp_plus_a_qq = -(q * cos_p + cos_q)

    s = jnp.dot(c, sin_a)
    lap_s = jnp.dot(c, cos_a * a_pp_plus_a_qq - sin_a * (a_p**2 + a_q**2))
    x_dot_grad_s = jnp.dot(c, cos_a * (p * a_p + q * a_q))

    phi = 1 - jnp.dot(x, x)
    u = phi * s
    lap_u = phi * lap_s - 4 * x_dot_grad_s - 2 * d * s
    return u, lap_u


def three_body(
    x: Float[Array, " dim"], c: Float[Array, " terms"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Three-body exact solution and its Laplacian at one point.

    $$u^*(x) = (1 - |x|^2) \sum_{i=1}^{d-2} c_i \exp(x_i x_{i+1} x_{i+2}).$$

    With $p, q, r = x_i, x_{i+1}, x_{i+2}$ and $e_i = \exp(pqr)$, each term
    contributes $\Delta e_i = e_i\,((qr)^2 + (pr)^2 + (pq)^2)$ and
    $x \cdot \nabla e_i = 3\, pqr\, e_i$. One $\exp$ is evaluated per term.

    **Arguments:**

    - `x`: a point of $\mathbb{R}^d$, shape `(d,)`, $d \geq 3$.
    - `c`: the coefficients $c_1, \dots, c_{d-2}$, shape `(d - 2,)`.

    **Returns:**

    A pair `(u, lap_u)` of scalars: $u^*(x)$ and $\Delta u^*(x)$.
    """
    d = x.shape[0]
    p, q, r = x[:-2], x[1:-1], x[2:]
    qr = q * r
    pr = p * r
    pq = p * q
    pqr = pq * r
    ce = c * jnp.exp(pqr)

    s = jnp.sum(ce)
    lap_s = jnp.dot(ce, qr**2 + pr**2 + pq**2)
    x_dot_grad_s = 3 * jnp.dot(ce, pqr)

    phi = 1 - jnp.dot(x, x)
    u = phi * s
    lap_u = phi * lap_s - 4 * x_dot_grad_s - 2 * d * s
    return u, lap_u
