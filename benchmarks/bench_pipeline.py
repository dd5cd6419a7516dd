"""Benchmark: the default pipeline over a batch of recordings, jitted + vmapped vs a Python loop.

Pipeline: zero-phase 4th-order band-pass 1-40 Hz, ASR (fitted), FastICA apply (fitted, one
component excluded). A batch of ``--batch`` simulated recordings with the same channel layout
(default 16 x 64 channels x 60 s at 250 Hz) is cleaned (a) by calling the pipeline eagerly once
per recording in a Python loop, as one would with a per-file tool, and (b) by one
``eqx.filter_jit(eqx.filter_vmap(pipe))`` call. Compile time is reported apart; timings are
the best of ``--repeat`` runs with ``block_until_ready``.

    python benchmarks/bench_pipeline.py [--quick] [--batch N]
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neurojax.datasets import simulate_recording
from neurojax.preprocessing import ASR, FastICA, IIRFilter, Pipeline

from _timing import best_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 recordings x 16 channels x 20 s")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n_rec, n_ch, duration = (4, 16, 20.0) if args.quick else (16, 64, 60.0)
    n_rec = args.batch or n_rec
    sfreq = 250.0

    recs = [simulate_recording(n_ch, sfreq, duration, seed=s, artifacts=["blink", "muscle", "line_noise"]) for s in range(n_rec)]
    batch = jnp.asarray(np.stack([r.data for r in recs]))
    pipe = Pipeline(
        [
            IIRFilter(jnp.asarray([1.0, 40.0]), sfreq, btype="bandpass"),
            ASR(sfreq, cutoff=20.0, calibration="off"),
            FastICA(n_components=n_ch // 2, max_iter=200, store_sources=False, exclude=(0,)),
        ],
        sfreq=sfreq,
    )
    start = time.perf_counter()
    pipe = pipe.fit(batch[0], key=jax.random.PRNGKey(0))
    fit_s = time.perf_counter() - start

    def loop():
        return [pipe(x) for x in batch]

    single = eqx.filter_jit(pipe)

    def jitted_loop():
        return [single(x) for x in batch]

    batched = eqx.filter_jit(eqx.filter_vmap(pipe))
    start = time.perf_counter()
    jax.block_until_ready(batched(batch))
    compile_s = time.perf_counter() - start
    loop()  # warm the eager per-op caches too
    jitted_loop()  # compiles the single-recording version
    t_loop, _ = best_of(loop, args.repeat)
    t_jit_loop, _ = best_of(jitted_loop, args.repeat)
    t_vmap, _ = best_of(lambda: batched(batch), args.repeat)
    diff = float(jnp.max(jnp.abs(jnp.stack(loop()) - batched(batch))) / jnp.max(jnp.abs(batch)))

    print(f"# {n_rec} recordings x {n_ch} ch x {duration:g} s at {sfreq:g} Hz; devices {jax.devices()}; dtype {batch.dtype}")
    print(f"fit on one recording: {fit_s:.2f} s; jit+vmap compile: {compile_s:.2f} s")
    print(f"{'method':32s} {'time [s]':>9s} {'per recording [s]':>18s}")
    print(f"{'Python loop (eager)':32s} {t_loop:9.3f} {t_loop / n_rec:18.3f}")
    print(f"{'Python loop of jitted pipeline':32s} {t_jit_loop:9.3f} {t_jit_loop / n_rec:18.3f}")
    print(f"{'jit + vmap, one call':32s} {t_vmap:9.3f} {t_vmap / n_rec:18.3f}")
    print(f"ratio eager loop / (jit+vmap): {t_loop / t_vmap:.1f}x; jitted loop / (jit+vmap): {t_jit_loop / t_vmap:.2f}x")
    print(f"max relative difference loop vs vmap: {diff:.1e}")


if __name__ == "__main__":
    main()
