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

Two phases. *Fit* (:mod:`neurojax._job_fit`) learns bad channels, interpolation matrices, ASR
calibration and ICA from the recording, or from evenly spaced segments of a long one. *Clean*
streams the whole recording through the fixed chain in blocks of ``chunk_duration`` seconds
(:mod:`neurojax._streaming`): zero-phase filters with overlap margins, ASR through its streaming
state, interpolation and ICA as per-sample matrices, polyphase resampling on aligned buffers. The
concatenated blocks equal the one-pass result (to ~1e-10 of the data's scale in float64), so
memory is bounded by the block size, not the recording.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ._job_fit import DATA_TYPES, FILTERED_TYPES, FittedChain, JobLog, filter_stages, fit_chain, indices
from ._streaming import MatrixStage, ResampleStream, Subset, ZeroPhaseStream, run_stages
from .config import PreprocessConfig
from .datasets import Recording
from .io import read_block
from .preprocessing.asr import asr_stream_init, asr_stream_process
from .preprocessing.resample import rational_ratio

__all__ = ["FILTERED_TYPES", "DATA_TYPES", "JobLog", "filter_stages", "preprocess_recording", "preprocess_to_file", "auto_chunk_duration"]

DEFAULT_CHUNK_SECONDS = 60.0


class _ASRStage:
    """ASR through its streaming state (on scaled data), counting what it changed per second."""

    def __init__(self, state, scale: float, peak: float, sfreq: float, n_total: int, dtype):
        self.stream = asr_stream_init(state, dtype=jnp.dtype(dtype))
        self.first = self.stream.params.lookahead + 1  # the stream's first call needs this many samples
        self.scale, self.threshold, self.second = scale, 1e-3 * peak, max(1, int(sfreq))
        self._held = None  # input before the first call
        self._inputs = None  # inputs awaiting their output (ASR delays by its look-ahead)
        self._pos = 0
        n_sec = n_total // self.second + 1
        self.energy, self.removed = np.zeros(n_sec), np.zeros(n_sec)
        self.changed = 0

    def push(self, x: np.ndarray, final: bool = False) -> np.ndarray:
        self._inputs = x if self._inputs is None else np.concatenate([self._inputs, x], axis=1)
        if self._held is not None:
            x = np.concatenate([self._held, x], axis=1)
        if x.shape[1] < self.first and not final and self.stream.counters.received == 0:
            self._held = x
            return x[:, :0]
        self._held = None
        if x.shape[1] == 0 and not final:
            return x
        y, self.stream = asr_stream_process(jnp.asarray(x / self.scale), self.stream, final=final)
        y = np.asarray(y).astype(x.dtype) * self.scale
        k = y.shape[1]
        before, self._inputs = self._inputs[:, :k], self._inputs[:, k:]
        diff = before - y
        bins = (self._pos + np.arange(k)) // self.second
        np.add.at(self.energy, bins, np.sum(before.astype(np.float64) ** 2, axis=0))
        np.add.at(self.removed, bins, np.sum(diff.astype(np.float64) ** 2, axis=0))
        self.changed += int(np.sum(np.abs(diff).max(axis=0) > self.threshold))
        self._pos += k
        return y

    def activity(self) -> np.ndarray:
        """Share of the signal energy removed in each complete second."""
        n = self._pos // self.second
        return np.clip(self.removed[:n] / np.maximum(self.energy[:n], 1e-300), 0, 1)


def _resample_ratio(rec: Recording, config: PreprocessConfig) -> tuple[int, int] | None:
    target = config.resample.sfreq
    if target is None or np.isclose(target, rec.sfreq):
        return None
    up, down, _, _ = rational_ratio(rec.sfreq, target)
    return up, down


def _clean_stages(rec: Recording, config: PreprocessConfig, chain: FittedChain, dtype) -> tuple[list, list]:
    n = rec.n_times
    stages = [Subset(chain.filt_idx, ZeroPhaseStream(sos, padlen, n)) for sos, padlen in chain.filters]
    stages += [Subset(rows, MatrixStage(t, offset)) for rows, t, offset in chain.matrices]
    asr = []
    for ch_type, rows, state, scale, peak in chain.asr:
        stage = _ASRStage(state, scale, peak, rec.sfreq, n, dtype)
        stages.append(Subset(rows, stage))
        asr.append((ch_type, stage))
    if chain.ica is not None:
        rows, t, offset = chain.ica
        stages.append(Subset(rows, MatrixStage(t, offset)))
    ratio = _resample_ratio(rec, config)
    if ratio is not None:
        stages.append(ResampleStream(*ratio, n, chain.filt_idx))
    return stages, asr


def _block_length(rec: Recording, chain: FittedChain, chunk_duration: float | None) -> int:
    if chunk_duration is None:
        return rec.n_times
    if not chunk_duration > 0:
        raise ValueError(f"chunk duration must be a positive number of seconds, got {chunk_duration}")
    step = 1
    for _, _, state, _, _ in chain.asr:  # blocks on ASR's update grid: its kernel compiles once
        c = np.asarray(state.mixing_matrix).shape[0]
        step = math.lcm(step, asr_stream_init(state).params.stepsize) if c else step
    n = max(step, int(round(chunk_duration * rec.sfreq)) // step * step)
    return min(n, rec.n_times)


class _Preview:
    """Copies of the output at the fit segments (the QC report's "after"), taken as blocks pass."""

    def __init__(self, segments: list[tuple[int, int]], factor: float):
        self.ranges = [(int(round(a * factor)), int(round(b * factor))) for a, b in segments]
        self.parts: list[list[np.ndarray]] = [[] for _ in self.ranges]
        self.pos = 0

    def add(self, y: np.ndarray) -> None:
        lo, hi = self.pos, self.pos + y.shape[1]
        for parts, (a, b) in zip(self.parts, self.ranges):
            if a < hi and lo < b:
                parts.append(y[:, max(a, lo) - lo : min(b, hi) - lo].copy())
        self.pos = hi

    def data(self) -> np.ndarray:
        return np.concatenate([np.concatenate(p, axis=1) for p in self.parts if p], axis=1)


def _stream(rec, config, chain, log, *, block_len, dtype, write, advance) -> None:
    """Clean the whole recording block by block; ``write`` receives the output blocks in order."""
    stages, asr = _clean_stages(rec, config, chain, dtype)
    start = time.perf_counter()
    n = rec.n_times
    for a in range(0, n, block_len):
        b = min(n, a + block_len)
        y = run_stages(stages, read_block(rec.data, a, b).astype(dtype), final=b == n)
        if y.shape[1]:
            write(y)
        if advance is not None:
            advance(b / n)
    for ch_type, stage in asr:
        log.asr_changed_fraction[ch_type] = stage.changed / n
        log.asr_activity[ch_type] = stage.activity()
    log.seconds["clean"] = time.perf_counter() - start


def _output_meta(rec: Recording, config: PreprocessConfig, chain: FittedChain, log: JobLog, n_out: int) -> Recording:
    """The cleaned recording's metadata (rate, events, bads) for ``n_out`` output samples."""
    out = replace(rec, bads=tuple(sorted(chain.bads - set(log.interpolated))))
    if _resample_ratio(rec, config) is None:
        return out
    achieved = rec.sfreq * n_out / rec.n_times
    events = rec.events.copy()
    events[:, 0] = np.round(events[:, 0] * achieved / rec.sfreq).astype(np.int64)
    return replace(out, sfreq=float(config.resample.sfreq), events=events)


def _fit(rec, config, key, dtype, progress) -> tuple[FittedChain, JobLog]:
    log = JobLog()
    key = jax.random.PRNGKey(0) if key is None else key
    chain = fit_chain(rec, config, log, key=key, dtype=dtype, progress=progress)
    if progress is not None:
        progress("clean")
    return chain, log


def preprocess_recording(
    rec: Recording,
    config: PreprocessConfig,
    *,
    key: jax.Array | None = None,
    progress: Callable[[str], None] | None = None,
    advance: Callable[[float], None] | None = None,
    chunk_duration: float | None = None,
    dtype=np.float32,
) -> tuple[Recording, JobLog]:
    """Run the default chain on ``rec``; return the cleaned recording (in memory) and a log.

    Arguments:
        rec: the recording (``data`` an array or :class:`neurojax.io.LazyData`).
        config: the job's settings.
        key: PRNG key for ICA.
        progress: called with each step's name as it starts (the CLI prints it).
        advance: called with the fraction of the recording cleaned after each block.
        chunk_duration: seconds per block of the clean phase; ``None`` = one block.
        dtype: working precision (float32; float64 for parity checks).

    Raises:
        ValueError: nothing to clean, a step needs something the recording lacks (e.g. ICA
            without EOG channels), or a stage rejects the data.
    """
    chain, log = _fit(rec, config, key, dtype, progress)
    blocks: list[np.ndarray] = []
    _stream(rec, config, chain, log, block_len=_block_length(rec, chain, chunk_duration), dtype=dtype,
            write=blocks.append, advance=advance)
    data = np.concatenate(blocks, axis=1)
    return replace(_output_meta(rec, config, chain, log, data.shape[1]), data=data), log


def preprocess_to_file(
    rec: Recording,
    config: PreprocessConfig,
    output: str | Path,
    *,
    overwrite: bool = False,
    key: jax.Array | None = None,
    progress: Callable[[str], None] | None = None,
    advance: Callable[[float], None] | None = None,
    chunk_duration: float | None = None,
) -> tuple[Recording, Recording, JobLog]:
    """Clean ``rec`` block by block into ``output`` (``.fif`` or ``.npz``), never holding it whole.

    Cleaned blocks go to a temporary file beside ``output`` and are written out only once every
    step succeeded (the temporary file is removed in any case).

    Returns:
        ``(before, after, log)``: the fit segments of the input and the same stretches of the
        output (for the QC report), and the log.
    """
    from . import io
    from ._blockfile import BlockFile, write_fif_from_blocks, write_npz_from_blocks

    chain, log = _fit(rec, config, key, np.float32, progress)
    ratio = _resample_ratio(rec, config)
    preview = _Preview(log.fit_segments, 1.0 if ratio is None else ratio[0] / ratio[1])
    blocks = BlockFile(output, rec.n_channels)
    try:
        def write(y: np.ndarray) -> None:
            blocks.append(y)
            preview.add(y)

        _stream(rec, config, chain, log, block_len=_block_length(rec, chain, chunk_duration), dtype=np.float32,
                write=write, advance=advance)
        samples = blocks.finish()
        meta = _output_meta(rec, config, chain, log, samples.shape[0])
        if Path(output).suffix.lower() == ".npz":
            write_npz_from_blocks(output, replace(meta, data=np.zeros((rec.n_channels, 0))), samples)
        else:
            write_fif_from_blocks(output, io.mne_info(meta), samples, overwrite=overwrite)
    finally:
        blocks.remove()
    before = replace(rec, data=chain.raw_fit)
    return before, replace(meta, data=preview.data()), log


def auto_chunk_duration(rec: Recording) -> float | None:
    """``None`` (one pass) when ~10 float32 copies of the recording fit in half the free memory, else 60 s."""
    need = 10 * 4 * rec.n_channels * rec.n_times
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        free = 8 << 30
    return None if need <= free / 2 else DEFAULT_CHUNK_SECONDS
