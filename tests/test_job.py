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
