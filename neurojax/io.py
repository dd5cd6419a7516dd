"""Read and write recordings through MNE-Python (the optional ``io`` extra).

:func:`read_raw` turns a FIF, EDF/BDF, EEGLAB ``.set`` or BrainVision ``.vhdr`` file into a
:class:`neurojax.datasets.Recording` (arrays in SI units plus channel names, types, positions in
head coordinates, MEG coil orientations, bad channels and events). :func:`write_fif` writes
cleaned data back as a FIF file MNE can read; :func:`write_npz` writes the plain ``.npz`` layout
of the shared recordings and needs no MNE. The numerics never import this module.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Recording, load_npz

__all__ = ["SUPPORTED_SUFFIXES", "LazyData", "read_raw", "read_block", "write_fif", "write_npz", "to_mne", "mne_info"]

SUPPORTED_SUFFIXES = {
    ".fif": "FIF (Neuromag/MNE)",
    ".fif.gz": "FIF (Neuromag/MNE)",
    ".edf": "EDF",
    ".bdf": "BDF (BioSemi)",
    ".set": "EEGLAB",
    ".vhdr": "BrainVision",
    ".npz": "NeuroJAX/shared .npz",
}

_HEAD_FRAME = 4  # FIFFV_COORD_HEAD


class LazyData:
    """``(n_channels, n_times)`` samples left in the file: MNE reads a time range on request.

    Stands in for ``Recording.data`` when :func:`read_raw` is called with ``preload=False``;
    :func:`read_block` reads from it (or from an in-memory array) without loading the rest.
    """

    def __init__(self, raw: Any):
        self._raw = raw
        self.shape = (len(raw.ch_names), raw.n_times)
        self.dtype = np.dtype(np.float64)
        self.ndim = 2

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` of every channel, float64 in SI units."""
        return self._raw.get_data(start=int(start), stop=int(stop), verbose="error")

    def __array__(self, dtype=None, copy=None):  # a full read, for code that needs the array
        data = self.read(0, self.shape[1])
        return data if dtype is None else data.astype(dtype)


def read_block(data: Any, start: int, stop: int) -> np.ndarray:
    """Columns ``[start, stop)`` of a recording's ``data`` (an array or :class:`LazyData`)."""
    if isinstance(data, LazyData):
        return data.read(start, stop)
    return np.asarray(data[:, start:stop])


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _import_mne() -> Any:
    try:
        import mne
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("reading and writing M/EEG files needs MNE-Python: pip install 'neurojax[io]'") from err
    return mne


def _geometry(info: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sensor positions and MEG normals in head coordinates, coil types (0 for non-MEG)."""
    mne = _import_mne()
    n = info["nchan"]
    pos = np.full((n, 3), np.nan)
    ori = np.full((n, 3), np.nan)
    coil = np.zeros(n, dtype=np.int32)
    trans = np.eye(4) if info["dev_head_t"] is None else np.asarray(info["dev_head_t"]["trans"])
    meg = set(mne.pick_types(info, meg=True, ref_meg=False, exclude=[]).tolist())
    for i, ch in enumerate(info["chs"]):
        loc = np.asarray(ch["loc"], dtype=float)
        centre = loc[:3]
        if not np.all(np.isfinite(centre)) or not np.any(centre):
            continue  # MNE stores "no position" as zeros or NaN
        if i in meg:
            # MEG coil frames are in device coordinates; move them to the head frame.
            coil[i] = int(ch["coil_type"])
            pos[i] = trans[:3, :3] @ centre + trans[:3, 3]
            ori[i] = trans[:3, :3] @ loc[9:12]
        elif int(ch["coord_frame"]) == _HEAD_FRAME:
            pos[i] = centre
    return pos, ori, coil


def read_raw(path: str | Path, *, eog: tuple[str, ...] = (), preload: bool = True) -> Recording:
    """Read a continuous recording into arrays and metadata.

    Arguments:
        path: a ``.fif``, ``.edf``, ``.bdf``, ``.set``, ``.vhdr`` or shared-layout ``.npz`` file.
        eog: channel names to relabel as EOG after reading (their positions are kept).
        preload: ``False`` leaves the samples of MNE formats in the file (``data`` is a
            :class:`LazyData`; read ranges with :func:`read_block`), for recordings larger than memory.

    Returns:
        A :class:`~neurojax.datasets.Recording`; ``info`` holds the MNE ``Info`` for writing back.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the format is not supported or the file cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ValueError(f"{path}: unsupported format {suffix or '(no extension)'}; supported: {kinds}")
    if suffix == ".npz":
        return load_npz(path)
    mne = _import_mne()
    try:
        raw = mne.io.read_raw(path, preload=preload, verbose="error")
    except Exception as err:  # MNE raises many types for corrupt files; report one clear line
        raise ValueError(f"{path}: cannot be read as {SUPPORTED_SUFFIXES[suffix]} ({type(err).__name__}: {err})") from err
    if eog:
        missing = [ch for ch in eog if ch not in raw.ch_names]
        if missing:
            raise ValueError(f"{path}: EOG channel(s) {missing} not in the recording")
        raw.set_channel_types({ch: "eog" for ch in eog}, verbose="error")
    return from_mne(raw, source=path.name)


def from_mne(raw: Any, source: str = "") -> Recording:
    """Convert an MNE ``Raw`` object to a :class:`~neurojax.datasets.Recording` (lazy data if not preloaded)."""
    mne = _import_mne()
    info = raw.info
    pos, ori, coil = _geometry(info)
    try:
        events, event_id = mne.events_from_annotations(raw, verbose="error")
    except ValueError:
        events, event_id = np.zeros((0, 3), dtype=np.int64), {}
    if len(events) == 0 and "stim" in raw.get_channel_types():
        events = mne.find_events(raw, verbose="error", initial_event=True)
        events[:, 0] -= raw.first_samp
        event_id = {str(c): int(c) for c in sorted(set(events[:, 2].tolist()))}
    return Recording(
        data=raw.get_data() if raw.preload else LazyData(raw),
        sfreq=float(info["sfreq"]),
        ch_names=tuple(raw.ch_names),
        ch_types=tuple(raw.get_channel_types()),
        pos=pos,
        ori=ori,
        bads=tuple(info["bads"]),
        events=np.asarray(events, dtype=np.int64).reshape(-1, 3),
        event_id={str(k): int(v) for k, v in event_id.items()},
        coil_type=coil,
        source=source,
        info=info,
    )


def to_mne(recording: Recording, data: np.ndarray | None = None) -> Any:
    """An MNE ``RawArray`` of ``data`` (default: the recording's own) with its channel info.

    When the recording came from :func:`read_raw` the original ``Info`` (sensor geometry,
    projectors, filters) is reused; otherwise one is built from names, types and rate.
    """
    mne = _import_mne()
    data = np.asarray(recording.data if data is None else data, dtype=np.float64)
    if data.shape[0] != recording.n_channels:
        raise ValueError(f"data has {data.shape[0]} channels but the recording has {recording.n_channels}")
    return mne.io.RawArray(data, mne_info(recording), verbose="error")


def mne_info(recording: Recording) -> Any:
    """The MNE ``Info`` to write ``recording`` with: its own (rate and bads updated) or a new one."""
    mne = _import_mne()
    if recording.info is not None:
        info = recording.info.copy()
        if not np.isclose(info["sfreq"], recording.sfreq):
            with info._unlock():
                info["sfreq"] = float(recording.sfreq)
        info["bads"] = [b for b in recording.bads if b in info["ch_names"]]
    else:
        info = mne.create_info(list(recording.ch_names), recording.sfreq, list(recording.ch_types), verbose="error")
        info["bads"] = list(recording.bads)
    return info


def write_fif(path: str | Path, recording: Recording, data: np.ndarray | None = None, *, overwrite: bool = False) -> Path:
    """Write ``data`` (default: the recording's) as a FIF file readable by ``mne.io.read_raw_fif``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    to_mne(recording, data).save(path, overwrite=overwrite, verbose="error")
    return path


def write_npz(path: str | Path, recording: Recording, data: np.ndarray | None = None) -> Path:
    """Write the shared ``.npz`` layout (readable with ``numpy.load`` or :func:`~neurojax.datasets.load_npz`)."""
    path = Path(path)
    rec = recording if data is None else replace(recording, data=np.asarray(data))
    np.savez_compressed(path, data=np.asarray(rec.data, dtype=np.float32), **npz_metadata(rec))
    return path


def npz_metadata(rec: Recording) -> dict[str, np.ndarray]:
    """Every array of the shared ``.npz`` layout except ``data``."""
    names = sorted(rec.event_id, key=rec.event_id.get)
    return dict(
        sfreq=np.float64(rec.sfreq),
        ch_names=np.array(rec.ch_names, dtype=str),
        ch_types=np.array(rec.ch_types, dtype=str),
        pos=rec.pos,
        ori=rec.ori,
        coil_type=np.zeros(rec.n_channels, np.int32) if rec.coil_type is None else rec.coil_type,
        bads=np.array(rec.bads, dtype=str),
        events=rec.events,
        event_names=np.array(names, dtype=str),
        event_codes=np.array([rec.event_id[k] for k in names], dtype=np.int64),
        source=np.array(rec.source),
    )
