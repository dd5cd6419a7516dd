"""Benchmark: polyphase resampling 1000 -> 250 Hz vs scipy.signal.resample_poly (and MNE).

Default size: 306 channels x 300 s at 1 kHz. ``--quick``: 32 ch x 60 s. Also times the
co-prime cases 1001 -> 1000 and 44100 -> 48000 on a short signal. Best of ``--repeat``
after compilation (compile reported apart), ``block_until_ready``. Ratios < 1: faster.

    python benchmarks/bench_resample.py [--quick] [--dtype float32|float64|both]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from _timing import best_of


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dtype", default="both", choices=["float32", "float64", "both"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-mne", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import scipy.signal as ss

    from neurojax.preprocessing import resample as R

    n_ch, dur = (32, 60.0) if args.quick else (306, 300.0)
    rng = np.random.default_rng(0)
    cases = [(1000.0, 250.0, n_ch, dur), (1001.0, 1000.0, 8, 10.0), (44100.0, 48000.0, 4, 2.0)]
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    print(f"{'case':34s} {'dtype':8s} {'impl':28s} {'time [s]':>9s} {'compile [s]':>11s} {'ratio':>7s} {'max err':>9s}")
    for f_in, f_out, ch, d in cases:
        up, down, _, _ = R.rational_ratio(f_in, f_out)
        x64 = rng.standard_normal((ch, int(f_in * d)))
        label = f"{ch} ch x {d:g} s {f_in:g}->{f_out:g} ({up}/{down})"
        for dt in dtypes:
            x = x64.astype(dt)
            t_sp, y_sp = best_of(lambda: ss.resample_poly(x, up, down, axis=-1), args.repeat)
            print(f"{label:34s} {dt:8s} {'scipy resample_poly':28s} {t_sp:9.3f} {'-':>11s} {1.0:7.2f} {'-':>9s}")
            if not args.no_mne and dt == "float64" and f_in == 1000.0:
                import mne

                t_m, _ = best_of(lambda: mne.filter.resample(x, up, down, npad="auto", verbose=False), args.repeat)
                print(f"{label:34s} {dt:8s} {'mne resample (fft)':28s} {t_m:9.3f} {'-':>11s} {t_m / t_sp:7.2f} {'-':>9s}")
            xj = jnp.asarray(x)
            fn = jax.jit(lambda v: R.resample_poly(v, up, down))
            t0 = time.perf_counter()
            jax.block_until_ready(fn(xj))
            comp = time.perf_counter() - t0
            tj, y = best_of(lambda: fn(xj), args.repeat)
            err = np.max(np.abs(np.asarray(y, np.float64) - y_sp))
            print(f"{label:34s} {dt:8s} {'neurojax resample_poly':28s} {tj:9.3f} {comp - tj:11.2f} {tj / t_sp:7.2f} {err:9.1e}")
            del xj, y


if __name__ == "__main__":
    main()
