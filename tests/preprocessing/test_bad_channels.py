"""Bad-channel detection: each criterion on injected faults, the real recording, jit, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.preprocessing._robust import mad_bisect, quantile_bisect
from neurojax.preprocessing.bad_channels import find_bad_channels

SFREQ = 250.0
N_CH = 32


def _fibonacci_cap(n, radius=0.09):
    """n points spread over the upper ~2/3 of a sphere (an EEG-cap-like layout), metres."""
    i = np.arange(n) + 0.5
    z = 1 - 1.3 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z**2)
    return radius * np.c_[r * np.cos(phi), r * np.sin(phi), z]


def _band_noise(rng, shape, sfreq, hi):
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    f = np.fft.rfftfreq(shape[-1], 1 / sfreq)
    spec *= (f > 0.5) & (f < hi)
    spec /= np.maximum(f, 1.0) ** 0.5
    return np.fft.irfft(spec, n=shape[-1], axis=-1)


def _synthetic(seed=0, duration=20.0, n=N_CH):
    """Smooth scalp fields: 6 dipolar sources + 10 % sensor noise, volts."""
    rng = np.random.default_rng(seed)
    pos = _fibonacci_cap(n)
    n_t = int(duration * SFREQ)
    sources = _band_noise(rng, (6, n_t), SFREQ, 40.0)
    dip_pos = rng.uniform(-0.03, 0.03, (6, 3)) + [0, 0, 0.02]
    dip_ori = rng.standard_normal((6, 3))
    d = pos[:, None, :] - dip_pos[None]
    gain = np.einsum("cki,ki->ck", d, dip_ori) / np.linalg.norm(d, axis=-1) ** 3
    x = gain @ sources
    x /= x.std()
    x += 0.1 * _band_noise(rng, (n, n_t), SFREQ, 40.0) / _band_noise(rng, (1, n_t), SFREQ, 40.0).std()
    return (x * 1e-5).astype(np.float32), pos


def test_bisection_quantiles_match_numpy(rng):
    """The sort-free quantiles equal NumPy's inverted-CDF quantile/median to float32 rounding."""
    x = rng.standard_normal((5, 1001)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(quantile_bisect(jnp.asarray(x), 0.25)), np.quantile(x, 0.25, axis=-1, method="inverted_cdf"), rtol=1e-6
    )
    ref = np.median(np.abs(x - np.median(x, -1, keepdims=True)), -1)
    np.testing.assert_allclose(np.asarray(mad_bisect(jnp.asarray(x))), ref, rtol=1e-5)


def test_each_criterion_catches_its_fault():
    """Injected faults are flagged by the intended criterion and no clean channel is flagged."""
    x, _ = _synthetic()
    rng = np.random.default_rng(1)
    x[0] = 0.0  # flat
    x[5, 100:200] = np.nan  # non-finite -> flat
    x[10] *= 20.0  # huge amplitude -> deviation
    x[15] *= 0.02  # low variance -> deviation (log-amplitude z is symmetric)
    x[20] = (_band_noise(rng, (1, x.shape[1]), SFREQ, 40.0)[0] / 1.0).astype(np.float32)
    x[20] *= x[21].std() / x[20].std()  # same amplitude, unrelated -> correlation
    x[25] += (x[25].std() * 1.0 * rng.standard_normal(x.shape[1])).astype(np.float32)  # white -> hf_noise
    res = find_bad_channels(x, SFREQ)
    flags = {k: set(np.flatnonzero(np.asarray(v)).tolist()) for k, v in res.flags.items()}
    assert {0, 5} <= flags["flat"]
    assert {10, 15} <= flags["deviation"]
    assert 20 in flags["correlation"]
    assert 25 in flags["hf_noise"]
    assert set(np.flatnonzero(np.asarray(res.mask)).tolist()) == {0, 5, 10, 15, 20, 25}
    assert res.scores["deviation"][10] > 5 and res.scores["deviation"][15] < -5


def test_jit_and_types():
    """Runs under an outer jit with identical results; channel types score separately; non-data
    channels are never flagged."""
    x, _ = _synthetic(seed=2)
    x[3] *= 30
    types = ["eeg"] * (N_CH - 2) + ["eog", "stim"]
    x[-1] = 0.0  # a flat stim channel is not a bad data channel
    eager = find_bad_channels(x, SFREQ, ch_types=types)
    jitted = jax.jit(lambda d: find_bad_channels(d, SFREQ, ch_types=types))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(eager.mask), np.asarray(jitted.mask))
    assert np.flatnonzero(np.asarray(eager.mask)).tolist() == [3]
    assert np.isnan(np.asarray(eager.scores["deviation"])[-2:]).all()
    # a channel 1000x larger is normal if it is the only one of its (MEG-like) type scale
    x2 = x.copy()
    x2[:8] *= 1e3
    res = find_bad_channels(x2, SFREQ, ch_types=["mag"] * 8 + types[8:])
    assert np.flatnonzero(np.asarray(res.mask)).tolist() == [3]
    assert res.names([f"ch{i}" for i in range(N_CH)]) == ["ch3"]


def test_ransac_flags_unpredictable_channel():
    """RANSAC (spherical-spline predictions from random 25 % subsets) flags a channel carrying an
    unrelated signal of normal amplitude, and no clean channel (64 channels: with 32, subsets
    of 8 channels mispredict a channel next to a shallow source, as PREP's RANSAC is known to)."""
    x, pos = _synthetic(seed=3, duration=30.0, n=64)
    rng = np.random.default_rng(4)
    sig = _band_noise(rng, (1, x.shape[1]), SFREQ, 40.0)[0]
    x[12] = (sig / sig.std() * x[13].std()).astype(np.float32)
    res = find_bad_channels(x, SFREQ, pos=pos, ransac=True, key=jax.random.key(0), bad_window_fraction=1.0)
    assert "ransac" in res.scores
    assert np.flatnonzero(np.asarray(res.flags["ransac"])).tolist() == [12]


def test_errors():
    x, pos = _synthetic(seed=5, duration=6.0)
    with pytest.raises(ValueError, match="PRNG key"):
        find_bad_channels(x, SFREQ, pos=pos, ransac=True)
    with pytest.raises(ValueError, match="positions"):
        find_bad_channels(x, SFREQ, ransac=True, key=jax.random.key(0))
    with pytest.raises(ValueError, match="ch_types"):
        find_bad_channels(x, SFREQ, ch_types=["eeg"] * 3)
    with pytest.raises(ValueError, match="no data channels"):
        find_bad_channels(x, SFREQ, ch_types=["stim"] * N_CH)
    with pytest.raises(ValueError, match="samples"):
        find_bad_channels(x[:, :100], SFREQ)
    with pytest.raises(ValueError, match="2-D"):
        find_bad_channels(x[None], SFREQ)


@pytest.mark.slow
def test_real_meg_eeg_recording_known_bads(shared_data_dir):
    """Issue acceptance: on mne_test_raw (306 MEG + 60 EEG) the known bad channels MEG 2443 and
    EEG 053 are flagged, plus at most 3 others (we measure 1: MEG 1422, by correlation; 2 with
    RANSAC)."""
    d = np.load(shared_data_dir / "mne_test_raw.npz")
    names = [str(n) for n in d["ch_names"]]
    res = find_bad_channels(d["data"], float(d["sfreq"]), ch_types=list(d["ch_types"]))
    flagged = set(res.names(names))
    assert {"MEG 2443", "EEG 053"} <= flagged
    assert len(flagged - {"MEG 2443", "EEG 053"}) <= 3, flagged
    assert np.asarray(res.flags["deviation"])[names.index("MEG 2443")]
    assert np.asarray(res.flags["deviation"])[names.index("EEG 053")]
    # with RANSAC on the EEG too (measured: one more, EEG 023; RANSAC itself flags EEG 053)
    res_r = find_bad_channels(
        d["data"], float(d["sfreq"]), ch_types=list(d["ch_types"]), pos=d["pos"], ransac=True, key=jax.random.key(0)
    )
    flagged_r = set(res_r.names(names))
    assert {"MEG 2443", "EEG 053"} <= flagged_r
    assert len(flagged_r - {"MEG 2443", "EEG 053"}) <= 3, flagged_r
    assert np.asarray(res_r.flags["ransac"])[names.index("EEG 053")]


@pytest.mark.slow
def test_real_eeglab_recording_few_flags(shared_data_dir):
    """eeglab_data has no known bad channel: at most 2 of 30 EEG channels flagged (we measure 1,
    T8, by its high-frequency (muscle) noise)."""
    d = np.load(shared_data_dir / "eeglab_data.npz")
    res = find_bad_channels(d["data"], float(d["sfreq"]), ch_types=list(d["ch_types"]))
    assert int(np.asarray(res.mask).sum()) <= 2
