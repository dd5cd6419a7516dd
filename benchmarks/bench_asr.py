"""Benchmark: NeuroJAX ASR vs asrpy 0.0.8 and meegkit 0.2.0 (fit + transform, cutoff 20).

Each (library, size) runs in its own subprocess on identical simulated data (same seed), so peak
resident memory is measured per library (absolute ``ru_maxrss``, and the increment of the kernel's
high-water mark over imports + data, reset through ``/proc/self/clear_refs``; for NeuroJAX also
after the warm-up, so the increment excludes compiled code and memory the allocator keeps); every process is pinned to one thread
(BLAS and XLA) so CPU times compare like with like. NeuroJAX's first call (JIT compilation) is
reported separately from the steady-state time (second call on the same recording). A recording of
another length may recompile the calibration (lengths are bucketed, 8 sizes per octave).

    python benchmarks/bench_asr.py            # 32/64 ch x 250/1000 Hz x 60/300 s
    python benchmarks/bench_asr.py --quick    # small sizes
    python benchmarks/bench_asr.py --asrpy all   # also the asrpy cases needing ~5 GB (run once!)

asrpy's transform materialises a C^2 x S array (about 5 GB at 32 ch, 1 kHz, 300 s); by default
(``--asrpy small``) it is skipped where C x S > 5e6 samples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # this checkout's neurojax, not another worktree's

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def simulate(n_ch: int, sfreq: float, duration: float, seed: int = 0):
    """Correlated AR(1) noise plus alpha, with blinks and muscle bursts (~10 % of the time)."""
    import numpy as np
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(sfreq * duration)
    mix = (0.3 * rng.standard_normal((n_ch, n_ch)) / np.sqrt(n_ch) + np.eye(n_ch)).astype(np.float32)  # well conditioned
    # float32 throughout so that generating the data does not dominate the peak memory
    src = lfilter(np.float32([1.0]), np.float32([1.0, -0.9]), rng.standard_normal((n_ch, n), dtype=np.float32), axis=1)
    t = np.arange(n, dtype=np.float32) / np.float32(sfreq)
    src[0] += 3 * np.sin(2 * np.pi * 10 * t)
    x = np.float32(10e-6) * (mix @ src)
    del src
    topo = np.abs(rng.standard_normal(n_ch))
    for onset in rng.integers(0, n - int(sfreq), size=int(duration / 10)):
        length = int(0.3 * sfreq)
        x[:, onset : onset + length] += np.float32(150e-6) * np.outer(topo, np.hanning(length)).astype(np.float32)
    for onset in rng.integers(0, n - int(sfreq), size=int(duration / 20)):
        length = int(0.5 * sfreq)
        x[:, onset : onset + length] += np.float32(40e-6) * rng.standard_normal((n_ch, length), dtype=np.float32)
    return x


def _vm_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> int:
    """Reset the kernel's resident high-water mark (VmHWM) to the current RSS; returns it (kB)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _vm_kb("VmRSS")


def worker(lib: str, n_ch: int, sfreq: float, duration: float) -> dict:
    import resource

    import numpy as np

    if lib == "neurojax":
        import jax

        from neurojax.preprocessing.asr import ASR
    elif lib == "asrpy":
        import mne
        from asrpy import ASR as AsrpyASR
    else:
        from meegkit.asr import ASR as MeegkitASR
    x2 = simulate(n_ch, sfreq, duration, seed=1)
    out = {"lib": lib, "n_ch": n_ch, "sfreq": sfreq, "duration": duration}
    if lib == "neurojax":

        t0 = time.perf_counter()  # warm-up on the same recording: compilation + one run
        layer = ASR(sfreq=sfreq, cutoff=20.0).fit(x2)
        jax.block_until_ready(layer(x2))
        out["first_call_s"] = time.perf_counter() - t0
        del layer
        base = _reset_peak()  # steady-state increment over imports, data and compiled code
        t0 = time.perf_counter()
        layer = ASR(sfreq=sfreq, cutoff=20.0).fit(x2)
        t1 = time.perf_counter()
        jax.block_until_ready(layer(x2))
        t2 = time.perf_counter()
        out.update(fit_s=t1 - t0, transform_s=t2 - t1)
    elif lib == "asrpy":
        mne.set_log_level("ERROR")
        info = mne.create_info(n_ch, sfreq, "eeg")
        raw = mne.io.RawArray(x2.astype(np.float64), info)
        base = _reset_peak()
        t0 = time.perf_counter()
        asr = AsrpyASR(sfreq=sfreq, cutoff=20)
        asr.fit(raw)
        t1 = time.perf_counter()
        asr.transform(raw)
        t2 = time.perf_counter()
        out.update(fit_s=t1 - t0, transform_s=t2 - t1)
    elif lib == "meegkit":
        xd = x2.astype(np.float64)
        base = _reset_peak()
        t0 = time.perf_counter()
        asr = MeegkitASR(sfreq=sfreq, cutoff=20)
        asr.fit(xd)
        t1 = time.perf_counter()
        step = int(0.5 * sfreq)
        for i in range(0, xd.shape[1] - step + 1, step):
            asr.transform(xd[:, i : i + step])
        t2 = time.perf_counter()
        out.update(fit_s=t1 - t0, transform_s=t2 - t1)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out["peak_incr_gb"] = (_vm_kb("VmHWM") - base) / 2**20
    return out


def run_case(lib, n_ch, sfreq, duration):
    env = dict(os.environ, **THREAD_ENV)
    cmd = [sys.executable, __file__, "--worker", lib, str(n_ch), str(sfreq), str(duration)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        return {"lib": lib, "error": res.stderr.strip().splitlines()[-1] if res.stderr else f"rc {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--asrpy", choices=["all", "small", "none"], default="small")
    ap.add_argument("--meegkit", choices=["yes", "no"], default="yes")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, n_ch, sfreq, duration = args.worker
        print(json.dumps(worker(lib, int(n_ch), float(sfreq), float(duration))))
        return
    if args.quick:
        sizes = [(16, 250.0, 30.0), (32, 250.0, 60.0)]
    else:
        sizes = [(c, f, d) for c in (32, 64) for f in (250.0, 1000.0) for d in (60.0, 300.0)]
    print("NeuroJAX ASR benchmark (float32 ours; float64 references), 1 thread each, cutoff 20, fit on the whole recording")
    print(f"{'C':>3} {'fs':>5} {'dur':>4} | {'lib':8} {'fit s':>7} {'trans s':>8} {'total s':>8} {'peak GB':>7} {'incr GB':>7} {'compile s':>9} | speed-up vs neurojax")
    for n_ch, sfreq, duration in sizes:
        results = [run_case("neurojax", n_ch, sfreq, duration)]
        if args.asrpy == "all" or (args.asrpy == "small" and n_ch * sfreq * duration <= 5e6):
            results.append(run_case("asrpy", n_ch, sfreq, duration))
        if args.meegkit == "yes":
            results.append(run_case("meegkit", n_ch, sfreq, duration))
        ours = results[0]
        ours_total = ours.get("fit_s", float("nan")) + ours.get("transform_s", float("nan"))
        for r in results:
            if "error" in r:
                print(f"{n_ch:>3} {sfreq:>5.0f} {duration:>4.0f} | {r['lib']:8} error: {r['error']}")
                continue
            total = r["fit_s"] + r["transform_s"]
            comp = f"{r['first_call_s'] - total:9.2f}" if "first_call_s" in r else " " * 9
            ratio = "" if r is ours else f"{total / ours_total:6.1f}x"
            print(f"{n_ch:>3} {sfreq:>5.0f} {duration:>4.0f} | {r['lib']:8} {r['fit_s']:7.2f} {r['transform_s']:8.2f} "
                  f"{total:8.2f} {r['peak_rss_gb']:7.2f} {r['peak_incr_gb']:7.2f} {comp} | {ratio}", flush=True)


if __name__ == "__main__":
    main()
