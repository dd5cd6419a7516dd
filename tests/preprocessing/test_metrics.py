"""Quality metrics against NumPy/SciPy definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from neurojax.preprocessing import metrics


@pytest.fixture
def signals(rng):
    return rng.standard_normal((3, 1000)), rng.standard_normal((3, 1000))


def test_rms_matches_numpy(signals):
    x, _ = signals
    np.testing.assert_allclose(metrics.rms(x), np.sqrt(np.mean(x**2, axis=-1)), rtol=1e-6)


def test_snr_db_per_channel_and_pooled(signals):
    clean, noise = signals
    est = clean + 0.1 * noise
    expected = 10 * np.log10(np.sum(clean**2, -1) / np.sum((0.1 * noise) ** 2, -1))
    np.testing.assert_allclose(metrics.snr_db(clean, est), expected, rtol=1e-5)
    pooled = 10 * np.log10(np.sum(clean**2) / np.sum((0.1 * noise) ** 2))
    np.testing.assert_allclose(metrics.snr_db(clean, est, axis=None), pooled, rtol=1e-5)


def test_snr_db_rejects_shape_mismatch(signals):
    clean, _ = signals
    with pytest.raises(ValueError, match="same shape"):
        metrics.snr_db(clean, clean[:, :10])


def test_correlation_matches_corrcoef(signals):
    a, b = signals
    b = 0.5 * a + b
    expected = [np.corrcoef(a[i], b[i])[0, 1] for i in range(3)]
    np.testing.assert_allclose(metrics.correlation(a, b), expected, rtol=1e-5)


@pytest.mark.parametrize("nperseg, noverlap", [(256, None), (128, 32), (255, None)])
def test_welch_matches_scipy_float64(x64, signals, nperseg, noverlap):
    x, _ = signals
    freqs, psd = metrics.welch(x, 250.0, nperseg=nperseg, noverlap=noverlap)
    f_ref, p_ref = scipy.signal.welch(x, 250.0, nperseg=nperseg, noverlap=noverlap)
    np.testing.assert_allclose(freqs, f_ref, rtol=1e-12)
    # float64 FFT vs pocketfft: agreement to rounding.
    np.testing.assert_allclose(psd, p_ref, rtol=1e-10, atol=1e-14 * p_ref.max())


def test_welch_float32_close_and_short_signal(signals):
    x, _ = signals
    _, psd = metrics.welch(x.astype(np.float32), 250.0)
    _, p_ref = scipy.signal.welch(x, 250.0)
    assert psd.dtype == jnp.float32
    np.testing.assert_allclose(psd, p_ref, rtol=1e-4, atol=1e-6 * p_ref.max())
    # Shorter than nperseg: SciPy shrinks the segment to the signal, so do we.
    f_short, p_short = metrics.welch(x[:, :100], 250.0)
    f_ref, p_ref = scipy.signal.welch(x[:, :100], 250.0, nperseg=100)
    np.testing.assert_allclose(p_short, p_ref, rtol=1e-4)


def test_band_power_finds_the_sine(x64):
    sfreq = 250.0
    t = np.arange(2500) / sfreq
    x = np.stack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 30 * t)])
    alpha = metrics.band_power(x, sfreq, (8.0, 12.0), relative=True)
    assert alpha[0] > 0.95 and alpha[1] < 0.01
    # Absolute power of a unit sine is 1/2.
    total = metrics.band_power(x, sfreq, (0.0, sfreq / 2))
    np.testing.assert_allclose(total, 0.5, rtol=0.02)


def test_band_power_rejects_bad_band(signals):
    x, _ = signals
    with pytest.raises(ValueError, match="Nyquist"):
        metrics.band_power(x, 250.0, (10.0, 200.0))
    with pytest.raises(ValueError, match="low < high"):
        metrics.band_power(x, 250.0, (12.0, 8.0))


def test_metrics_jit_and_grad(signals):
    clean, noise = signals
    clean, noise = jnp.asarray(clean, jnp.float32), jnp.asarray(noise, jnp.float32)
    f = jax.jit(lambda e: jnp.mean(metrics.snr_db(clean, e)))
    g = jax.grad(lambda e: jnp.sum(metrics.welch(e, 250.0)[1]))(clean)
    assert np.isfinite(float(f(clean + 0.1 * noise)))
    assert g.shape == clean.shape and bool(jnp.all(jnp.isfinite(g)))
