"""Simulator determinism and structure; loaders for the shared real recordings."""

import numpy as np
import pytest

from neurojax import datasets
from neurojax.preprocessing import metrics


def test_simulator_is_deterministic_and_seed_dependent():
    a = datasets.simulate_recording(8, 100.0, 5.0, seed=3)
    b = datasets.simulate_recording(8, 100.0, 5.0, seed=3)
    c = datasets.simulate_recording(8, 100.0, 5.0, seed=4)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.clean, b.clean)
    assert not np.allclose(a.data, c.data)


def test_simulator_shapes_dtype_and_positions():
    rec = datasets.simulate_recording(16, 200.0, 4.0, dtype=np.float64)
    assert rec.data.shape == rec.clean.shape == (16, 800)
    assert rec.data.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(rec.pos, axis=1), 0.09, rtol=1e-12)
    assert len(set(map(tuple, rec.pos.round(6)))) == 16  # no duplicate sensors
    assert rec.ch_types == ("eeg",) * 16


def test_clean_recording_has_alpha_peak_and_eeg_amplitude():
    rec = datasets.simulate_recording(16, 250.0, 20.0, artifacts=False)
    np.testing.assert_array_equal(rec.data, rec.clean)
    assert 3e-6 < rec.clean.std() < 3e-5  # microvolt-scale EEG, in volts
    freqs, psd = metrics.welch(rec.clean, 250.0, nperseg=500)
    posterior = np.argmin(rec.pos[:, 1])
    peak = float(freqs[np.argmax(np.asarray(psd[posterior])[(freqs > 5) & (freqs < 30)]) + np.argmax(freqs > 5)])
    assert abs(peak - 10.0) <= 0.5


def test_artifacts_are_where_the_masks_say():
    rec = datasets.simulate_recording(32, 250.0, 30.0, seed=1)
    diff = rec.data.astype(float) - rec.clean
    blink = rec.artifact_mask["blink"]
    assert blink.any()
    frontal = np.argmax(rec.pos[:, 1])
    assert np.abs(diff[frontal, blink[frontal]]).max() > 50e-6
    # Flat channel is constant; noisy channel is much louder than its clean version.
    flat = rec.artifact_mask["flat_channel"].any(axis=1)
    assert np.ptp(rec.data[flat]) == 0.0
    noisy = rec.artifact_mask["noisy_channel"].any(axis=1)
    assert rec.data[noisy].std() > 4 * rec.clean[noisy].std()
    assert set(rec.bad_channels) == {rec.ch_names[i] for i in np.flatnonzero(flat | noisy)}
    np.testing.assert_array_equal(rec.bad_mask, flat | noisy)
    # Outside every artifact (and without line noise) data equals ground truth.
    line_free = datasets.simulate_recording(32, 250.0, 30.0, seed=1, artifacts=[a for a in datasets.ARTIFACT_NAMES if a != "line_noise"])
    outside = ~line_free.any_artifact
    assert outside.mean() > 0.5
    np.testing.assert_array_equal(line_free.data[outside], line_free.clean[outside])


def test_line_noise_shows_at_line_frequency():
    rec = datasets.simulate_recording(8, 250.0, 20.0, artifacts=["line_noise"], line_freq=60.0)
    freqs, psd = metrics.welch(rec.data, 250.0, nperseg=500)
    _, psd_clean = metrics.welch(rec.clean, 250.0, nperseg=500)
    k = int(np.argmin(np.abs(np.asarray(freqs) - 60.0)))
    assert np.all(np.asarray(psd)[:, k] > 10 * np.asarray(psd_clean)[:, k])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_channels=2), "n_channels"),
        (dict(duration=1.0), "at least 2 s"),
        (dict(sfreq=-5.0), "sfreq"),
        (dict(artifacts=["sneeze"]), "unknown artifact"),
    ],
)
def test_simulator_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.simulate_recording(**kwargs)


def test_missing_data_dir_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROJAX_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="NEUROJAX_DATA"):
        datasets.load_eeglab_sample()


def test_load_eeglab_sample(shared_data_dir, monkeypatch):
    monkeypatch.setenv("NEUROJAX_DATA", str(shared_data_dir))
    rec = datasets.load_eeglab_sample()
    assert rec.data.shape == (32, 30504) and rec.sfreq == 128.0
    assert rec.pick_types("eog").ch_names == ("EOG1", "EOG2")
    assert np.all(np.isfinite(rec.pos))
    fpz = rec.pick(["FPz"]).data[0]
    assert np.abs(fpz).max() > 100e-6  # blinks of a few hundred microvolts


def test_load_mne_sample_and_pick(shared_data_dir, monkeypatch):
    monkeypatch.setenv("NEUROJAX_DATA", str(shared_data_dir))
    rec = datasets.load_mne_sample()
    assert rec.n_channels == 376 and abs(rec.sfreq - 600.615) < 1e-3
    counts = {t: rec.ch_types.count(t) for t in set(rec.ch_types)}
    assert counts["grad"] == 204 and counts["mag"] == 102 and counts["eeg"] == 60
    eeg = rec.pick_types("eeg")
    assert eeg.n_channels == 60 and "EEG 053" in eeg.ch_names
    with pytest.raises(ValueError, match="unknown channel"):
        rec.pick(["EEG 999"])
    with pytest.raises(ValueError, match="no channel of type"):
        rec.pick_types("ecg")


def test_neighbouring_channels_correlate_like_real_eeg():
    # eeglab_data (30 EEG channels, 1 Hz high-pass): best-neighbour correlation 0.76-0.96.
    rec = datasets.simulate_recording(32, 250.0, 20.0, artifacts=False)
    x = rec.clean - rec.clean.mean(axis=1, keepdims=True)
    c = np.corrcoef(x)
    np.fill_diagonal(c, -1.0)
    best = c.max(axis=1)
    assert 0.75 < best.min() and np.median(best) < 0.99
