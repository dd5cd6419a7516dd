"""Validation of SPD matrices for the Riemannian stage (eager errors, runtime checks under jit)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._validate import as_float_array, is_traced

__all__ = ["check_spd", "check_covariances", "effective_tol"]

_SHRINK_HINT = (
    "covariances of short, rank-deficient (e.g. average-referenced) or float32 epochs should use "
    "a shrinkage estimator: covariances(epochs, estimator='oas')"
)


def effective_tol(tol: float, dtype) -> float:
    """``tol`` raised to ``100·eps`` of ``dtype`` (1.2e-5 in float32), the attainable level."""
    return float(max(float(tol), 100.0 * float(jnp.finfo(dtype).eps)))


def check_spd(c, name: str = "covariances"):
    """Require symmetric positive definite matrices ``(..., n, n)``.

    Eager (concrete input): square trailing axes, finite, symmetric within 1e-6 relative,
    Cholesky succeeds in the input's precision; otherwise ``ValueError``. Traced input: a runtime
    error (``equinox.error_if``) on non-finite entries or a failed Cholesky factorisation.
    """
    c = as_float_array(c, name)
    if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
        raise ValueError(
            f"{name} must be square matrices (..., n_channels, n_channels), got shape {c.shape}; "
            "for epochs (n_epochs, n_channels, n_times) compute covariances(epochs) first"
        )
    if c.shape[-1] < 1:
        raise ValueError(f"{name} are empty matrices")
    if is_traced(c):
        chol = jnp.linalg.cholesky(c)
        return eqx.error_if(
            c, ~jnp.all(jnp.isfinite(chol)), f"{name} must be finite, symmetric positive definite matrices"
        )
    a = np.asarray(c)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contain NaN or Inf values")
    scale = np.max(np.abs(a)) if a.size else 0.0
    asym = np.max(np.abs(a - np.swapaxes(a, -1, -2))) if a.size else 0.0
    if asym > 1e-6 * scale:
        raise ValueError(f"{name} must be symmetric (max |C - Cᵀ| = {asym:.3g} vs max |C| = {scale:.3g})")
    bad = _cholesky_failed(0.5 * (a + np.swapaxes(a, -1, -2)))
    if np.any(bad):
        which = np.argwhere(np.atleast_1d(bad)).ravel()[:5].tolist()
        raise ValueError(f"{name} must be positive definite; matrices {which} are not. {_SHRINK_HINT}")
    return c


def _cholesky_failed(a: np.ndarray) -> np.ndarray:
    try:
        np.linalg.cholesky(a)
        return np.zeros(a.shape[:-2], bool)
    except np.linalg.LinAlgError:
        pass
    flat = a.reshape(-1, *a.shape[-2:])
    bad = np.zeros(flat.shape[0], bool)
    for i, m in enumerate(flat):  # only reached on failure, to name the culprits
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            bad[i] = True
    return bad.reshape(a.shape[:-2])


def check_covariances(c, name: str = "covariances", min_matrices: int = 1):
    """:func:`check_spd` plus the set layout ``(n_matrices, n, n)`` with ``n_matrices ≥ min_matrices``."""
    c = as_float_array(c, name)
    if c.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n_epochs, n_channels, n_channels), got {c.shape}; "
            "for a continuous recording use epoch_covariances(data, sfreq, epoch_duration)"
        )
    if c.shape[0] < min_matrices:
        raise ValueError(f"{name} need at least {min_matrices} matrices, got {c.shape[0]}")
    return check_spd(c, name)
