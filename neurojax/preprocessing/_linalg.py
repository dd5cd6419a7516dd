"""Symmetric-matrix numerics shared by ASR, ICA and the Riemannian detector.

Matrix functions of a symmetric positive (semi-)definite matrix ``C = U diag(w) U^T`` are
``f(C) = U diag(f(w)) U^T``. Differentiating through ``jnp.linalg.eigh`` directly divides by
``w_i - w_j`` and returns NaN when eigenvalues repeat (identity-like covariances are common:
whitened data, the Riemannian mean of similar epochs). We instead give each function a JVP from
the Daleckii-Krein formula::

    d f(C)[E] = U (L o (U^T E U)) U^T,
    L_ij = (f(w_i) - f(w_j)) / (w_i - w_j)   if w_i and w_j are distinct,
    L_ij = f'((w_i + w_j) / 2)               otherwise,

which is finite for every symmetric input (``o`` is the element-wise product).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["symmetrize", "eigh_function", "sqrtm", "invsqrtm", "logm", "expm", "powm", "spd_floor"]


def symmetrize(a: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """``(A + A^T) / 2``: removes the rounding asymmetry that would make ``eigh`` inexact."""
    return 0.5 * (a + jnp.swapaxes(a, -1, -2))


def _divided_differences(w: Array, fw: Array, dfw_mid: Callable[[Array], Array]) -> Array:
    wi, wj = w[..., :, None], w[..., None, :]
    gap = wi - wj
    # Relative tolerance: eigenvalues closer than this are treated as equal.
    scale = jnp.max(jnp.abs(w), axis=-1, keepdims=True)[..., None]
    tiny = jnp.finfo(w.dtype).eps ** 0.5 * jnp.maximum(scale, jnp.finfo(w.dtype).tiny)
    close = jnp.abs(gap) <= tiny
    safe_gap = jnp.where(close, 1.0, gap)
    return jnp.where(close, dfw_mid(0.5 * (wi + wj)), (fw[..., :, None] - fw[..., None, :]) / safe_gap)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def eigh_function(f: Callable[[Array], Array], df: Callable[[Array], Array], c: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """Apply the scalar function ``f`` (derivative ``df``) to the eigenvalues of symmetric ``c``.

    Arguments:
        f: element-wise function of the eigenvalues (e.g. ``jnp.sqrt``).
        df: its derivative, used only where eigenvalues coincide.
        c: symmetric matrices, any leading batch shape.

    Returns:
        ``U diag(f(w)) U^T``, symmetric, same shape and dtype as ``c``.
    """
    w, u = jnp.linalg.eigh(symmetrize(c))
    return (u * f(w)[..., None, :]) @ jnp.swapaxes(u, -1, -2)


@eigh_function.defjvp
def _eigh_function_jvp(f, df, primals, tangents):
    (c,), (dc,) = primals, tangents
    w, u = jnp.linalg.eigh(symmetrize(c))
    fw = f(w)
    ut = jnp.swapaxes(u, -1, -2)
    out = (u * fw[..., None, :]) @ ut
    lam = _divided_differences(w, fw, df)
    dout = u @ (lam * (ut @ symmetrize(dc) @ u)) @ ut
    return out, dout


def _floor(w: Array) -> Array:
    # Eigenvalues of a PSD matrix can come out slightly negative in floating point.
    return jnp.maximum(w, jnp.finfo(w.dtype).tiny)


def sqrtm(c: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """Principal square root of symmetric PSD matrices (negative rounding noise clipped to 0)."""
    return eigh_function(lambda w: jnp.sqrt(jnp.maximum(w, 0.0)), lambda w: 0.5 / jnp.sqrt(_floor(w)), c)


def invsqrtm(c: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """``C^{-1/2}`` of symmetric positive definite matrices."""
    return eigh_function(lambda w: 1.0 / jnp.sqrt(_floor(w)), lambda w: -0.5 * _floor(w) ** -1.5, c)


def logm(c: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """Matrix logarithm of symmetric positive definite matrices."""
    return eigh_function(lambda w: jnp.log(_floor(w)), lambda w: 1.0 / _floor(w), c)


def expm(c: Float[Array, "... n n"]) -> Float[Array, "... n n"]:
    """Matrix exponential of symmetric matrices."""
    return eigh_function(jnp.exp, jnp.exp, c)


def powm(c: Float[Array, "... n n"], p: float) -> Float[Array, "... n n"]:
    """``C^p`` of symmetric positive definite matrices for a static real power ``p``."""
    return eigh_function(lambda w: _floor(w) ** p, lambda w: p * _floor(w) ** (p - 1.0), c)


def spd_floor(c: Float[Array, "... n n"], rel: float = 1e-10) -> Float[Array, "... n n"]:
    """Raise eigenvalues below ``rel * max eigenvalue`` to that floor (rank-deficient covariances)."""
    w, u = jnp.linalg.eigh(symmetrize(c))
    w = jnp.maximum(w, rel * jnp.max(w, axis=-1, keepdims=True))
    return (u * w[..., None, :]) @ jnp.swapaxes(u, -1, -2)
