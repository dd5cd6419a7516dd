"""Benchmark: Riemannian artifact detection, NeuroJAX vs pyRiemann, on the same simulated epochs.

Default: 5000 epochs x 32 channels x 250 samples, 5 % artefact epochs (4 random channels scaled
x4-10), OAS covariances. Timed (best of ``--repeat`` after a warm-up call whose time, compile
included, is reported separately; JAX results synchronised with ``block_until_ready``):

* covariance estimation (OAS): pyRiemann ``Covariances('oas')`` vs ``artifact.covariances``;
* ``Potato().fit(C).predict(C)``: pyRiemann vs our exact port (float64);
* ``detect_artifacts_riemann`` (robust default) in float64 and float32;
* ``RiemannDetector(max_fit_epochs=n/10)``: fit on a random tenth, score every epoch;
* ``mean_riemann`` of all matrices.

BLAS threads are pinned to 1 (set before NumPy is imported) so that pyRiemann is not slowed down by
oversubscription on a small shared machine; XLA uses its own thread pool. Run with ``--quick`` for
500 epochs x 16 channels.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from neurojax.preprocessing import artifact  # noqa: E402


def simulate(n_epochs: int, n_channels: int, n_times: int, frac: float = 0.05, seed: int = 0):
    r = np.random.default_rng(seed)
    mix = np.eye(n_channels) + 0.3 * r.standard_normal((n_channels, n_channels))
    x = np.einsum("ij,njt->nit", mix, r.standard_normal((n_epochs, n_channels, n_times)))
    bad = r.choice(n_epochs, int(frac * n_epochs), replace=False)
    for e in bad:
        ch = r.choice(n_channels, 4, replace=False)
        x[e, ch] *= r.uniform(4, 10, (4, 1))
    truth = np.zeros(n_epochs, bool)
    truth[bad] = True
    return 1e-5 * x, truth


def _block(out):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, out)


def timeit(fn, repeat: int):
    t0 = time.perf_counter()
    out = _block(fn())
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        best = min(best, time.perf_counter() - t0)
    return out, first, (first if repeat == 0 else best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 epochs x 16 channels")
    ap.add_argument("--repeat", type=int, default=1, help="timed repetitions after the warm-up")
    ap.add_argument("--skip-reference", action="store_true", help="time NeuroJAX only")
    args = ap.parse_args()
    n_epochs, n_channels, n_times = (500, 16, 250) if args.quick else (5000, 32, 250)
    x, truth = simulate(n_epochs, n_channels, n_times)
    print(f"{n_epochs} epochs x {n_channels} channels x {n_times} samples, {truth.sum()} artefact epochs")
    print(f"jax {jax.__version__} ({jax.default_backend()}), numpy {np.__version__}")

    rows = []
    xj = jnp.asarray(x)
    covs, first, ours_cov = timeit(lambda: artifact.covariances(xj, "oas"), args.repeat)
    covs_np = np.asarray(covs)
    ref_cov = np.nan
    if not args.skip_reference:
        from pyriemann.estimation import Covariances

        ref_c, _, ref_cov = timeit(lambda: Covariances("oas").fit_transform(x), 0 if args.repeat <= 1 else 1)
        assert np.allclose(ref_c, covs_np, rtol=1e-10)
    rows.append(("covariances (OAS)", ref_cov, ours_cov, first))

    pot_ours, first, t_pot = timeit(lambda: artifact.Potato().fit(covs).predict(covs), args.repeat)
    ref_pot = np.nan
    if not args.skip_reference:
        from pyriemann.artifact_detection import Potato

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred_ref, _, ref_pot = timeit(lambda: Potato().fit(covs_np).predict(covs_np), 0)
        agree = np.mean(np.asarray(pot_ours) == pred_ref)
        print(f"Potato labels agreement ours vs pyRiemann: {agree:.4f}")
    rows.append(("Potato fit+predict (f64)", ref_pot, t_pot, first))

    mask64, first, t_rob = timeit(lambda: artifact.detect_artifacts_riemann(covs), args.repeat)
    rows.append(("detect_artifacts_riemann (f64)", ref_pot, t_rob, first))
    covs32 = covs.astype(jnp.float32)
    mask32, first, t_rob32 = timeit(lambda: artifact.detect_artifacts_riemann(covs32), args.repeat)
    rows.append(("detect_artifacts_riemann (f32)", ref_pot, t_rob32, first))

    n_sub = max(n_epochs // 10, 3)
    for dt in ("f64", "f32"):
        c = covs if dt == "f64" else covs32
        det = artifact.RiemannDetector(max_fit_epochs=n_sub)
        sub_scores, first, t_sub = timeit(lambda: det.fit(c, key=jax.random.PRNGKey(0))(c), args.repeat)
        rows.append((f"RiemannDetector fit {n_sub}+score ({dt})", ref_pot, t_sub, first))
        m = np.asarray(sub_scores.mask)
        print(f"subsampled detector {dt}: flagged {m.sum()}, TP {(m & truth).sum()}/{truth.sum()}, FP {(m & ~truth).sum()}")

    _, first, t_mean = timeit(lambda: artifact.mean_riemann(covs), args.repeat)
    ref_mean = np.nan
    if not args.skip_reference:
        from pyriemann.geometry.mean import mean_riemann

        _, _, ref_mean = timeit(lambda: mean_riemann(covs_np), 0)
    rows.append(("mean_riemann (f64)", ref_mean, t_mean, first))

    for name, m in (("f64", mask64), ("f32", mask32)):
        m = np.asarray(m)
        print(f"robust {name}: flagged {m.sum()}, TP {(m & truth).sum()}/{truth.sum()}, FP {(m & ~truth).sum()}")
    print()
    print(f"{'operation':34s} {'pyRiemann [s]':>14s} {'NeuroJAX [s]':>13s} {'ratio':>7s} {'1st call [s]':>13s}")
    for name, ref, ours, first in rows:
        print(f"{name:34s} {ref:14.3f} {ours:13.3f} {ref / ours:7.1f} {first:13.3f}")
    print("(ratio = pyRiemann time / NeuroJAX time; detect rows compare with pyRiemann's Potato fit+predict)")


if __name__ == "__main__":
    main()
