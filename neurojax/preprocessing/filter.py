"""IIR filtering along the last (time) axis: SciPy/MNE-compatible and differentiable.

Pure functions first, then the :class:`IIRFilter` layer.

* :func:`filter_data` -- the tutorial entry point ``filter_data(data, b, a)``: causal
  filtering with ``scipy.signal.lfilter`` semantics. FIR coefficients (``a = [1]``) are applied
  by direct convolution; IIR (b, a) are checked for stability and converted to second-order
  sections on the host (the expanded polynomial is unusable in float32).
* :func:`sosfilt`, :func:`sosfilt_zi`, :func:`sosfiltfilt` -- SciPy semantics (odd/even/
  constant padding, default pad length, steady-state initial conditions, ``zi``/``zf`` for
  streaming).
* :func:`iir_filter` / :func:`notch_filter` -- MNE's ``filter_data(method='iir')`` /
  ``notch_filter(method='iir')`` presets (4th-order Butterworth, ringing-length
  ``reflect_limited`` padding).
* :func:`butter_sos`, :func:`notch_sos` -- Butterworth design in array maths; the cutoff may
  be a traced array, so ``d(loss)/d(cutoff)`` exists.
* :class:`IIRFilter` -- Equinox layer with learnable cutoff(s).

Numerics: the cascade of sections runs as one state-space system, either one sample per
``lax.scan`` step (``method='scan'``) or in blocks of ``block_len`` samples where all but an
``n_times/block_len``-step recursion is matrix products (``method='block'``, faster). For
concrete coefficients the block operators are built on the host in float64; in float32 they
use a balanced state basis, which makes the block method *more* accurate than SciPy's float32
``sosfilt`` (e.g. 4e-7 vs 3.3e-3 of the peak for a 0.1 Hz high-pass at 1 kHz). ``'auto'``
picks: float64 -> block, or scan when a pole lies within 1e-3 of the unit circle; float32 ->
block, except concrete sections whose state basis cannot be balanced (scan). For a traced
(learnable) design in float32 the block operators still come from the float64 host build, through
a callback, with derivatives from JAX (``_host_design``): same accuracy as for concrete sections.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._design import butter_sos_array, normalize_btype, notch_sos_array, ringing_samples
from ._iir import DEFAULT_BLOCK_LEN, ZERO_PHASE_BLOCK_LEN
from ._lfilter import ba_to_sos_host, biquad_row, fir_direct, fir_with_state, lfilter_zi_to_sections
from ._padding import edge_pieces
from ._sos_engine import (
    check_sos,
    forward_backward,
    max_pole_radius as max_pole_radius,  # re-exported: used by tests and benchmarks
    prepare_data,
    resolve_method,
    run_sections,
    sosfilt_zi as sosfilt_zi,  # public, documented with the SciPy-compatible functions
)
from ._validate import check_finite, check_frequency, check_sfreq, is_traced

__all__ = [
    "filter_data",
    "sosfilt",
    "sosfilt_zi",
    "sosfiltfilt",
    "butter_sos",
    "notch_sos",
    "sos_padlen",
    "mne_padlen",
    "iir_filter",
    "notch_filter",
    "IIRFilter",
]

Method = Literal["auto", "block", "scan"]
_PADTYPES = ("odd", "even", "constant", None)


# --------------------------------------------------------------------------------------------
# SciPy-compatible functions
# --------------------------------------------------------------------------------------------


def sosfilt(
    sos: Float[Array, "n_sections 6"],
    x: Float[Array, "*batch n_times"],
    zi: Float[Array, "n_sections *batch 2"] | None = None,
    *,
    method: Method = "auto",
    block_len: int = DEFAULT_BLOCK_LEN,
):
    """Causal filtering by second-order sections along the last axis (``scipy.signal.sosfilt``).

    Arguments:
        sos: ``(n_sections, 6)`` rows ``[b0, b1, b2, a0, a1, a2]`` (concrete or traced).
        x: input, time on the last axis, any leading batch axes.
        zi: initial state ``(n_sections, *batch, 2)`` (SciPy's layout); zero when ``None``.
        method: ``'block'`` (matrix-product blocks), ``'scan'`` (one sample per step) or
            ``'auto'`` (see the module notes).
        block_len: samples per block for ``method='block'``.

    Returns:
        ``y`` (same shape as ``x``), or ``(y, zf)`` when ``zi`` is given: filtering a signal in
        consecutive chunks and passing each ``zf`` as the next ``zi`` equals one call.
    """
    x = prepare_data(x, "x")
    sos = check_sos(sos, x.dtype)
    method = resolve_method(method, x.dtype, sos)
    batch = x.shape[:-1]
    n_sections = sos.shape[0]
    x2 = x.reshape((-1, x.shape[-1]))
    if zi is None:
        s0 = jnp.zeros((x2.shape[0], 2 * n_sections), x.dtype)
    else:
        zi = jnp.asarray(zi, x.dtype)
        expected = (n_sections, *batch, 2)
        if zi.shape != expected:
            raise ValueError(f"zi must have shape (n_sections, *batch, 2) = {expected}, got {zi.shape}")
        s0 = jnp.moveaxis(zi, 0, -2).reshape((-1, 2 * n_sections))
    y, s_end = run_sections(sos, x2, s0, method, block_len)
    y = y.reshape(x.shape)
    if zi is None:
        return y
    zf = jnp.moveaxis(s_end.reshape((*batch, n_sections, 2)), -2, 0)
    return y, zf


def sos_padlen(sos: Any) -> int:
    """SciPy's default ``sosfiltfilt`` pad length ``3 (2 K + 1 - min(#{b2 = 0}, #{a2 = 0}))``.

    Needs concrete coefficients; for a traced design pass ``padlen`` explicitly (e.g. computed
    from a concrete design with the same order and band type).
    """
    if is_traced(sos):
        raise TypeError("the default pad length needs concrete sos; pass padlen=... explicitly for traced sos")
    sos = np.asarray(sos)
    ntaps = 2 * sos.shape[0] + 1
    ntaps -= min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * ntaps


def sosfiltfilt(
    sos: Float[Array, "n_sections 6"],
    x: Float[Array, "*batch n_times"],
    padtype: str | None = "odd",
    padlen: int | None = None,
    *,
    method: Method = "auto",
    block_len: int = ZERO_PHASE_BLOCK_LEN,
) -> Float[Array, "*batch n_times"]:
    """Zero-phase forward-backward filtering (``scipy.signal.sosfiltfilt``, method 'pad').

    The signal is extended by ``padlen`` samples at both ends (``padtype`` 'odd' point
    reflection, 'even' mirror, 'constant' end value, or ``None``), filtered forward from the
    steady state ``sosfilt_zi(sos) * ext[0]``, reversed, filtered again from
    ``sosfilt_zi(sos) * y[-1]``, reversed and cropped. The magnitude response is ``|H|^2``.

    Arguments:
        sos: ``(n_sections, 6)`` sections.
        x: input, time on the last axis.
        padtype: 'odd' | 'even' | 'constant' | None.
        padlen: pad length; default ``sos_padlen(sos)`` (27 for 4 sections).
        method: see :func:`sosfilt`.
        block_len: samples per block of the fused zero-phase kernel (default 64, faster on CPU).

    Returns:
        The filtered signal, same shape as ``x``.

    Raises:
        ValueError: unknown ``padtype``, or ``x`` not longer than ``padlen``.
    """
    if padtype not in _PADTYPES:
        raise ValueError(f"padtype must be one of 'odd', 'even', 'constant' or None; got {padtype!r}")
    x = prepare_data(x, "x", defer_traced_check=True)
    if padlen is None:
        padlen = sos_padlen(sos)
    padlen = 0 if padtype is None else int(padlen)
    if padlen < 0:
        raise ValueError(f"padlen must be >= 0, got {padlen}")
    if x.shape[-1] <= padlen:
        raise ValueError(
            f"The length of the input vector x ({x.shape[-1]} samples) must be greater than padlen, which is "
            f"{padlen}; use a longer signal, a smaller padlen, or padtype=None"
        )
    sos = check_sos(sos, x.dtype)
    method = resolve_method(method, x.dtype, sos)
    x2 = x.reshape((-1, x.shape[-1]))
    left, right = edge_pieces(x2, padtype, padlen)
    y = forward_backward(sos, x2, left, right, method, block_len, check_traced=True)
    return y.reshape(x.shape)


# --------------------------------------------------------------------------------------------
# Tutorial entry point: (b, a)
# --------------------------------------------------------------------------------------------


def filter_data(
    data: Float[Array, "*batch n_times"],
    b: Any,
    a: Any,
    *,
    zi: Any = None,
    method: Method = "auto",
):
    """Causal filter along the last axis with ``scipy.signal.lfilter`` semantics.

    ``y[t] = (sum_i b_i x[t-i] - sum_{j>=1} a_j y[t-j]) / a_0`` with zero initial state.

    * FIR (``len(a) == 1``): exact direct convolution (traced ``b`` allowed).
    * IIR with concrete coefficients: the poles are computed on the host in float64; an
      unstable polynomial raises ``ValueError``; otherwise it is converted to second-order
      sections and filtered by :func:`sosfilt` (finite in float32, unlike the raw direct form).
    * IIR with traced coefficients (inside ``jit``/``grad``): a single biquad
      (``len(a) <= 3``) is supported; higher orders raise ``TypeError``.

    Arguments:
        data: ``(..., n_times)`` array (1-D or batched).
        b: numerator coefficients.
        a: denominator coefficients (``a[0] != 0``).
        zi: optional initial state in ``lfilter``'s layout ``(..., max(len(a), len(b)) - 1)``;
            supported for FIR and single-biquad filters. When given, returns ``(y, zf)``.
        method: see :func:`sosfilt`.

    Returns:
        The filtered array (same shape as ``data``), or ``(y, zf)`` when ``zi`` is given.
    """
    x = prepare_data(data)
    b_arr = jnp.atleast_1d(jnp.asarray(b) if is_traced(b) else jnp.asarray(np.asarray(b, dtype=np.float64)))
    a_arr = jnp.atleast_1d(jnp.asarray(a) if is_traced(a) else jnp.asarray(np.asarray(a, dtype=np.float64)))
    if b_arr.ndim != 1 or a_arr.ndim != 1 or b_arr.shape[0] < 1 or a_arr.shape[0] < 1:
        raise ValueError(f"b and a must be non-empty 1-D coefficient arrays, got shapes {b_arr.shape} and {a_arr.shape}")
    traced = is_traced(b) or is_traced(a)
    if not traced:
        a_np = np.trim_zeros(np.asarray(a, dtype=np.float64).ravel(), "b")
        b_np = np.asarray(b, dtype=np.float64).ravel()
        if a_np.size == 0 or a_np[0] == 0:
            raise ValueError("a[0] must be non-zero (lfilter normalises by it)")
        if not (np.all(np.isfinite(a_np)) and np.all(np.isfinite(b_np))):
            raise ValueError("b and a must be finite")
        b_np, a_np = b_np / a_np[0], a_np / a_np[0]
        if a_np.size == 1:
            return fir_with_state(x, jnp.asarray(b_np, x.dtype), zi)
        if zi is not None and max(a_np.size, b_np.size) > 3:
            raise ValueError(
                "zi is supported for FIR and single-biquad (len(a) <= 3) filters only; for higher orders use "
                "sosfilt(sos, x, zi) with the sections' state layout"
            )
        sos = ba_to_sos_host(b_np, a_np) if max(a_np.size, b_np.size) > 3 else biquad_row(b_np, a_np, np)
        if zi is None:
            return sosfilt(sos, x, method=method)
        return _biquad_with_zi(sos, x, zi, method)
    a_arr = a_arr.astype(x.dtype)
    b_arr = b_arr.astype(x.dtype) / a_arr[0]
    a_arr = a_arr / a_arr[0]
    if a_arr.shape[0] == 1:
        return fir_with_state(x, b_arr, zi)
    if a_arr.shape[0] > 3:
        raise TypeError(
            f"traced IIR (b, a) of order {a_arr.shape[0] - 1} cannot be checked for stability or factored under jit; "
            "pass concrete coefficients, or sections (sosfilt / butter_sos / IIRFilter)"
        )
    if b_arr.shape[0] > 3:
        if zi is not None:
            raise TypeError("zi with traced b longer than 3 taps and an IIR a is not supported; use sosfilt")
        x_fir, _ = fir_direct(x, b_arr, None)
        sos = biquad_row(jnp.ones((1,), x.dtype), a_arr, jnp)
        return sosfilt(sos, x_fir, method=method)
    sos = biquad_row(b_arr, a_arr, jnp)
    if zi is None:
        return sosfilt(sos, x, method=method)
    return _biquad_with_zi(sos, x, zi, method)


def _biquad_with_zi(sos, x, zi, method):
    """One section with an lfilter-layout state (a biquad's DF-II-T state is lfilter's)."""
    zi = jnp.asarray(zi, x.dtype)
    order = zi.shape[-1]
    y, zf = sosfilt(sos, x, lfilter_zi_to_sections(zi, x), method=method)
    return y, zf[0][..., :order]


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------


def butter_sos(
    order: int,
    cutoff: Any,
    sfreq: float,
    btype: str = "lowpass",
    *,
    dtype: Any = None,
    host: bool = False,
) -> Float[Array, "n_sections 6"]:
    """Butterworth filter as second-order sections (``scipy.signal.butter(..., output='sos')``).

    Arguments:
        order: filter order ``N >= 1`` (static). Band-pass/stop designs have ``2N`` poles in
            ``N`` sections; low/high-pass ``ceil(N/2)`` sections.
        cutoff: -3 dB frequency in Hz: a scalar for 'lowpass'/'highpass', ``(low, high)`` for
            'bandpass'/'bandstop'. May be a traced array (differentiable design).
        sfreq: sampling rate in Hz (static).
        btype: 'lowpass' | 'highpass' | 'bandpass' | 'bandstop' (SciPy's short names work).
        dtype: output dtype (default JAX's default float).
        host: return a NumPy float64 array instead (concrete cutoff only), independent of
            ``jax_enable_x64``.

    Returns:
        ``(n_sections, 6)`` sections. The transfer function equals SciPy's (the section order
        may differ).

    Raises:
        ValueError: cutoff outside (0, Nyquist), wrong number of cutoffs, low >= high.
    """
    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    sfreq = check_sfreq(sfreq)
    btype = normalize_btype(btype)
    nyq = sfreq / 2.0
    n_expected = 2 if btype in ("bandpass", "bandstop") else 1
    if is_traced(cutoff):
        cutoff = jnp.asarray(cutoff)
        if cutoff.size != n_expected:
            raise ValueError(f"{btype} needs {n_expected} cutoff frequencies, got shape {cutoff.shape}")
        cutoff = check_frequency(cutoff, sfreq)
        if n_expected == 2:
            cutoff = eqx.error_if(cutoff, cutoff.reshape(-1)[0] >= cutoff.reshape(-1)[1], f"{btype} needs low < high")
        wn = cutoff.reshape(-1) / nyq
        wn = wn if n_expected == 2 else wn[0]
    else:
        values = np.atleast_1d(np.asarray(cutoff, dtype=np.float64)).ravel()
        if values.size != n_expected:
            raise ValueError(f"{btype} needs {n_expected} cutoff frequenc{'ies' if n_expected == 2 else 'y'} in Hz, got {values.tolist()}")
        check_frequency(values, sfreq)
        if n_expected == 2 and values[0] >= values[1]:
            raise ValueError(f"{btype} needs low < high, got {values.tolist()} Hz")
        wn = values / nyq if n_expected == 2 else values[0] / nyq
    if host:
        if is_traced(wn):
            raise TypeError("a host (NumPy) design needs a concrete cutoff")
        return butter_sos_array(int(order), wn, btype, host=True)
    sos = butter_sos_array(int(order), wn, btype, dtype)
    if not is_traced(wn) and jnp.dtype(sos.dtype) == jnp.float32 and np.min(np.atleast_1d(wn)) / 2.0 < 1e-3:
        warnings.warn(
            f"float32 design with cutoff/sfreq = {np.min(np.atleast_1d(wn)) / 2.0:.1e} < 1e-3: poles lie within ~1e-3 of z = 1 "
            "and float32 filtering errors reach ~1% of the peak (as in SciPy); enable jax_enable_x64 for accuracy",
            RuntimeWarning,
            stacklevel=2,
        )
    return sos


def notch_sos(
    freqs: Any,
    sfreq: float,
    *,
    n_harmonics: int = 0,
    notch_widths: Any = None,
    trans_bandwidth: float = 1.0,
    order: int = 4,
    dtype: Any = None,
    host: bool = False,
) -> Float[Array, "n_sections 6"]:
    """Butterworth band-stop cascade removing line noise, MNE's IIR notch design.

    Each frequency ``f`` gets ``butter(order, [f - w/2 - tb/2, f + w/2 + tb/2], 'bandstop')``
    with ``w = notch_widths`` (default ``f/200``) and ``tb = trans_bandwidth`` (MNE: 1 Hz), i.e.
    49.375-50.625 Hz for 50 Hz. ``n_harmonics > 0`` appends ``2f, 3f, ...`` (those below
    Nyquist) as further band-stops in the cascade (our extension; MNE's IIR notch takes one
    frequency).

    Arguments:
        freqs: line frequency in Hz, or a sequence of frequencies.
        sfreq: sampling rate in Hz.
        n_harmonics: number of harmonics added per frequency.
        notch_widths: stop-band width(s) in Hz (default ``freqs/200``).
        trans_bandwidth: added to the width (MNE semantics), Hz.
        order: Butterworth order of each band-stop.

    Returns:
        ``(order * n_notches, 6)`` sections.
    """
    sfreq = check_sfreq(sfreq)
    nyq = sfreq / 2.0
    base = np.atleast_1d(np.asarray(freqs, dtype=np.float64)).ravel()
    if base.size == 0 or not np.all(np.isfinite(base)) or np.any(base <= 0):
        raise ValueError(f"freqs must be positive frequencies in Hz, got {base.tolist()}")
    all_f = [f * k for f in base for k in range(1, n_harmonics + 2) if f * k < nyq]
    if not all_f:
        raise ValueError(f"no notch frequency below Nyquist ({nyq:g} Hz) in {base.tolist()}")
    all_f = np.asarray(all_f)
    widths = all_f / 200.0 if notch_widths is None else np.broadcast_to(np.asarray(notch_widths, float), all_f.shape)
    widths = widths + trans_bandwidth
    lo, hi = all_f - widths / 2, all_f + widths / 2
    if np.any(lo <= 0) or np.any(hi >= nyq):
        raise ValueError(f"notch bands {np.c_[lo, hi].tolist()} Hz must lie inside (0, {nyq:g}) Hz; narrow them or drop harmonics")
    return notch_sos_array(all_f, sfreq, widths, order, dtype, host=host)


# --------------------------------------------------------------------------------------------
# MNE presets
# --------------------------------------------------------------------------------------------


def _band(l_freq, h_freq) -> tuple[str, Any]:
    if l_freq is None and h_freq is None:
        raise ValueError("at least one of l_freq and h_freq must be given")
    if l_freq is not None and h_freq is not None:
        lf, hf = float(np.asarray(l_freq)), float(np.asarray(h_freq))
        if lf == hf:
            raise ValueError(f"l_freq and h_freq are equal ({lf} Hz); give a band")
        if lf < hf:
            return "bandpass", [l_freq, h_freq]
        return "bandstop", [h_freq, l_freq]
    if l_freq is not None:
        return "highpass", l_freq
    return "lowpass", h_freq


def mne_padlen(sos: Any) -> int:
    """MNE's default IIR pad length: the ringing length of ``sos`` (``estimate_ringing_samples``).

    1578 samples for the 4th-order 1-40 Hz band-pass at 1 kHz, 514 for a 1 Hz high-pass.
    """
    if is_traced(sos):
        raise TypeError("mne_padlen needs concrete sections; compute it once from the initial design")
    return ringing_samples(np.asarray(sos, dtype=np.float64))


def _apply_mne(sos, x: jax.Array, padlen: int, phase: str, method: str, block_len: int | None,
               check_traced: bool = False):
    """MNE's IIR application; ``check_traced``: the caller deferred the NaN/Inf check of traced ``x``.

    ``block_len=None`` picks per pass: the zero-phase kernel and the causal pass have different optima.
    """
    method = resolve_method(method, x.dtype, sos)
    if block_len is None:
        block_len = DEFAULT_BLOCK_LEN if phase == "forward" else ZERO_PHASE_BLOCK_LEN
    x2 = x.reshape((-1, x.shape[-1]))
    if phase == "forward":
        if check_traced:
            x2 = check_finite(x2, "data")
        y, _ = run_sections(sos, x2, jnp.zeros((x2.shape[0], 2 * sos.shape[0]), x.dtype), method, block_len)
        return y.reshape(x.shape)
    padlen = min(int(padlen), x.shape[-1] - 1)
    left, right = edge_pieces(x2, "odd", padlen)
    y = forward_backward(sos, x2, left, right, method, block_len, check_traced=check_traced)
    return y.reshape(x.shape)


def iir_filter(
    data: Float[Array, "*batch n_times"],
    sfreq: float,
    l_freq: float | None,
    h_freq: float | None,
    *,
    order: int = 4,
    phase: Literal["zero", "zero-double", "forward"] = "zero",
    padlen: int | None = None,
    method: Method = "auto",
    block_len: int | None = None,
) -> Float[Array, "*batch n_times"]:
    """MNE's ``filter_data(data, sfreq, l_freq, h_freq, method='iir')`` (Butterworth, SOS).

    Band selection as MNE: both frequencies -> band-pass (band-stop when ``l_freq > h_freq``),
    only ``l_freq`` -> high-pass, only ``h_freq`` -> low-pass. The cutoff is the -3 dB point of
    one pass, so the zero-phase result is -6 dB there. Zero phase: pad both ends by
    ``min(padlen, n_times - 1)`` samples of odd reflection (``reflect_limited``), run
    ``sosfiltfilt`` with ``padlen=0``, crop. ``padlen`` defaults to MNE's ringing estimate
    :func:`mne_padlen`. ``phase='forward'``: causal, zero initial state.

    Returns:
        The filtered array, same shape as ``data``.
    """
    if phase not in ("zero", "zero-double", "forward"):
        raise ValueError(f"phase must be 'zero', 'zero-double' or 'forward', got {phase!r}")
    x = prepare_data(data, defer_traced_check=True)
    btype, cutoff = _band(l_freq, h_freq)
    sos = butter_sos(order, cutoff, sfreq, btype, host=True)  # float64 on the host, cast at use
    if padlen is None:
        padlen = mne_padlen(sos)
    return _apply_mne(sos, x, padlen, phase, method, block_len, check_traced=True)


def notch_filter(
    data: Float[Array, "*batch n_times"],
    sfreq: float,
    freqs: Any,
    *,
    n_harmonics: int = 0,
    notch_widths: Any = None,
    trans_bandwidth: float = 1.0,
    order: int = 4,
    phase: Literal["zero", "zero-double", "forward"] = "zero",
    padlen: int | None = None,
    method: Method = "auto",
) -> Float[Array, "*batch n_times"]:
    """MNE's ``notch_filter(method='iir')``: zero-phase Butterworth band-stop(s) around ``freqs``.

    See :func:`notch_sos` for the design; padding as :func:`iir_filter` (ringing length of the
    whole cascade by default). With one frequency and ``n_harmonics=0`` this equals MNE.
    """
    x = prepare_data(data, defer_traced_check=True)
    sos = notch_sos(freqs, sfreq, n_harmonics=n_harmonics, notch_widths=notch_widths, trans_bandwidth=trans_bandwidth,
                    order=order, host=True)
    if padlen is None:
        padlen = mne_padlen(sos)
    return _apply_mne(sos, x, padlen, phase, method, None, check_traced=True)


# --------------------------------------------------------------------------------------------
# Equinox layer
# --------------------------------------------------------------------------------------------


class IIRFilter(eqx.Module):
    """Butterworth IIR filter layer with learnable cutoff(s).

    The sections are designed inside ``__call__`` from the ``cutoff`` array field, so
    ``eqx.filter_grad`` gives ``d(loss)/d(cutoff)``. Everything else is static.

    Attributes:
        cutoff: -3 dB frequency in Hz (shape ``()`` for low/high-pass, ``(2,)`` for band).
        sfreq: sampling rate in Hz.
        order: Butterworth order.
        btype: 'lowpass' | 'highpass' | 'bandpass' | 'bandstop'.
        zero_phase: forward-backward filtering when True, causal when False.
        padding: zero-phase edge handling: 'mne' (ringing-length reflect_limited, MNE's
            ``filter_data(method='iir')``), 'odd' | 'even' | 'constant' (SciPy ``sosfiltfilt``)
            or None (no padding).
        padlen: pad length (static int). ``None`` at construction -> computed from the initial
            design ('mne': ringing length; SciPy pads: ``sos_padlen``) and frozen while training.
        method: 'auto' | 'block' | 'scan' (see :func:`sosfilt`).

    Example:
        >>> layer = IIRFilter(jnp.array([1.0, 40.0]), sfreq=1000.0, btype="bandpass")
        >>> y = layer(x)  # x: (..., n_times)
    """

    cutoff: Float[Array, "..."]
    sfreq: float = eqx.field(static=True)
    order: int = eqx.field(static=True, default=4)
    btype: str = eqx.field(static=True, default="bandpass")
    zero_phase: bool = eqx.field(static=True, default=True)
    padding: str | None = eqx.field(static=True, default="mne")
    padlen: int | None = eqx.field(static=True, default=None)
    method: str = eqx.field(static=True, default="auto")
    # Pipeline.trainable_filter exposes only these fields to an optimiser.
    trainable_fields: ClassVar[tuple[str, ...]] = ("cutoff",)

    def __init__(
        self,
        cutoff: Any,
        sfreq: float,
        order: int = 4,
        btype: str = "bandpass",
        zero_phase: bool = True,
        padding: str | None = "mne",
        padlen: int | None = None,
        method: str = "auto",
    ):
        self.sfreq = check_sfreq(sfreq)
        self.order = int(order)
        self.btype = normalize_btype(btype)
        if padding not in ("mne", "odd", "even", "constant", None):
            raise ValueError(f"padding must be 'mne', 'odd', 'even', 'constant' or None, got {padding!r}")
        resolve_method(method, jnp.float32)
        self.zero_phase = bool(zero_phase)
        self.padding = padding
        self.method = method
        if is_traced(cutoff):  # built inside a transformation: range checked in __call__ at run time
            if padlen is None and self.zero_phase and padding is not None:
                raise ValueError(
                    "IIRFilter built from a traced cutoff needs an explicit padlen (the default is computed from a "
                    "concrete design); pass padlen=IIRFilter(<initial cutoff>, ...).padlen"
                )
        else:
            sos0 = butter_sos(self.order, cutoff, self.sfreq, self.btype, host=True)  # validates cutoff eagerly
            if padlen is None and self.zero_phase:
                padlen = mne_padlen(sos0) if padding == "mne" else (0 if padding is None else sos_padlen(sos0))
        self.padlen = None if padlen is None else int(padlen)
        self.cutoff = jnp.asarray(cutoff, dtype=jnp.result_type(float))

    @property
    def sos(self) -> jax.Array:
        """The current sections (designed from ``cutoff``)."""
        return butter_sos(self.order, self.cutoff, self.sfreq, self.btype)

    def __call__(self, x: Float[Array, "*batch n_times"]) -> Float[Array, "*batch n_times"]:
        x = prepare_data(x, "x", defer_traced_check=True)  # checked by the filter functions below
        sos = butter_sos(self.order, self.cutoff, self.sfreq, self.btype, dtype=x.dtype)
        if not self.zero_phase:
            return sosfilt(sos, x, method=self.method)
        if self.padding == "mne":
            return _apply_mne(sos, x, self.padlen, "zero", self.method, ZERO_PHASE_BLOCK_LEN, check_traced=True)
        return sosfiltfilt(sos, x, padtype=self.padding, padlen=self.padlen, method=self.method)
