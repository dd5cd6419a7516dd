"""Figures of the QC report, each returned as PNG bytes (matplotlib, no display needed).

Every function takes plain arrays, draws one figure and returns it encoded; none of them
changes data. Matplotlib is imported lazily with the non-interactive Agg backend.
"""

from __future__ import annotations

import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def psd_before_after(freqs: np.ndarray, before: np.ndarray, after: np.ndarray, title: str, unit: str) -> bytes:
    """Median and 10-90 % band over channels of the PSD, before and after, log power."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for psd, label, colour in ((before, "before", "tab:grey"), (after, "after", "tab:blue")):
        db = 10 * np.log10(np.maximum(psd, 1e-300))
        ax.fill_between(freqs, np.percentile(db, 10, axis=0), np.percentile(db, 90, axis=0), color=colour, alpha=0.25, lw=0)
        ax.plot(freqs, np.median(db, axis=0), color=colour, label=label)
    ax.set(xlabel="frequency (Hz)", ylabel=f"power (dB re 1 {unit}²/Hz)", title=title)
    ax.legend(loc="upper right")
    return _png(fig)


def channel_rms(names: list[str], before: np.ndarray, after: np.ndarray, bads: list[str], title: str, unit: str) -> bytes:
    """Per-channel RMS before and after; bad channels in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.5, 0.12 * len(names)), 3.0))
    x = np.arange(len(names))
    ax.bar(x, before, color="tab:grey", alpha=0.6, label="before")
    ax.bar(x, after, color=["tab:red" if n in bads else "tab:blue" for n in names], alpha=0.8, width=0.5, label="after")
    ax.set(ylabel=f"RMS ({unit})", title=title)
    if len(names) <= 64:
        ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.legend(loc="upper right")
    return _png(fig)


def sensor_layout(pos: np.ndarray, names: list[str], bads: list[str], title: str) -> bytes:
    """Sensors seen from above (azimuthal projection of head coordinates); bad ones in red."""
    plt = _pyplot()
    ok = np.all(np.isfinite(pos), axis=1)
    centre = pos[ok].mean(axis=0)
    p = pos[ok] - centre
    radius = np.linalg.norm(p, axis=1)
    polar = np.arccos(np.clip(p[:, 2] / np.maximum(radius, 1e-12), -1, 1))
    azimuth = np.arctan2(p[:, 1], p[:, 0])
    xy = np.stack([polar * np.cos(azimuth), polar * np.sin(azimuth)], axis=1)
    is_bad = np.array([n in bads for n, k in zip(names, ok) if k])
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.scatter(xy[~is_bad, 0], xy[~is_bad, 1], s=14, color="tab:blue", label="good")
    ax.scatter(xy[is_bad, 0], xy[is_bad, 1], s=40, color="tab:red", marker="x", label="bad")
    for (x, y), name, bad in zip(xy, [n for n, k in zip(names, ok) if k], is_bad):
        if bad:
            ax.annotate(name, (x, y), fontsize=7, color="tab:red")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return _png(fig)


def asr_activity(times: np.ndarray, fraction: np.ndarray, title: str) -> bytes:
    """Share of signal energy ASR removed, per second of recording."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.4))
    ax.fill_between(times, 0, fraction, step="mid", color="tab:orange")
    ax.set(xlabel="time (s)", ylabel="energy removed", ylim=(0, 1), title=title)
    return _png(fig)


def ica_components(topographies: np.ndarray, pos: np.ndarray, sources: np.ndarray, sfreq: float, excluded: list[int]) -> bytes:
    """One row per component: topography (sensor scatter coloured by weight) and time course."""
    plt = _pyplot()
    k = topographies.shape[1]
    shown = min(k, 12)
    fig, axes = plt.subplots(shown, 2, figsize=(7.0, 1.1 * shown), gridspec_kw={"width_ratios": [1, 4]}, squeeze=False)
    ok = np.all(np.isfinite(pos), axis=1)
    xy = pos[:, :2]
    t = np.arange(sources.shape[1]) / sfreq
    for i in range(shown):
        weights = topographies[:, i]
        limit = np.max(np.abs(weights)) or 1.0
        axes[i, 0].scatter(xy[ok, 0], xy[ok, 1], c=weights[ok], cmap="RdBu_r", vmin=-limit, vmax=limit, s=10)
        axes[i, 0].set_aspect("equal")
        axes[i, 0].axis("off")
        colour = "tab:red" if i in excluded else "black"
        axes[i, 1].plot(t, sources[i], lw=0.4, color=colour)
        axes[i, 1].set_yticks([])
        axes[i, 1].set_ylabel(f"IC{i}" + (" (excluded)" if i in excluded else ""), rotation=0, ha="right", fontsize=7, color=colour)
    axes[-1, 1].set_xlabel("time (s)")
    return _png(fig)


def riemann_distances(before: np.ndarray, after: np.ndarray, flagged: np.ndarray, epoch_seconds: float) -> bytes:
    """Riemannian distance of each epoch to the robust mean, before and after; flagged epochs marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.6))
    t = np.arange(before.size) * epoch_seconds
    ax.plot(t, before, ".", color="tab:grey", label="before")
    ax.plot(t, after, ".", color="tab:blue", label="after")
    ax.plot(t[flagged], after[flagged], "x", color="tab:red", label="flagged after")
    ax.set(xlabel="epoch start (s)", ylabel="Riemannian distance", title="epoch covariance outliers")
    ax.legend(loc="upper right", fontsize=7)
    return _png(fig)
