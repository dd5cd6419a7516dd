"""Wall time and peak memory of ``neurojax preprocess`` vs an equivalent MNE + meegkit script.

A simulated EEG recording (default 306 channels x 600 s at 1 kHz, 3 bad channels marked in the
file) is written as FIF under /tmp and deleted at the end. Each run is a fresh Python process;
its peak memory is its own ``VmHWM`` (read by the child at exit: a forked child's ``ru_maxrss``
would start from the parent's RSS). Runs: ``neurojax preprocess`` in one pass and in 60 s blocks,
and the reference: MNE IIR high-pass 1 Hz + IIR notch 50 Hz (``filter_data``, zero phase),
``interpolate_bads`` (spherical splines), meegkit ``ASR(cutoff=20)`` fitted on the first
``--fit-seconds`` (default 300 s, as our ``[fit] max_duration``), FIF out.

    uv run --extra test python benchmarks/bench_preprocess.py [--quick] [--duration S] [--channels C]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD_TAIL = """
for line in open('/proc/self/status'):
    if line.startswith('VmHWM:'):
        print('PEAK_KB', line.split()[1])
"""

_REFERENCE = """
import sys, numpy as np, mne
from meegkit.asr import ASR
src, out, fit_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = mne.io.read_raw_fif(src, preload=True, verbose='error')
raw.filter(1.0, None, method='iir', verbose='error')
raw.notch_filter(50.0, method='iir', verbose='error')
raw.interpolate_bads(reset_bads=True, verbose='error')
x = raw.get_data(picks='eeg')
asr = ASR(sfreq=raw.info['sfreq'], cutoff=20)
asr.fit(x[:, : int(fit_s * raw.info['sfreq'])])
raw._data[mne.pick_types(raw.info, eeg=True)] = asr.transform(x)
raw.save(out, overwrite=True, verbose='error')
"""


def _simulate(path: Path, n_channels: int, duration: float, sfreq: float) -> None:
    import mne
    import numpy as np

    from neurojax.datasets import simulate_recording

    sim = simulate_recording(n_channels, sfreq, duration, seed=0)
    info = mne.create_info(list(sim.ch_names), sfreq, "eeg", verbose="error")
    montage = mne.channels.make_dig_montage(dict(zip(sim.ch_names, sim.pos)), coord_frame="head")
    raw = mne.io.RawArray(sim.data.astype(np.float64), info, verbose="error")
    raw.set_montage(montage, verbose="error")
    raw.info["bads"] = list(sim.ch_names[3:6])
    raw.save(path, overwrite=True, verbose="error")


def _run(code_or_args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    res = subprocess.run(code_or_args, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    peak = [line for line in res.stdout.splitlines() if line.startswith("PEAK_KB")]
    return wall, int(peak[-1].split()[1]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 channels x 60 s")
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--channels", type=int, default=306)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    parser.add_argument("--fit-seconds", type=float, default=300.0)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-one-pass", action="store_true")
    parser.add_argument("--skip-blocks", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.channels, args.duration, args.fit_seconds = 32, 60.0, 60.0
    tmp = Path(tempfile.mkdtemp(prefix="nj_bench_", dir="/tmp"))
    src = tmp / "sim_raw.fif"
    try:
        _simulate(src, args.channels, args.duration, args.sfreq)
        print(f"{args.channels} EEG ch x {args.duration:g} s @ {args.sfreq:g} Hz, load {open('/proc/loadavg').read().split()[:3]}")
        nj = "import sys; from neurojax.cli import main; rc = main(sys.argv[1:]);" + _CHILD_TAIL + "sys.exit(rc)"
        runs = [] if args.skip_one_pass else [("neurojax one pass", [sys.executable, "-c", nj, "preprocess", str(src), "-o", str(tmp / "a_raw.fif"), "--chunk-duration", "1e9"])]
        if not args.skip_blocks:
            runs += [("neurojax 60 s blocks", [sys.executable, "-c", nj, "preprocess", str(src), "-o", str(tmp / "b_raw.fif"), "--chunk-duration", "60"])]
        if not args.skip_reference:
            runs.append((f"MNE + meegkit (ASR fit {args.fit_seconds:g} s)",
                         [sys.executable, "-c", _REFERENCE + _CHILD_TAIL, str(src), str(tmp / "r_raw.fif"), str(args.fit_seconds)]))
        for name, cmd in runs:
            wall, peak = _run(cmd)
            print(f"{name:40s} {wall:7.1f} s  peak {peak:6.2f} GiB  (load {open('/proc/loadavg').read().split()[0]})", flush=True)
    finally:
        for f in tmp.glob("*"):
            f.unlink()
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
