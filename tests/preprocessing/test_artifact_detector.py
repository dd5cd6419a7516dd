"""RiemannDetector module: API, jit/vmap, gradients vs finite differences, real EEG blinks."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from neurojax.preprocessing import artifact


def _recording(seed=0, n_channels=8, n_epochs=30, sfreq=100.0, burst_epochs=(4, 17)):
    """Continuous recording of 2 s epochs; two epochs carry a strong rank-1 burst."""
    r = np.random.default_rng(seed)
    n = int(2 * sfreq)
    mix = np.eye(n_channels) + 0.5 * r.standard_normal((n_channels, n_channels))
    x = mix @ r.standard_normal((n_channels, n_epochs * n))
    for e in burst_epochs:
        x[:, e * n : (e + 1) * n] += 10.0 * r.standard_normal((n_channels, 1)) * r.standard_normal(n)
    return (1e-5 * x).astype(np.float32), sfreq


def _spd_set(rng, n_matrices=12, n=5, n_times=40):
    x = rng.standard_normal((n_matrices, n, n_times))
    return np.einsum("mit,mjt->mij", x, x) / n_times


def test_detector_inputs_agree_and_match_function():
    """Recording, epochs and covariances give the same scores; the mask equals
    detect_artifacts_riemann on the same covariances."""
    x, sfreq = _recording()
    det = artifact.RiemannDetector(n_std=3.0, sfreq=sfreq, epoch_duration=2.0)
    fitted = det.fit(x, key=jax.random.PRNGKey(0))
    scores = fitted(x)
    epochs = artifact.make_epochs(x, sfreq, 2.0)
    covs = artifact.covariances(epochs, "oas")
    for other in (fitted(epochs), fitted(covs), det.fit(covs)(covs)):
        np.testing.assert_allclose(other.zscore, scores.zscore, rtol=1e-4, atol=1e-4)
    assert np.flatnonzero(np.asarray(scores.mask)).tolist() == [4, 17]
    np.testing.assert_array_equal(scores.mask, artifact.detect_artifacts_riemann(covs, 3.0))
    assert scores.distance.shape == scores.zscore.shape == scores.soft.shape == (30,)
    p = np.asarray(fitted.predict_proba(covs))
    assert np.all((p >= 0) & (p <= 1)) and p[4] < 1e-3
    # fitted statistics are arrays (a pytree), the configuration is static
    assert fitted.reference.shape == (8, 8) and fitted.center.shape == () and fitted.scale.shape == ()
    with pytest.raises(ValueError, match="not fitted"):
        det(covs)
    with pytest.raises(ValueError, match="sfreq"):
        artifact.RiemannDetector().fit(x)
    with pytest.raises(ValueError, match="shape"):
        fitted(x[None, None])


def test_detector_subsampled_fit():
    """max_fit_epochs: fit on a keyed random subset, score all epochs; same bursts flagged,
    reproducible for a given key, no subsampling when the recording is short enough."""
    x, sfreq = _recording()
    covs = artifact.epoch_covariances(x, sfreq, 2.0)
    det = artifact.RiemannDetector(max_fit_epochs=20)
    a = det.fit(covs, key=jax.random.PRNGKey(1))
    b = det.fit(covs, key=jax.random.PRNGKey(1))
    np.testing.assert_array_equal(a.reference, b.reference)
    assert np.flatnonzero(np.asarray(a(covs).mask)).tolist() == [4, 17]
    full = artifact.RiemannDetector(max_fit_epochs=30).fit(covs)
    np.testing.assert_allclose(full.reference, artifact.RiemannDetector().fit(covs).reference, rtol=1e-6)
    with pytest.raises(ValueError, match="max_fit_epochs"):
        artifact.RiemannDetector(max_fit_epochs=2)


def test_detector_jit_and_vmap():
    """G11: jitted scoring = eager (1e-6); vmap of the detector over recordings = loop."""
    x, sfreq = _recording()
    covs = artifact.epoch_covariances(x, sfreq, 2.0)
    fitted = artifact.RiemannDetector(sfreq=sfreq).fit(covs)
    eager = fitted(covs)
    jitted = eqx.filter_jit(lambda m, c: m(c))(fitted, covs)
    np.testing.assert_allclose(jitted.zscore, eager.zscore, rtol=1e-6, atol=1e-6)
    x2, _ = _recording(seed=1, burst_epochs=(9,))
    batch = jnp.stack([covs, artifact.epoch_covariances(x2, sfreq, 2.0)])
    vm = jax.vmap(lambda c: artifact.detect_artifacts_riemann(c, 3.0, return_scores=True))(batch)
    for i in range(2):
        mask, _, z = artifact.detect_artifacts_riemann(batch[i], 3.0, return_scores=True)
        np.testing.assert_array_equal(vm[0][i], mask)
        np.testing.assert_allclose(vm[2][i], z, rtol=1e-5, atol=1e-5)


def _fd_check(f, x, direction, h=1e-6):
    """Directional derivative by reverse mode vs central finite difference."""
    f = jax.jit(f)
    g = jax.jit(jax.grad(f))(x)
    analytic = float(jnp.sum(g * direction))
    numeric = float((f(x + h * direction) - f(x - h * direction)) / (2 * h))
    assert np.all(np.isfinite(np.asarray(g)))
    return analytic, numeric


def test_distance_gradients_near_repeated_eigenvalues(x64, rng):
    """Gradients of δ finite and equal to finite differences (rel 1e-6) when the pencil has
    repeated or nearly repeated eigenvalues (identity-like matrices)."""
    b = np.diag([1.0, 1.0, 1.0, 2.0, 2.0 + 1e-9])
    e = rng.standard_normal((5, 5))
    e = jnp.asarray(e + e.T)
    dist = jax.jit(lambda a_, b_: artifact.distance_riemann(a_, b_))
    grads = jax.jit(jax.grad(lambda a_, b_: artifact.distance_riemann(a_, b_), argnums=(0, 1)))
    h = 1e-6
    for a in (np.eye(5), np.eye(5) + 1e-10 * np.diag(np.arange(5.0)), 3.0 * b):
        a_, b_ = jnp.asarray(a), jnp.asarray(b)
        ga, gb = grads(a_, b_)
        assert np.all(np.isfinite(np.asarray(ga))) and np.all(np.isfinite(np.asarray(gb)))
        fd_a = (dist(a_ + h * e, b_) - dist(a_ - h * e, b_)) / (2 * h)
        fd_b = (dist(a_, b_ + h * e) - dist(a_, b_ - h * e)) / (2 * h)
        assert float(jnp.sum(ga * e)) == pytest.approx(float(fd_a), rel=1e-6, abs=1e-8)
        assert float(jnp.sum(gb * e)) == pytest.approx(float(fd_b), rel=1e-6, abs=1e-8)
    # squared distance at A = B: gradient exactly 0
    g = jax.grad(lambda a_: artifact.distance_riemann(a_, jnp.asarray(b), squared=True))(jnp.asarray(b))
    np.testing.assert_allclose(g, 0.0, atol=1e-12)


def test_mean_and_zscore_gradients_match_finite_differences(x64, rng):
    """G11: implicit derivative of the Karcher mean and of the fitted z-scores w.r.t. the
    covariances vs central differences (rel 1e-5, float64); gradient w.r.t. n_std finite."""
    covs = jnp.asarray(_spd_set(rng))
    e = rng.standard_normal(covs.shape)
    e = jnp.asarray(e + np.swapaxes(e, -1, -2))
    probe = jnp.asarray(rng.standard_normal((5, 5)))
    analytic, numeric = _fd_check(lambda c: jnp.sum(probe * artifact.mean_riemann(c)), covs, e)
    assert analytic == pytest.approx(numeric, rel=1e-5)
    det = artifact.RiemannDetector(n_std=2.0)

    def loss(c):
        scores = det.fit(c)(c)
        return jnp.sum(jnp.tanh(scores.zscore))

    analytic, numeric = _fd_check(loss, covs, e)
    assert analytic == pytest.approx(numeric, rel=1e-5)
    g = eqx.filter_grad(lambda m: jnp.sum(m.fit(covs)(covs).soft))(det)
    assert np.isfinite(float(g.n_std)) and float(g.n_std) < 0  # raising n_std flags less


def test_units_do_not_matter():
    """Same mask and z-scores (float32, 1e-3) for data in V and in µV."""
    x, sfreq = _recording()
    det = artifact.RiemannDetector(sfreq=sfreq)
    z_v = det.fit(x)(x).zscore
    z_uv = det.fit(1e6 * x)(1e6 * x).zscore
    np.testing.assert_allclose(z_uv, z_v, rtol=1e-3, atol=1e-3)


def _bandpass(x, sfreq, lo, hi):
    sos = scipy.signal.butter(4, [lo, hi], btype="band", fs=sfreq, output="sos")
    return scipy.signal.sosfiltfilt(sos, x, axis=-1)


@pytest.mark.slow
def test_real_eeg_flags_blink_epochs(shared_data_dir):
    """eeglab_data (30 EEG channels, 128 Hz, 119 epochs of 2 s, 1-40 Hz, OAS, float32): every
    flagged epoch contains a blink (FPz 1-10 Hz peak > 100 µV, the large-FPz-peak reference; 14
    such epochs), at least 3 are flagged, and blink epochs rank high (ROC AUC > 0.85)."""
    f = np.load(shared_data_dir / "eeglab_data.npz")
    names, types, sfreq = list(f["ch_names"]), f["ch_types"], float(f["sfreq"])
    raw = f["data"].astype(np.float64)
    eeg = [i for i, t in enumerate(types) if t == "eeg"]
    x = _bandpass(raw[eeg], sfreq, 1.0, 40.0).astype(np.float32)
    covs = artifact.epoch_covariances(x, sfreq, 2.0, estimator="oas")
    assert covs.shape == (119, 30, 30)
    mask, _, z = artifact.detect_artifacts_riemann(covs, 3.0, return_scores=True)
    mask, z = np.asarray(mask), np.asarray(z)
    assert np.all(np.isfinite(z))
    blink = _bandpass(raw[names.index("FPz")], sfreq, 1.0, 10.0)
    n = int(2 * sfreq)
    peak = np.abs(blink[: 119 * n]).reshape(119, n).max(axis=1)
    blink_epochs = peak > 100e-6
    assert blink_epochs.sum() >= 10
    assert mask.sum() >= 3 and np.all(blink_epochs[mask])
    auc = np.mean(z[blink_epochs][:, None] > z[~blink_epochs][None, :])
    assert auc > 0.85
    # the same recording in µV gives the same epochs
    covs_uv = artifact.epoch_covariances(1e6 * x, sfreq, 2.0, estimator="oas")
    np.testing.assert_array_equal(np.asarray(artifact.detect_artifacts_riemann(covs_uv, 3.0)), mask)


@pytest.mark.slow
def test_real_meg_sample_eeg_blink_has_largest_score(shared_data_dir):
    """G10: mne_test_raw EEG (59 channels without EEG 053, 1-40 Hz, 1 s epochs, OAS): the epoch
    holding the blink at 14.46 s has the largest robust z-score and is flagged."""
    f = np.load(shared_data_dir / "mne_test_raw.npz")
    names, types, sfreq = list(f["ch_names"]), f["ch_types"], float(f["sfreq"])
    eeg = [i for i, (c, t) in enumerate(zip(names, types)) if t == "eeg" and c != "EEG 053"]
    x = _bandpass(f["data"][eeg].astype(np.float64), sfreq, 1.0, 40.0).astype(np.float32)
    covs = artifact.epoch_covariances(x, sfreq, 1.0, estimator="oas")
    mask, _, z = artifact.detect_artifacts_riemann(covs, 3.0, return_scores=True)
    z = np.asarray(z)
    blink_epoch = int(14.46 // 1.0)
    assert int(np.argmax(z)) == blink_epoch and bool(mask[blink_epoch])
    assert z[blink_epoch] > 5.0
