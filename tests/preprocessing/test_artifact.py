"""Riemannian artifact detection: covariance estimators, geometry parity with pyRiemann /
scikit-learn, the robust detector under heavy contamination, input validation.

Reference parity runs in float64 (``x64`` fixture); shapes are shared (8x8 and 16x16 matrices,
sets of 50 and 200) so JAX compiles few programs.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.preprocessing import artifact

pyriemann = pytest.importorskip("pyriemann")
from pyriemann.geometry.distance import distance_riemann as pr_distance  # noqa: E402
from pyriemann.geometry.mean import mean_riemann as pr_mean  # noqa: E402


def random_spd(rng, n_matrices, n, n_times=None):
    """SCM of white noise mixed by a random matrix (condition number ~1e2 for 16 channels)."""
    n_times = n_times or 4 * n
    x = rng.standard_normal((n_matrices, n, n_times))
    mix = np.eye(n) + 0.3 * rng.standard_normal((n, n))
    x = np.einsum("ij,mjt->mit", mix, x)
    return np.einsum("mit,mjt->mij", x, x) / n_times


def contaminated_epochs(frac, *, n_epochs=200, n_channels=16, n_times=250, amplitude=10.0, seed=0):
    """Clean epochs share a mixing matrix; a fraction carries a rank-1 burst ``a u s(t)`` in a
    random direction ``u`` (unit norm), amplitude ``a`` relative to the unit-variance sources."""
    r = np.random.default_rng(seed)
    mix = r.standard_normal((n_channels, n_channels))
    x = np.einsum("ij,njt->nit", mix, r.standard_normal((n_epochs, n_channels, n_times)))
    k = int(round(frac * n_epochs))
    bad = r.choice(n_epochs, k, replace=False)
    u = r.standard_normal((k, n_channels))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    x[bad] += amplitude * u[:, :, None] * r.standard_normal((k, 1, n_times))
    truth = np.zeros(n_epochs, bool)
    truth[bad] = True
    return x.astype(np.float32), truth


# --------------------------------------------------------------------------- epochs, covariances


def test_make_epochs_slices_and_overlap():
    x = np.arange(2 * 1050, dtype=np.float32).reshape(2, 1050)
    ep = np.asarray(artifact.make_epochs(x, 100.0, 2.0))
    assert ep.shape == (5, 2, 200)  # the trailing 50 samples are dropped
    np.testing.assert_array_equal(ep[3], x[:, 600:800])
    ep = np.asarray(artifact.make_epochs(x, 100.0, 2.0, overlap=1.0))
    assert ep.shape == (9, 2, 200)
    np.testing.assert_array_equal(ep[3], x[:, 300:500])
    with pytest.raises(ValueError, match="fewer than one epoch"):
        artifact.make_epochs(x[:, :100], 100.0, 2.0)
    with pytest.raises(ValueError, match="overlap"):
        artifact.make_epochs(x, 100.0, 2.0, overlap=2.0)


def test_covariance_estimators_match_references(x64, rng):
    """G8: scm exact (pyRiemann), cov = np.cov, oas/lwf = scikit-learn; rtol 1e-12 (float64)."""
    from pyriemann.estimation import Covariances
    from sklearn.covariance import ledoit_wolf, oas

    x = rng.standard_normal((6, 8, 40)) + 3.0  # non-zero mean: estimators must centre
    np.testing.assert_allclose(artifact.covariances(x, "scm"), Covariances("scm").fit_transform(x), rtol=1e-12)
    np.testing.assert_allclose(artifact.covariances(x, "cov"), np.stack([np.cov(e) for e in x]), rtol=1e-12)
    np.testing.assert_allclose(artifact.covariances(x, "oas"), np.stack([oas(e.T)[0] for e in x]), rtol=1e-12)
    np.testing.assert_allclose(artifact.covariances(x, "lwf"), np.stack([ledoit_wolf(e.T)[0] for e in x]), rtol=1e-12)
    # shrinkage makes a rank-deficient (average-referenced, T < C) epoch positive definite
    short = rng.standard_normal((2, 8, 6))
    short -= short.mean(axis=1, keepdims=True)
    assert np.all(np.linalg.eigvalsh(np.asarray(artifact.covariances(short, "oas"))) > 0)
    with pytest.raises(ValueError, match="unknown covariance estimator"):
        artifact.covariances(x, "mcd")


# --------------------------------------------------------------------------- distance


def test_distance_matches_pyriemann(x64, rng):
    """G1: 500 pairs of 16x16, float64 atol 1e-12 (pairwise and one-reference forms)."""
    a, b = np.split(random_spd(rng, 1000, 16), 2)
    np.testing.assert_allclose(artifact.distance_riemann(a, b), pr_distance(a, b), atol=1e-12)
    np.testing.assert_allclose(artifact.distance_riemann(a, b[0]), pr_distance(a, b[0]), atol=1e-12)
    np.testing.assert_allclose(
        artifact.distance_riemann(a[:5], b[0], squared=True), pr_distance(a[:5], b[0], squared=True), rtol=1e-11
    )


def test_distance_float32_eeg_scale(rng):
    """G1 float32: EEG magnitudes (1e-10 V²), condition ≤ 1e3: rtol 1e-4 against pyRiemann on
    the same (float32-rounded) matrices (measured 8.5e-7); δ(A, A) ≈ 0 (measured 6e-6)."""
    a, b = np.split((random_spd(rng, 100, 16) * 1e-10).astype(np.float32), 2)
    ours = artifact.distance_riemann(a, b)
    assert ours.dtype == jnp.float32
    np.testing.assert_allclose(ours, pr_distance(a.astype(np.float64), b.astype(np.float64)), rtol=1e-4)
    self_d = artifact.distance_riemann(a, a)
    assert float(jnp.max(self_d)) < 1e-4


def test_distance_invariances(x64, rng):
    """Congruence (incl. units), inversion and symmetry leave δ unchanged (1e-10)."""
    a, b = random_spd(rng, 2, 8)
    w = rng.standard_normal((8, 8))
    d = float(artifact.distance_riemann(a, b))
    assert float(artifact.distance_riemann(w @ a @ w.T, w @ b @ w.T)) == pytest.approx(d, rel=1e-10)
    assert float(artifact.distance_riemann(1e-12 * a, 1e-12 * b)) == pytest.approx(d, rel=1e-10)
    assert float(artifact.distance_riemann(np.linalg.inv(a), np.linalg.inv(b))) == pytest.approx(d, rel=1e-10)
    assert float(artifact.distance_riemann(b, a)) == pytest.approx(d, rel=1e-10)
    assert float(artifact.distance_riemann(a, a)) < 1e-10


# --------------------------------------------------------------------------- mean


def _pyriemann_iterations(x, tol=1e-8, maxiter=50):
    """Iteration count of pyRiemann's schedule (NumPy transcription of the stopping rule; its
    mean is checked against ``pyriemann.mean_riemann`` below)."""
    from pyriemann.utils.base import expm, invsqrtm, logm, sqrtm

    m = x.mean(axis=0)
    nu, tau = 1.0, np.finfo(np.float64).max
    for k in range(maxiter):
        m12, mm12 = sqrtm(m), invsqrtm(m)
        j = np.mean(logm(mm12 @ x @ mm12), axis=0)
        m = m12 @ expm(nu * j) @ m12
        crit = np.linalg.norm(j, ord="fro")
        h = nu * crit
        nu, tau = (0.95 * nu, h) if h < tau else (0.5 * nu, tau)
        if crit <= tol or nu <= tol:
            return m, k + 1
    return m, maxiter


def test_mean_matches_pyriemann(x64, rng):
    """G2: same iteration count, float64 rtol 1e-10 (weights and init too)."""
    x = random_spd(rng, 50, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pr_mean(x)
        ref_iter_mean, n_iter = _pyriemann_iterations(x)
        w = rng.uniform(0.1, 1.0, 50)
        ref_w = pr_mean(x, sample_weight=w)
        ref_init = pr_mean(x, init=x[0])
    np.testing.assert_allclose(ref_iter_mean, ref, rtol=1e-12)
    m, (k, crit, done) = artifact.mean_riemann(x, return_info=True)
    np.testing.assert_allclose(m, ref, rtol=1e-10)
    assert int(k) == n_iter and bool(done) and float(crit) <= 1e-8
    np.testing.assert_allclose(artifact.mean_riemann(x, sample_weight=w), ref_w, rtol=1e-10)
    np.testing.assert_allclose(artifact.mean_riemann(x, init=x[0]), ref_init, rtol=1e-10)


def test_mean_float32_matches_pyriemann(rng):
    """G2 float32: rtol 1e-4 against the float64 reference."""
    x = random_spd(rng, 50, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pr_mean(x)
    m = artifact.mean_riemann(x.astype(np.float32))
    assert m.dtype == jnp.float32
    np.testing.assert_allclose(m, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_mean_invariances(x64, rng):
    """G3: fixed point, congruence, inversion, determinant, midpoint, unit scaling (1e-10)."""
    x = random_spd(rng, 50, 8)
    m, (k, _, _) = artifact.mean_riemann(x, return_info=True)
    # the equivariances hold for the exact mean; the default tol (1e-8) leaves ~1e-8 differences
    tight = artifact.mean_riemann(x, tol=1e-12)
    mm12 = np.linalg.inv(np.linalg.cholesky(np.asarray(m)))
    z = mm12 @ x @ mm12.T
    ev, u = np.linalg.eigh(z)
    grad = np.mean((u * np.log(ev)[:, None, :]) @ np.swapaxes(u, -1, -2), axis=0)
    assert np.linalg.norm(grad) < 1e-8  # the stopping tolerance
    w = rng.standard_normal((8, 8))
    congruent = artifact.mean_riemann(w @ x @ w.T, tol=1e-12)
    np.testing.assert_allclose(congruent, w @ np.asarray(tight) @ w.T, rtol=1e-10, atol=1e-12 * np.abs(congruent).max())
    np.testing.assert_allclose(artifact.mean_riemann(np.linalg.inv(x), tol=1e-12), np.linalg.inv(tight), rtol=1e-10)
    logdet = np.linalg.slogdet(np.asarray(tight))[1]
    assert logdet == pytest.approx(np.mean(np.linalg.slogdet(x)[1]), rel=1e-10)
    mid = artifact.mean_riemann(x[:2], tol=1e-12)
    np.testing.assert_allclose(mid, artifact.geodesic_riemann(x[0], x[1], 0.5), rtol=1e-10)
    # units: data in V² vs (1e-6 V)² -> same iterations, mean scaled exactly
    ms, (ks, _, _) = artifact.mean_riemann(1e-12 * x, return_info=True)
    assert int(ks) == int(k)
    np.testing.assert_allclose(ms, 1e-12 * np.asarray(m), rtol=1e-10)


def test_mean_honours_maxiter(x64, rng):
    x = random_spd(rng, 50, 8)
    _, (k, _, done) = artifact.mean_riemann(x, maxiter=2, return_info=True)
    assert int(k) == 2 and not bool(done)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("frac", [0.1, 0.2, 0.3])
def test_robust_detector_unmasked_by_contamination(frac):
    """G9 / issue acceptance: rank-1 bursts in 10/20/30 % of 200 epochs (16 ch): >= 95 % flagged,
    <= 2 % false alarms (measured: all flagged, none false), in V and in µV."""
    x, truth = contaminated_epochs(frac)
    covs = artifact.covariances(x, "scm")
    mask = np.asarray(artifact.detect_artifacts_riemann(covs, 3.0))
    assert mask.dtype == bool and mask.shape == truth.shape
    assert (mask & truth).sum() >= 0.95 * truth.sum()
    assert (mask & ~truth).sum() <= 0.02 * (~truth).sum()
    mask_uv = np.asarray(artifact.detect_artifacts_riemann(artifact.covariances(1e-6 * x, "scm"), 3.0))
    np.testing.assert_array_equal(mask_uv, mask)


@pytest.mark.slow
def test_potato_masked_by_contamination_where_robust_is_not(x64):
    """§4 of the spec: the mean/std score of a 20 % cluster is √(0.8/0.2) = 2 < 3, so pyRiemann's
    Potato flags none of them; ours with ``method='potato'`` agrees with it label for label."""
    from pyriemann.artifact_detection import Potato as PrPotato

    x, truth = contaminated_epochs(0.2)
    covs = np.asarray(artifact.covariances(x.astype(np.float64), "scm"))
    ref = PrPotato(threshold=3).fit(covs).predict(covs) == 0
    assert (ref & truth).sum() == 0
    ours = np.asarray(artifact.detect_artifacts_riemann(covs, 3.0, method="potato"))
    np.testing.assert_array_equal(ours, ref)


def test_identical_matrices_flag_nothing(rng):
    covs = np.repeat(random_spd(rng, 1, 16).astype(np.float32), 10, axis=0)
    assert not np.any(np.asarray(artifact.detect_artifacts_riemann(covs)))


def test_detector_scores_and_threshold():
    x, truth = contaminated_epochs(0.1)
    covs = artifact.covariances(x, "scm")
    mask, dist, z = artifact.detect_artifacts_riemann(covs, 3.0, return_scores=True)
    np.testing.assert_array_equal(np.asarray(mask), np.asarray(z) >= 3.0)
    assert np.all(np.isfinite(np.asarray(dist))) and np.all(np.asarray(dist) > 0)
    # robust scores: median 0 over the clean epochs, artifacts far out
    assert abs(float(np.median(np.asarray(z)[~truth]))) < 0.5
    assert float(np.min(np.asarray(z)[truth])) > 5.0
    loose = np.asarray(artifact.detect_artifacts_riemann(covs, 1e6))
    assert not loose.any()


def test_field_variant_catches_group_artifacts():
    """Robust field: bursts confined to 4 of 16 channels in 20 % of epochs are flagged (>= 95 %)
    from two channel groups; Fisher and Stouffer both work. p_threshold = 0.01 (pyRiemann's
    default) is a 1 % false-alarm level under a Gaussian null, so allow <= 3 % (measured 2.5 %)."""
    x, truth = contaminated_epochs(0.2)
    x = x.copy()
    r = np.random.default_rng(5)
    x[truth, :4] += 4.0 * r.standard_normal((truth.sum(), 4, 1)) * r.standard_normal((truth.sum(), 1, 250))
    x[truth, 4:] = contaminated_epochs(0.0)[0][truth, 4:]  # the rest of those epochs stays clean
    covs = artifact.covariances(x, "scm")
    groups = [covs[:, :8, :8], covs[:, 8:, 8:]]
    for method in ("fisher", "stouffer"):
        mask, p = artifact.detect_artifacts_riemann_field(groups, method_combination=method, return_pvalues=True)
        mask = np.asarray(mask)
        assert (mask & truth).sum() >= 0.95 * truth.sum()
        assert (mask & ~truth).sum() <= 0.03 * (~truth).sum()
        assert np.all((np.asarray(p) >= 0) & (np.asarray(p) <= 1))
    with pytest.raises(ValueError, match="same number of epochs"):
        artifact.detect_artifacts_riemann_field([covs, covs[:10]])


# --------------------------------------------------------------------------- validation


def test_bad_input_raises(rng):
    """G12: non-SPD, NaN, asymmetric, wrong shape, too few epochs, mismatched sizes."""
    good = random_spd(rng, 5, 8).astype(np.float32)
    not_pd = good.copy()
    not_pd[2] = -np.eye(8)
    with pytest.raises(ValueError, match=r"positive definite; matrices \[2\]"):
        artifact.detect_artifacts_riemann(not_pd)
    nan = good.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        artifact.detect_artifacts_riemann(nan)
    asym = good.copy()
    asym[1, 0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        artifact.detect_artifacts_riemann(asym)
    with pytest.raises(ValueError, match="covariances"):
        artifact.detect_artifacts_riemann(rng.standard_normal((5, 8, 100)))  # epochs, not covariances
    with pytest.raises(ValueError, match="n_epochs, n_channels, n_channels"):
        artifact.detect_artifacts_riemann(good[0])
    with pytest.raises(ValueError, match="at least 3"):
        artifact.detect_artifacts_riemann(good[:2])
    with pytest.raises(ValueError, match="same matrix size"):
        artifact.distance_riemann(good, random_spd(rng, 1, 4)[0])
    with pytest.raises(ValueError, match="matching shapes"):
        artifact.distance_riemann(good, good[:2])
    with pytest.raises(ValueError, match="unknown method"):
        artifact.detect_artifacts_riemann(good, method="zscore")
    with pytest.raises(ValueError, match="sample_weight"):
        artifact.mean_riemann(good, sample_weight=np.ones(3))
