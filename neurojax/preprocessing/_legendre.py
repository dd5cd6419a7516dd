"""Legendre series by the three-term recurrence (host NumPy or traced JAX).

``legendre_series(x, coeffs)`` evaluates ``sum_l coeffs[l] * P_l(x)`` with
``(l + 1) P_{l+1} = (2l + 1) x P_l - l P_{l-1}``. The argument is clipped to [-1, 1] (cosines of
angles between unit vectors can round slightly outside). With NumPy input the loop runs on the
host in the input's dtype (float64 for coefficient design); with JAX input it is a
``lax.fori_loop`` so the traced graph stays small and is differentiable in ``x``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["legendre_series", "spline_kernel_coefficients"]


def spline_kernel_coefficients(n_terms: int = 50, stiffness: float = 4) -> np.ndarray:
    """Coefficients ``c_0..c_N`` of the spherical-spline kernel ``g`` (Perrin et al. 1989).

    ``c_0 = 0`` and ``c_l = (2l + 1) / (4 pi l^m (l + 1)^m)`` for ``l = 1..N`` (float64).
    """
    n = np.arange(1, n_terms + 1, dtype=np.float64)
    factors = (2 * n + 1) / (n**stiffness * (n + 1) ** stiffness * 4 * np.pi)
    return np.concatenate([[0.0], factors])


def legendre_series(x: Any, coeffs: Any) -> Any:
    """Evaluate ``sum_l coeffs[l] P_l(x)`` elementwise.

    Arguments:
        x: array of arguments (NumPy -> host evaluation, JAX -> traced evaluation).
        coeffs: 1-D coefficients ``c_0..c_N`` (``N >= 1``).

    Returns:
        Array shaped like ``x``.
    """
    coeffs_np = np.asarray(coeffs, dtype=np.float64)
    if coeffs_np.ndim != 1 or coeffs_np.size < 2:
        raise ValueError("coeffs must be a 1-D sequence with at least two entries (c_0, c_1)")
    if isinstance(x, np.ndarray):
        x = np.clip(x, -1.0, 1.0)
        p_prev = np.ones_like(x)
        p_cur = x.copy()
        acc = coeffs_np[0] * p_prev + coeffs_np[1] * p_cur
        for ell in range(1, coeffs_np.size - 1):
            p_prev, p_cur = p_cur, ((2 * ell + 1) * x * p_cur - ell * p_prev) / (ell + 1)
            acc = acc + coeffs_np[ell + 1] * p_cur
        return acc

    x = jnp.clip(x, -1.0, 1.0)
    c = jnp.asarray(coeffs_np, dtype=x.dtype)

    def body(ell, carry):
        p_prev, p_cur, acc = carry
        ellf = ell.astype(x.dtype)
        p_next = ((2 * ellf + 1) * x * p_cur - ellf * p_prev) / (ellf + 1)
        return p_cur, p_next, acc + c[ell + 1] * p_next

    init = (jnp.ones_like(x), x, c[0] + c[1] * x)
    _, _, acc = jax.lax.fori_loop(1, coeffs_np.size - 1, body, init)
    return acc
