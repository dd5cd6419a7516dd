"""Affine-invariant Riemannian geometry of SPD matrices: distance, Karcher mean, geodesic.

Whitening uses the Cholesky factor ``B = L Lᵀ`` rather than ``B^{1/2}``: ``B^{1/2} = L Q`` for an
orthogonal ``Q``, so ``L⁻¹ A L⁻ᵀ = Q (B^{-1/2} A B^{-1/2}) Qᵀ`` has the same eigenvalues and
``L f(L⁻¹ A L⁻ᵀ) Lᵀ = B^{1/2} f(B^{-1/2} A B^{-1/2}) B^{1/2}`` for every matrix function ``f``. It is
cheaper and, in float32, far more accurate than an eigendecomposition of ``B``.

Distance ``δ(A, B) = ‖log(L⁻¹ A L⁻ᵀ)‖_F = √(Σ log² λ_i)``. Its JVP uses the gradient of the
spectral function ``Z ↦ Σ log² λ_i(Z)``, namely ``2 Z⁻¹ log Z``, which does not depend on the choice
of eigenvectors and is therefore finite at repeated eigenvalues.

Karcher mean: pyRiemann's schedule (Congedo et al. 2015), run in a ``lax.while_loop``::

    M ← weighted Euclidean mean (or init);  ν ← 1;  τ ← largest float
    repeat at most maxiter times:
        J ← Σ w_i log(L⁻¹ X_i L⁻ᵀ)            (M = L Lᵀ; whitened, dimensionless)
        M ← L exp(ν J) Lᵀ
        crit ← ‖J‖_F ;  h ← ν crit
        if h < τ: ν ← 0.95 ν, τ ← h  else: ν ← 0.5 ν
        stop if crit ≤ tol or ν ≤ tol

``‖J‖_F`` is invariant to a congruence ``X ↦ W X Wᵀ`` (in particular to units), so the number of
iterations does not depend on whether the data are in V or µV.

Derivative of the mean: implicit differentiation of the fixed point. Near the mean, one damped
step ``G(M) = Exp_M(−η grad f(M))`` of the cost ``f = ½ Σ w_i δ²(M, X_i)`` has ``∂G/∂M = I − η Hess f``;
the Riemannian Hessian has eigenvalues in ``[1, max_i δ_i coth δ_i]`` (non-positive curvature), so
with ``η = 2 / (1 + max_i δ_i coth δ_i)`` the tangent recursion ``dM ← ∂G/∂M dM + ∂G/∂(X, w)[dX, dw]``
contracts and converges to the implicit derivative. It runs a fixed number of steps (transposable,
so reverse mode works) and is only evaluated when a derivative is requested.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jaxtyping import Array, Float

from ._linalg import expm, logm, symmetrize

__all__ = [
    "whiten",
    "distance_squared",
    "distance",
    "karcher_mean",
    "karcher_mean_info",
    "karcher_mean_fast",
    "geodesic",
    "euclid_mean",
    "safe_sqrt",
]

#: Number of tangent fixed-point steps of the implicit mean derivative (contraction ≤ 0.8 for
#: distances up to ≈ 9; 0.8**120 ≈ 2e-12).
N_TANGENT_STEPS = 120


def _chol_inv(b: Array) -> tuple[Array, Array]:
    chol = jnp.linalg.cholesky(symmetrize(b))
    eye = jnp.broadcast_to(jnp.eye(b.shape[-1], dtype=b.dtype), chol.shape)
    return chol, solve_triangular(chol, eye, lower=True)


def whiten(a: Float[Array, "... n n"], b: Float[Array, "n n"]) -> Float[Array, "... n n"]:
    """``L⁻¹ A L⁻ᵀ`` with ``B = L Lᵀ`` (symmetrised); eigenvalues = those of the pencil (A, B)."""
    _, linv = _chol_inv(b)
    return symmetrize(linv @ a @ linv.T)


def _log_floor(w: Array) -> Array:
    return jnp.log(jnp.maximum(w, jnp.finfo(w.dtype).tiny))


@jax.custom_jvp
def _sum_log_sq(z: Array) -> Array:
    w = jnp.linalg.eigvalsh(z)
    return jnp.sum(_log_floor(w) ** 2, axis=-1)


@_sum_log_sq.defjvp
def _sum_log_sq_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    w, u = jnp.linalg.eigh(z)
    lw = _log_floor(w)
    grad = (u * (2.0 * lw / jnp.maximum(w, jnp.finfo(w.dtype).tiny))[..., None, :]) @ jnp.swapaxes(u, -1, -2)
    return jnp.sum(lw**2, axis=-1), jnp.sum(grad * symmetrize(dz), axis=(-1, -2))


def distance_squared(a: Float[Array, "... n n"], b: Float[Array, "n n"]) -> Float[Array, "..."]:
    """``δ²(A, B)`` for a batch ``A`` against one reference ``B`` (no validation)."""
    return _sum_log_sq(whiten(a, b))


def safe_sqrt(x: Array) -> Array:
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def distance(a: Float[Array, "... n n"], b: Float[Array, "n n"]) -> Float[Array, "..."]:
    """``δ(A, B)`` (gradient 0 where ``A = B``, the distance's minimum)."""
    return safe_sqrt(distance_squared(a, b))


def euclid_mean(x: Float[Array, "m n n"], w: Float[Array, " m"]) -> Float[Array, "n n"]:
    """Weighted arithmetic mean; ``w`` must sum to one."""
    return jnp.tensordot(w, x, axes=(0, 0))


def _tangent_at(m: Array, x: Array, w: Array) -> tuple[Array, Array, Array]:
    """Whitened tangent ``J = Σ w_i log(L⁻¹ X_i L⁻ᵀ)`` (eigh route, no custom JVP: forward only)."""
    chol, linv = _chol_inv(m)
    z = symmetrize(linv @ x @ linv.T)
    lam, u = jnp.linalg.eigh(z)
    lw = _log_floor(lam)
    uw = u * (w[:, None] * lw)[:, None, :]
    n = m.shape[-1]
    j = symmetrize(uw.transpose(1, 0, 2).reshape(n, -1) @ u.transpose(1, 0, 2).reshape(n, -1).T)
    return chol, j, jnp.sum(lw**2, axis=-1)


@partial(jax.jit, static_argnames=("tol", "maxiter"))
def karcher_mean_info(
    x: Float[Array, "m n n"], w: Float[Array, " m"], init: Float[Array, "n n"], tol: float, maxiter: int
) -> tuple[Array, Array, Array, Array]:
    """Run the schedule of the module docstring. Returns ``(M, n_iter, crit, converged)``."""
    dtype = x.dtype
    big = jnp.asarray(jnp.finfo(dtype).max, dtype)

    def cond(state):
        k, _, _, _, _, done = state
        return (k < maxiter) & ~done

    def body(state):
        k, m, nu, tau, _, _ = state
        chol, j, _ = _tangent_at(m, x, w)
        e = expm(nu * j)
        m_new = symmetrize(chol @ e @ chol.T)
        crit = jnp.sqrt(jnp.sum(j**2))
        h = nu * crit
        better = h < tau
        nu_new = jnp.where(better, 0.95 * nu, 0.5 * nu)
        tau_new = jnp.where(better, h, tau)
        done = (crit <= tol) | (nu_new <= tol)
        return k + 1, m_new, nu_new, tau_new, crit, done

    state = (jnp.asarray(0), symmetrize(init), jnp.asarray(1.0, dtype), big, big, jnp.asarray(False))
    k, m, _, _, crit, done = jax.lax.while_loop(cond, body, state)
    return m, k, crit, done


@partial(jax.jit, static_argnames=("tol", "maxiter"))
def karcher_mean_fast(
    x: Float[Array, "m n n"], w: Float[Array, " m"], init: Float[Array, "n n"], tol: float, maxiter: int
) -> tuple[Array, Array, Array]:
    """Karcher mean for the detector loop: unit steps (halved only when ``‖J‖_F`` grows), the
    stopping test made *before* the update so that the last eigendecomposition also gives the
    squared distances of every matrix to the returned mean. Typically 6 eigendecompositions from
    the Euclidean mean instead of 10 with pyRiemann's ×0.95 schedule, and 2–4 when warm-started;
    same fixed point. Returns ``(M, δ²(X_i, M), n_iter)``."""
    dtype = x.dtype

    def step(m):
        chol, j, d2 = _tangent_at(m, x, w)
        return chol, j, d2, jnp.sqrt(jnp.sum(j**2))

    def cond(state):
        k, _, _, _, crit, _ = state
        return (k < maxiter) & (crit > tol)

    def body(state):
        k, m, nu, prev, crit, _ = state
        chol, j, _, _ = state[5]
        nu = jnp.where(crit < prev, nu, 0.5 * nu)
        m_new = symmetrize(chol @ expm(nu * j) @ chol.T)
        out = step(m_new)
        return k + 1, m_new, nu, crit, out[3], out

    m0 = symmetrize(init)
    first = step(m0)
    big = jnp.asarray(jnp.finfo(dtype).max, dtype)
    state = (jnp.asarray(0), m0, jnp.asarray(1.0, dtype), big, first[3], first)
    k, m, _, _, _, last = jax.lax.while_loop(cond, body, state)
    return m, last[2], k


def _damped_step(m: Array, x: Array, w: Array, eta: Array) -> Array:
    """``Exp_M(−η grad f)`` with differentiable (Daleckii-Krein) matrix functions."""
    chol, linv = _chol_inv(m)
    z = symmetrize(linv @ x @ linv.T)
    j = jnp.tensordot(w, logm(z), axes=(0, 0))
    return symmetrize(chol @ expm(eta * j) @ chol.T)


@partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _karcher_mean(
    x: Float[Array, "m n n"], w: Float[Array, " m"], init: Float[Array, "n n"], tol: float, maxiter: int
) -> Float[Array, "n n"]:
    """Weighted Karcher mean (``w`` sums to one), differentiable by implicit differentiation.

    The derivative does not depend on ``init`` (the fixed point does not)."""
    return karcher_mean_info(x, w, init, tol, maxiter)[0]


@_karcher_mean.defjvp
def _karcher_mean_jvp(tol, maxiter, primals, tangents):
    x, w, init = primals
    dx, dw, _ = tangents
    m = jax.lax.stop_gradient(karcher_mean_info(x, w, init, tol, maxiter)[0])
    # Damping from the Hessian bound (distances treated as constants).
    d = safe_sqrt(_tangent_at(m, x, w)[2])
    dcoth = jnp.where(d > 1e-3, d / jnp.tanh(jnp.where(d > 1e-3, d, 1.0)), 1.0 + d**2 / 3.0)
    bound = jnp.max(jnp.where(w != 0, dcoth, 1.0))
    eta = jax.lax.stop_gradient(2.0 / (1.0 + bound))
    _, lin_m = jax.linearize(lambda mm: _damped_step(mm, x, w, eta), m)
    _, b = jax.jvp(lambda xx, ww: _damped_step(m, xx, ww, eta), (x, w), (dx, dw))
    dm = jax.lax.fori_loop(0, N_TANGENT_STEPS, lambda _, v: lin_m(v) + b, b)
    return m, symmetrize(dm)


karcher_mean = jax.jit(_karcher_mean, static_argnums=(3, 4))
karcher_mean.__doc__ = _karcher_mean.__doc__


def geodesic(a: Float[Array, "... n n"], b: Float[Array, "... n n"], t) -> Float[Array, "... n n"]:
    """Point ``A^{1/2} (A^{-1/2} B A^{-1/2})^t A^{1/2}`` of the geodesic from A (t=0) to B (t=1)."""
    chol, linv = _chol_inv(a)
    z = symmetrize(linv @ b @ jnp.swapaxes(linv, -1, -2))
    return symmetrize(chol @ expm(t * logm(z)) @ jnp.swapaxes(chol, -1, -2))
