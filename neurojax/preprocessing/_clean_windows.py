"""Automatic selection of clean calibration data (clean_rawdata's ``clean_windows``).

Re-exported by :mod:`neurojax.preprocessing.asr`, whose calibration it feeds.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._asr_calibrate import MIN_CALIBRATION_WINDOWS, rms_window_starts, window_rms_jit
from ._eeg_distribution import fit_eeg_distribution
from ._validate import as_float_array, check_finite, check_sfreq
from ._yulewalk import round_half_away

__all__ = ["clean_windows"]


def clean_windows(
    data: Float[Array, "C S"],
    sfreq: float,
    max_bad_channels: float = 0.075,
    zthresholds: tuple[float, float] = (-3.5, 5.5),
    window_len: float = 1.0,
    window_overlap: float = 0.66,
) -> tuple[Array, np.ndarray]:
    """Select clean calibration data from a recording (clean_rawdata's ``clean_windows``).

    Per channel, the RMS of the raw signal in ``window_len``-second windows (66 % overlap) is
    z-scored with a robust fit of its clean part (:func:`fit_eeg_distribution`). A window is
    dropped when more than ``max_bad_channels`` (a fraction of C if < 1, rounded) channels exceed
    ``zthresholds[1]``, or fall below ``zthresholds[0]``. The defaults are those ``clean_asr`` uses
    for its automatic calibration (0.075, [-3.5, 5.5], 1 s).

    Arguments:
        data: ``(n_channels, n_times)`` high-passed recording.
        sfreq: sampling rate in Hz.

    Returns:
        ``(clean, mask)``: the retained samples concatenated in time (the joins are not smoothed,
        as in the reference) and the boolean ``(n_times,)`` mask of retained samples (NumPy).
    """
    x = as_float_array(data, "data")
    if x.ndim != 2:
        raise ValueError(f"data must be 2-D (n_channels, n_times); got shape {x.shape}")
    check_finite(x, "data")
    fs = check_sfreq(sfreq)
    c, s = x.shape
    n_win = window_len * fs
    starts = rms_window_starts(s, n_win, window_overlap)
    if len(starts) < MIN_CALIBRATION_WINDOWS:
        raise ValueError(
            f"data too short for clean_windows: {len(starts)} windows of {window_len:g} s, "
            f"at least {MIN_CALIBRATION_WINDOWS} are needed (about {(MIN_CALIBRATION_WINDOWS * 0.34 + 1) * window_len:.0f} s)"
        )
    rms = window_rms_jit(x, jnp.asarray(starts), window=n_win)
    mu, sig, _, _ = fit_eeg_distribution(rms)
    z = np.sort(np.asarray((rms - mu[:, None]) / sig[:, None]), axis=0)
    max_bad = int(round_half_away(c * max_bad_channels)) if 0 < max_bad_channels < 1 else int(max_bad_channels)
    lo, hi = min(zthresholds), max(zthresholds)
    remove = np.zeros(len(starts), dtype=bool)
    if hi > 0:
        remove |= z[c - 1 - max_bad] > hi
    if lo < 0:
        remove |= z[max_bad] < lo
    mask = np.ones(s, dtype=bool)
    n_take = int(np.floor(n_win - 1)) + 1
    for st in starts[remove]:
        mask[st : st + n_take] = False
    return x[:, np.flatnonzero(mask)], mask
