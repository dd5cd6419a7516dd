"""Spherical-spline interpolation matrices (Perrin et al. 1989, as computed by MNE-Python).

Maths (unit vectors ``p_i`` of the good channels, ``q_k`` of the targets, about origin ``o``)::

    g(x)  = sum_{l=1}^{N} (2l + 1) / (4 pi l^m (l + 1)^m) P_l(x)        (N = 50, m = 4)
    G     = g(P P^T) + alpha I                                             (alpha = 1e-5)
    solve G c + c0 1 = V,  1^T c = 0;   V(q) = g(q . P^T) c + c0

MNE inverts the bordered matrix ``[[G, 1], [1^T, 0]]`` with ``pinv``. We eliminate ``c0``
instead (``G`` is symmetric positive definite for ``alpha > 0``), which is the same matrix in
exact arithmetic with no rank truncation::

    a = G^{-1} 1,  s = 1^T a
    M = Gqp G^{-1} + (1 - Gqp a) a^T / s           (rows sum to 1)

Two evaluation routes share this algebra:

* host (NumPy, float64): positions and bad set known -> the reduced ``(n_bad, n_good)`` matrix;
* traced (JAX): the bad set is a boolean mask of static length ``C``. We precompute the inverse
  ``Z`` of the bordered system over *all* channels (host float64 when positions are concrete) and
  read the reduced matrix off it as ``M = -Z_bb^{-1} Z_bg`` (block-inverse identity), one small
  well-conditioned solve per mask. The result is a ``(C, C)`` matrix whose bad rows equal the
  reduced matrix and whose bad columns are zero.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import scipy.linalg as sl

from ._legendre import legendre_series, spline_kernel_coefficients

__all__ = [
    "fit_sphere",
    "fit_sphere_jax",
    "unit_vectors",
    "spline_kernel",
    "reduced_matrix",
    "bordered_inverse",
    "masked_matrix",
    "frontal_mask",
]


def frontal_mask(points: np.ndarray) -> np.ndarray:
    """True for nose/face points (``z < -1e-6`` and ``y > 1e-6``), which MNE leaves out of the fit."""
    return (points[:, 2] < -1e-6) & (points[:, 1] > 1e-6)


def fit_sphere(points: np.ndarray, exclude_frontal: bool = True) -> tuple[float, np.ndarray]:
    """Linear least-squares sphere fit (host, float64), as ``mne.bem._fit_sphere``.

    Solves ``[2 p_i, 1] x = |p_i|^2`` with ``lstsq(rcond=1e-6)``; origin ``x[:3]``,
    radius ``sqrt(|x[:3]|^2 + x[3])``. Nose/face points are excluded first when asked.

    Raises:
        ValueError: fewer than 4 points remain.
    """
    pts = np.asarray(points, dtype=np.float64)
    if exclude_frontal:
        pts = pts[~frontal_mask(pts)]
    if len(pts) < 4:
        raise ValueError(
            f"origin='auto' needs at least 4 positions outside the nose/face region to fit a sphere, "
            f"got {len(pts)}; pass origin=(x, y, z) explicitly"
        )
    a = np.c_[2 * pts, np.ones((len(pts), 1))]
    b = (pts**2).sum(axis=1)
    x = np.linalg.lstsq(a, b, rcond=1e-6)[0]
    radius = float(np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2 + x[3]))
    return radius, x[:3]


def fit_sphere_jax(points: jnp.ndarray, exclude_frontal: bool = True) -> jnp.ndarray:
    """Traced sphere-fit origin (differentiable in ``points``); frontal points get weight 0."""
    w = jnp.ones(points.shape[0], points.dtype)
    if exclude_frontal:
        w = jnp.where((points[:, 2] < -1e-6) & (points[:, 1] > 1e-6), 0.0, w).astype(points.dtype)
    a = jnp.concatenate([2 * points, jnp.ones((points.shape[0], 1), points.dtype)], axis=1)
    b = jnp.sum(points**2, axis=1)
    # Normal equations of the weighted problem: 4x4, well conditioned for a head-sized cloud.
    aw = a * w[:, None]
    x = jnp.linalg.solve(aw.T @ a, aw.T @ b)
    return x[:3]


def unit_vectors(pos: Any, origin: Any) -> Any:
    """``(pos - origin) / |pos - origin|`` for NumPy or JAX input."""
    xp = np if isinstance(pos, np.ndarray) and isinstance(origin, np.ndarray) else jnp
    d = pos - origin
    return d / xp.linalg.norm(d, axis=-1, keepdims=True)


def spline_kernel(cosang: Any, n_terms: int = 50, stiffness: float = 4) -> Any:
    """``g(cosang)`` of the spherical spline (NumPy -> host float64 maths, JAX -> traced)."""
    return legendre_series(cosang, spline_kernel_coefficients(n_terms, stiffness))


def reduced_matrix(
    unit_good: np.ndarray,
    unit_target: np.ndarray,
    *,
    n_terms: int = 50,
    stiffness: float = 4,
    alpha: float = 1e-5,
) -> np.ndarray:
    """Host float64 interpolation matrix ``(n_target, n_good)`` by Cholesky elimination.

    ``alpha`` must be positive (it makes ``G`` positive definite); MNE hard-wires 1e-5.
    """
    g_gg = spline_kernel(unit_good @ unit_good.T, n_terms, stiffness)
    g_tg = spline_kernel(unit_target @ unit_good.T, n_terms, stiffness)
    g_gg[np.diag_indices_from(g_gg)] += alpha
    factor = sl.cho_factor(g_gg, lower=True)
    h = sl.cho_solve(factor, g_tg.T)  # G^{-1} Gqp^T -> (n_good, n_target)
    a = sl.cho_solve(factor, np.ones(len(g_gg)))
    return h.T + np.outer(1.0 - g_tg @ a, a) / a.sum()


def bordered_inverse(unit: Any, *, n_terms: int = 50, stiffness: float = 4, alpha: float = 1e-5) -> Any:
    """Inverse ``Z`` of the bordered system ``[[g(U U^T) + alpha I, 1], [1^T, 0]]`` over all channels.

    Built by Cholesky elimination (``L = K^{-1}``, ``a = K^{-1} 1``, ``s = 1^T a``)::

        Z = [[L - a a^T / s, a / s], [a^T / s, -1 / s]]

    NumPy input -> host float64; JAX input -> traced (differentiable in the positions).
    """
    host = isinstance(unit, np.ndarray)
    xp = np if host else jnp
    n = unit.shape[0]
    k = spline_kernel(unit @ unit.T, n_terms, stiffness) + alpha * xp.eye(n, dtype=unit.dtype)
    if host:
        factor = sl.cho_factor(k, lower=True)
        solve = lambda b: sl.cho_solve(factor, b)  # noqa: E731
    else:
        factor = jsl.cho_factor(k, lower=True)
        solve = lambda b: jsl.cho_solve(factor, b)  # noqa: E731
    inv = solve(xp.eye(n, dtype=unit.dtype))
    inv = 0.5 * (inv + inv.T)
    a = solve(xp.ones(n, dtype=unit.dtype))
    s = xp.sum(a)
    top = xp.concatenate([inv - xp.outer(a, a) / s, (a / s)[:, None]], axis=1)
    bottom = xp.concatenate([a / s, -xp.ones(1, dtype=unit.dtype) / s])[None, :]
    return xp.concatenate([top, bottom], axis=0)


def masked_matrix(inverse: jnp.ndarray, bad: jnp.ndarray) -> jnp.ndarray:
    """Traced ``(C, C)`` interpolation matrix from the bordered inverse ``Z`` and a bad mask.

    For a symmetric invertible ``A`` with inverse ``Z``, predicting block ``B`` from block ``S`` as
    ``A_BS A_SS^{-1}`` equals ``-Z_BB^{-1} Z_BS``. With ``B`` the bad channels and ``S`` the good
    channels plus the constant border this is exactly MNE's reduced matrix, yet it needs only a
    solve with ``Z_BB`` (the inverse posterior covariance of the bad channels: small and well
    conditioned), so float32 stays accurate (~1e-7 on ``M`` for up to ~40 of 64 channels bad,
    where a float32 factorisation of ``G`` itself loses ~3e-4).

    Returns:
        ``(C, C)``: bad rows hold the interpolation weights over the good columns; bad columns and
        good rows are zero.
    """
    n = bad.shape[0]
    z = inverse[:n, :n]
    both_bad = bad[:, None] & bad[None, :]
    z_bb = jnp.where(both_bad, z, 0.0) + jnp.diag(jnp.where(bad, 0.0, 1.0).astype(z.dtype))
    rhs = jnp.where(bad[:, None] & ~bad[None, :], z, 0.0)
    return -jnp.linalg.solve(z_bb, rhs)
