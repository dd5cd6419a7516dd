"""Yule-Walker IIR design and the ASR spectral-shaping filter (host-side NumPy, float64).

The ASR statistics are computed on a copy of the data passed through an order-8 IIR filter whose
magnitude response emphasises the delta band (blinks) and > 40 Hz (muscle) and attenuates
3-13 Hz. clean_rawdata designs it with MATLAB's ``yulewalk`` (Friedlander & Porat, IEEE TAES
20(2), 1984); the design below follows that procedure step by step so the coefficients agree with
MATLAB's tables (see ``tests/preprocessing/test_asr_calibrate.py``). The design is a constant
of the sampling rate and never enters a gradient.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["yulewalk", "shaping_filter_ba", "shaping_filter_sos", "round_half_away"]


def round_half_away(x):
    """MATLAB ``round``: halves go away from zero (NumPy rounds them to even)."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _desired_magnitude(freqs: np.ndarray, gains: np.ndarray, n_points: int = 513) -> np.ndarray:
    """Piecewise-linear target magnitude on ``n_points`` frequencies from 0 to Nyquist."""
    d = np.zeros(n_points)
    d[0] = gains[0]
    start = 0
    transition = int(np.fix((n_points - 1) / 25))  # 20 points, only for vertical steps
    for i in range(len(freqs) - 1):
        if freqs[i + 1] == freqs[i]:
            start -= transition // 2
            stop = start + transition
        else:
            stop = int(np.fix(freqs[i + 1] * n_points)) - 1
        idx = np.arange(start, stop + 1)
        frac = 0.0 if stop == start else (idx - start) / (stop - start)
        d[start : stop + 1] = frac * gains[i + 1] + (1 - frac) * gains[i]
        start = stop + 1
    return d


def _numerator_fit(h: np.ndarray, a: np.ndarray, n_b: int) -> np.ndarray:
    """Least-squares numerator (``n_b + 1`` taps) so that the impulse response of ``b/a`` is ``h``."""
    impulse = np.zeros(len(h))
    impulse[0] = 1.0
    g = signal.lfilter([1.0], a, impulse)
    # Convolution matrix: column k is g delayed by k samples.
    conv = np.zeros((len(h), n_b + 1))
    for k in range(n_b + 1):
        conv[k:, k] = g[: len(h) - k]
    return np.linalg.lstsq(conv, h, rcond=None)[0]


def _stabilise(a: np.ndarray) -> np.ndarray:
    """Reflect roots outside the unit circle to ``1 / conj(root)`` (MATLAB ``polystab``)."""
    roots = np.roots(a)
    outside = np.abs(roots) > 1
    roots[outside] = 1.0 / np.conj(roots[outside])
    return np.real(a[0] * np.poly(roots))


def yulewalk(order: int, freqs, gains) -> tuple[np.ndarray, np.ndarray]:
    """Recursive IIR design ``(b, a)`` matching the magnitude ``gains`` at normalised ``freqs``.

    Arguments:
        order: filter order (``order + 1`` coefficients in ``b`` and in ``a``).
        freqs: breakpoints in units of Nyquist, increasing from 0 to 1.
        gains: desired magnitude at each breakpoint (linear interpolation in between).

    Returns:
        ``(b, a)`` with ``a[0] == 1``: denominator from the modified Yule-Walker equations on 4*order
        tapered autocorrelation lags, numerator from a cepstral minimum-phase factorisation of the
        power response followed by a least-squares impulse-response fit.
    """
    freqs = np.asarray(freqs, dtype=float)
    gains = np.asarray(gains, dtype=float)
    d = _desired_magnitude(freqs, gains)
    full = np.concatenate([d, d[-2:0:-1]])  # two-sided, length 1024
    n_fft = full.size
    n_lags = 4 * order
    lags = np.arange(n_lags)
    r = np.real(np.fft.ifft(full * full))[:n_lags] * (0.54 + 0.46 * np.cos(np.pi * lags / (n_lags - 1)))

    # Modified Yule-Walker: sum_j a_j r[m - j] = -r[m] for m = order+1 .. n_lags-1.
    rows = np.arange(order + 1, n_lags)
    lhs = r[np.abs(rows[:, None] - np.arange(1, order + 1)[None, :])]
    a = np.concatenate([[1.0], np.linalg.lstsq(lhs, -r[rows], rcond=None)[0]])
    a = _stabilise(a)

    # Additive decomposition of the power response, then its minimum-phase spectral factor.
    q = _numerator_fit(np.concatenate([[r[0] / 2], r[1:]]), a, order)
    _, resp = signal.freqz(q, a, worN=n_fft, whole=True)
    power = 2 * np.real(resp)
    half = (n_fft + 1) // 2
    weight = np.concatenate([[0.5], np.ones(half - 1), np.zeros(n_fft - half)])
    cep = np.fft.ifft(np.log(power.astype(complex)))
    h_min = np.fft.ifft(np.exp(np.fft.fft(weight * cep)))
    b = np.real(_numerator_fit(h_min[:n_lags], a, order))
    return b, a


def shaping_filter_ba(sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """clean_rawdata's spectral-shaping filter for ``sfreq`` Hz as ``(b, a)`` (order 8, float64).

    Target gains 3, 0.75, 0.33, 0.33, 1, 1, 3, 3 at 0, 2, 3, 13, 16, 40, min(80, fs/2 - 1) Hz and
    Nyquist; below 80 Hz sampling the 40-Hz breakpoint and the last gain are dropped. At 1 kHz and
    above the order-8 fit cannot resolve the 2-16 Hz breakpoints (reference behaviour, kept).
    """
    nyq = sfreq / 2.0
    freqs = np.array([0, 2, 3, 13, 16, 40, min(80.0, nyq - 1.0), nyq]) * 2.0 / sfreq
    gains = np.array([3, 0.75, 0.33, 0.33, 1, 1, 3, 3], dtype=float)
    if sfreq < 80:
        freqs = np.delete(freqs, -3)
        gains = gains[:-1]
    return yulewalk(8, freqs, gains)


def shaping_filter_sos(sfreq: float) -> np.ndarray:
    """The shaping filter as second-order sections ``(4, 6)`` (stable in float32 too)."""
    b, a = shaping_filter_ba(sfreq)
    return signal.tf2sos(b, a)
