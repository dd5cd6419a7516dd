"""Resampling: parity with scipy.signal.resample_poly and mne.filter.resample, rational rates,
quality, adjoint, jit/vmap, errors. Small shapes; float64 parity under the ``x64`` fixture.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal as ss

from neurojax.preprocessing import resample as R

RATES = [(1, 2), (1, 4), (2, 3), (5, 8), (3, 7), (160, 147), (1000, 1001), (4, 1)]


@pytest.mark.parametrize("up,down,kind", [(u, d, k) for u, d in RATES for k in ("gemm", "gather")]
                         + [(1, 2, "conv"), (1, 4, "conv"), (1, 4, "auto")])
def test_resample_poly_matches_scipy(x64, up, down, kind):
    """R1: every realisation (the strided convolution for decimation; 'auto' picks it in float64),
    odd/even lengths, 1-D and batched: max abs <= 1e-12 (float64)."""
    rng = np.random.default_rng(up * 31 + down)
    for n in (1001, 1000) if kind != "gather" else (1001,):
        x = rng.standard_normal((2, n)) + 1.0
        ref = ss.resample_poly(x, up, down, axis=-1)
        y = R.resample_poly(x, up, down, kind=kind)
        assert y.shape == ref.shape == (2, -(-n * up // down))
        assert np.max(np.abs(np.asarray(y) - ref)) <= 1e-12
    y1 = R.resample_poly(x[0], up, down, kind=kind)
    assert np.max(np.abs(np.asarray(y1) - ref[0])) <= 1e-12


def test_gcd_reduction_axis_and_identity(x64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 400))
    np.testing.assert_allclose(np.asarray(R.resample_poly(x, 2, 8)), np.asarray(R.resample_poly(x, 1, 4)), atol=0)
    np.testing.assert_allclose(np.asarray(R.resample_poly(x.T, 2, 3, axis=0)), ss.resample_poly(x.T, 2, 3, axis=0), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(R.resample_poly(x, 3, 3)), x)


@pytest.mark.parametrize("padtype", ["constant", "edge", "reflect", "symmetric", "wrap", "antireflect",
                                     "antisymmetric", "line", "smooth", "mean", "median", "maximum", "minimum"])
def test_padtypes_match_scipy(x64, padtype):
    """R2: every padtype incl. the edge-affected outputs (1e-12)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 500)) + np.linspace(0, 3, 500)
    cval = 1.5 if padtype == "constant" else None
    for up, down in ((2, 3), (1, 4)):
        ref = ss.resample_poly(x, up, down, axis=-1, padtype=padtype, cval=cval)
        y = R.resample_poly(x, up, down, padtype=padtype, cval=cval)
        assert np.max(np.abs(np.asarray(y) - ref)) <= 1e-12


def test_custom_windows_match_scipy(x64):
    """R3: taps given as an array (scaled by up) and window tuples/strings."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 700))
    taps = ss.firwin(31, 0.3)
    for window in (taps, ("kaiser", 8.6), "hann"):
        ref = ss.resample_poly(x, 3, 5, axis=-1, window=window)
        assert np.max(np.abs(np.asarray(R.resample_poly(x, 3, 5, window=window)) - ref)) <= 1e-12


def test_float32_error(rng):
    """R1 (float32): max abs <= 5e-6 x signal RMS; dtype kept."""
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    for up, down in ((1, 4), (160, 147)):
        y = R.resample_poly(jnp.asarray(x), up, down)
        assert y.dtype == jnp.float32
        ref = ss.resample_poly(x.astype(np.float64), up, down, axis=-1)
        assert np.max(np.abs(np.asarray(y, np.float64) - ref)) <= 5e-6 * np.sqrt(np.mean(x.astype(np.float64) ** 2))


def test_rational_ratio_table():
    """R8: the spec's worked examples (up/down and relative rate errors)."""
    f = 600.614990234375
    assert R.rational_ratio(f, 250.0, max_den=100, rate_rtol=1)[:2] == (5, 12)
    assert R.rational_ratio(f, 250.0, max_den=1000, rate_rtol=1)[:2] == (405, 973)
    up, down, achieved, rel = R.rational_ratio(f, 250.0)
    assert (up, down) == (3496, 8399) and rel < 3e-9 and abs(achieved - 250.0) < 1e-6
    assert R.rational_ratio(f, 200.0)[:2] == (1626, 4883)
    assert R.rational_ratio(512.5, 256.0)[:2] == (512, 1025)
    assert R.rational_ratio(1000.0, 256.0)[:2] == (32, 125)
    assert R.rational_ratio(128.0, 100.0)[:2] == (25, 32)
    assert R.rational_ratio(1001.0, 1000.0)[:2] == (1000, 1001)
    assert R.rational_ratio(1001.0, 1000.0, max_den=1000, rate_rtol=1e-5)[:2] == (999, 1000)
    assert R.rational_ratio(2048.0, 500.0)[:2] == (125, 512)
    with pytest.raises(ValueError, match="max_den"):
        R.rational_ratio(f, 250.0, max_den=100)


def test_resample_minimal_tutorial_cases(x64):
    """1001 -> 1000 Hz and 512.5 -> 256 Hz (no int() truncation), 1000 -> 250 == SciPy."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5000))
    y = R.resample_minimal(x, 512.5, 256.0)
    assert y.shape == (2, 2498)  # ceil(5000 * 512/1025)
    np.testing.assert_allclose(np.asarray(y), ss.resample_poly(x, 512, 1025, axis=-1), atol=1e-12)
    y = R.resample_minimal(x, 1001.0, 1000.0)
    np.testing.assert_allclose(np.asarray(y), ss.resample_poly(x, 1000, 1001, axis=-1), atol=1e-12)
    y = R.resample_minimal(x, 1000.0, 250.0)
    np.testing.assert_allclose(np.asarray(y), ss.resample_poly(x, 1, 4, axis=-1), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(R.resample_minimal(x, 250.0, 250.0)), x)


@pytest.mark.parametrize("up,down", [(1, 4), (256, 1000), (250, 600.614990234375), (3, 2)])
def test_mne_fft_and_polyphase_match_mne(x64, up, down):
    """R4: mne.filter.resample FFT (npad 100 and 'auto') and polyphase compat (atol 1e-10)."""
    mne = pytest.importorskip("mne")
    x = np.random.default_rng(5).standard_normal((3, 2000))
    for npad in (100, "auto"):
        ref = mne.filter.resample(x, up, down, npad=npad, verbose=False)
        y = R.resample_mne(x, up, down, npad=npad)
        assert y.shape == ref.shape
        assert np.max(np.abs(np.asarray(y) - ref)) <= 1e-10
    ref = mne.filter.resample(x, up, down, method="polyphase", verbose=False)
    y = R.resample_mne(x, up, down, method="polyphase")
    assert y.shape == ref.shape
    assert np.max(np.abs(np.asarray(y) - ref)) <= 1e-10


@pytest.mark.slow
def test_real_meg_to_250_matches_mne_raw_resample(x64, shared_data_dir):
    """R10: mne_test_raw (600.615 Hz) -> 250 Hz, FFT method vs MNE (atol 1e-10 of unit-scaled data)."""
    mne = pytest.importorskip("mne")
    raw = np.load(shared_data_dir / "mne_test_raw.npz", allow_pickle=True)
    sf = float(raw["sfreq"])
    x = raw["data"][:6].astype(np.float64)
    x = x / np.max(np.abs(x), axis=-1, keepdims=True)
    ref = mne.filter.resample(x, 250.0, sf, npad="auto", verbose=False)
    y = R.Resampler(sf, 250.0, method="fft")(x)
    assert np.max(np.abs(np.asarray(y) - ref)) <= 1e-10
    # polyphase: documented rational approximation 3496/8399 of the rate
    layer = R.Resampler(sf, 250.0)
    assert (layer.up, layer.down) == (3496, 8399) and abs(layer.achieved_sfreq - 250.0) < 1e-6
    yp = layer(x[:, :3000])
    np.testing.assert_allclose(np.asarray(yp), ss.resample_poly(x[:, :3000], 3496, 8399, axis=-1), atol=1e-12)


def test_quality_of_default_kernel():
    """R6: ripple <= 0.03 dB below 0.8 Nyquist_out; alias rejection >= 55 dB into [0, 0.8 Nyq_out]."""
    up, down = 1, 4
    from neurojax.preprocessing._polyphase import rational_taps

    h, _ = rational_taps(up, down, ("kaiser", 5.0))
    w, resp = ss.freqz(h / up, worN=8192, fs=1000.0)
    pass_band = w <= 100.0
    ripple_db = 20 * np.log10(np.abs(resp[pass_band]))
    assert np.max(np.abs(ripple_db)) <= 0.03
    # frequencies folding into [0, 100] Hz at 250 Hz: |f - k*250| <= 100 for k >= 1
    fold = np.zeros_like(w, dtype=bool)
    for k in (1, 2):
        fold |= np.abs(w - k * 250.0) <= 100.0
    assert 20 * np.log10(np.max(np.abs(resp[fold]))) <= -55.0


def test_adjoint_and_gradients(x64):
    """R7: <A x, y> = <x, A^T y> with A^T from jax.vjp (1e-10 rel), for both realisations."""
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.standard_normal((2, 900)))
    for up, down, kind in ((1, 4, "gemm"), (160, 147, "gather"), (1, 4, "conv")):
        fx, vjp = jax.vjp(lambda v: R.resample_poly(v, up, down, kind=kind), x)
        y = jnp.asarray(rng.standard_normal(fx.shape))
        (aty,) = vjp(y)
        lhs, rhs = float(jnp.sum(fx * y)), float(jnp.sum(x * aty))
        assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_resampler_layer_jit_vmap_and_trainable_taps(x64):
    """R9: jit with static rates; vmap over recordings == loop (1e-12); taps gradient exists."""
    rng = np.random.default_rng(7)
    layer = R.Resampler(1000.0, 250.0)
    batch = jnp.asarray(rng.standard_normal((2, 3, 800)))
    ref = ss.resample_poly(np.asarray(batch), 1, 4, axis=-1)
    out = eqx.filter_jit(lambda m, b: jax.vmap(m)(b))(layer, batch)
    assert out.shape == (2, 3, 200)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-12)
    np.testing.assert_allclose(np.asarray(jnp.stack([layer(b) for b in batch])), ref, atol=1e-12)
    grad = eqx.filter_grad(lambda m: jnp.sum(m(batch[0]) ** 2))(layer)
    assert grad.taps.shape == layer.taps.shape and bool(jnp.all(jnp.isfinite(grad.taps)))
    # FD check of one tap direction
    d = jnp.asarray(rng.standard_normal(layer.taps.shape))
    f = lambda t: jnp.sum(eqx.tree_at(lambda m: m.taps, layer, t)(batch[0]) ** 2)  # noqa: E731
    h = 1e-6
    fd = (f(layer.taps + h * d) - f(layer.taps - h * d)) / (2 * h)
    np.testing.assert_allclose(float(jnp.sum(grad.taps * d)), float(fd), rtol=1e-6)


def test_bad_input_raises():
    """R11: ValueError with a fix-it message."""
    x = np.zeros((2, 100))
    with pytest.raises(ValueError, match="positive integer"):
        R.resample_poly(x, 0, 2)
    with pytest.raises(ValueError, match="positive integer"):
        R.resample_poly(x, 1.5, 2)
    with pytest.raises(ValueError, match="padtype"):
        R.resample_poly(x, 1, 2, padtype="nope")
    bad = x.copy()
    bad[1, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        R.resample_minimal(bad, 1000.0, 250.0)
    with pytest.raises(ValueError, match="sampling rate"):
        R.resample_minimal(x, -1.0, 250.0)
    with pytest.raises(ValueError, match="method"):
        R.resample_mne(x, 1, 2, method="sinc")
    with pytest.raises(ValueError, match="empty|non-empty"):
        R.resample_poly(np.zeros((2, 0)), 1, 2)
    with pytest.raises(ValueError, match="kind"):
        R.resample_poly(x, 1, 2, kind="fft")
    with pytest.raises(ValueError, match="decimation"):
        R.resample_poly(x, 2, 3, kind="conv")


@pytest.mark.parametrize("up,down,window,reads_all", [
    (1, 4, ("kaiser", 5.0), True), (3, 2, ("kaiser", 5.0), True), (1, 4, np.ones(1), False)])
def test_traced_non_finite_input_fails_at_run_time(x64, up, down, window, reads_all):
    """Under jit a NaN anywhere in the input stops the call: checked on the (smaller) output when
    every input sample reaches an output (decimation with the default taps), else on the input
    (an upsampler, or a single-tap decimator that never reads samples 1, 2, 3). Float64, where
    decimation runs as a strided convolution that multiplies only the samples it reads."""
    from neurojax.preprocessing._polyphase import rational_taps, reads_every_input

    n = 101
    taps, half = rational_taps(up, down, window)
    assert reads_every_input(taps.shape[0], up, down, half, n, -(-n * up // down)) == reads_all
    fn = jax.jit(lambda v: R.resample_poly(v, up, down, window=window))
    for position in (0, 1, n - 1):
        bad = np.zeros((2, n))
        bad[1, position] = np.nan
        with pytest.raises(Exception, match="NaN or Inf"):
            jax.block_until_ready(fn(jnp.asarray(bad)))
    assert np.all(np.isfinite(np.asarray(fn(jnp.ones((2, n))))))
