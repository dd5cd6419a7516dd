"""Benchmark: neurojax FastICA vs scikit-learn FastICA and python-picard (Picard-O).

Simulated recording: 64 channels x 120 s @ 250 Hz (30,000 samples), i.i.d. Laplace sources
mixed by a random matrix ("laplace"), plus an EEG-like set (pink Gaussian background with a few
blink/ECG/EMG-like sources) where FastICA converges slowly. scikit-learn and neurojax get the same
``w_init`` and therefore run the same number of iterations (checked and printed); Picard runs
its own algorithm to its own tolerance (1e-7 on the gradient), so its row is for context.

Threads are pinned (one BLAS/Eigen thread each, set before importing NumPy/JAX) because
OpenBLAS' default threading on a loaded machine distorts the comparison. Compile time of the
neurojax program is measured separately (first call) and excluded from the steady-state time.
Optionally, the iterations to convergence on the real EEGLAB recording are reported
(``--eeg /path/to/eeglab_data.npz``).

Usage: ``python benchmarks/bench_ica.py [--quick] [--repeat 3] [--dtype float32|float64] [--eeg PATH]``
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def _simulate(kind: str, n_ch: int, n_times: int, sfreq: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "laplace":
        s = rng.laplace(size=(n_ch, n_times))
    else:  # eeg_like: pink Gaussian background + a few non-Gaussian artefact sources
        n_art = 6
        f = np.fft.rfftfreq(n_times, 1 / sfreq)
        spec = (rng.normal(size=(n_ch - n_art, f.size)) + 1j * rng.normal(size=(n_ch - n_art, f.size))) / np.sqrt(np.maximum(f, 1.0))
        s_bg = np.fft.irfft(spec, n=n_times)
        t = np.arange(n_times) / sfreq
        blinks = np.zeros((3, n_times))
        for i in range(3):
            for c in rng.choice(n_times - 100, 40, replace=False):
                blinks[i, c : c + 60] += np.hanning(60) * (5 + rng.random())
        ecg = (np.sin(2 * np.pi * 1.2 * t) > 0.97).astype(float) * 5
        emg = rng.laplace(size=(2, n_times)) * (np.sin(2 * np.pi * 0.1 * t) > 0.5)
        s = np.concatenate([s_bg, blinks, ecg[None], emg])
    s = (s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True)
    a = rng.normal(size=(n_ch, n_ch))
    return a @ s


def _best(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="16 channels x 20 s (smoke run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--kinds", default="laplace,eeg_like")
    ap.add_argument("--no-picard", action="store_true")
    ap.add_argument("--eeg", default=None, help="path to eeglab_data.npz: report iterations on real EEG")
    args = ap.parse_args(argv)

    import jax

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from sklearn.decomposition import FastICA as SkFastICA

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from neurojax.preprocessing.ica import fastica

    n_ch, dur, sfreq = (16, 20.0, 250.0) if args.quick else (64, 120.0, 250.0)
    n_times = int(dur * sfreq)
    print(f"# FastICA benchmark: {n_ch} ch x {dur:g} s @ {sfreq:g} Hz ({n_times} samples), {args.dtype}, "
          f"logcosh/parallel, tol 1e-4, max_iter {args.max_iter}; best of {args.repeat}; 1 thread")
    print(f"{'data':<9} {'solver':<36} {'time [s]':>9} {'iters':>6} {'conv':>5} {'vs sklearn':>10}")
    dt = np.float32 if args.dtype == "float32" else np.float64
    for kind in args.kinds.split(","):
        x = _simulate(kind, n_ch, n_times, sfreq).astype(dt)
        w_init = np.random.default_rng(1).normal(size=(n_ch, n_ch))
        kw = dict(n_components=n_ch, max_iter=args.max_iter, tol=1e-4, w_init=w_init)

        def run_sk():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return SkFastICA(**kw).fit(x.T)

        t_sk, sk = _best(run_sk, args.repeat)
        def run_ours(xj, solver="svd"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fastica(xj, whiten_solver=solver, return_sources=False, **kw)
            jax.block_until_ready(r.unmixing)
            return r

        rows = [(kind, f"sklearn FastICA (svd, {args.dtype})", t_sk, sk.n_iter_, sk.n_iter_ < args.max_iter, 1.0)]
        variants = [("svd", args.dtype), ("eigh", args.dtype)]
        if args.dtype == "float64":
            variants.append(("svd", "float32"))
        for solver, ours_dt in variants:
            xj = jnp.asarray(x, ours_dt)
            t0 = time.perf_counter()
            run_ours(xj, solver)
            t_first = time.perf_counter() - t0
            t_ours, r = _best(lambda: run_ours(xj, solver), args.repeat)
            same = "" if int(r.n_iter) == sk.n_iter_ else " (iters differ)"
            rows.append((kind, f"neurojax ({solver}, {ours_dt}){same}", t_ours, int(r.n_iter), bool(r.converged), t_sk / t_ours))
            print(f"#   neurojax ({solver}, {ours_dt}) first call incl. compile: {t_first:.2f} s")
        xj = jnp.asarray(x, args.dtype)

        def run_ours_picard():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fastica(xj, jax.random.PRNGKey(0), n_components=n_ch, algorithm="picard", tol=1e-7, max_iter=500, return_sources=False)
            jax.block_until_ready(r.unmixing)
            return r

        run_ours_picard()
        t_op, r_op = _best(run_ours_picard, args.repeat)
        rows.append((kind, f"neurojax picard ({args.dtype}, tol 1e-7)", t_op, int(r_op.n_iter), bool(r_op.converged), t_sk / t_op))
        if not args.no_picard:
            try:
                from picard import picard
            except ImportError:
                picard = None
            if picard is not None:
                t_p, (_, _, _, n_it) = _best(
                    lambda: picard(x, ortho=True, extended=True, max_iter=500, return_n_iter=True, random_state=0), args.repeat
                )
                rows.append((kind, "picard Picard-O (tol 1e-7)", t_p, n_it, n_it < 500, t_sk / t_p))
        for k, name, t, it, conv, ratio in rows:
            print(f"{k:<9} {name:<36} {t:9.3f} {it:6d} {str(conv):>5} {ratio:9.2f}x")

    if args.eeg:
        from scipy.signal import butter, sosfiltfilt

        d = np.load(args.eeg)
        types = [str(t) for t in d["ch_types"]]
        sf = float(d["sfreq"])
        xe = sosfiltfilt(butter(4, [1, 40], btype="bandpass", fs=sf, output="sos"), d["data"].astype(np.float64), axis=-1)
        xe = xe[[i for i, t in enumerate(types) if t == "eeg"]].astype(dt)
        print(f"# real EEG (EEGLAB sample, {xe.shape[0]} EEG ch, {xe.shape[1]} samples, 1-40 Hz): iterations to tol 1e-4")
        for k in (20, xe.shape[0]):
            for seed in range(3):
                for alg, tol in (("parallel", 1e-4), ("picard", 1e-7)):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r = fastica(jnp.asarray(xe), jax.random.PRNGKey(seed), n_components=k, algorithm=alg, max_iter=1000, tol=tol, return_sources=False)
                    print(f"  n_components={k:2d} seed={seed} {alg:<8} (tol {tol:g}): n_iter={int(r.n_iter):4d} converged={bool(r.converged)}")


if __name__ == "__main__":
    main()
