"""Assemble the QC report: figures from :mod:`.figures` embedded as base64 PNG in one HTML file."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ..datasets import Recording
from ..job import DATA_TYPES, JobLog
from ..preprocessing import metrics
from ..preprocessing.artifact import covariances, detect_artifacts_riemann, make_epochs
from . import figures

_UNITS = {"eeg": ("µV", 1e6), "mag": ("fT", 1e15), "grad": ("fT/cm", 1e13)}
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
figure{margin:0.6em 0}img{max-width:100%}figcaption{font-size:0.85em;color:#555}
"""


def _img(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _type_index(rec: Recording, ch_type: str) -> np.ndarray:
    return np.flatnonzero(np.asarray(rec.ch_types) == ch_type)


def write_report(path: str | Path, raw: Recording, cleaned: Recording, log: JobLog, *, source: str = "") -> Path:
    """Write the QC report of one run to ``path`` (a self-contained HTML file)."""
    path = Path(path)
    sections = []
    summary = [
        ("input", source or raw.source or "(in memory)"),
        ("channels", f"{raw.n_channels} ({', '.join(f'{t}: {raw.ch_types.count(t)}' for t in sorted(set(raw.ch_types)))})"),
        ("duration" if len(log.fit_segments) <= 1 else "figures drawn from", f"{raw.n_times / raw.sfreq:.1f} s at {raw.sfreq:g} Hz" + (f" -> {cleaned.sfreq:g} Hz" if cleaned.sfreq != raw.sfreq else "")),
        ("bad channels", ", ".join(sum(log.bads.values(), [])) or "none"),
        ("interpolated", ", ".join(log.interpolated) or "none"),
        ("ASR: share of samples changed", ", ".join(f"{t}: {100 * f:.1f} %" for t, f in log.asr_changed_fraction.items()) or "not run"),
        ("ICA: excluded components", (", ".join(f"IC{i}" for i in log.ica_excluded) or "none") if log.ica is not None else "not run"),
        ("time per step", ", ".join(f"{k} {v:.1f} s" for k, v in log.seconds.items())),
    ] + [("note", n) for n in log.notes]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary)
    sections.append(f"<h2>Summary</h2><table>{rows}</table>")

    same_rate = np.isclose(raw.sfreq, cleaned.sfreq)
    for ch_type in DATA_TYPES:
        idx = _type_index(raw, ch_type)
        if idx.size == 0:
            continue
        unit, factor = _UNITS[ch_type]
        names = [raw.ch_names[i] for i in idx]
        before, after = raw.data[idx].astype(np.float64), cleaned.data[_type_index(cleaned, ch_type)].astype(np.float64)
        nperseg = int(min(2 * raw.sfreq, before.shape[1]))
        f_b, p_b = metrics.welch(jnp.asarray(before * factor), raw.sfreq, nperseg=nperseg)
        f_a, p_a = metrics.welch(jnp.asarray(after * factor), cleaned.sfreq, nperseg=int(min(2 * cleaned.sfreq, after.shape[1])))
        parts = [f"<h2>{ch_type.upper()} ({idx.size} channels)</h2>"]
        if same_rate:
            parts.append(_img(figures.psd_before_after(np.asarray(f_b), np.asarray(p_b), np.asarray(p_a), f"{ch_type} PSD", unit), f"{ch_type}: power spectral density before and after (median and 10-90 % over channels)"))
        else:
            parts.append(_img(figures.psd_before_after(np.asarray(f_a), np.interp(np.asarray(f_a), np.asarray(f_b), np.median(np.asarray(p_b), 0))[None], np.asarray(p_a), f"{ch_type} PSD", unit), f"{ch_type}: power spectral density before and after"))
        rms_b = np.sqrt(np.mean((before - before.mean(1, keepdims=True)) ** 2, axis=1)) * factor
        rms_a = np.sqrt(np.mean((after - after.mean(1, keepdims=True)) ** 2, axis=1)) * factor
        parts.append(_img(figures.channel_rms(names, rms_b, rms_a, log.bads.get(ch_type, []), f"{ch_type} RMS per channel", unit), f"{ch_type}: RMS per channel (bad channels in red)"))
        if np.all(np.isfinite(raw.pos[idx])):
            parts.append(_img(figures.sensor_layout(raw.pos[idx], names, log.bads.get(ch_type, []), f"{ch_type} sensors"), f"{ch_type}: sensor layout with bad channels"))
        if ch_type in log.asr_activity:  # accumulated block by block over the whole recording
            frac = log.asr_activity[ch_type]
            t = np.arange(frac.size) + 0.5
            parts.append(_img(figures.asr_activity(t, frac, f"ASR activity ({ch_type})"), f"{ch_type}: share of signal energy ASR removed per second"))
        if ch_type == "eeg" and same_rate and before.shape[1] >= 4 * raw.sfreq and idx.size >= 4:
            epochs_b = make_epochs(jnp.asarray(before * factor), raw.sfreq, 2.0)
            epochs_a = make_epochs(jnp.asarray(after * factor), raw.sfreq, 2.0)
            good = np.array([n not in log.bads.get(ch_type, []) or n in log.interpolated for n in names])
            if good.sum() >= 2:
                covs_b = covariances(epochs_b[:, good], "oas")
                covs_a = covariances(epochs_a[:, good], "oas")
                _, dist_b, _ = detect_artifacts_riemann(covs_b, 3.0, return_scores=True)
                flagged, dist_a, _ = detect_artifacts_riemann(covs_a, 3.0, return_scores=True)
                parts.append(_img(figures.riemann_distances(np.asarray(dist_b), np.asarray(dist_a), np.asarray(flagged), 2.0), f"{ch_type}: Riemannian distance of 2-s epochs to the robust mean ({int(np.sum(flagged))} flagged after cleaning)"))
        sections.append("".join(parts))

    if log.ica is not None:
        eeg = [raw.ch_names.index(n) for n in log.ica_channels]
        sources = log.ica_sources  # the time courses the job scored, not a recomputation
        sections.append(
            "<h2>ICA</h2>"
            + _img(
                figures.ica_components(np.asarray(log.ica.mixing_), raw.pos[eeg], sources, raw.sfreq, log.ica_excluded),
                "ICA components: topography and time course; excluded components in red",
            )
        )

    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>NeuroJAX QC report</title>"
        f"<style>{_STYLE}</style></head><body><h1>NeuroJAX preprocessing report</h1>{''.join(sections)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path
