"""Cleaned samples on disk while the job streams, then written out as FIF or ``.npz`` block by block.

The job appends each cleaned block to a temporary time-major float32 file beside the output
(:class:`BlockFile`), so memory holds one block, never the recording. Once every step succeeded
the file is copied into the requested format:

* FIF through a minimal MNE ``BaseRaw`` whose reads come from the block file, so ``raw.save``
  pulls one buffer at a time (MNE splits files over 2 GB itself);
* ``.npz``: the time-major bytes *are* a column-major ``(n_channels, n_times)`` array, so
  ``data.npy`` is a Fortran-order header followed by the file's bytes (``numpy.load`` reads it
  as usual); the metadata arrays are small.

The temporary file is removed afterwards, and on any error, so a failed run leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Recording

__all__ = ["BlockFile", "write_fif_from_blocks", "write_npz_from_blocks"]


class BlockFile:
    """A temporary ``(n_times, n_channels)`` float32 file written one block at a time."""

    def __init__(self, beside: str | Path, n_channels: int):
        beside = Path(beside)
        fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".neurojax-tmp", dir=beside.parent)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.n_channels, self.n_times = int(n_channels), 0

    def append(self, block: np.ndarray) -> None:
        """Append ``(n_channels, n)`` samples."""
        if block.shape[0] != self.n_channels:
            raise ValueError(f"block has {block.shape[0]} channels, the file {self.n_channels}")
        self._file.write(np.ascontiguousarray(block.T, dtype=np.float32).tobytes())
        self.n_times += block.shape[1]

    def finish(self) -> np.memmap:
        """Close for writing; a read-only ``(n_times, n_channels)`` view of the samples."""
        self._file.close()
        if self.n_times == 0:
            return np.zeros((0, self.n_channels), np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.n_times, self.n_channels))

    def remove(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def _block_raw(info: Any, samples: np.memmap) -> Any:
    """An MNE ``Raw`` that reads its data from ``samples`` (time-major, SI units) on demand."""
    from mne.io import BaseRaw

    try:
        from mne._fiff.utils import _mult_cal_one
    except ImportError:  # pragma: no cover - older MNE
        from mne.io.utils import _mult_cal_one

    all_cals = np.array([ch["range"] * ch["cal"] for ch in info["chs"]], dtype=np.float64)[:, None]

    class _BlockRaw(BaseRaw):
        def __init__(self):
            super().__init__(info, preload=False, first_samps=(0,), last_samps=(samples.shape[0] - 1,),
                             orig_format="single", verbose="error")

        def _read_segment_file(self, data, idx, fi, start, stop, cals, mult):
            # MNE expects file units and calibrates them itself: divide our SI samples by the cals.
            one = np.asarray(samples[start : start + data.shape[1]], dtype=np.float64).T / all_cals
            _mult_cal_one(data, one, idx, cals, mult)

    return _BlockRaw()


def write_fif_from_blocks(path: str | Path, info: Any, samples: np.memmap, *, overwrite: bool = False) -> Path:
    """Write ``samples`` (time-major) as a FIF file with ``info`` (a partial file is removed on error)."""
    path = Path(path)
    try:
        _block_raw(info, samples).save(path, overwrite=overwrite, verbose="error")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def write_npz_from_blocks(path: str | Path, recording: Recording, samples: np.memmap) -> Path:
    """Write the shared ``.npz`` layout; ``data`` comes from ``samples`` without a full copy in memory."""
    from .io import npz_metadata

    path = Path(path)
    n_times, n_channels = samples.shape
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            with zf.open("data.npy", "w", force_zip64=True) as f:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": True,
                          "shape": (n_channels, n_times)}
                np.lib.format.write_array_header_1_0(f, header)
                if n_times:
                    with open(samples.filename, "rb") as src:
                        shutil.copyfileobj(src, f, 16 << 20)
            for name, value in npz_metadata(recording).items():
                with zf.open(f"{name}.npy", "w") as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
