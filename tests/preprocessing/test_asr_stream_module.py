"""ASR streaming (chunked = one call), clean_windows, the Equinox layer and its gradients."""

from __future__ import annotations

import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _asr_synth import SFREQ, blink, clean, with_artifacts  # noqa: E402

from neurojax.preprocessing.asr import (  # noqa: E402
    ASR,
    apply_asr,
    asr_stream_init,
    asr_stream_process,
    calibrate_asr,
    clean_windows,
)



@pytest.mark.parametrize("sizes", [[100, 900, 1000], [64] * 31 + [16]])
def test_chunked_equals_one_call(x64, cal64, sizes):
    _, state = cal64
    x, _ = with_artifacts(clean(2000, seed=2))
    ref = np.asarray(apply_asr(x, state))
    stream, outs, pos = asr_stream_init(state), [], 0
    for i, n in enumerate(sizes):
        out, stream = asr_stream_process(x[:, pos : pos + n], stream, final=i == len(sizes) - 1)
        outs.append(np.asarray(out))
        pos += n
    out = np.concatenate(outs, axis=1)
    assert out.shape == x.shape
    # Same update points and windows; only the filter/covariance summation is split (observed 3e-15).
    assert np.max(np.abs(out - ref)) < 1e-12 * np.max(np.abs(ref))


def test_clean_windows_drops_bursts(x64):
    x = clean(int(SFREQ * 60), seed=11)
    art = blink(x.shape[1], 5000, 500, amp=300.0) + blink(x.shape[1], 11000, 400, amp=300.0)
    kept, mask = clean_windows(x + art, SFREQ)
    burst = np.abs(art).sum(0) > 0
    assert not mask[burst].any()  # every burst sample removed
    assert mask.mean() > 0.85  # most clean data kept
    assert kept.shape == (x.shape[0], mask.sum())


def test_module_fit_call_matches_functions(x64, cal64):
    cal, state = cal64
    x, _ = with_artifacts(clean(2000, seed=2))
    layer = ASR(sfreq=SFREQ, cutoff=5.0, calibration="off").fit(cal)
    assert layer.is_fitted
    out = layer(x)
    assert np.array_equal(np.asarray(out), np.asarray(apply_asr(x, state)))
    jitted = eqx.filter_jit(lambda m, d: m(d))(layer, jnp.asarray(x))
    assert np.allclose(np.asarray(jitted), np.asarray(out), rtol=0, atol=1e-12 * np.abs(x).max())
    auto = ASR(sfreq=SFREQ, cutoff=20.0).fit(cal)  # clean_windows selection
    assert np.all(np.isfinite(np.asarray(auto(x))))
    with pytest.raises(ValueError, match="not fitted"):
        ASR(sfreq=SFREQ)(x)


def _loss(layer, x, target):
    return jnp.mean((layer(x) - target) ** 2)


def test_cutoff_gradient_straight_through_is_nonzero(x64, cal64):
    cal, _ = cal64
    truth = clean(2000, seed=2)
    x, _ = with_artifacts(truth)
    layer = ASR(sfreq=SFREQ, cutoff=5.0, calibration="off").fit(cal)
    grads = eqx.filter_grad(_loss)(layer, jnp.asarray(x), jnp.asarray(truth))
    g = float(grads.cutoff)
    assert np.isfinite(g) and g != 0.0
    assert grads.mixing_matrix is None or float(jnp.abs(grads.mixing_matrix).max()) == 0.0  # statistics frozen


def test_smooth_mode_cutoff_gradient_matches_finite_differences(x64, cal64):
    cal, _ = cal64
    truth = clean(2000, seed=2)
    x, _ = with_artifacts(truth)
    layer = ASR(sfreq=SFREQ, cutoff=5.0, calibration="off", mode="smooth", temperature=0.2).fit(cal)
    xj, tj = jnp.asarray(x), jnp.asarray(truth)

    def f(k):
        return _loss(eqx.tree_at(lambda m: m.cutoff, layer, k), xj, tj)

    k0 = jnp.asarray(5.0)
    g = float(jax.grad(f)(k0))
    h = 1e-4
    fd = (float(f(k0 + h)) - float(f(k0 - h))) / (2 * h)
    assert g != 0.0
    assert abs(g - fd) <= 1e-5 * abs(fd) + 1e-12


def test_data_gradient_matches_finite_differences_hard_mode(x64, cal64):
    cal, state = cal64
    x, _ = with_artifacts(clean(2000, seed=2))
    direction = np.random.default_rng(0).standard_normal(x.shape)

    def f(t):
        return jnp.sum(apply_asr(jnp.asarray(x) + t * direction, state) ** 2)

    g = float(jax.grad(f)(0.0))
    h = 1e-6
    fd = (float(f(h)) - float(f(-h))) / (2 * h)
    assert abs(g - fd) <= 1e-5 * abs(fd)
