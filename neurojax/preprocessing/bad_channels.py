"""Bad-channel detection with PREP-style criteria (Bigdely-Shamlo et al., 2015), jittable.

Every criterion scores each channel against the other channels *of the same type* (EEG,
gradiometers and magnetometers are scored separately, since their scales differ by orders of
magnitude); channels of non-data types (stim, EOG, ECG, misc, ...) are never flagged.

Criteria (scores are returned for all of them, the mask is their union):

* ``flat``: non-finite samples, or a robust standard deviation (``1.4826 * MAD``) or plain
  standard deviation below ``flat_threshold`` (PREP: 1e-15 in SI units).
* ``deviation``: robust amplitude ``a = 0.7413 * IQR`` per channel; robust z-score of ``log a``
  across the group (median / ``1.4826 * MAD``); ``|z| > deviation_threshold`` (5). PREP z-scores
  ``a`` itself; the log makes the test symmetric, so a low-variance (disconnected/bridged) channel
  is caught as readily as a noisy one (on ``mne_test_raw`` EEG 053, 0.37x the median std, scores
  z = -5.7 in log but only -4.2 linearly).
* ``correlation``: data low-passed at 50 Hz and cut in windows (1 s); per window the largest
  absolute correlation with any other channel of the group; a window is bad below
  ``correlation_threshold`` (0.4, PREP); the score is the fraction of bad windows and the channel
  is flagged when it exceeds ``bad_window_fraction`` (default 0.2; PREP's 0.01 flags a dozen
  healthy planar gradiometers of ``mne_test_raw``, whose neighbours are by design weakly
  correlated).
* ``hf_noise``: ``MAD(x - lowpass_50(x)) / MAD(lowpass_50(x))``, robust z across the group,
  flagged above ``hf_threshold`` (5, PREP). Skipped (score NaN) when ``sfreq <= 100`` Hz.
* ``ransac`` (optional, EEG with positions): predict every channel from random 25 % subsets of
  the channels not already flagged, by spherical splines (:mod:`interpolate`); take the median
  prediction over ``ransac_n_samples`` (50) subsets (as in PREP, a subset's members count as
  predicting themselves), correlate it with the channel in 5 s windows; flagged when more than
  ``ransac_unbroken_time`` (0.4) of the windows correlate below ``ransac_threshold`` (0.75).
  Needs ``key``; the result depends on it.

Filtering uses an FFT brick-wall (zero bins above/below the edge) on the whole record: simple,
static-shape and good enough for statistics. A 1 Hz high-pass (``highpass=1.0``) is applied first,
as PREP assumes high-passed data.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _spherical_spline as _ss
from ._robust import mad_bisect, quantile_bisect
from ._validate import as_float_array, check_min_samples, check_ndim, check_sfreq, is_traced

__all__ = ["BadChannels", "find_bad_channels", "DATA_CHANNEL_TYPES"]

#: Channel types scored by the detector (others are never flagged).
DATA_CHANNEL_TYPES = ("eeg", "grad", "mag", "meg", "ecog", "seeg", "dbs")

_MAD_TO_STD = 1.4826
_IQR_TO_STD = 0.7413


class BadChannels(NamedTuple):
    """Result of :func:`find_bad_channels`.

    Attributes:
        mask: ``(C,)`` boolean, union of the flags.
        flags: criterion name -> ``(C,)`` boolean.
        scores: criterion name -> ``(C,)`` float score (NaN where not computed).
    """

    mask: jax.Array
    flags: dict
    scores: dict

    def names(self, ch_names: Sequence[str]) -> list[str]:
        """Names of the flagged channels (concrete results only)."""
        return [str(n) for n, b in zip(ch_names, np.asarray(self.mask)) if b]


def _fft_filter(x: jax.Array, sfreq: float, low: float | None, high: float | None) -> jax.Array:
    """Brick-wall band-pass along the last axis (None disables an edge)."""
    n = x.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    keep = np.ones(freqs.shape, bool)
    if low is not None:
        keep &= freqs >= low
    if high is not None:
        keep &= freqs <= high
    spec = jnp.fft.rfft(x, axis=-1) * jnp.asarray(keep, x.dtype)
    return jnp.fft.irfft(spec, n=n, axis=-1).astype(x.dtype)


def _windows(x: jax.Array, size: int) -> jax.Array:
    """``(C, T)`` -> ``(n_win, C, size)`` non-overlapping windows (tail dropped)."""
    n_win = x.shape[-1] // size
    return x[:, : n_win * size].reshape(x.shape[0], n_win, size).transpose(1, 0, 2)


def _normalise_rows(w: jax.Array) -> jax.Array:
    w = w - w.mean(-1, keepdims=True)
    norm = jnp.linalg.norm(w, axis=-1, keepdims=True)
    return w / jnp.where(norm > 0, norm, 1.0)


def _max_neighbour_correlation(x: jax.Array, window: int) -> jax.Array:
    """``(n_win, C)`` largest |corr| of each channel with any other channel, per window."""
    w = _normalise_rows(_windows(x, window))
    corr = jnp.abs(jnp.einsum("wct,wdt->wcd", w, w, precision=jax.lax.Precision.HIGHEST))
    corr = corr * (1.0 - jnp.eye(x.shape[0], dtype=x.dtype))
    return corr.max(-1)


def _groups(ch_types: Sequence[str] | None, n_channels: int) -> list[np.ndarray]:
    if ch_types is None:
        return [np.arange(n_channels)]
    types = [str(t).lower() for t in ch_types]
    if len(types) != n_channels:
        raise ValueError(f"ch_types has {len(types)} entries but data has {n_channels} channels")
    groups = []
    for t in dict.fromkeys(types):
        if t in DATA_CHANNEL_TYPES:
            idx = np.array([i for i, u in enumerate(types) if u == t])
            if len(idx) >= 3:
                groups.append(idx)
    if not groups:
        raise ValueError(f"no data channels to score: ch_types has none of {DATA_CHANNEL_TYPES} with >= 3 channels")
    return groups


def _ransac_scores(
    x: jax.Array,
    inverse: jax.Array,
    excluded: jax.Array,
    key: jax.Array,
    *,
    sfreq: float,
    n_samples: int,
    fraction: float,
    window_s: float,
    threshold: float,
) -> jax.Array:
    """Fraction of windows in which the RANSAC prediction correlates below ``threshold``."""
    n = x.shape[0]
    n_pick = max(4, int(round(fraction * n)))
    # random subsets of the non-excluded channels: rank random keys, excluded ones last
    u = jax.random.uniform(key, (n_samples, n))
    u = jnp.where(excluded[None, :], 2.0, u)
    ranks = jnp.argsort(jnp.argsort(u, axis=1), axis=1)
    good = ranks < n_pick  # (S, C)
    # each sample predicts every channel outside its subset from the subset
    mats = jax.vmap(lambda g: _ss.masked_matrix(inverse, ~g))(good)  # (S, C, C)
    size = int(round(window_s * sfreq))
    wins = _windows(x, size)  # (W, C, size)

    def one_window(w):
        pred = jnp.einsum("scd,dt->sct", mats, w, precision=jax.lax.Precision.HIGHEST)
        # as PREP/pyprep, a subset also "predicts" its own members; their spline value is the
        # datum itself up to the 1e-5 ridge, so the channel's own data stand in for it
        pred = jnp.where(good[:, :, None], w[None], pred)
        med = jnp.median(pred, axis=0)
        a = _normalise_rows(med)
        b = _normalise_rows(w)
        return jnp.sum(a * b, axis=-1)

    corr = jax.lax.map(one_window, wins)  # (W, C)
    return jnp.mean(corr < threshold, axis=0)


class _Config(NamedTuple):
    sfreq: float
    groups: tuple
    ransac_idx: tuple | None
    flat_threshold: float
    deviation_threshold: float
    correlation_threshold: float
    bad_window_fraction: float
    window: int
    hf_threshold: float
    highpass: float | None
    ransac_n_samples: int
    ransac_fraction: float
    ransac_threshold: float
    ransac_unbroken_time: float
    ransac_window: float


def find_bad_channels(
    data: Any,
    sfreq: float,
    *,
    ch_types: Sequence[str] | None = None,
    pos: Any = None,
    flat_threshold: float = 1e-15,
    deviation_threshold: float = 5.0,
    correlation_threshold: float = 0.4,
    bad_window_fraction: float = 0.2,
    correlation_window: float = 1.0,
    hf_threshold: float = 5.0,
    highpass: float | None = 1.0,
    ransac: bool = False,
    key: jax.Array | None = None,
    ransac_n_samples: int = 50,
    ransac_fraction: float = 0.25,
    ransac_threshold: float = 0.75,
    ransac_unbroken_time: float = 0.4,
    ransac_window: float = 5.0,
) -> BadChannels:
    """Flag bad channels by PREP-style criteria (see module docstring for the maths).

    Jittable in ``data`` (and ``key``); ``sfreq``, ``ch_types``, ``pos`` and thresholds are static.

    Arguments:
        data: ``(C, T)`` continuous data in SI units (V, T, T/m).
        sfreq: sampling rate in Hz (static).
        ch_types: one type string per channel (``'eeg'``, ``'grad'``, ``'mag'``, ...); scoring
            is per type; others (``'eog'``, ``'stim'``, ...) are skipped. ``None``: one group.
        pos: ``(C, 3)`` positions, needed for ``ransac`` (EEG-type channels only).
        ransac, key: run the RANSAC criterion with this PRNG key.
        thresholds: as documented in the module docstring (PREP defaults except
            ``bad_window_fraction``).

    Returns:
        :class:`BadChannels` ``(mask, flags, scores)``; scores are NaN for skipped channels.
    """
    sfreq = check_sfreq(sfreq)
    x = as_float_array(data)
    check_ndim(x, 2, layout="(n_channels, n_times)")
    if x.ndim != 2:
        raise ValueError(f"data must be 2-D (n_channels, n_times) continuous data, got shape {x.shape}")
    window = int(round(correlation_window * sfreq))
    check_min_samples(x, max(window, 4), why="at least one correlation window")
    n = x.shape[0]
    groups = tuple(tuple(int(i) for i in g) for g in _groups(ch_types, n))
    ransac_idx, unit = None, None
    if ransac:
        if key is None:
            raise ValueError("ransac=True needs a PRNG key: key=jax.random.key(0)")
        if pos is None:
            raise ValueError("ransac=True needs channel positions pos=(n_channels, 3)")
        if is_traced(pos):
            raise TypeError("pos must be concrete (static) for RANSAC")
        p = np.asarray(pos, dtype=np.float64)
        if p.shape != (n, 3):
            raise ValueError(f"pos must have shape ({n}, 3), got {p.shape}")
        types = ["eeg"] * n if ch_types is None else [str(t).lower() for t in ch_types]
        eeg = np.array([t in ("eeg", "ecog") for t in types]) & np.isfinite(p).all(1) & (np.abs(p).sum(1) > 0)
        idx = np.flatnonzero(eeg)
        if len(idx) < 8:
            raise ValueError(f"RANSAC needs at least 8 EEG channels with positions, got {len(idx)}")
        check_min_samples(x, int(round(ransac_window * sfreq)), why="at least one RANSAC window")
        _, origin = _ss.fit_sphere(p[idx])
        unit = jnp.asarray(_ss.bordered_inverse(_ss.unit_vectors(p[idx], origin)), x.dtype)
        ransac_idx = tuple(int(i) for i in idx)
    cfg = _Config(
        sfreq, groups, ransac_idx, float(flat_threshold), float(deviation_threshold), float(correlation_threshold),
        float(bad_window_fraction), window, float(hf_threshold), None if highpass is None else float(highpass),
        int(ransac_n_samples), float(ransac_fraction), float(ransac_threshold), float(ransac_unbroken_time),
        float(ransac_window),
    )
    return _detect(x, key, unit, cfg)


@partial(jax.jit, static_argnums=3)
def _detect(x: jax.Array, key: Any, inverse: Any, cfg: _Config) -> BadChannels:
    n = x.shape[0]
    dtype = x.dtype
    nan = jnp.full(n, jnp.nan, dtype)
    sfreq, groups, window = cfg.sfreq, cfg.groups, cfg.window
    nonfinite = ~jnp.all(jnp.isfinite(x), axis=-1)
    x = jnp.where(jnp.isfinite(x), x, 0.0)
    x = x - jnp.mean(x, axis=-1, keepdims=True)
    if cfg.highpass is not None:
        x = _fft_filter(x, sfreq, cfg.highpass, None)

    # flat
    robust_sd = mad_bisect(x) * _MAD_TO_STD
    sd = jnp.std(x, axis=-1)
    flat = nonfinite | (robust_sd < cfg.flat_threshold) | (sd < cfg.flat_threshold)

    q75, q25 = quantile_bisect(x, 0.75), quantile_bisect(x, 0.25)
    log_amp = jnp.log(jnp.maximum((q75 - q25) * _IQR_TO_STD, jnp.finfo(dtype).tiny))

    lowpassed = _fft_filter(x, sfreq, None, 50.0) if sfreq > 100.0 else x
    resid = x - lowpassed
    noisiness = mad_bisect(resid) / jnp.maximum(mad_bisect(lowpassed), jnp.finfo(dtype).tiny)

    dev_z, hf_z, corr_frac, ransac_frac = nan, nan, nan, nan
    in_group = np.zeros(n, bool)
    for group in groups:
        idx = np.asarray(group)
        in_group[idx] = True
        ok = ~flat[idx]
        # robust statistics over the non-flat members of the group (flat ones get +inf/NaN-safe)
        la = jnp.where(ok, log_amp[idx], jnp.nan)
        med_la = jnp.nanmedian(la)
        mad_la = jnp.nanmedian(jnp.abs(la - med_la)) * _MAD_TO_STD
        dev_z = dev_z.at[idx].set((log_amp[idx] - med_la) / jnp.maximum(mad_la, 1e-12))
        if sfreq > 100.0:
            nz = jnp.where(ok, noisiness[idx], jnp.nan)
            med_n = jnp.nanmedian(nz)
            mad_n = jnp.nanmedian(jnp.abs(nz - med_n)) * _MAD_TO_STD
            hf_z = hf_z.at[idx].set((noisiness[idx] - med_n) / jnp.maximum(mad_n, jnp.finfo(dtype).eps))
        maxc = _max_neighbour_correlation(lowpassed[idx], window)
        corr_frac = corr_frac.at[idx].set(jnp.mean(maxc < cfg.correlation_threshold, axis=0))

    flags = {
        "flat": flat & jnp.asarray(in_group),
        "deviation": jnp.abs(dev_z) > cfg.deviation_threshold,
        "correlation": corr_frac > cfg.bad_window_fraction,
        "hf_noise": hf_z > cfg.hf_threshold,
    }
    scores = {
        "flat": jnp.where(nonfinite, 0.0, robust_sd).astype(dtype),
        "deviation": dev_z,
        "correlation": corr_frac,
        "hf_noise": hf_z,
    }

    if cfg.ransac_idx is not None:
        idx = np.asarray(cfg.ransac_idx)
        already = (flags["flat"] | flags["deviation"] | flags["correlation"] | flags["hf_noise"])[idx]
        frac = _ransac_scores(
            lowpassed[idx],
            inverse,
            already,
            key,
            sfreq=sfreq,
            n_samples=cfg.ransac_n_samples,
            fraction=cfg.ransac_fraction,
            window_s=cfg.ransac_window,
            threshold=cfg.ransac_threshold,
        )
        ransac_frac = ransac_frac.at[idx].set(frac)
        flags["ransac"] = ransac_frac > cfg.ransac_unbroken_time
        scores["ransac"] = ransac_frac

    group_mask = jnp.asarray(in_group)
    flags = {k: v & group_mask for k, v in flags.items()}
    mask = jnp.zeros(n, bool)
    for v in flags.values():
        mask = mask | v
    return BadChannels(mask=mask, flags=flags, scores=scores)
