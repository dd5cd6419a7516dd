"""The *fit* phase of ``neurojax preprocess``: learn every data-dependent part of the chain once.

What is learnt: the filter sections, bad channels, interpolation matrices (EEG spherical splines,
MEG field mapping), ASR calibration per channel type and the ICA back-projection. A recording of
at most ``[fit] max_duration`` seconds is fitted on all of it; a longer one on
``max_duration / segment`` evenly spaced segments of ``segment`` seconds, each read with a
filter margin on both sides so its filtered samples equal those of the whole recording.

Everything learnt is a constant of the *clean* phase (:mod:`neurojax.job`), which streams the
whole recording through the fixed chain: interpolation and ICA become per-sample matrices
``y = T x + c``, ASR keeps its calibrated state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ._streaming import ZeroPhaseStream, run_stages
from .config import PreprocessConfig
from .datasets import Recording
from .io import read_block
from .preprocessing.asr import ASRState, apply_asr, calibrate_asr, clean_windows
from .preprocessing.bad_channels import find_bad_channels
from .preprocessing.filter import IIRFilter
from .preprocessing.ica import FastICA, find_bads_ref
from .preprocessing.interpolate import Interpolator

__all__ = ["DATA_TYPES", "FILTERED_TYPES", "JobLog", "FittedChain", "filter_stages", "fit_segments", "fit_chain", "indices"]

DATA_TYPES = ("eeg", "mag", "grad")
"""Channel types that are cleaned (detection, interpolation, ASR)."""
FILTERED_TYPES = DATA_TYPES + ("eog", "ecg")
"""Channel types that are filtered (references are filtered too, so ICA scores compare like with like)."""
ASR_COVARIANCE_BUDGET = 512 << 20
"""Bytes ASR calibration may spend on block covariances (``blocksize`` is raised to fit)."""


@dataclass
class JobLog:
    """What the job did, for the console summary and the QC report."""

    bads: dict[str, list[str]] = field(default_factory=dict)
    interpolated: list[str] = field(default_factory=list)
    not_interpolated: list[str] = field(default_factory=list)
    asr_changed_fraction: dict[str, float] = field(default_factory=dict)
    asr_activity: dict[str, np.ndarray] = field(default_factory=dict)  # per second: share of energy removed
    ica: FastICA | None = None
    ica_channels: list[str] = field(default_factory=list)
    ica_excluded: list[int] = field(default_factory=list)
    ica_scores: np.ndarray | None = None
    ica_sources: np.ndarray | None = None
    fit_segments: list[tuple[int, int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class FittedChain:
    """The constants of the clean phase (rows index the recording's channels)."""

    filters: list[tuple[np.ndarray, int]]  # (sos, padlen) per zero-phase stage
    filt_idx: np.ndarray
    matrices: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # (rows, T, offset) before ASR
    asr: list[tuple[str, np.ndarray, ASRState, float, float]]  # (type, rows, state, scale, reference peak)
    ica: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (rows, T, offset), after ASR
    bads: set[str]
    raw_fit: np.ndarray  # unfiltered fit samples (the QC report's "before")


def filter_stages(sfreq: float, highpass: float | None, lowpass: float | None, line_freq: float | None) -> list[IIRFilter]:
    """The filter layers of the default chain (shared by the demo and the job)."""
    stages = []
    if highpass is not None and lowpass is not None:
        stages.append(IIRFilter(jnp.asarray([highpass, lowpass]), sfreq, btype="bandpass"))
    elif highpass is not None:
        stages.append(IIRFilter(jnp.asarray(highpass), sfreq, btype="highpass"))
    elif lowpass is not None:
        stages.append(IIRFilter(jnp.asarray(lowpass), sfreq, btype="lowpass"))
    if line_freq is not None and line_freq < 0.45 * sfreq:
        half_width = line_freq / 400.0 + 0.5  # MNE: notch width f/200 plus a 1 Hz transition band
        stages.append(IIRFilter(jnp.asarray([line_freq - half_width, line_freq + half_width]), sfreq, btype="bandstop"))
    return stages


def indices(rec: Recording, types: tuple[str, ...]) -> np.ndarray:
    return np.flatnonzero(np.isin(np.asarray(rec.ch_types), types))


def fit_segments(n_times: int, sfreq: float, max_duration: float, segment: float) -> list[tuple[int, int]]:
    """``[start, stop)`` sample ranges to fit on: all of it, or evenly spaced ``segment``-second pieces."""
    if n_times <= max_duration * sfreq:
        return [(0, n_times)]
    n_seg = max(1, int(max_duration // segment))
    length = int(round(segment * sfreq))
    starts = np.round(np.linspace(0, n_times - length, n_seg)).astype(int)
    return [(int(s), int(s) + length) for s in starts]


def _filtered_segment(rec: Recording, filters, filt_idx, start: int, stop: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Raw and filtered samples ``[start, stop)``; read with margins so the filtered ones are the whole recording's."""
    margin = sum(ZeroPhaseStream(sos, padlen, rec.n_times).margin for sos, padlen in filters)
    lo, hi = max(0, start - margin), min(rec.n_times, stop + margin)
    x = read_block(rec.data, lo, hi).astype(dtype)
    raw = x[:, start - lo : stop - lo].copy()
    if filters:
        # Inside the recording a margin stands in for the whole recording; at its ends the
        # stream reproduces the whole-array edge padding exactly.
        from ._streaming import Subset

        stages = [Subset(filt_idx, ZeroPhaseStream(sos, padlen, hi - lo)) for sos, padlen in filters]
        x = run_stages(stages, x, final=True)
    return raw, x[:, start - lo : stop - lo]


def _begin(progress: Callable[[str], None] | None, step: str) -> float:
    if progress is not None:
        progress(step)
    return time.perf_counter()


def _timed(log: JobLog, name: str, start: float) -> None:
    log.seconds[name] = log.seconds.get(name, 0.0) + time.perf_counter() - start


def _interpolation(rec: Recording, data: np.ndarray, bads: set[str], log: JobLog) -> list:
    """Per-sample interpolation maps ``T`` (identity on good rows) for EEG and MEG."""
    out = []
    eeg = indices(rec, ("eeg",))
    eeg_bad = np.array([rec.ch_names[i] in bads for i in eeg], dtype=bool)
    if eeg_bad.any():
        if np.all(np.isfinite(rec.pos[eeg])):
            m = np.asarray(Interpolator(rec.pos[eeg], bad_mask=eeg_bad).matrix(), dtype=np.float64)
            out.append((eeg, np.diag((~eeg_bad).astype(float)) + m, None))
            log.interpolated += [rec.ch_names[i] for i in eeg[eeg_bad]]
        else:
            log.not_interpolated += [rec.ch_names[i] for i in eeg[eeg_bad]]
            log.notes.append("EEG positions missing: bad EEG channels kept and marked bad")
    meg = indices(rec, ("mag", "grad"))
    meg_bad = np.array([rec.ch_names[i] in bads for i in meg], dtype=bool)
    if meg_bad.any():
        if rec.info is not None:
            t = np.eye(meg.size)
            t[np.ix_(meg_bad, ~meg_bad)] = _meg_matrix(rec, meg, meg_bad)
            t[meg_bad, meg_bad] = 0.0
            out.append((meg, t, None))
            log.interpolated += [rec.ch_names[i] for i in meg[meg_bad]]
        else:
            log.not_interpolated += [rec.ch_names[i] for i in meg[meg_bad]]
            log.notes.append("MEG field mapping needs the sensor geometry of a FIF file: MEG bads kept and marked bad")
    for rows, t, _ in out:
        data[rows] = (t.astype(data.dtype) @ data[rows]).astype(data.dtype)
    return out


def _meg_matrix(rec: Recording, meg: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """MNE field mapping from the FIF geometry; the sphere origin is fitted to the head shape."""
    import mne

    from .preprocessing.interpolate import meg_field_matrix

    info = rec.info
    _, origin, _ = mne.bem.fit_sphere_to_headshape(info, units="m", verbose="error")
    picks = [info["ch_names"].index(rec.ch_names[i]) for i in meg]
    loc = np.array([info["chs"][p]["loc"] for p in picks])
    coil = np.array([info["chs"][p]["coil_type"] for p in picks])
    projs = [p for p in info["projs"] if p["active"]]
    proj_vectors = None
    if projs:
        proj, _, _ = mne.io.proj.make_projector(projs, [rec.ch_names[i] for i in meg], verbose="error")
        proj_vectors = np.linalg.svd(np.eye(len(meg)) - proj)[0][:, : len(projs)]
    return np.asarray(meg_field_matrix(loc, coil, np.flatnonzero(bad), dev_head_t=np.asarray(info["dev_head_t"]["trans"]),
                                       origin=origin, proj_vectors=proj_vectors))


def _calibrate(x: jax.Array, cutoff: float, sfreq: float, ch_type: str, log: JobLog) -> ASRState:
    """clean_rawdata's calibration on the clean windows; all fit data when too few windows are clean."""
    c, s = x.shape
    blocksize = 10
    while (s // blocksize) * c * c * x.dtype.itemsize > ASR_COVARIANCE_BUDGET:
        blocksize *= 2  # memory: calibration keeps one covariance per block
    clean, _ = clean_windows(x, sfreq)
    try:
        return calibrate_asr(clean, cutoff, sfreq=sfreq, blocksize=blocksize)
    except ValueError as err:
        if "too short" not in str(err):
            raise
    log.notes.append(f"ASR {ch_type}: too little clean data to calibrate on; calibrated on all fit data")
    try:
        return calibrate_asr(x, cutoff, sfreq=sfreq, blocksize=blocksize)
    except ValueError as err:
        raise ValueError(f"ASR {ch_type}: the recording is too short to calibrate ASR ({err}); disable it with [asr] enabled = false") from err


def fit_chain(rec: Recording, config: PreprocessConfig, log: JobLog, *, key: jax.Array, dtype=np.float32,
              progress: Callable[[str], None] | None = None) -> FittedChain:
    """Learn the chain from ``rec`` (see the module notes); fills ``log`` with what was found."""
    sfreq = rec.sfreq
    data_idx = indices(rec, DATA_TYPES)
    if data_idx.size == 0:
        raise ValueError(f"no EEG or MEG channels to clean (channel types: {sorted(set(rec.ch_types))})")
    filt_idx = indices(rec, FILTERED_TYPES)
    filters = [(np.asarray(f.sos, np.float64), int(f.padlen))
               for f in filter_stages(sfreq, config.filter.highpass, config.filter.lowpass, config.filter.line_freq)]
    segments = fit_segments(rec.n_times, sfreq, config.fit.max_duration, config.fit.segment)
    log.fit_segments = segments

    start = _begin(progress, "filter")
    pieces = [_filtered_segment(rec, filters, filt_idx, a, b, dtype) for a, b in segments]
    raw_fit = np.concatenate([p[0] for p in pieces], axis=1)
    data = np.concatenate([p[1] for p in pieces], axis=1)
    del pieces
    if len(segments) > 1:
        log.notes.append(f"fitted on {len(segments)} segments of {config.fit.segment:g} s spread over the recording")
    _timed(log, "filter", start)

    bads = set(rec.bads)
    if config.bad_channels.detect:
        start = _begin(progress, "detect")
        types = tuple(rec.ch_types[i] for i in data_idx)
        found = find_bad_channels(jnp.asarray(data[data_idx]), sfreq, ch_types=types)
        bads |= {rec.ch_names[data_idx[i]] for i in np.flatnonzero(np.asarray(found.mask))}
        _timed(log, "detect", start)
    for ch_type in DATA_TYPES:
        log.bads[ch_type] = [rec.ch_names[i] for i in indices(rec, (ch_type,)) if rec.ch_names[i] in bads]

    matrices = []
    if config.bad_channels.interpolate and bads:
        start = _begin(progress, "interpolate")
        matrices = _interpolation(rec, data, bads, log)
        _timed(log, "interpolate", start)

    asr = []
    if config.asr.enabled:
        for ch_type in config.asr.types:
            idx = indices(rec, (ch_type,))
            if idx.size < 2:
                continue
            start = _begin(progress, f"asr {ch_type}")
            # Units: ASR's statistics are relative, but microvolt/femtotesla scales keep float32 tidy.
            scale = float(np.median(np.std(data[idx], axis=1))) or 1.0
            x = jnp.asarray(data[idx] / scale)
            state = _calibrate(x, config.asr.cutoff, sfreq, ch_type, log)
            peak = float(np.abs(data[idx]).max())
            if config.ica.enabled:  # ICA is fitted on ASR-cleaned data
                data[idx] = np.asarray(apply_asr(x, state)) * scale
            asr.append((ch_type, idx, state, scale, peak))
            _timed(log, f"asr {ch_type}", start)

    ica = None
    if config.ica.enabled:
        start = _begin(progress, "ica")
        ica = _fit_ica(rec, config, data, key, log)
        _timed(log, "ica", start)
    return FittedChain(filters, filt_idx, matrices, asr, ica, bads, raw_fit)


def _fit_ica(rec: Recording, config: PreprocessConfig, data: np.ndarray, key: jax.Array, log: JobLog):
    """FastICA on the EEG, EOG-correlated components removed: ``y = (I - R) x + R mean`` per sample."""
    eeg = indices(rec, ("eeg",))
    refs = list(config.ica.eog) or [rec.ch_names[i] for i in indices(rec, ("eog",))]
    missing = [r for r in refs if r not in rec.ch_names]
    if missing:
        raise ValueError(f"[ica] eog names {missing} are not channels of this recording")
    if not refs:
        raise ValueError("ICA needs EOG reference channels: none are typed 'eog'; list them in [ica] eog = [...]")
    ref_idx = [rec.ch_names.index(r) for r in refs]
    scale = float(np.median(np.std(data[eeg], axis=1))) or 1.0
    n_comp = config.ica.n_components
    n_comp = int(n_comp) if n_comp >= 1 else float(n_comp)
    x = jnp.asarray(data[eeg] / scale)
    ica = FastICA(n_components=n_comp, max_iter=500, store_sources=False).fit(x, key=key)
    sources = ica.sources(x)
    excluded, scores = find_bads_ref(sources, jnp.asarray(data[ref_idx]), config.ica.threshold, sfreq=rec.sfreq)
    ica = ica.set_exclude(excluded)
    log.ica, log.ica_channels, log.ica_excluded = ica, [rec.ch_names[i] for i in eeg], list(excluded)
    log.ica_scores, log.ica_sources = np.asarray(scores), np.asarray(sources)
    keep = np.zeros(ica.n_components_)
    keep[list(excluded)] = 1.0
    removed = (np.asarray(ica.mixing_, np.float64) * keep) @ np.asarray(ica.unmixing_, np.float64)
    return eeg, np.eye(eeg.size) - removed, removed @ np.asarray(ica.mean_, np.float64) * scale
