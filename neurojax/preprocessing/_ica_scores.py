"""Scoring ICA components against reference channels (EOG/ECG), MNE's outlier rule.

``pearson_scores`` gives the signed Pearson correlation of every source with every reference
channel. ``zscore_outliers`` is MNE's iterative two-sided z-score search: up to ``max_iter``
passes, each computing ``|z|`` (population std, ddof 0) over the scores not yet flagged and
flagging those above ``threshold``. A pass that flags nothing leaves the next pass identical, so
running all passes equals MNE's early stop; the function is jittable (fixed shapes).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from ._iir import sosfilt_scan

__all__ = ["pearson_scores", "zscore_outliers", "bandpass_zero_phase", "blink_score"]


def pearson_scores(sources: Float[Array, "k n"], ref: Float[Array, "r n"]) -> Float[Array, "r k"]:
    """Signed Pearson correlation ``r[j, i]`` between reference ``j`` and source ``i``."""
    s = sources - jnp.mean(sources, axis=-1, keepdims=True)
    r = ref - jnp.mean(ref, axis=-1, keepdims=True)
    s = s / jnp.sqrt(jnp.sum(s * s, axis=-1, keepdims=True))
    r = r / jnp.sqrt(jnp.sum(r * r, axis=-1, keepdims=True))
    return r @ s.T


def zscore_outliers(scores: Float[Array, " k"], threshold: float = 3.0, max_iter: int = 2) -> Bool[Array, " k"]:
    """Boolean mask of outlying scores (MNE ``_find_outliers``, two-sided)."""
    flagged = jnp.zeros(scores.shape, bool)
    for _ in range(max_iter):
        keep = (~flagged).astype(scores.dtype)
        cnt = jnp.sum(keep)
        mean = jnp.sum(scores * keep) / cnt
        std = jnp.sqrt(jnp.sum(keep * (scores - mean) ** 2) / cnt)
        z = jnp.abs(scores - mean) / std
        flagged = flagged | ((z > threshold) & (keep > 0))
    return flagged


def bandpass_zero_phase(x: Float[Array, "... n"], sfreq: float, l_freq: float, h_freq: float, order: int = 4) -> Float[Array, "... n"]:
    """Forward-backward Butterworth band-pass (coefficients designed host-side with SciPy).

    Steady-state initial conditions scaled by the first sample (``sosfilt_zi``) limit the edge
    transient; there is no padding, so the first and last ~``sfreq / l_freq`` samples are less
    accurate. Used only to focus component scoring on the blink/heartbeat band.
    """
    from scipy.signal import butter, sosfilt_zi

    sos_np = butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")
    sos = jnp.asarray(sos_np, x.dtype)
    zi0 = jnp.asarray(sosfilt_zi(sos_np), x.dtype)  # (n_sections, 2)

    def run(v):
        zi = zi0.reshape((zi0.shape[0],) + (1,) * (v.ndim - 1) + (2,)) * v[..., :1][None]
        return sosfilt_scan(sos, v, zi)[0]

    y = run(x)
    return jnp.flip(run(jnp.flip(y, axis=-1)), axis=-1)


def blink_score(sources: Float[Array, "k n"], mixing: Float[Array, "c k"], frontal: Bool[Array, " c"] | np.ndarray) -> Float[Array, " k"]:
    """Reference-free blink likelihood per component (heuristic; higher = more blink-like).

    Product of (a) the source's excess kurtosis clipped at 0 (blinks are sparse, large,
    super-Gaussian deflections) and (b) the share of the topography's energy on ``frontal``
    channels. Use with :func:`zscore_outliers` (one-sided by construction: scores are >= 0).
    """
    s = sources - jnp.mean(sources, axis=-1, keepdims=True)
    var = jnp.mean(s * s, axis=-1)
    kurt = jnp.mean(s**4, axis=-1) / var**2 - 3.0
    frontal = jnp.asarray(frontal, bool)
    energy = mixing**2
    share = jnp.sum(jnp.where(frontal[:, None], energy, 0.0), axis=0) / jnp.sum(energy, axis=0)
    return jnp.maximum(kurt, 0.0) * share
