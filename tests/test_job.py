"""The preprocessing job on the real MEG+EEG recording: MEG and EEG bads, ICA with EOG, resampling."""

from dataclasses import replace

import numpy as np
import pytest

from neurojax import io
from neurojax.config import config_from_dict
from neurojax.job import preprocess_recording


@pytest.mark.slow
def test_meg_eeg_recording_with_ica_and_resampling(shared_data_dir, tmp_path):
    pytest.importorskip("mne")
    rec = io.read_raw(shared_data_dir / "mne_test_raw.fif")
    rec = replace(rec, data=rec.data[:, :9000])  # 15 s keeps the test lean
    config = config_from_dict({"ica": {"enabled": True, "n_components": 15}, "resample": {"sfreq": 200.0}})
    steps = []
    cleaned, log = preprocess_recording(rec, config, progress=steps.append)
    assert steps == ["filter", "detect", "interpolate", "asr eeg", "ica", "clean"]
    # The sample data set's known bad channels are found and rebuilt.
    assert {"MEG 2443", "EEG 053"} <= set(log.interpolated)
    assert cleaned.sfreq == 200.0 and cleaned.n_channels == rec.n_channels
    assert abs(cleaned.n_times - 9000 * 200.0 / rec.sfreq) <= 1
    assert np.all(np.isfinite(cleaned.data))
    # Stim channels keep their codes (nearest-sample resampling), data channels are cleaned.
    stim = rec.ch_types.index("stim")
    assert set(np.unique(cleaned.data[stim])) <= set(np.unique(rec.data[stim]))
    bad = rec.ch_names.index("MEG 2443")
    grads = [i for i, t in enumerate(rec.ch_types) if t == "grad" and i != bad]
    assert cleaned.data[bad].std() < 3 * np.median(cleaned.data[grads].std(axis=1))
    assert log.ica is not None and log.ica_scores.shape[1] == log.ica.n_components_
    # The report shows the component time courses the job scored, at the original rate.
    assert log.ica_sources.shape == (log.ica.n_components_, 9000)
    from neurojax.report import write_report

    page = write_report(tmp_path / "report.html", rec, cleaned, log).read_text()
    assert "ICA components" in page and page.count("data:image/png;base64,") >= 8


def test_ica_without_eog_is_a_clear_error():
    from neurojax.datasets import Recording, simulate_recording

    sim = simulate_recording(8, 100.0, 30.0, artifacts=False)
    rec = Recording(sim.data, sim.sfreq, sim.ch_names, sim.ch_types, sim.pos, np.full_like(sim.pos, np.nan))
    config = config_from_dict({"ica": {"enabled": True, "n_components": 4}, "asr": {"enabled": False}, "bad_channels": {"detect": False}})
    with pytest.raises(ValueError, match="EOG reference"):
        preprocess_recording(rec, config)


def _sim_with_eog(n_channels=16, sfreq=100.0, duration=60.0):
    from neurojax.datasets import Recording, simulate_recording

    sim = simulate_recording(n_channels, sfreq, duration, seed=3, dtype=np.float64)
    types = ("eog",) + tuple(sim.ch_types[1:])  # the most frontal channel serves as EOG reference
    return Recording(sim.data, sim.sfreq, sim.ch_names, types, sim.pos, np.full_like(sim.pos, np.nan))


def test_chunked_equals_one_pass_float64(x64):
    """16 channels, 60 s at 100 Hz, fitted on three 10 s segments, ICA and resampling to 40 Hz:
    9 blocks of ~7 s give the one-pass output to 1e-9 of the peak (filter margins are set for
    1e-10 of the edge mismatch, everything else is exact up to rounding)."""
    rec = _sim_with_eog()
    config = config_from_dict({"fit": {"max_duration": 30.0, "segment": 10.0}, "ica": {"enabled": True, "n_components": 8},
                               "resample": {"sfreq": 40.0}, "bad_channels": {"detect": False}})
    rec = replace(rec, bads=(rec.ch_names[5],))
    whole, log = preprocess_recording(rec, config, dtype=np.float64)
    fractions = []
    chunked, _ = preprocess_recording(rec, config, dtype=np.float64, chunk_duration=7.0, advance=fractions.append)
    assert len(log.fit_segments) == 3 and len(fractions) == 9 and fractions[-1] == 1.0
    assert whole.data.shape == chunked.data.shape == (16, 2400)
    assert np.max(np.abs(chunked.data - whole.data)) <= 1e-9 * np.max(np.abs(whole.data))


@pytest.mark.slow
def test_chunked_fif_output_equals_one_pass_on_real_eeg(shared_data_dir, tmp_path):
    """The EEGLAB recording (238 s) through the CLI in 60 s blocks and in one pass, FIF out,
    float32: every channel agrees to 1e-4 of its peak (float32 rounding of blocked vs one-pass
    kernels; the streaming itself is exact to 1e-10)."""
    mne = pytest.importorskip("mne")
    from neurojax.cli import main

    src = shared_data_dir / "eeglab_data.set"
    outs = [tmp_path / "one_raw.fif", tmp_path / "blocks_raw.fif"]
    assert main(["preprocess", str(src), "-o", str(outs[0]), "--chunk-duration", "1e9"]) == 0
    assert main(["preprocess", str(src), "-o", str(outs[1]), "--chunk-duration", "60"]) == 0
    a, b = (mne.io.read_raw_fif(o, preload=True, verbose="error").get_data() for o in outs)
    peak = np.max(np.abs(a), axis=1)
    assert a.shape == b.shape and np.all(np.max(np.abs(a - b), axis=1) <= 1e-4 * peak)
    assert not list(tmp_path.glob("*.neurojax-tmp"))  # the temporary block files are gone
