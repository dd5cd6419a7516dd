"""Recordings to work with: the shared real M/EEG files and a simulator with ground truth.

Real recordings
    :func:`load_eeglab_sample` (EEGLAB tutorial EEG, 32 channels, 128 Hz) and
    :func:`load_mne_sample` (Neuromag MEG + EEG, 376 channels, 600.615 Hz) read the plain
    ``.npz`` copies described in ``shared/data/README.md``. The folder is taken from the
    ``NEUROJAX_DATA`` environment variable, else ``../shared/data`` beside the repository.

Simulated recordings
    :func:`simulate_recording` draws a seeded multichannel EEG-like recording (spatially
    correlated 1/f background, waxing and waning occipital alpha, sensor noise, sensors on a
    sphere) and injects known artifacts (blinks on frontal channels, muscle bursts on temporal
    channels, line noise, a DC jump, a flat and a noisy channel). The clean ground truth is
    returned with it, so a cleaning step can be scored with :mod:`neurojax.preprocessing.metrics`.

Everything here is host-side NumPy: it prepares data, it is not part of a differentiable model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Recording",
    "SimulatedRecording",
    "ARTIFACT_NAMES",
    "data_dir",
    "load_npz",
    "load_eeglab_sample",
    "load_mne_sample",
    "simulate_recording",
]

ARTIFACT_NAMES = ("blink", "muscle", "line_noise", "dc_jump", "flat_channel", "noisy_channel")
"""Artifacts the simulator can inject, in the order they are drawn."""

_HEAD_RADIUS = 0.09  # metres; a typical adult head, the sphere the simulated sensors sit on
_N_SOURCES = 128  # background sources of the simulator, independent of the montage


# --------------------------------------------------------------------------------------
# Real recordings
# --------------------------------------------------------------------------------------


class _Timeseries:
    """Shape helpers shared by the recording containers (``data`` is ``(n_channels, n_times)``)."""

    data: np.ndarray
    sfreq: float

    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_times(self) -> int:
        return self.data.shape[1]

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds from the first sample."""
        return np.arange(self.n_times) / self.sfreq


@dataclass(frozen=True)
class Recording(_Timeseries):
    """A continuous recording as plain arrays plus channel metadata.

    Attributes:
        data: ``(n_channels, n_times)`` samples in SI units (V, T, T/m).
        sfreq: sampling rate in Hz.
        ch_names, ch_types: one entry per channel (``'eeg'``, ``'eog'``, ``'mag'``, ``'grad'``,
            ``'stim'``, ...).
        pos: ``(n_channels, 3)`` positions in head coordinates (metres); NaN where unknown.
        ori: ``(n_channels, 3)`` MEG coil normals (NaN for non-MEG channels).
        bads: names of channels marked bad in the file.
        events: ``(n_events, 3)`` rows ``(sample, 0, code)``, samples relative to ``data[:, 0]``.
        event_id: event name -> code.
        coil_type: MNE/FIFF coil type per channel (0 where not MEG).
        source: file the arrays came from.
        info: the MNE ``Info`` when read through :mod:`neurojax.io` (used to write FIF back).
    """

    data: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    pos: np.ndarray
    ori: np.ndarray
    bads: tuple[str, ...] = ()
    events: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    event_id: dict[str, int] = field(default_factory=dict)
    coil_type: np.ndarray | None = None
    source: str = ""
    info: Any = field(default=None, repr=False, compare=False)

    def pick(self, names: list[str] | tuple[str, ...]) -> Recording:
        """A new recording with only the named channels, in the order given."""
        index = {ch: i for i, ch in enumerate(self.ch_names)}
        unknown = [ch for ch in names if ch not in index]
        if unknown:
            raise ValueError(f"unknown channel name(s) {unknown}; this recording has {self.n_channels} channels, e.g. {list(self.ch_names[:5])}")
        return self._subset(np.array([index[ch] for ch in names], dtype=int))

    def pick_types(self, *types: str) -> Recording:
        """A new recording with the channels whose type is one of ``types`` (file order)."""
        known = set(self.ch_types)
        unknown = [t for t in types if t not in known]
        if unknown:
            raise ValueError(f"no channel of type(s) {unknown}; this recording has types {sorted(known)}")
        return self._subset(np.flatnonzero(np.isin(np.asarray(self.ch_types), types)))

    def _subset(self, idx: np.ndarray) -> Recording:
        names = tuple(self.ch_names[i] for i in idx)
        return replace(
            self,
            data=self.data[idx],
            ch_names=names,
            ch_types=tuple(self.ch_types[i] for i in idx),
            pos=self.pos[idx],
            ori=self.ori[idx],
            bads=tuple(b for b in self.bads if b in names),
            coil_type=None if self.coil_type is None else self.coil_type[idx],
        )


def data_dir() -> Path:
    """Folder of the shared real recordings.

    ``$NEUROJAX_DATA`` when set, else ``shared/data`` next to the repository checkout.
    """
    env = os.environ.get("NEUROJAX_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_npz(path: str | os.PathLike) -> Recording:
    """Read a recording saved in the shared ``.npz`` layout (no pickle needed)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; set the NEUROJAX_DATA environment variable to the folder that "
            "holds the shared recordings (eeglab_data.npz, mne_test_raw.npz)"
        )
    with np.load(path, allow_pickle=False) as f:
        names = tuple(str(n) for n in f["event_names"])
        codes = [int(c) for c in f["event_codes"]]
        return Recording(
            data=np.asarray(f["data"]),
            sfreq=float(f["sfreq"]),
            ch_names=tuple(str(c) for c in f["ch_names"]),
            ch_types=tuple(str(t) for t in f["ch_types"]),
            pos=np.asarray(f["pos"], dtype=float),
            ori=np.asarray(f["ori"], dtype=float),
            bads=tuple(str(b) for b in f["bads"]),
            events=np.asarray(f["events"], dtype=np.int64).reshape(-1, 3),
            event_id=dict(zip(names, codes)),
            coil_type=np.asarray(f["coil_type"]),
            source=str(f["source"]),
        )


def load_eeglab_sample() -> Recording:
    """EEGLAB tutorial EEG: 30 EEG + 2 EOG channels, 128 Hz, 238 s, blinks on ``FPz``."""
    return load_npz(data_dir() / "eeglab_data.npz")


def load_mne_sample() -> Recording:
    """MNE test recording: 204 grad, 102 mag, 60 EEG, 1 EOG, 9 stim; 600.615 Hz, 24 s.

    ``MEG 2443`` and ``EEG 053`` are bad although the file does not mark them.
    """
    return load_npz(data_dir() / "mne_test_raw.npz")


# --------------------------------------------------------------------------------------
# Simulator
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedRecording(_Timeseries):
    """A simulated recording with its artifact-free ground truth.

    Attributes:
        data: ``(n_channels, n_times)`` recording with the artifacts, in volts.
        clean: the same recording without any artifact (flat/noisy channels included, so an
            interpolated channel can be scored against it).
        sfreq: sampling rate in Hz.
        ch_names, ch_types: channel names (``EEG 001`` ...) and types (all ``'eeg'``).
        pos: ``(n_channels, 3)`` sensor positions in metres on a sphere of radius 0.09 m,
            head coordinates (x right, y front, z up).
        artifact_mask: artifact name -> boolean ``(n_channels, n_times)``, True where that
            artifact touches the channel.
        bad_channels: names of the flat and the noisy channel (if injected).
        artifacts: names of the injected artifacts.
    """

    data: np.ndarray
    clean: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    pos: np.ndarray
    artifact_mask: dict[str, np.ndarray]
    bad_channels: tuple[str, ...]
    artifacts: tuple[str, ...]

    @property
    def any_artifact(self) -> np.ndarray:
        """Boolean ``(n_channels, n_times)``: True where any artifact is present."""
        mask = np.zeros(self.data.shape, dtype=bool)
        for m in self.artifact_mask.values():
            mask |= m
        return mask

    @property
    def bad_mask(self) -> np.ndarray:
        """Boolean ``(n_channels,)``: True for the injected bad (flat or noisy) channels."""
        return np.isin(np.asarray(self.ch_names), self.bad_channels)


def sphere_positions(n_channels: int, radius: float = _HEAD_RADIUS) -> np.ndarray:
    """Quasi-uniform sensor positions on the upper part of a sphere (Fibonacci spiral).

    Sensors cover elevations from 20 degrees below the equator to the vertex, like an EEG cap.
    """
    i = np.arange(n_channels) + 0.5
    z = 1.0 - i / n_channels * (1.0 + np.sin(np.deg2rad(20.0)))  # from vertex down to -20 deg
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    ring = np.sqrt(1.0 - z**2)
    return radius * np.stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z], axis=1)


def _pink_noise(rng: np.random.Generator, shape: tuple[int, int], sfreq: float) -> np.ndarray:
    """Unit-variance noise with a 1/f power spectrum (flattened below 1 Hz), along the last axis."""
    n_times = shape[-1]
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    amplitude = 1.0 / np.sqrt(np.maximum(freqs, 1.0))
    amplitude[0] = 0.0
    spectrum = (rng.standard_normal((shape[0], freqs.size)) + 1j * rng.standard_normal((shape[0], freqs.size))) * amplitude
    x = np.fft.irfft(spectrum, n=n_times, axis=-1)
    return x / x.std(axis=-1, keepdims=True)


def _event_starts(rng: np.random.Generator, n_times: int, length: int, mean_gap: int, margin: int) -> np.ndarray:
    """Non-overlapping event onsets separated by random gaps around ``mean_gap`` samples."""
    gaps = rng.uniform(0.5, 1.5, size=max(1, n_times // max(mean_gap, 1) + 2)) * mean_gap
    starts = margin + np.cumsum(gaps).astype(int) - int(gaps[0] // 2)
    return starts[(starts >= margin) & (starts + length < n_times - margin)]


def simulate_recording(
    n_channels: int = 32,
    sfreq: float = 250.0,
    duration: float = 60.0,
    *,
    seed: int = 0,
    artifacts: bool | tuple[str, ...] | list[str] = True,
    line_freq: float = 50.0,
    dtype: type | np.dtype = np.float32,
) -> SimulatedRecording:
    """Draw a reproducible EEG-like recording with known artifacts and its clean ground truth.

    Background: 128 unit 1/f sources on a 7 cm sphere mixed into the sensors by a Gaussian
    kernel ``exp(-(d / 8 cm)^2)`` (volume conduction: neighbouring channels correlate about as in
    real EEG), scaled to about 10 uV RMS; a 10 Hz alpha rhythm whose amplitude waxes and wanes (0.2 Hz envelope), strongest
    over posterior sensors; 1 uV white sensor noise.

    Artifacts (all optional, see :data:`ARTIFACT_NAMES`):
        ``blink``: 0.35 s Hann-shaped bumps of about 150 uV every ~5 s, weighted toward the
        front of the head (``y`` large). ``muscle``: 20-(min(100, 0.45 sfreq)) Hz bursts of about
        30 uV lasting 0.5-1 s on lateral (temporal) sensors every ~12 s. ``line_noise``: a
        ``line_freq`` sinusoid (3 uV, random phase per channel; skipped if above 0.45 sfreq).
        ``dc_jump``: a 100 uV step on one channel from a random time to the end.
        ``flat_channel``: one channel replaced by a constant. ``noisy_channel``: one channel with
        white noise of five times the channel's RMS added.

    Arguments:
        n_channels: number of EEG channels (>= 4).
        sfreq: sampling rate in Hz.
        duration: length in seconds (at least 2 s).
        seed: seed of the NumPy generator; equal seeds give identical recordings.
        artifacts: ``True`` for all, ``False`` for none, or a sequence of artifact names.
        line_freq: mains frequency in Hz (50 or 60).
        dtype: floating dtype of the returned arrays.

    Returns:
        A :class:`SimulatedRecording` (data in volts).
    """
    if n_channels < 4:
        raise ValueError(f"n_channels must be at least 4 for a spatially structured recording, got {n_channels}")
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive number of Hz, got {sfreq}")
    n_times = int(round(duration * sfreq))
    if n_times < 2 * sfreq:
        raise ValueError(f"duration must be at least 2 s, got {duration} s")
    if artifacts is True:
        chosen = ARTIFACT_NAMES
    elif artifacts is False:
        chosen = ()
    else:
        unknown = [a for a in artifacts if a not in ARTIFACT_NAMES]
        if unknown:
            raise ValueError(f"unknown artifact name(s) {unknown}; choose from {ARTIFACT_NAMES}")
        chosen = tuple(a for a in ARTIFACT_NAMES if a in artifacts)

    rng = np.random.default_rng(seed)
    uv = 1e-6
    pos = sphere_positions(n_channels)
    t = np.arange(n_times) / sfreq

    # Volume conduction: 128 independent 1/f sources on a cortical sphere (7 cm) reach each
    # sensor through a Gaussian kernel of 8 cm width. This gives neighbour correlations like the
    # real EEG recordings (median best-neighbour correlation ~0.92 at 32 channels, 0.93 in
    # eeglab_data after a 1 Hz high-pass), whatever the montage density.
    sources = sphere_positions(_N_SOURCES, radius=0.07)
    dist = np.linalg.norm(pos[:, None, :] - sources[None, :, :], axis=-1)
    mixing = np.exp(-((dist / 0.08) ** 2))
    background = mixing @ _pink_noise(rng, (_N_SOURCES, n_times), sfreq)
    background *= 10 * uv / background.std()

    posterior = np.clip(-pos[:, 1] / _HEAD_RADIUS, 0.0, None) + 0.1
    envelope = 1.0 + 0.8 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi))
    alpha = np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi)) * envelope
    clean = background + 8 * uv * posterior[:, None] * alpha[None, :]
    clean += 1 * uv * rng.standard_normal((n_channels, n_times))

    data = clean.copy()
    masks: dict[str, np.ndarray] = {}
    names = tuple(f"EEG {i + 1:03d}" for i in range(n_channels))
    frontal = np.exp((pos[:, 1] - pos[:, 1].max()) / 0.03)  # 1 at the front, decays backwards
    frontal[frontal < 0.05] = 0.0  # blinks do not reach the back of the head; masks stay exact
    lateral = np.abs(pos[:, 0]) / _HEAD_RADIUS

    if "blink" in chosen:
        length = int(0.35 * sfreq)
        shape = np.hanning(length)
        wave = np.zeros(n_times)
        for start in _event_starts(rng, n_times, length, int(5 * sfreq), margin=length):
            wave[start : start + length] += rng.uniform(100, 200) * uv * shape
        data += frontal[:, None] * wave[None, :]
        masks["blink"] = (frontal[:, None] > 0) & (wave[None, :] != 0)
    if "muscle" in chosen:
        high = min(100.0, 0.45 * sfreq)
        spectrum = np.fft.rfft(rng.standard_normal(n_times))
        freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
        spectrum[(freqs < 20.0) | (freqs > high)] = 0.0
        emg = np.fft.irfft(spectrum, n=n_times)
        emg /= emg.std()
        gate = np.zeros(n_times)
        for start in _event_starts(rng, n_times, int(sfreq), int(12 * sfreq), margin=int(0.5 * sfreq)):
            gate[start : start + int(rng.uniform(0.5, 1.0) * sfreq)] = 1.0
        weights = np.where(lateral > 0.7, lateral, 0.0)
        data += 30 * uv * weights[:, None] * (emg * gate)[None, :]
        masks["muscle"] = (weights[:, None] > 0) & (gate[None, :] > 0)
    if "line_noise" in chosen and line_freq < 0.45 * sfreq:
        phases = rng.uniform(0, 2 * np.pi, size=(n_channels, 1))
        data += 3 * uv * np.sin(2 * np.pi * line_freq * t[None, :] + phases)
        masks["line_noise"] = np.ones((n_channels, n_times), dtype=bool)
    special = rng.choice(n_channels, size=3, replace=False)  # DC-jump, flat and noisy channels
    if "dc_jump" in chosen:
        ch, onset = special[0], int(rng.uniform(0.3, 0.7) * n_times)
        data[ch, onset:] += 100 * uv
        masks["dc_jump"] = np.zeros((n_channels, n_times), dtype=bool)
        masks["dc_jump"][ch, onset:] = True
    bad: list[str] = []
    if "flat_channel" in chosen:
        ch = special[1]
        data[ch] = data[ch, 0]
        masks["flat_channel"] = np.zeros((n_channels, n_times), dtype=bool)
        masks["flat_channel"][ch] = True
        bad.append(names[ch])
    if "noisy_channel" in chosen:
        ch = special[2]
        data[ch] += 5 * clean[ch].std() * rng.standard_normal(n_times)
        masks["noisy_channel"] = np.zeros((n_channels, n_times), dtype=bool)
        masks["noisy_channel"][ch] = True
        bad.append(names[ch])

    return SimulatedRecording(
        data=data.astype(dtype),
        clean=clean.astype(dtype),
        sfreq=float(sfreq),
        ch_names=names,
        ch_types=("eeg",) * n_channels,
        pos=pos,
        artifact_mask=masks,
        bad_channels=tuple(sorted(bad)),
        artifacts=chosen,
    )
