"""Benchmark: zero-phase 4th-order Butterworth band-pass (1-40 Hz) vs SciPy and MNE.

Default size: 64 channels x 600 s at 1 kHz (38.4 M samples). ``--quick``: 8 ch x 60 s.
Times are the best of ``--repeat`` runs after compilation (compile time reported apart),
with ``block_until_ready``. SciPy/MNE run single-threaded in C; XLA uses all cores.
Ratios < 1 mean NeuroJAX is faster. Numbers on a shared machine are noisy.

    python benchmarks/bench_filter.py [--quick] [--dtype float32|float64|both]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from _timing import best_of


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 channels x 60 s instead of 64 x 600 s")
    parser.add_argument("--dtype", default="both", choices=["float32", "float64", "both"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-mne", action="store_true")
    parser.add_argument("--no-grad", action="store_true")
    parser.add_argument("--no-scan", action="store_true", help="skip the per-sample scan backend")
    parser.add_argument("--grad-scan", action="store_true",
                        help="also time value_and_grad through the per-sample scan at full size (~10 s per call)")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import scipy.signal as ss

    from neurojax.preprocessing import filter as F

    sfreq = 1000.0
    n_ch, dur = (8, 60.0) if args.quick else (64, 600.0)
    n = int(sfreq * dur)
    rng = np.random.default_rng(0)
    t = np.arange(n) / sfreq
    x64 = rng.standard_normal((n_ch, n)) + rng.uniform(-5, 5, (n_ch, 1)) + np.sin(2 * np.pi * 0.05 * t)
    sos = ss.butter(4, [1.0, 40.0], "bandpass", fs=sfreq, output="sos")
    padlen = F.mne_padlen(sos)
    print(f"# zero-phase Butterworth N=4 band-pass 1-40 Hz, {n_ch} ch x {dur:g} s at {sfreq:g} Hz; best of {args.repeat}")
    print("# goals (issue #4): sosfiltfilt ratio <= 0.5 (float32), <= 1.0 (float64); value_and_grad / forward <= 4")
    print(f"{'dtype':8s} {'operation':44s} {'time [s]':>9s} {'compile [s]':>11s} {'ratio':>7s} {'max err':>9s}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    for dt in dtypes:
        x = x64.astype(dt)
        sos_dt = sos.astype(dt)
        t_sp, y_sp = best_of(lambda: ss.sosfiltfilt(sos_dt, x), args.repeat)
        ref = ss.sosfiltfilt(sos, x64)
        peak = np.max(np.abs(ref))
        print(f"{dt:8s} {'scipy.signal.sosfiltfilt':44s} {t_sp:9.3f} {'-':>11s} {1.0:7.2f} {np.max(np.abs(y_sp - ref)) / peak:9.1e}")
        t_mne = None
        if not args.no_mne:
            import mne

            # MNE filters float64 only; its float64 time is the reference for both dtypes
            t_mne, y_mne = best_of(lambda: mne.filter.filter_data(x64, sfreq, 1.0, 40.0, method="iir", verbose=False), args.repeat)
            ref_mne = y_mne
            print(f"{'float64':8s} {'mne.filter.filter_data(method=iir)':44s} {t_mne:9.3f} {'-':>11s} {t_mne / t_sp:7.2f} {np.max(np.abs(y_mne - ref_mne)) / peak:9.1e}")
        xj = jnp.asarray(x)
        for method in ("block",) if args.no_scan else ("block", "scan"):
            fn = jax.jit(lambda v, m=method: F.sosfiltfilt(sos_dt, v, method=m))
            t0 = time.perf_counter()
            jax.block_until_ready(fn(xj))
            comp = time.perf_counter() - t0
            tj, y = best_of(lambda: fn(xj), args.repeat)
            err = np.max(np.abs(np.asarray(y, np.float64) - ref)) / peak
            print(f"{dt:8s} {'neurojax sosfiltfilt (' + method + ')':44s} {tj:9.3f} {comp - tj:11.2f} {tj / t_sp:7.2f} {err:9.1e}")
            if not args.no_mne:
                fn = jax.jit(lambda v, m=method: F._apply_mne(jnp.asarray(sos_dt), v, padlen, "zero", m, F.DEFAULT_BLOCK_LEN))
                jax.block_until_ready(fn(xj))
                tj, y = best_of(lambda: fn(xj), args.repeat)
                err = np.max(np.abs(np.asarray(y, np.float64) - ref_mne)) / peak
                print(f"{dt:8s} {'neurojax MNE preset (' + method + ') vs MNE':44s} {tj:9.3f} {'':11s} {tj / t_mne:7.2f} {err:9.1e}")
        if dt == "float32":
            # what a user of butter_sos / scipy.signal.butter gets: float64 coefficients, float32 data
            fn = jax.jit(lambda v: F.sosfiltfilt(sos, v))
            jax.block_until_ready(fn(xj))
            tj, y = best_of(lambda: fn(xj), args.repeat)
            err = np.max(np.abs(np.asarray(y, np.float64) - ref)) / peak
            print(f"{dt:8s} {'neurojax sosfiltfilt (auto, f64 coefficients)':44s} {tj:9.3f} {'':11s} {tj / t_sp:7.2f} {err:9.1e}")
        if not args.no_grad:
            # learnable cutoff: forward vs value_and_grad w.r.t. (x, cutoff)
            # the per-sample scan stores every carry under autodiff: only timed at --quick size
            # unless --grad-scan
            for method in ("block", "scan") if args.quick or args.grad_scan else ("block",):
                def loss(v, fc, m=method):
                    s = F.butter_sos(4, fc, sfreq, "bandpass", dtype=v.dtype)
                    return jnp.sum(F.sosfiltfilt(s, v, padlen=27, method=m) ** 2)

                fwd = jax.jit(loss)
                vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
                fc = jnp.asarray([1.0, 40.0], dt)
                jax.block_until_ready(fwd(xj, fc))
                jax.block_until_ready(vg(xj, fc))
                tf, _ = best_of(lambda: fwd(xj, fc), args.repeat)
                tg, _ = best_of(lambda: vg(xj, fc), args.repeat)
                print(f"{dt:8s} {'forward loss, traced cutoff (' + method + ')':44s} {tf:9.3f}")
                print(f"{dt:8s} {'value_and_grad(x, cutoff) / forward (' + method + ')':44s} {tg:9.3f} {'':11s} {tg / tf:7.2f}")


if __name__ == "__main__":
    main()
