"""ASR on real recordings (EEGLAB tutorial EEG; MNE sample MEG + EEG), float32, cutoff 20.

Automatic calibration (clean_windows) on the recording itself after a 1-Hz high-pass. Checks:
runs, finite, same shape; blink energy on frontal channels reduced; windows that clean_windows
judged clean are kept (correlation >= 0.95 per channel, observed minimum 0.951-0.965).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from neurojax.preprocessing.asr import ASR, clean_windows


def _highpass(x, fs):
    return sosfiltfilt(butter(4, 1.0, "hp", fs=fs, output="sos"), x.astype(np.float64), axis=-1)


def _clean_corr(x, out, fs):
    _, mask = clean_windows(x, fs)
    return min(np.corrcoef(x[i, mask], out[i, mask])[0, 1] for i in range(x.shape[0]))


@pytest.mark.slow
def test_eeglab_blinks_reduced(shared_data_dir):
    d = np.load(shared_data_dir / "eeglab_data.npz")
    fs = float(d["sfreq"])
    eeg = np.flatnonzero(d["ch_types"] == "eeg")
    names = list(d["ch_names"][eeg])
    x = _highpass(d["data"][eeg], fs).astype(np.float32)
    out = np.asarray(ASR(sfreq=fs, cutoff=20.0).fit(x)(x))
    assert out.shape == x.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    fpz = names.index("FPz")
    blink = np.abs(x[fpz]) > 100e-6
    assert blink.sum() > 50
    before, after = np.sqrt(np.mean(x[fpz, blink] ** 2)), np.sqrt(np.mean(out[fpz, blink] ** 2))
    assert after < 0.75 * before  # observed 192 -> 108 uV
    assert _clean_corr(x, out, fs) >= 0.95


@pytest.mark.slow
def test_mne_sample_eeg_and_meg(shared_data_dir):
    d = np.load(shared_data_dir / "mne_test_raw.npz")
    fs = float(d["sfreq"])
    names = list(d["ch_names"])
    eeg = np.flatnonzero(d["ch_types"] == "eeg")
    x = _highpass(d["data"][eeg], fs).astype(np.float32)
    out = np.asarray(ASR(sfreq=fs, cutoff=20.0).fit(x)(x))
    assert out.shape == x.shape and np.all(np.isfinite(out))
    eog = _highpass(d["data"][names.index("EOG 061")], fs)
    blink = np.abs(eog) > 4 * eog.std()
    for ch in range(4):  # EEG 001-004, frontal
        before = np.sqrt(np.mean(x[ch, blink] ** 2))
        after = np.sqrt(np.mean(out[ch, blink] ** 2))
        assert after < 0.5 * before  # observed > 90 % reduction
    assert _clean_corr(x, out, fs) >= 0.95
    mag = np.flatnonzero(d["ch_types"] == "mag")
    m = _highpass(d["data"][mag], fs).astype(np.float32)
    with pytest.warns(UserWarning, match="rank-deficient"):  # SSP-reduced magnetometers
        layer = ASR(sfreq=fs, cutoff=20.0).fit(m)
    out_m = np.asarray(layer(m))
    assert np.all(np.isfinite(out_m))
    assert _clean_corr(m, out_m, fs) >= 0.95
