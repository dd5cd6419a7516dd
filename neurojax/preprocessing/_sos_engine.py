"""Second-order-section engine behind the filter stage: checks, method choice, state runs.

``check_sos`` validates and keeps concrete coefficients in float64 (the block operators and the
steady-state initial conditions are built from them on the host). ``resolve_method`` picks the
block (matrix) or scan (per-sample) backend of :mod:`._iir` for a dtype and design;
``forward_backward`` is SciPy's ``sosfiltfilt`` core on rows and their edge extensions.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._iir import balanced_basis_available, ssm_block_filter, sosfilt_scan
from ._validate import as_float_array, check_finite, is_traced
from ._zero_phase import zero_phase_operators, zero_phase_rows

__all__ = ["check_sos", "max_pole_radius", "resolve_method", "run_sections", "prepare_data", "forward_backward", "sosfilt_zi_host", "sosfilt_zi"]


def check_sos(sos: Any, dtype) -> jax.Array:
    if is_traced(sos):
        sos = jnp.asarray(sos, dtype)
    else:
        sos_np = np.asarray(sos, dtype=np.float64)
        if sos_np.ndim != 2 or sos_np.shape[1] != 6 or sos_np.shape[0] < 1:
            raise ValueError(f"sos must have shape (n_sections, 6), got {sos_np.shape}")
        if not np.all(np.isfinite(sos_np)):
            raise ValueError("sos contains NaN or Inf coefficients")
        if np.any(sos_np[:, 3] == 0):
            raise ValueError("sos rows must have a0 != 0 (column 3); got a zero leading denominator coefficient")
        a = sos_np[:, 3:] / sos_np[:, 3:4]
        radius = max_pole_radius(a)
        if radius >= 1.0:
            raise ValueError(
                f"unstable sections: a pole has radius {radius:.6g} >= 1. Design the filter with "
                "butter_sos(...) or scipy.signal.butter(..., output='sos')"
            )
        # keep concrete coefficients in float64 on the host: the block operators and the
        # steady-state zi are built from them in float64 and only then cast to ``dtype``
        sos = sos_np
    return sos


def max_pole_radius(a: np.ndarray) -> float:
    """Largest |root| of the rows ``[1, a1, a2]`` (closed form, host side)."""
    a1, a2 = a[:, 1], a[:, 2]
    disc = a1.astype(complex) ** 2 - 4 * a2
    r1 = np.abs((-a1 + np.sqrt(disc)) / 2)
    r2 = np.abs((-a1 - np.sqrt(disc)) / 2)
    return float(np.max(np.maximum(r1, r2)))


def resolve_method(method: str, dtype, sos: Any = None) -> str:
    """'auto': block in float64 unless a (concrete) pole lies within 1e-3 of the unit circle.

    The block recursion amplifies rounding by the non-normality of the sections' state matrix,
    which grows as poles approach ``z = 1``; the per-sample scan keeps SciPy's accuracy there.
    """
    if method not in ("auto", "block", "scan"):
        raise ValueError(f"method must be 'auto', 'block' or 'scan', got {method!r}")
    if method == "auto":
        if jnp.dtype(dtype) != jnp.float64:
            # the block operators are built in float64 on the host in a balanced state basis
            # (for traced sections too, see _host_design), which makes the block method more
            # accurate than SciPy's float32 sosfilt; concrete sections whose basis cannot be
            # balanced keep the scan
            if sos is None or is_traced(sos) or balanced_basis_available(sos):
                return "block"
            return "scan"
        if sos is not None and not is_traced(sos):
            a = np.asarray(sos, np.float64)
            if max_pole_radius(a[:, 3:] / a[:, 3:4]) > 0.999:
                return "scan"
        return "block"
    return method


def run_sections(sos, x2: jax.Array, s0: jax.Array, method: str, block_len: int):
    """Filter rows ``x2 (n, T)`` from flat states ``s0 (n, 2K)``; returns ``(y, s_end)``."""
    if method == "block":
        return ssm_block_filter(sos, x2, s0, block_len)
    n_sections = sos.shape[0]
    zi = jnp.moveaxis(s0.reshape((x2.shape[0], n_sections, 2)), 1, 0)
    y, zf = sosfilt_scan(sos.astype(x2.dtype), x2, zi)
    return y, jnp.moveaxis(zf, 0, 1).reshape(s0.shape)


def prepare_data(data: Any, name: str = "data", *, defer_traced_check: bool = False) -> jax.Array:
    """Float array with a time axis, checked for NaN/Inf.

    ``defer_traced_check``: skip the check for *traced* input (concrete input is still checked
    on the host); the caller must then check it (the fused zero-phase kernel does so from its
    end state, which avoids a full extra pass over the input under ``jit``).
    """
    x = as_float_array(data, name)
    if x.ndim < 1:
        raise ValueError(f"{name} must have at least one (time) axis; got a scalar")
    if x.shape[-1] < 1:
        raise ValueError(f"{name} has no samples along the last (time) axis")
    if defer_traced_check and is_traced(x):
        return x
    return check_finite(x, name)


def forward_backward(sos, x2: jax.Array, left: jax.Array, right: jax.Array, method: str, block_len: int,
                     check_traced: bool = False) -> jax.Array:
    """SciPy's ``sosfiltfilt`` core on rows ``x2 (n, T)`` with edges ``left``/``right`` ``(n, P)``.

    Returns the zero-phase output over the ``x2`` samples only (the edges are cropped).
    ``check_traced``: fail at run time on NaN/Inf in traced ``x2`` (see :func:`prepare_data`).
    """
    if is_traced(sos):
        zi = sosfilt_zi(sos).astype(x2.dtype).reshape(-1)
    else:  # concrete: steady state in float64 on the host (as SciPy), then cast
        zi = jnp.asarray(sosfilt_zi_host(np.asarray(sos, np.float64)).reshape(-1), x2.dtype)
    if method == "block":
        ops = zero_phase_operators(sos, block_len, x2.dtype)
        return zero_phase_rows(ops, zi, x2, left, right, check_finite=check_traced and is_traced(x2))
    if check_traced:
        x2 = check_finite(x2, "x")
    ext2 = jnp.concatenate([left, x2, right], axis=1)
    y, _ = run_sections(sos, ext2, zi[None, :] * ext2[:, :1], method, block_len)
    y = y[:, ::-1]
    y, _ = run_sections(sos, y, zi[None, :] * y[:, :1], method, block_len)
    y = y[:, ::-1]
    return y[:, left.shape[1] : left.shape[1] + x2.shape[1]]


def _steady_state(sos, xp):
    """Closed-form ``sosfilt_zi`` in the array namespace ``xp`` (NumPy on the host, or jnp)."""
    sos = sos / sos[:, 3:4]
    b0, b1, b2, a1, a2 = sos[:, 0], sos[:, 1], sos[:, 2], sos[:, 4], sos[:, 5]
    g1, g2 = b1 - a1 * b0, b2 - a2 * b0
    z0 = (g1 + g2) / (1 + a1 + a2)
    z1 = g2 - a2 * z0
    dc = (b0 + b1 + b2) / (1 + a1 + a2)
    scale = xp.concatenate([xp.ones((1,), sos.dtype), xp.cumprod(dc)[:-1]])
    return xp.stack([z0, z1], axis=-1) * scale[:, None]


def sosfilt_zi_host(sos: np.ndarray) -> np.ndarray:
    """:func:`sosfilt_zi` of concrete sections, in float64 NumPy (as SciPy computes it)."""
    return _steady_state(np.asarray(sos, np.float64), np)


def sosfilt_zi(sos: Float[Array, "n_sections 6"]) -> Float[Array, "n_sections 2"]:
    """Steady-state initial state of each section for a unit step (``scipy.signal.sosfilt_zi``).

    Per section (normalised so ``a0 = 1``), with ``g1 = b1 - a1 b0`` and ``g2 = b2 - a2 b0``:
    ``z0 = (g1 + g2)/(1 + a1 + a2)``, ``z1 = g2 - a2 z0``; section ``k`` is scaled by the DC gain
    ``prod_{j<k} sum(b_j)/sum(a_j)`` of the sections before it. Closed form, differentiable.
    """
    return _steady_state(jnp.asarray(sos), jnp)
