"""The preprocessing job behind ``neurojax preprocess``: a documented default chain per channel type.

Steps (each configurable in :mod:`neurojax.config`):

1. **Filter** every EEG/MEG/EOG channel: 4th-order Butterworth high-pass (default 1 Hz) and
   optional low-pass, zero phase with MNE's padding; then MNE's IIR notch at the line frequency
   (band-stop ``f +- (f/400 + 0.5)`` Hz) when it lies below 0.45 ``sfreq``.
2. **Bad channels**: PREP-style detection within each type (EEG, magnetometers, gradiometers),
   joined with the file's own ``bads``; EEG bads are interpolated with spherical splines, MEG bads
   with MNE's field mapping when the recording came from a FIF file (sensor geometry in ``info``).
3. **ASR** for each type listed in the config (default EEG only), calibrated on the clean windows
   of the recording itself (clean_rawdata's procedure).
4. **ICA** (off by default): FastICA on the EEG channels, components correlating with the EOG
   channels by MNE's z-score rule are removed.
5. **Resample** (off by default): polyphase on data channels; stim channels keep the code of the
   nearest original sample.

Stim and other non-data channels pass through untouched (except resampling).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from .config import PreprocessConfig
from .datasets import Recording
from .preprocessing.asr import ASR
from .preprocessing.bad_channels import find_bad_channels
from .preprocessing.filter import IIRFilter
from .preprocessing.ica import FastICA, find_bads_ref
from .preprocessing.interpolate import Interpolator
from .preprocessing.pipeline import Pipeline
from .preprocessing.resample import resample_minimal

__all__ = ["FILTERED_TYPES", "DATA_TYPES", "JobLog", "filter_stages", "preprocess_recording"]

DATA_TYPES = ("eeg", "mag", "grad")
"""Channel types that are cleaned (detection, interpolation, ASR)."""
FILTERED_TYPES = DATA_TYPES + ("eog", "ecg")
"""Channel types that are filtered (references are filtered too, so ICA scores compare like with like)."""


@dataclass
class JobLog:
    """What the job did, for the console summary and the QC report."""

    bads: dict[str, list[str]] = field(default_factory=dict)
    interpolated: list[str] = field(default_factory=list)
    not_interpolated: list[str] = field(default_factory=list)
    asr_changed_fraction: dict[str, float] = field(default_factory=dict)
    asr_before: dict[str, np.ndarray] = field(default_factory=dict)
    asr_after: dict[str, np.ndarray] = field(default_factory=dict)
    ica: FastICA | None = None
    ica_channels: list[str] = field(default_factory=list)
    ica_excluded: list[int] = field(default_factory=list)
    ica_scores: np.ndarray | None = None
    ica_sources: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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


def _indices(rec: Recording, types: tuple[str, ...]) -> np.ndarray:
    return np.flatnonzero(np.isin(np.asarray(rec.ch_types), types))


def _interpolate_meg(rec: Recording, data: np.ndarray, meg: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """MNE field mapping from the FIF geometry; the sphere origin is fitted to the head shape."""
    import mne

    from .preprocessing.interpolate import meg_field_interpolate

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
    return np.asarray(
        meg_field_interpolate(
            data, bad, loc=loc, coil_type=coil, dev_head_t=np.asarray(info["dev_head_t"]["trans"]), origin=origin, proj_vectors=proj_vectors
        )
    )


def _begin(progress: Callable[[str], None] | None, step: str) -> float:
    if progress is not None:
        progress(step)
    return time.perf_counter()


def _timed(log: JobLog, name: str, start: float) -> None:
    log.seconds[name] = log.seconds.get(name, 0.0) + time.perf_counter() - start


def preprocess_recording(
    rec: Recording, config: PreprocessConfig, *, key: jax.Array | None = None, progress: Callable[[str], None] | None = None
) -> tuple[Recording, JobLog]:
    """Run the default chain on ``rec``; return the cleaned recording and a log.

    ``progress`` is called with each step's name as it starts (the CLI prints it).

    Raises:
        ValueError: nothing to clean, a step needs something the recording lacks (e.g. ICA
            without EOG channels), or a stage rejects the data.
    """
    key = jax.random.PRNGKey(0) if key is None else key
    log = JobLog()
    data = np.array(rec.data, dtype=np.float32)
    sfreq = rec.sfreq
    data_idx = _indices(rec, DATA_TYPES)
    if data_idx.size == 0:
        raise ValueError(f"no EEG or MEG channels to clean (channel types: {sorted(set(rec.ch_types))})")

    start = _begin(progress, "filter")
    filt_idx = _indices(rec, FILTERED_TYPES)
    stages = filter_stages(sfreq, config.filter.highpass, config.filter.lowpass, config.filter.line_freq)
    if stages:
        data[filt_idx] = np.asarray(Pipeline(stages, sfreq=sfreq)(jnp.asarray(data[filt_idx])))
    _timed(log, "filter", start)

    bads = set(rec.bads)
    if config.bad_channels.detect:
        start = _begin(progress, "detect")
        types = tuple(rec.ch_types[i] for i in data_idx)
        found = find_bad_channels(jnp.asarray(data[data_idx]), sfreq, ch_types=types)
        bads |= {rec.ch_names[data_idx[i]] for i in np.flatnonzero(np.asarray(found.mask))}
        _timed(log, "detect", start)
    for ch_type in DATA_TYPES:
        log.bads[ch_type] = [rec.ch_names[i] for i in _indices(rec, (ch_type,)) if rec.ch_names[i] in bads]

    if config.bad_channels.interpolate and bads:
        start = _begin(progress, "interpolate")
        eeg = _indices(rec, ("eeg",))
        eeg_bad = np.array([rec.ch_names[i] in bads for i in eeg])
        if eeg_bad.any():
            if np.all(np.isfinite(rec.pos[eeg])):
                data[eeg] = np.asarray(Interpolator(rec.pos[eeg], bad_mask=eeg_bad)(jnp.asarray(data[eeg])))
                log.interpolated += [rec.ch_names[i] for i in eeg[eeg_bad]]
            else:
                log.not_interpolated += [rec.ch_names[i] for i in eeg[eeg_bad]]
                log.notes.append("EEG positions missing: bad EEG channels kept and marked bad")
        meg = _indices(rec, ("mag", "grad"))
        meg_bad = np.array([rec.ch_names[i] in bads for i in meg])
        if meg_bad.any():
            if rec.info is not None:
                data[meg] = _interpolate_meg(rec, data[meg], meg, meg_bad)
                log.interpolated += [rec.ch_names[i] for i in meg[meg_bad]]
            else:
                log.not_interpolated += [rec.ch_names[i] for i in meg[meg_bad]]
                log.notes.append("MEG field mapping needs the sensor geometry of a FIF file: MEG bads kept and marked bad")
        _timed(log, "interpolate", start)

    if config.asr.enabled:
        for ch_type in config.asr.types:
            idx = _indices(rec, (ch_type,))
            if idx.size < 2:
                continue
            start = _begin(progress, f"asr {ch_type}")
            before = data[idx].copy()
            # Units: ASR's statistics are relative, but microvolt/femtotesla scales keep float32 tidy.
            scale = float(np.median(np.std(before, axis=1))) or 1.0
            x = jnp.asarray(before / scale)
            asr = ASR(sfreq, cutoff=config.asr.cutoff).fit(x)
            after = np.asarray(asr(x)) * scale
            data[idx] = after
            log.asr_before[ch_type], log.asr_after[ch_type] = before, after
            changed = np.abs(after - before).max(axis=0) > 1e-3 * np.abs(before).max()
            log.asr_changed_fraction[ch_type] = float(changed.mean())
            _timed(log, f"asr {ch_type}", start)

    if config.ica.enabled:
        start = _begin(progress, "ica")
        eeg = _indices(rec, ("eeg",))
        refs = list(config.ica.eog) or [rec.ch_names[i] for i in _indices(rec, ("eog",))]
        missing = [r for r in refs if r not in rec.ch_names]
        if missing:
            raise ValueError(f"[ica] eog names {missing} are not channels of this recording")
        if not refs:
            raise ValueError("ICA needs EOG reference channels: none are typed 'eog'; list them in [ica] eog = [...]")
        ref_idx = [rec.ch_names.index(r) for r in refs]
        scale = float(np.median(np.std(data[eeg], axis=1))) or 1.0
        n_comp = config.ica.n_components
        n_comp = int(n_comp) if n_comp >= 1 else float(n_comp)
        ica = FastICA(n_components=n_comp, max_iter=500, store_sources=False).fit(jnp.asarray(data[eeg] / scale), key=key)
        sources = ica.sources(jnp.asarray(data[eeg] / scale))
        excluded, scores = find_bads_ref(sources, jnp.asarray(data[ref_idx]), config.ica.threshold, sfreq=sfreq)
        ica = ica.set_exclude(excluded)
        data[eeg] = np.asarray(ica(jnp.asarray(data[eeg] / scale))) * scale
        log.ica, log.ica_channels, log.ica_excluded = ica, [rec.ch_names[i] for i in eeg], list(excluded)
        log.ica_scores, log.ica_sources = np.asarray(scores), np.asarray(sources)
        _timed(log, "ica", start)

    out = replace(rec, data=data, bads=tuple(sorted(bads - set(log.interpolated))))
    if config.resample.sfreq is not None and not np.isclose(config.resample.sfreq, sfreq):
        start = _begin(progress, "resample")
        out = _resample(out, config.resample.sfreq)
        _timed(log, "resample", start)
    return out, log


def _resample(rec: Recording, target: float) -> Recording:
    data_idx = _indices(rec, FILTERED_TYPES)
    other = np.setdiff1d(np.arange(rec.n_channels), data_idx)
    resampled = np.asarray(resample_minimal(jnp.asarray(rec.data[data_idx]), rec.sfreq, target))
    n_out = resampled.shape[-1]
    achieved = rec.sfreq * n_out / rec.n_times
    data = np.zeros((rec.n_channels, n_out), dtype=rec.data.dtype)
    data[data_idx] = resampled
    nearest = np.minimum(np.round(np.arange(n_out) * rec.sfreq / achieved).astype(int), rec.n_times - 1)
    data[other] = rec.data[other][:, nearest]
    events = rec.events.copy()
    events[:, 0] = np.round(events[:, 0] * achieved / rec.sfreq).astype(np.int64)
    info = rec.info
    return replace(rec, data=data, sfreq=float(target), events=events, info=info)

