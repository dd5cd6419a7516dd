"""Epoching of a continuous recording and covariance estimators, batched over epochs.

All estimators take epochs ``X`` of shape ``(..., n_channels, n_times)`` and return
``(..., n_channels, n_channels)``. With ``Xc`` the channel-wise centred epoch, ``T`` samples and
``p`` channels:

* ``"scm"``: ``S = Xc Xcᵀ / T`` (pyRiemann's ``Covariances()`` default, scikit-learn's
  ``empirical_covariance``).
* ``"cov"``: ``Xc Xcᵀ / (T − 1)`` (``numpy.cov``, the default of pyRiemann's *function*
  ``covariances``).
* ``"oas"``: Oracle Approximating Shrinkage (Chen et al. 2010, as scikit-learn ``oas``):
  ``a = mean(S∘S)``, ``μ = tr(S)/p``, ``ρ = min((a + μ²) / ((T + 1)(a − μ²/p)), 1)`` (1 when the
  denominator is 0), ``Σ = (1 − ρ) S + ρ μ I``.
* ``"lwf"``: Ledoit-Wolf (2004, as scikit-learn ``ledoit_wolf``): ``δ = ‖S − μI‖²_F / p``,
  ``β = (Σ_t ‖x_t‖⁴ / T − ‖S‖²_F) / (p T)`` (the closed form of ``Σ_t ‖x_t x_tᵀ − S‖²_F / (p T²)``),
  ``ρ = min(β, δ) / δ`` (0 when β = 0), ``Σ = (1 − ρ) S + ρ μ I``.

Shrinkage bounds the condition number, which keeps float32 Cholesky factorisations working and
makes the covariance of average-referenced (rank-deficient) data positive definite.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

ESTIMATORS = ("scm", "cov", "oas", "lwf")

__all__ = ["ESTIMATORS", "fixed_length_epochs", "covariance_matrices", "n_epochs_for"]


def n_epochs_for(n_times: int, window: int, step: int) -> int:
    """Number of complete windows of ``window`` samples every ``step`` samples."""
    if window < 2:
        raise ValueError(f"epochs need at least 2 samples, got window={window}")
    if step < 1:
        raise ValueError(f"step must be at least 1 sample, got {step}")
    if n_times < window:
        raise ValueError(f"recording has {n_times} samples, fewer than one epoch of {window} samples")
    return (n_times - window) // step + 1


def fixed_length_epochs(x: Float[Array, "... c t"], window: int, step: int) -> Float[Array, "... e c w"]:
    """Cut ``x`` into complete windows ``x[..., :, k*step : k*step + window]`` (a trailing partial
    window is dropped). Static shapes: one gather, no Python loop over windows."""
    n = n_epochs_for(x.shape[-1], window, step)
    if step == window:
        trimmed = x[..., : n * window]
        out = trimmed.reshape(*x.shape[:-1], n, window)
    else:
        idx = jnp.arange(n)[:, None] * step + jnp.arange(window)[None, :]
        out = x[..., idx]  # (..., c, n, window)
    return jnp.moveaxis(out, -2, -3)


def _scatter(x: Array) -> tuple[Array, Array]:
    xc = x - jnp.mean(x, axis=-1, keepdims=True)
    return xc, xc @ jnp.swapaxes(xc, -1, -2)


def _shrink(s: Array, rho: Array, mu: Array) -> Array:
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    return (1.0 - rho)[..., None, None] * s + (rho * mu)[..., None, None] * eye


def _oas(s: Array, n_times: int) -> Array:
    p = s.shape[-1]
    alpha = jnp.mean(s**2, axis=(-1, -2))
    mu = jnp.trace(s, axis1=-2, axis2=-1) / p
    num = alpha + mu**2
    den = (n_times + 1) * (alpha - mu**2 / p)
    rho = jnp.where(den == 0, 1.0, jnp.minimum(num / jnp.where(den == 0, 1.0, den), 1.0))
    return _shrink(s, rho, mu)


def _lwf(xc: Array, s: Array) -> Array:
    p, t = s.shape[-1], xc.shape[-1]
    mu = jnp.trace(s, axis1=-2, axis2=-1) / p
    s_fro2 = jnp.sum(s**2, axis=(-1, -2))
    sq_norms = jnp.sum(xc**2, axis=-2)  # ‖x_t‖², (..., T)
    beta = (jnp.sum(sq_norms**2, axis=-1) / t - s_fro2) / (p * t)
    delta = (s_fro2 - 2.0 * mu * jnp.trace(s, axis1=-2, axis2=-1) + p * mu**2) / p
    beta = jnp.minimum(beta, delta)
    rho = jnp.where(beta == 0, 0.0, beta / jnp.where(delta == 0, 1.0, delta))
    return _shrink(s, rho, mu)


def covariance_matrices(x: Float[Array, "... c t"], estimator: str) -> Float[Array, "... c c"]:
    """Covariance of each epoch with one of :data:`ESTIMATORS` (see module docstring)."""
    t = x.shape[-1]
    xc, scatter = _scatter(x)
    if estimator == "cov":
        return scatter / (t - 1)
    s = scatter / t
    if estimator == "scm":
        return s
    if estimator == "oas":
        if s.shape[-1] == 1:
            return s
        return _oas(s, t)
    if estimator == "lwf":
        if s.shape[-1] == 1:
            return s
        return _lwf(xc, s)
    raise ValueError(f"unknown covariance estimator {estimator!r}; choose one of {ESTIMATORS}")
