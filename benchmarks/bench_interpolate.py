"""Benchmark: spherical-spline bad-channel interpolation, NeuroJAX vs MNE ``interpolate_bads``.

Same simulated data for both (64 BioSemi channels, 60 s at 250 Hz, 5 bad channels: Fp1, C3, Pz,
T8, O2), one process, float32 for us (float64 for MNE, its only dtype). Times are medians over
repeats; JAX compile time is excluded from the steady-state numbers and reported on its own.
BLAS is pinned to one thread (as the reference timings in the spec) unless ``--threads`` is given.

Usage: python benchmarks/bench_interpolate.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10 s instead of 60 s, fewer repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="BLAS/XLA threads (default 1)")
    return p.parse_args()


ARGS = _parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(ARGS.threads))
if ARGS.threads == 1:
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import time  # noqa: E402
import warnings  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from neurojax.preprocessing.interpolate import Interpolator, fit_head_sphere, spherical_spline_interpolate  # noqa: E402

BADS = ["Fp1", "C3", "Pz", "T8", "O2"]


def _timeit(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _block(x):
    return jax.block_until_ready(x)


def main() -> None:
    import mne

    mne.set_log_level("ERROR")
    warnings.simplefilter("ignore")
    sfreq = 250.0
    duration = 10.0 if ARGS.quick else 60.0
    repeats = ARGS.repeats or (5 if ARGS.quick else 20)
    n_batch = 8 if ARGS.quick else 32

    mont = mne.channels.make_standard_montage("biosemi64")
    names = mont.ch_names
    pos = np.array([mont.get_positions()["ch_pos"][n] for n in names])
    n_t = int(duration * sfreq)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, n_t)) * 1e-5
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(data, info)
    raw.set_montage(mont)
    raw.info["bads"] = list(BADS)
    bad_idx = [names.index(b) for b in BADS]
    _, origin = fit_head_sphere(pos)

    x32 = jnp.asarray(data, jnp.float32)
    epochs = jnp.asarray(rng.standard_normal((n_batch, 64, int(2 * sfreq))) * 1e-5, jnp.float32)
    mne_epochs = mne.EpochsArray(np.asarray(epochs, np.float64), raw.info)

    rows = []

    def add(name, ours_fn, ref_fn, compile_s=None):
        t_ref = _timeit(ref_fn, repeats) if ref_fn is not None else None
        t_ours = _timeit(ours_fn, repeats)
        rows.append((name, t_ref, t_ours, compile_s))

    # 1. one-shot eager call (matrix built on every call) vs MNE's full call (origin 'auto')
    eager = lambda: _block(spherical_spline_interpolate(x32, bad_idx, pos))  # noqa: E731
    eager()
    add("eager call, origin auto (64 ch, 5 bad)", eager, lambda: raw.copy().interpolate_bads())

    # 2. jitted with a fixed bad set: matrix folded in at trace time
    f_fixed = jax.jit(lambda x: spherical_spline_interpolate(x, bad_idx, pos, origin=origin))
    t0 = time.perf_counter()
    _block(f_fixed(x32))
    c_fixed = time.perf_counter() - t0
    add("jit, static bad set (origin given)", lambda: _block(f_fixed(x32)), lambda: raw.copy().interpolate_bads(origin=origin), c_fixed)

    # 3. Interpolator layer (traced mask: matrix read off the bordered inverse on every call)
    layer = Interpolator(pos, bad_idx, origin=origin)
    f_layer = eqx.filter_jit(lambda lay, x: lay(x))
    t0 = time.perf_counter()
    _block(f_layer(layer, x32))
    c_layer = time.perf_counter() - t0
    add("Interpolator layer, traced mask", lambda: _block(f_layer(layer, x32)), lambda: raw.copy().interpolate_bads(origin=origin), c_layer)
    layer8 = Interpolator(pos, bad_idx, origin=origin, max_bad=8)
    t0 = time.perf_counter()
    _block(f_layer(layer8, x32))
    c_layer8 = time.perf_counter() - t0
    add("Interpolator layer, traced mask, max_bad=8", lambda: _block(f_layer(layer8, x32)), lambda: raw.copy().interpolate_bads(origin=origin), c_layer8)

    # 4. batch of epochs (2 s each)
    f_ep = jax.jit(lambda x: spherical_spline_interpolate(x, bad_idx, pos, origin=origin))
    t0 = time.perf_counter()
    _block(f_ep(epochs))
    c_ep = time.perf_counter() - t0
    add(f"jit, {n_batch} epochs x 2 s", lambda: _block(f_ep(epochs)), lambda: mne_epochs.copy().interpolate_bads(origin=origin), c_ep)

    # 5. vmapped over bad sets (no MNE equivalent; MNE loops over calls)
    masks = np.zeros((8, 64), bool)
    for i in range(8):
        masks[i, rng.choice(64, 5, replace=False)] = True
    f_sets = jax.jit(jax.vmap(lambda m: spherical_spline_interpolate(x32, m, pos, origin=origin, max_bad=5)))
    t0 = time.perf_counter()
    _block(f_sets(jnp.asarray(masks)))
    c_sets = time.perf_counter() - t0

    def mne_sets():
        for m in masks:
            r = raw.copy()
            r.info["bads"] = [names[i] for i in np.flatnonzero(m)]
            r.interpolate_bads(origin=origin)

    add("vmap over 8 bad sets (max_bad=5)", lambda: _block(f_sets(jnp.asarray(masks))), mne_sets, c_sets)

    print(f"\nBad-channel interpolation, 64 ch, {duration:g} s @ {sfreq:g} Hz, 5 bad, float32 (MNE float64), "
          f"threads={ARGS.threads}, median of {repeats}; jax {jax.__version__}, mne {mne.__version__}")
    print(f"{'case':46s} {'MNE (ms)':>10s} {'ours (ms)':>10s} {'speed-up':>9s} {'compile (s)':>12s}")
    for name, t_ref, t_ours, comp in rows:
        ratio = f"{t_ref / t_ours:8.1f}x" if t_ref else "      -"
        comp_s = f"{comp:12.2f}" if comp is not None else f"{'-':>12s}"
        ref_s = f"{t_ref * 1e3:10.2f}" if t_ref else f"{'-':>10s}"
        print(f"{name:46s} {ref_s} {t_ours * 1e3:10.2f} {ratio} {comp_s}")


if __name__ == "__main__":
    main()
