"""Direct-form (b, a) support for ``filter_data``: FIR convolution and (b, a) -> sections.

An FIR filter (``a = [1]``) is a plain convolution; an IIR (b, a) pair is converted to
second-order sections on the host in float64 after a stability check, since its expanded
polynomial loses accuracy (and, rounded to float32, stability) for high orders.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["fir_direct", "fir_with_state", "ba_to_sos_host", "biquad_row", "lfilter_zi_to_sections"]


def fir_direct(x: jax.Array, b: jax.Array, zi: jax.Array | None):
    """Causal FIR along the last axis by direct convolution; optional lfilter-layout state."""
    n_taps = b.shape[0]
    x2 = x.reshape((-1, 1, x.shape[-1]))
    n_times = x.shape[-1]
    full = jax.lax.conv_general_dilated(
        x2, b[::-1].reshape((1, 1, n_taps)), window_strides=(1,), padding=[(n_taps - 1, n_taps - 1)],
        precision=jax.lax.Precision.HIGHEST,
    )[:, 0, :]  # (n, n_times + n_taps - 1): full convolution
    y = full[:, :n_times]
    if zi is None:
        return y.reshape(x.shape), None
    n_state = n_taps - 1
    zi2 = zi.reshape((-1, n_state))
    k = min(n_state, n_times)
    y = y.at[:, :k].add(zi2[:, :k])
    tail = jnp.pad(full[:, n_times:], ((0, 0), (0, max(0, n_state - (full.shape[1] - n_times)))))[:, :n_state]
    carry = jnp.pad(zi2[:, n_times:], ((0, 0), (0, n_state - zi2[:, n_times:].shape[1])))
    return y.reshape(x.shape), (tail + carry).reshape(zi.shape)


def ba_to_sos_host(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Stable (b, a) -> sections on the host in float64, with the stability check."""
    from scipy.signal import tf2sos

    poles = np.roots(a)
    radius = float(np.max(np.abs(poles))) if poles.size else 0.0
    if not np.isfinite(radius) or radius >= 1.0:
        raise ValueError(
            f"unstable (b, a): the largest pole radius is {radius:.6g} >= 1 (often caused by rounding a high-order "
            "polynomial). Design with output='sos' (e.g. scipy.signal.butter(..., output='sos') or "
            "neurojax.preprocessing.filter.butter_sos) and call sosfilt / IIRFilter instead"
        )
    if len(a) > 5 or radius > 0.999:
        warnings.warn(
            f"(b, a) of order {len(a) - 1} with max pole radius {radius:.6f}: the expanded polynomial has lost "
            "accuracy; prefer second-order sections (output='sos') and sosfilt",
            RuntimeWarning,
            stacklevel=3,
        )
    return tf2sos(b, a)


def fir_with_state(x, b, zi):
    if zi is None:
        return fir_direct(x, b, None)[0]
    if b.shape[0] == 1:
        return x * b[0], jnp.zeros(x.shape[:-1] + (0,), x.dtype)
    zi = jnp.asarray(zi, x.dtype)
    if zi.shape != x.shape[:-1] + (b.shape[0] - 1,):
        raise ValueError(f"zi must have shape {x.shape[:-1] + (b.shape[0] - 1,)} (lfilter layout), got {zi.shape}")
    return fir_direct(x, b, zi)


def biquad_row(b, a, xp):
    """One normalised section from (b, a) of length <= 3 each."""
    b = xp.concatenate([b, xp.zeros(3 - b.shape[0], dtype=b.dtype)])
    a = xp.concatenate([a, xp.zeros(3 - a.shape[0], dtype=a.dtype)])
    return xp.concatenate([b, a])[None, :]


def lfilter_zi_to_sections(zi, x):
    """lfilter-layout state ``(..., n)`` with n <= 2 -> sections layout ``(1, ..., 2)``."""
    zi = jnp.asarray(zi, x.dtype)
    if zi.shape[:-1] != x.shape[:-1] or zi.shape[-1] > 2:
        raise ValueError(f"zi must have shape {x.shape[:-1]} + (order,), got {zi.shape}")
    zi = jnp.pad(zi, [(0, 0)] * (zi.ndim - 1) + [(0, 2 - zi.shape[-1])])
    return zi[None]
