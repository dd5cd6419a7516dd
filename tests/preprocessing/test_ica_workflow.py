"""ICA artifact workflow: apply/exclude, reference scoring (MNE's rule), real-EEG blink removal,
channel-permutation invariance, implicit gradients (finite differences), jit/vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from neurojax.preprocessing.ica import FastICA, blink_scores, fastica, find_bads_ref, ica_apply
from neurojax.preprocessing._ica_scores import zscore_outliers


def _mixture(rng, n_ch, k, n_times):
    s = np.concatenate([rng.laplace(size=(k - 1, n_times)), rng.uniform(-1.7, 1.7, size=(1, n_times))])
    a = rng.normal(size=(n_ch, k))
    return a @ s + 0.01 * rng.normal(size=(n_ch, n_times)), a, s


# ----------------------------------------------------------------------------- apply (I11)


def test_apply_equals_back_projection(x64, rng):
    """k = C: apply(exclude) = mixing[:, keep] unmixing[keep] (X - mean) + mean (rtol 1e-10);
    exclude=[] is the identity; indices, boolean masks and traced indices agree."""
    x, _, _ = _mixture(rng, 5, 5, 3000)
    model = FastICA(n_components=5).fit(jnp.asarray(x), key=jax.random.PRNGKey(0))
    keep = [0, 2, 4]
    expected = np.asarray(model.mixing_)[:, keep] @ np.asarray(model.unmixing_)[keep] @ (x - x.mean(1, keepdims=True)) + x.mean(
        1, keepdims=True
    )
    np.testing.assert_allclose(model.apply(x, exclude=[1, 3]), expected, rtol=1e-10, atol=1e-12)
    mask = jnp.array([False, True, False, True, False])
    np.testing.assert_allclose(model.apply(x, exclude=mask), expected, rtol=1e-10, atol=1e-12)
    jitted = jax.jit(lambda xx, ex: ica_apply(xx, model.unmixing_, model.mixing_, model.mean_, ex))
    np.testing.assert_allclose(jitted(jnp.asarray(x), jnp.array([1, 3])), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.apply(x, exclude=[]), x, rtol=1e-12, atol=1e-12)
    # The layer's __call__ removes the stored exclusion.
    np.testing.assert_allclose(model.set_exclude([1, 3])(jnp.asarray(x)), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        model.apply(x, exclude=[7])


def test_apply_keeps_pca_residual(x64, rng):
    """k < C: excluding nothing returns X exactly (the PCA residual is kept, as MNE's apply with
    all PCA components); excluding a component removes exactly its back-projection."""
    x, _, _ = _mixture(rng, 8, 4, 3000)
    x = x + 0.05 * rng.normal(size=x.shape)
    model = FastICA(n_components=4).fit(jnp.asarray(x), key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(model.apply(x, exclude=[]), x, atol=1e-12)
    out = np.asarray(model.apply(x, exclude=[2]))
    np.testing.assert_allclose(x - out, np.outer(model.mixing_[:, 2], model.sources(x)[2]), atol=1e-10)


@pytest.mark.slow
def test_apply_matches_mne_given_mne_matrices(x64, rng):
    """I11: MNE's ICA.apply (5 ICs of 8 channels, all PCA components kept) equals our
    ica_apply fed MNE's fitted matrices, folded into channel space: unmixing
    ``U P[:n] / pre_whitener``, mixing ``pre_whitener P[:n]^T M``, mean ``pca_mean * pre_whitener``
    (rtol 1e-8, atol 1e-12 of the data scale)."""
    mne = pytest.importorskip("mne")
    x, _, _ = _mixture(rng, 8, 8, 4000)
    x = x * 1e-5  # volts
    info = mne.create_info([f"EEG{i}" for i in range(8)], 250.0, "eeg")
    raw = mne.io.RawArray(x, info, verbose="error")
    ica = mne.preprocessing.ICA(n_components=5, method="fastica", random_state=0, max_iter=1000, verbose="error")
    ica.fit(raw, verbose="error")
    exclude = [1, 3]
    expected = ica.apply(raw.copy(), exclude=exclude, verbose="error").get_data()
    pw = ica.pre_whitener_[:, 0]
    p = ica.pca_components_[: ica.n_components_]
    unmixing = ica.unmixing_matrix_ @ p / pw[None, :]
    mixing = pw[:, None] * (p.T @ ica.mixing_matrix_)
    mean = ica.pca_mean_ * pw
    ours = ica_apply(jnp.asarray(x), jnp.asarray(unmixing), jnp.asarray(mixing), jnp.asarray(mean), exclude)
    np.testing.assert_allclose(ours, expected, rtol=1e-8, atol=1e-12 * np.abs(x).max())


# ----------------------------------------------------------------------------- scoring (I13)


def test_zscore_outliers_matches_mne(rng):
    """Same flags as MNE's _find_outliers (two-sided, 2 passes) on score vectors with 0-3 outliers."""
    mne_bads = pytest.importorskip("mne.preprocessing.bads")
    for trial in range(20):
        scores = rng.normal(scale=0.1, size=25)
        n_out = trial % 4
        scores[:n_out] = rng.choice([-1, 1], n_out) * rng.uniform(0.4, 0.9, n_out)
        ours = np.flatnonzero(np.asarray(zscore_outliers(jnp.asarray(scores), 3.0)))
        ref = mne_bads._find_outliers(scores, threshold=3.0, max_iter=2)
        np.testing.assert_array_equal(ours, np.sort(ref))


def test_find_bads_ref_synthetic(rng):
    """A source copied into the reference channel is the only flagged one; scores are the signed
    Pearson r (1e-5 in float32). 12 components: with ddof 0 the largest possible |z| among n
    scores is (n - 1) / sqrt(n), which exceeds 3 only from n = 11 on."""
    x, _, s = _mixture(rng, 12, 12, 4000)
    model = FastICA(n_components=12).fit(jnp.asarray(x, jnp.float32), key=jax.random.PRNGKey(0))
    src = np.asarray(model.components_, np.float64)
    target = int(np.argmax(np.abs(np.corrcoef(s[0], src)[0, 1:])))
    ref = -3.0 * s[0] + 0.3 * rng.normal(size=s.shape[1])
    idx, scores = model.find_bads_ref(x, ref)
    assert idx == [target]
    expected = [np.corrcoef(ref, src[i])[0, 1] for i in range(12)]
    np.testing.assert_allclose(scores[0], expected, atol=1e-5)
    idx_c, _ = find_bads_ref(src, ref, threshold="auto", measure="correlation")
    assert idx_c == [target]


# ----------------------------------------------------------------------------- real EEG (I14)


def _eeglab(shared_data_dir):
    from scipy.signal import butter, sosfiltfilt

    d = np.load(shared_data_dir / "eeglab_data.npz")
    names = [str(n) for n in d["ch_names"]]
    types = [str(t) for t in d["ch_types"]]
    sf = float(d["sfreq"])
    sos = butter(4, [1.0, 40.0], btype="bandpass", fs=sf, output="sos")
    xf = sosfiltfilt(sos, d["data"].astype(np.float64), axis=-1)
    eeg = [i for i, t in enumerate(types) if t == "eeg"]
    eog = [names.index("EOG1"), names.index("EOG2")]
    return xf[eeg], xf[eog], [names[i] for i in eeg], sf


def _blink_windows(fpz, sf):
    from scipy.signal import butter, find_peaks, sosfiltfilt

    lf = sosfiltfilt(butter(4, [1.0, 10.0], btype="bandpass", fs=sf, output="sos"), fpz)
    thr = 5.0 * np.median(np.abs(lf)) / 0.6745
    peaks, _ = find_peaks(lf, height=thr, distance=int(sf))
    win = np.zeros(fpz.shape, bool)
    for p in peaks:
        win[max(0, p - int(0.25 * sf)) : p + int(0.25 * sf)] = True
    # Non-blink: more than 0.5 s away from any blink window.
    far = np.convolve(win.astype(float), np.ones(int(sf) + 1), "same") == 0
    return peaks, win, far


@pytest.fixture(scope="module")
def eeglab_fit(shared_data_dir):
    x, eog, names, sf = _eeglab(shared_data_dir)
    model = FastICA(n_components=20, max_iter=1000, tol=1e-4).fit(jnp.asarray(x, jnp.float32), key=jax.random.PRNGKey(0))
    return x, eog, names, sf, model


@pytest.mark.slow
def test_eeglab_blink_found_and_removed(eeglab_fit):
    """EEGLAB sample (30 EEG, 128 Hz, 1-40 Hz), 20 components, float32.

    The blink component is found automatically from the EOG channels (bipolar EOG1 - EOG2,
    1-10 Hz; EOG1/EOG2 alone are weak blink references: |r| with FPz 0.10 / 0.60) and removed:
    FPz power in the 15 blink windows drops >= 90 %; away from blinks every channel except FPz
    keeps corr >= 0.98 with the input (FPz itself keeps ~0.80: the component also carries the
    eye-movement activity that dominates FPz between blinks). The component's |r| with FPz is
    >= 0.80 (scikit-learn: 0.854-0.856).
    """
    x, eog, names, sf, model = eeglab_fit
    fpz = names.index("FPz")
    assert bool(model.converged_)
    bipolar = eog[0] - eog[1]
    idx, scores = model.find_bads_ref(x, bipolar, sfreq=sf)
    assert len(idx) == 1, np.round(np.asarray(scores), 2)
    src = np.asarray(model.components_, np.float64)
    assert abs(np.corrcoef(src[idx[0]], x[fpz])[0, 1]) >= 0.80
    clean = np.asarray(model.apply(jnp.asarray(x, jnp.float32), exclude=idx), np.float64)
    peaks, win, far = _blink_windows(x[fpz], sf)
    assert len(peaks) >= 10
    drop = 1.0 - np.mean(clean[fpz, win] ** 2) / np.mean(x[fpz, win] ** 2)
    assert drop >= 0.90, drop
    corr = np.array([np.corrcoef(clean[c, far], x[c, far])[0, 1] for c in range(x.shape[0])])
    others = np.delete(corr, fpz)
    assert others.min() >= 0.98, (names, np.round(corr, 3))

    # Channel permutation: same key, permuted channels -> same blink component (Hungarian-matched
    # sources, sign ignored) and the same cleaned data up to float32 accuracy.
    perm = np.random.default_rng(1).permutation(x.shape[0])
    model_p = FastICA(n_components=20, max_iter=1000, tol=1e-4).fit(jnp.asarray(x[perm], jnp.float32), key=jax.random.PRNGKey(0))
    idx_p, _ = model_p.find_bads_ref(x[perm], bipolar, sfreq=sf)
    src_p = np.asarray(model_p.components_, np.float64)
    r = np.abs(np.corrcoef(src, src_p)[:20, 20:])
    rows, cols = linear_sum_assignment(-r)
    assert cols[idx[0]] == idx_p[0] and r[idx[0], idx_p[0]] > 0.999
    clean_p = np.asarray(model_p.apply(jnp.asarray(x[perm], jnp.float32), exclude=idx_p), np.float64)
    inv = np.argsort(perm)
    removed = np.linalg.norm(x - clean)
    err = np.linalg.norm(clean_p[inv] - clean) / removed
    assert err < 0.05, err  # measured 0.023: the matched blink sources agree to |r| > 0.999


@pytest.mark.slow
def test_eeglab_picard_converges_to_same_blink_component(eeglab_fit, x64):
    """Picard-O in float64 (tol 1e-7, python-picard's default; float32 rounding of the gradient
    sits near 1e-7) converges on the real recording and finds the same blink component as
    FastICA (|r| > 0.99 between the two time courses)."""
    x, eog, names, sf, model = eeglab_fit
    pic = FastICA(n_components=20, algorithm="picard", max_iter=500, tol=1e-7).fit(jnp.asarray(x, jnp.float64), key=jax.random.PRNGKey(0))
    assert bool(pic.converged_) and int(pic.n_iter_) < 500
    idx, _ = model.find_bads_ref(x, eog[0] - eog[1], sfreq=sf)
    idx_p, _ = pic.find_bads_ref(x, eog[0] - eog[1], sfreq=sf)
    r = np.corrcoef(np.asarray(model.components_[idx[0]]), np.asarray(pic.components_[idx_p[0]]))[0, 1]
    assert abs(r) > 0.99


@pytest.mark.slow
def test_eeglab_reference_free_blink_score(eeglab_fit):
    """The kurtosis x frontal-share score flags the same blink component without EOG channels."""
    x, eog, names, sf, model = eeglab_fit
    idx_ref, _ = model.find_bads_ref(x, eog[0] - eog[1], sfreq=sf)
    frontal = [names.index(n) for n in ("FPz", "F3", "Fz", "F4")]
    idx, _ = blink_scores(model.components_, model.mixing_, frontal)
    assert idx[:1] == idx_ref[:1]


# ----------------------------------------------------------------------------- gradients (I15)


@pytest.mark.parametrize("algorithm, n_ch, k", [("parallel", 6, 4), ("deflation", 4, 4)])
def test_gradient_through_fit_matches_finite_differences(x64, rng, algorithm, n_ch, k):
    """d/dX of a weighted sum of the cleaned output, through the whitening, the implicitly
    differentiated fixed point and the back-projection: directional derivative vs central
    differences, rel 1e-5 (measured 2e-8 to 3e-6). The implicit term matters: holding the fitted
    matrices fixed gives a clearly different derivative."""
    x, _, _ = _mixture(rng, n_ch, k, 1000)
    wts = jnp.asarray(rng.normal(size=x.shape))
    w_init = rng.normal(size=(k, k))

    ica = FastICA(n_components=k, algorithm=algorithm, w_init=w_init, tol=1e-13, max_iter=1000, store_sources=False)

    def loss(xx, frozen=False):
        model = ica.fit(xx)  # the Module API, as a user would write it
        if frozen:
            model = jax.lax.stop_gradient(model)
        return jnp.sum(model.apply(xx, exclude=[0]) * wts)

    x = jnp.asarray(x)
    v = jnp.asarray(rng.normal(size=x.shape))
    grad = jax.grad(loss)(x)
    analytic = float(jnp.sum(grad * v))
    eps = 1e-5
    fd = float((loss(x + eps * v) - loss(x - eps * v)) / (2 * eps))
    assert abs(analytic - fd) <= 1e-5 * abs(fd), (analytic, fd)
    frozen = float(jnp.sum(jax.grad(lambda xx: loss(xx, True))(x) * v))
    assert abs(frozen - fd) > 1e-3 * abs(fd)


# ----------------------------------------------------------------------------- jit / vmap (I16)


def test_fitted_module_is_a_light_jittable_layer(rng):
    """The fitted module without sources is a pytree of O(k C) arrays; eqx.filter_jit(model)(X)
    equals the eager call (float32, 1e-6 relative)."""
    import equinox as eqx

    x, _, _ = _mixture(rng, 5, 5, 2000)
    model = FastICA(n_components=5).fit(jnp.asarray(x, jnp.float32), key=jax.random.PRNGKey(0))
    layer = model.without_sources().set_exclude([1])
    sizes = [leaf.size for leaf in jax.tree_util.tree_leaves(eqx.filter(layer, eqx.is_array))]
    assert max(sizes) <= 25
    out = eqx.filter_jit(lambda m, xx: m(xx))(layer, jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(out, layer(jnp.asarray(x, jnp.float32)), rtol=1e-6, atol=1e-6 * np.abs(x).max())


def test_jit_and_vmap_match_eager(x64, rng):
    """fastica under jit and vmap over subjects equals the eager loop (1e-10)."""
    xs = np.stack([_mixture(rng, 4, 4, 1500)[0] for _ in range(2)])
    keys = jax.random.split(jax.random.PRNGKey(0), 2)

    def fit(x, key):
        r = fastica(x, key, n_components=4, tol=1e-8, max_iter=300)
        return r.unmixing, r.n_iter

    eager = [fit(jnp.asarray(x), k) for x, k in zip(xs, keys)]
    jitted = jax.jit(fit)(jnp.asarray(xs[0]), keys[0])
    np.testing.assert_allclose(jitted[0], eager[0][0], atol=1e-10)
    batched = jax.jit(jax.vmap(fit))(jnp.asarray(xs), keys)
    for i in range(2):
        np.testing.assert_allclose(batched[0][i], eager[i][0], atol=1e-10)
        assert int(batched[1][i]) == int(eager[i][1])
