"""Quality metrics for judging a preprocessing step.

All functions are pure, jittable and differentiable, take arrays laid out
``(..., n_channels, n_times)`` and reduce over the last (time) axis unless stated.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._validate import as_float_array, check_min_samples, check_sfreq

__all__ = ["rms", "snr_db", "correlation", "welch", "band_power"]


def rms(data: Float[Array, "... n_times"]) -> Float[Array, "..."]:
    """Root-mean-square amplitude over time, ``sqrt(mean_t x^2)``, per channel."""
    data = as_float_array(data)
    return jnp.sqrt(jnp.mean(data**2, axis=-1))


def snr_db(clean: Float[Array, "... n_times"], estimate: Float[Array, "... n_times"], axis: int | None = -1) -> Float[Array, "..."]:
    """Signal-to-noise ratio of ``estimate`` against the ground truth ``clean``, in dB.

    ``SNR = 10 log10( sum clean^2 / sum (estimate - clean)^2 )``. With ``axis=-1`` (default)
    one value per channel; ``axis=None`` pools all samples of all channels.
    A perfect estimate gives ``+inf``.
    """
    clean, estimate = as_float_array(clean, "clean"), as_float_array(estimate, "estimate")
    if clean.shape != estimate.shape:
        raise ValueError(f"clean {clean.shape} and estimate {estimate.shape} must have the same shape")
    signal = jnp.sum(clean**2, axis=axis)
    noise = jnp.sum((estimate - clean) ** 2, axis=axis)
    return 10.0 * (jnp.log10(signal) - jnp.log10(noise))


def correlation(a: Float[Array, "... n_times"], b: Float[Array, "... n_times"]) -> Float[Array, "..."]:
    """Pearson correlation over time between matching channels of ``a`` and ``b``."""
    a, b = as_float_array(a, "a"), as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a {a.shape} and b {b.shape} must have the same shape")
    a = a - jnp.mean(a, axis=-1, keepdims=True)
    b = b - jnp.mean(b, axis=-1, keepdims=True)
    return jnp.sum(a * b, axis=-1) / jnp.sqrt(jnp.sum(a**2, axis=-1) * jnp.sum(b**2, axis=-1))


def welch(
    data: Float[Array, "... n_times"],
    sfreq: float,
    nperseg: int = 256,
    noverlap: int | None = None,
) -> tuple[Float[Array, " n_freqs"], Float[Array, "... n_freqs"]]:
    """Power spectral density by Welch's method, equal to ``scipy.signal.welch`` defaults.

    Segments of ``nperseg`` samples (Hann window, periodic), overlapping by ``noverlap``
    (default ``nperseg // 2``), each mean-detrended; one-sided density scaling
    ``|X_k|^2 / (sfreq * sum w^2)`` with non-DC/non-Nyquist bins doubled; segments averaged.
    As in SciPy, ``nperseg`` is reduced to the signal length when the signal is shorter.

    Returns:
        ``(freqs, psd)``: frequencies in Hz and the PSD in units^2/Hz.
    """
    sfreq = check_sfreq(sfreq)
    data = as_float_array(data)
    n_times = data.shape[-1]
    check_min_samples(data, 2, why="a spectrum needs at least two samples")
    nperseg = min(int(nperseg), n_times)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if not 0 <= noverlap < nperseg:
        raise ValueError(f"noverlap must be in [0, nperseg={nperseg}), got {noverlap}")
    step = nperseg - noverlap
    n_segments = (n_times - noverlap) // step
    # Static gather indices: (n_segments, nperseg); no Python loop over segments.
    index = np.arange(n_segments)[:, None] * step + np.arange(nperseg)[None, :]
    segments = data[..., index]
    segments = segments - jnp.mean(segments, axis=-1, keepdims=True)
    window = jnp.asarray(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg), data.dtype)
    spectrum = jnp.abs(jnp.fft.rfft(segments * window, axis=-1)) ** 2
    spectrum = spectrum / (sfreq * jnp.sum(window**2))
    double = np.ones(nperseg // 2 + 1)
    double[1 : (nperseg + 1) // 2] = 2.0  # Nyquist bin (even nperseg) is not doubled
    psd = jnp.mean(spectrum, axis=-2) * jnp.asarray(double, data.dtype)
    freqs = jnp.asarray(np.fft.rfftfreq(nperseg, 1.0 / sfreq), data.dtype)
    return freqs, psd


def band_power(
    data: Float[Array, "... n_times"],
    sfreq: float,
    band: tuple[float, float],
    nperseg: int = 256,
    relative: bool = False,
) -> Float[Array, "..."]:
    """Power in ``band = (low, high)`` Hz from the Welch PSD (trapezoid over bins in the band).

    With ``relative=True`` the band power is divided by the total power over all bins.
    """
    sfreq = check_sfreq(sfreq)
    low, high = band
    if not 0 <= low < high <= sfreq / 2:
        raise ValueError(f"band must be (low, high) Hz with 0 <= low < high <= Nyquist ({sfreq / 2:g} Hz), got {band}")
    freqs, psd = welch(data, sfreq, nperseg=nperseg)
    freqs_np = np.fft.rfftfreq(min(int(nperseg), data.shape[-1]), 1.0 / sfreq)
    inside = (freqs_np >= low) & (freqs_np <= high)
    if inside.sum() < 2:
        raise ValueError(f"band {band} Hz covers fewer than two frequency bins at nperseg={nperseg}; widen it or raise nperseg")
    power = jnp.trapezoid(psd[..., inside], freqs[inside], axis=-1)
    if relative:
        power = power / jnp.trapezoid(psd, freqs, axis=-1)
    return power
