"""Butterworth and notch design as closed-form array maths (differentiable in the cutoff).

The design follows the classical route (analog prototype -> frequency transform -> bilinear
transform) written with a *static* pairing of poles into second-order sections, so that it
runs on traced cutoffs under ``jit``/``vmap``/``grad``:

1. Prototype poles ``p_k = -exp(i*pi*(2k - N + 1)/(2N))``, ``k = 0..N-1``, unit gain.
2. Pre-warp with sampling rate 2: ``w = 4*tan(pi*Wn/2)``, ``Wn = f/(sfreq/2)``.
3. Low-pass ``s -> s/w``, high-pass ``s -> w/s``, band-pass / band-stop with centre
   ``w0 = sqrt(w1*w2)`` and width ``bw = w2 - w1``.
4. Bilinear transform ``z = (4 + s)/(4 - s)``; zeros at infinity go to ``z = -1``.
5. Each upper-half-plane prototype pole yields one (LP/HP) or two (BP/BS) conjugate pairs of
   digital poles, i.e. one or two sections ``[1, -2 Re q, |q|^2]``; numerators are fixed by
   the band type. Odd orders add one first-order (LP/HP) or one real-coefficient (BP/BS)
   section. The overall gain goes on the first section.

The section order differs from :func:`scipy.signal.zpk2sos` but the transfer function is the
same. When the cutoff is a concrete number the design runs in NumPy float64 and is cast to
the requested dtype (most accurate); when it is traced it runs in ``jnp`` at the default
precision (float64 under ``jax_enable_x64``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["butter_sos_array", "notch_sos_array", "ringing_samples", "BTYPES", "normalize_btype"]

BTYPES = ("lowpass", "highpass", "bandpass", "bandstop")
_ALIASES = {
    "low": "lowpass",
    "lowpass": "lowpass",
    "lp": "lowpass",
    "high": "highpass",
    "highpass": "highpass",
    "hp": "highpass",
    "band": "bandpass",
    "bandpass": "bandpass",
    "bp": "bandpass",
    "pass": "bandpass",
    "bandstop": "bandstop",
    "stop": "bandstop",
    "bs": "bandstop",
    "notch": "bandstop",
}


def normalize_btype(btype: str) -> str:
    """Map SciPy-style band names ('low', 'highpass', 'band', 'stop', ...) to ours."""
    try:
        return _ALIASES[str(btype).lower()]
    except KeyError:
        raise ValueError(f"btype must be one of {BTYPES} (or 'low', 'high', 'band', 'stop'); got {btype!r}") from None


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _section(xp, num, q1, q2, real_dtype):
    """Real section from a numerator triple and two digital poles (a conjugate or real pair)."""
    a1 = -xp.real(q1 + q2)
    a2 = xp.real(q1 * q2)
    one = xp.ones_like(a1)
    return xp.stack([num[0] * one, num[1] * one, num[2] * one, one, a1, a2]).astype(real_dtype)


def _butter(xp, order: int, wn, btype: str, real_dtype, complex_dtype):
    """Core design in namespace ``xp`` (numpy or jax.numpy); ``wn`` normalised to (0, 1)."""
    n = order
    k_idx = np.arange(n)
    proto = -np.exp(1j * np.pi * (2 * k_idx - n + 1) / (2 * n))  # static numbers
    upper = [proto[k] for k in range(n // 2)]  # imag > 0
    has_real = n % 2 == 1
    warped = 4.0 * xp.tan(np.pi * wn / 2.0)
    sections = []
    if btype in ("lowpass", "highpass"):
        w = warped if xp.ndim(warped) == 0 else warped.reshape(())
        w = w.astype(complex_dtype)
        if btype == "lowpass":
            analog = [p * w for p in upper]
            real_a = -w if has_real else None
            num2, num1 = (1.0, 2.0, 1.0), (1.0, 1.0, 0.0)
            zeros_term = xp.asarray(1.0, complex_dtype)  # no finite analog zeros
            k_a = w**n
        else:
            analog = [w / p for p in upper]
            real_a = -w if has_real else None  # w / (-1)
            num2, num1 = (1.0, -2.0, 1.0), (1.0, -1.0, 0.0)
            zeros_term = xp.asarray(4.0**n, complex_dtype)  # n zeros at s = 0
            k_a = xp.asarray(1.0 / np.real(np.prod(-proto)), complex_dtype)
        bil = lambda s: (4.0 + s) / (4.0 - s)  # noqa: E731
        den = xp.asarray(1.0, complex_dtype)
        for s in analog:
            q = bil(s)
            sections.append(_section(xp, num2, q, xp.conj(q), real_dtype))
            den = den * (4.0 - s) * (4.0 - xp.conj(s))
        if has_real:
            q = bil(real_a)
            sections.append(_section(xp, num1, q, xp.zeros_like(q), real_dtype))
            den = den * (4.0 - real_a)
        gain = xp.real(k_a * zeros_term / den).astype(real_dtype)
    else:
        w1, w2 = warped[0].astype(complex_dtype), warped[1].astype(complex_dtype)
        bw = w2 - w1
        w0sq = w1 * w2
        if btype == "bandpass":
            base = lambda p: p * bw / 2.0  # noqa: E731
            num = (1.0, 0.0, -1.0)
            k_a = bw**n
            zeros_term = xp.asarray(4.0**n, complex_dtype) + 0.0 * bw
        else:
            base = lambda p: (bw / 2.0) / p  # noqa: E731
            cos0 = xp.real((16.0 - w0sq) / (16.0 + w0sq)).astype(real_dtype)
            num = (1.0, -2.0 * cos0, 1.0)
            k_a = xp.asarray(1.0 / np.real(np.prod(-proto)), complex_dtype) + 0.0 * bw
            zeros_term = (16.0 + w0sq) ** n
        bil = lambda s: (4.0 + s) / (4.0 - s)  # noqa: E731
        den = xp.asarray(1.0, complex_dtype)
        for p in upper:
            pl = base(p)
            root = xp.sqrt(pl * pl - w0sq)
            for s in (pl + root, pl - root):
                q = bil(s)
                sections.append(_section(xp, num, q, xp.conj(q), real_dtype))
                den = den * (4.0 - s) * (4.0 - xp.conj(s))
        if has_real:
            pl = base(-1.0 + 0j)
            root = xp.sqrt(pl * pl - w0sq)
            s1, s2 = pl + root, pl - root
            sections.append(_section(xp, num, bil(s1), bil(s2), real_dtype))
            den = den * (4.0 - s1) * (4.0 - s2)
        gain = xp.real(k_a * zeros_term / den).astype(real_dtype)
    sos = xp.stack(sections)
    first = sos[0]
    if xp is np:
        sos = sos.copy()
        sos[0, :3] = first[:3] * gain
    else:
        sos = sos.at[0, :3].set(first[:3] * gain)
    return sos


def butter_sos_array(order: int, wn: Any, btype: str, dtype: Any = None, host: bool = False):
    """Butterworth sections for normalised cutoff(s) ``wn`` in (0, 1) (1 = Nyquist).

    Arguments:
        order: static filter order ``N >= 1`` (band-pass/stop give ``N`` sections).
        wn: scalar (low/high-pass) or length-2 array (band-pass/stop), concrete or traced.
        btype: 'lowpass' | 'highpass' | 'bandpass' | 'bandstop'.
        dtype: output dtype (default: JAX's default float dtype).
        host: return a NumPy float64 array (concrete ``wn`` only), e.g. for host-side
            ringing estimates that must not see float32 rounding.

    Returns:
        ``(n_sections, 6)`` array ``[b0, b1, b2, 1, a1, a2]`` per row.
    """
    if dtype is None:
        dtype = jnp.result_type(float)
    if _is_concrete(wn):
        wn_np = np.asarray(wn, dtype=np.float64)
        sos = _butter(np, order, wn_np, btype, np.float64, np.complex128)
        return sos if host else jnp.asarray(sos.astype(dtype))
    real_dtype = jnp.result_type(float)
    complex_dtype = jnp.result_type(complex)
    wn = jnp.asarray(wn).astype(real_dtype)
    return _butter(jnp, order, wn, btype, real_dtype, complex_dtype).astype(dtype)


def notch_sos_array(freqs, sfreq: float, widths, order: int, dtype: Any = None, host: bool = False):
    """Cascade of Butterworth band-stops, one per frequency, each ``[f - w/2, f + w/2]``."""
    freqs = jnp.atleast_1d(freqs) if not _is_concrete(freqs) else np.atleast_1d(np.asarray(freqs, float))
    widths = jnp.broadcast_to(widths, freqs.shape) if not _is_concrete(widths) else np.broadcast_to(np.asarray(widths, float), freqs.shape)
    nyq = sfreq / 2.0
    blocks = []
    for i in range(freqs.shape[0]):
        lo = (freqs[i] - widths[i] / 2.0) / nyq
        hi = (freqs[i] + widths[i] / 2.0) / nyq
        wn = np.array([lo, hi]) if (_is_concrete(lo) and _is_concrete(hi)) else jnp.stack([lo, hi])
        blocks.append(butter_sos_array(order, wn, "bandstop", dtype, host=host))
    return np.concatenate(blocks, axis=0) if host else jnp.concatenate(blocks, axis=0)


def ringing_samples(sos: np.ndarray, max_try: int = 100000) -> int:
    """Length of the significant impulse response (MNE's ``estimate_ringing_samples`` rule).

    Filters a unit impulse in chunks of 1000 samples carrying the state; the threshold is the
    running maximum of ``1e-3 * max|h|`` per chunk; returns the last index above it once a
    chunk has no such index. Host-side NumPy/SciPy; the result is a static Python int.
    """
    from scipy.signal import sosfilt, sosfilt_zi

    sos = np.array(sos, dtype=np.float64, copy=True)
    n_chunk = 1000
    n_chunks = int(math.ceil(max_try / float(n_chunk)))
    x = np.zeros(n_chunk)
    x[0] = 1.0
    zi = np.zeros_like(sosfilt_zi(sos))
    last_good = n_chunk
    thresh_val = 0.0
    idx = 0
    for ii in range(n_chunks):
        h, zi = sosfilt(sos, x, zi=zi)
        x[0] = 0.0
        thresh_val = max(0.001 * np.max(np.abs(h)), thresh_val)
        idx = np.where(np.abs(h) > thresh_val)[0]
        if len(idx) > 0:
            last_good = idx[-1]
        else:
            idx = (ii - 1) * n_chunk + last_good
            break
    else:
        warnings.warn(f"Could not properly estimate the ringing length; using {max_try} samples", RuntimeWarning, stacklevel=2)
        idx = max_try
    return int(idx)
