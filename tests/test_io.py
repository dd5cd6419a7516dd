"""MNE I/O round trips on the shared recordings."""

import numpy as np
import pytest

from neurojax import datasets, io

mne = pytest.importorskip("mne")


@pytest.mark.slow
def test_read_fif_matches_the_shared_npz(shared_data_dir):
    rec = io.read_raw(shared_data_dir / "mne_test_raw.fif")
    ref = datasets.load_npz(shared_data_dir / "mne_test_raw.npz")
    assert rec.ch_names == ref.ch_names and rec.ch_types == ref.ch_types
    assert rec.sfreq == pytest.approx(ref.sfreq)
    scale = np.abs(ref.data).max(axis=1, keepdims=True) + 1e-30
    assert np.max(np.abs(rec.data - ref.data) / scale) < 1e-7  # the npz is float32
    np.testing.assert_allclose(rec.pos, ref.pos, equal_nan=True)
    np.testing.assert_allclose(rec.ori, ref.ori, equal_nan=True)
    np.testing.assert_array_equal(rec.events, ref.events)


def test_read_eeglab_with_eog_relabelled(shared_data_dir):
    rec = io.read_raw(shared_data_dir / "eeglab_data.set", eog=("EOG1", "EOG2"))
    ref = datasets.load_npz(shared_data_dir / "eeglab_data.npz")
    assert rec.ch_types == ref.ch_types
    np.testing.assert_allclose(rec.pos, ref.pos)
    np.testing.assert_array_equal(rec.events, ref.events)


def test_fif_round_trip_keeps_channels_and_values(shared_data_dir, tmp_path):
    rec = io.read_raw(shared_data_dir / "eeglab_data.set")
    cleaned = rec.data * 0.5
    path = io.write_fif(tmp_path / "clean_raw.fif", rec, cleaned)
    back = mne.io.read_raw_fif(path, preload=True, verbose="error")
    assert back.ch_names == list(rec.ch_names)
    # FIF stores float32: relative rounding ~6e-8.
    np.testing.assert_allclose(back.get_data(), cleaned, rtol=0, atol=1e-6 * np.abs(cleaned).max())
    with pytest.raises(FileExistsError, match="overwrite"):
        io.write_fif(path, rec, cleaned)


def test_npz_round_trip_without_mne_info(tmp_path):
    sim = datasets.simulate_recording(8, 100.0, 3.0, artifacts=False)
    rec = datasets.Recording(sim.data, sim.sfreq, sim.ch_names, sim.ch_types, sim.pos, np.full_like(sim.pos, np.nan), bads=("EEG 002",))
    back = io.read_raw(io.write_npz(tmp_path / "sim.npz", rec))
    np.testing.assert_array_equal(back.data, rec.data)
    assert back.ch_names == rec.ch_names and back.bads == ("EEG 002",)
    raw = io.to_mne(back)
    assert raw.info["sfreq"] == 100.0 and raw.info["bads"] == ["EEG 002"]


def test_read_errors_are_one_clear_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.read_raw(tmp_path / "missing.fif")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unsupported format .txt"):
        io.read_raw(tmp_path / "notes.txt")
    (tmp_path / "broken_raw.fif").write_bytes(b"not a fif file")
    with pytest.raises(ValueError, match="cannot be read as FIF"):
        io.read_raw(tmp_path / "broken_raw.fif")
