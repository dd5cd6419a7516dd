"""Synthetic data shared by the ASR tests (small shapes so JAX compiles a few programs only)."""

from __future__ import annotations

import numpy as np

SFREQ = 250.0
N_CH = 8


def mixing(n_ch: int = N_CH, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_ch, n_ch)) + 2 * np.eye(n_ch)


def clean(n_times: int, n_ch: int = N_CH, seed: int = 1, sfreq: float = SFREQ) -> np.ndarray:
    """Stationary correlated noise with a 10-Hz rhythm: 'clean EEG' drawn the same way each time."""
    rng = np.random.default_rng(seed)
    a = mixing(n_ch)
    src = rng.standard_normal((n_ch, n_times))
    t = np.arange(n_times) / sfreq
    src[0] += 2 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 2 * np.pi))
    return 10.0 * (a @ src)


def blink(n_times: int, onset: int, length: int, n_ch: int = N_CH, amp: float = 200.0, seed: int = 3) -> np.ndarray:
    """Rank-1 blink-like burst (half sine) along a fixed frontal-ish topography."""
    rng = np.random.default_rng(seed)
    topo = np.abs(rng.standard_normal(n_ch))
    topo[: n_ch // 2] *= 3
    topo /= topo.max()
    wave = np.zeros(n_times)
    idx = np.arange(onset, min(onset + length, n_times))
    wave[idx] = np.sin(np.pi * (idx - onset) / length)
    return amp * 10.0 * np.outer(topo, wave)


def with_artifacts(x: np.ndarray, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Add blinks at the start, middle and end; returns (data, boolean artifact mask over time)."""
    n = x.shape[1]
    art = blink(n, 0, length) + blink(n, n // 2, length) + blink(n, n - length, length + 1)
    return x + art, np.abs(art).sum(0) > 0
