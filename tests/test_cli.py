"""The ``neurojax`` command: demo, preprocess end to end, errors, and the QC report in a browser."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from neurojax import datasets, io
from neurojax.cli import main
from neurojax.preprocessing import metrics


@pytest.fixture(scope="module")
def sim_npz(tmp_path_factory):
    sim = datasets.simulate_recording(16, 128.0, 40.0, seed=3, artifacts=["blink", "noisy_channel"])
    rec = datasets.Recording(sim.data, sim.sfreq, sim.ch_names, sim.ch_types, sim.pos, np.full_like(sim.pos, np.nan))
    path = tmp_path_factory.mktemp("sim") / "sim.npz"
    io.write_npz(path, rec)
    return path, sim


@pytest.mark.slow
def test_demo_prints_improvement(capsys):
    assert main(["demo", "--channels", "16", "--duration", "20"]) == 0
    out = capsys.readouterr().out
    assert "SNR" in out and "ASR (cutoff 20)" in out
    before, after = [float(v.split()[0]) for v in out.split("SNR ")[-1].split(" dB -> ")]
    assert after > before + 5.0  # the default chain must clean the simulated artifacts


@pytest.mark.slow
def test_preprocess_npz_reduces_artifacts_and_fixes_bad_channel(sim_npz, tmp_path, capsys):
    path, sim = sim_npz
    out = tmp_path / "clean.npz"
    assert main(["preprocess", str(path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"interpolated: ['{sim.bad_channels[0]}']" in text
    cleaned = datasets.load_npz(out)
    assert cleaned.ch_names == sim.ch_names and np.all(np.isfinite(cleaned.data))
    from neurojax.job import filter_stages
    from neurojax.preprocessing import Pipeline
    import jax.numpy as jnp

    truth = np.asarray(Pipeline(filter_stages(128.0, 1.0, None, 50.0))(jnp.asarray(sim.clean)))
    raw = np.asarray(Pipeline(filter_stages(128.0, 1.0, None, 50.0))(jnp.asarray(sim.data)))
    assert float(metrics.snr_db(truth, cleaned.data, axis=None)) > float(metrics.snr_db(truth, raw, axis=None)) + 5.0


@pytest.mark.slow
def test_preprocess_real_eeg_to_fif_with_report(shared_data_dir, tmp_path):
    mne = pytest.importorskip("mne")
    out, report = tmp_path / "eeg_raw.fif", tmp_path / "report.html"
    assert main(["preprocess", str(shared_data_dir / "eeglab_data.set"), "-o", str(out), "--report", str(report)]) == 0
    raw_in = mne.io.read_raw_eeglab(shared_data_dir / "eeglab_data.set", preload=True, verbose="error")
    raw_out = mne.io.read_raw_fif(out, preload=True, verbose="error")
    assert raw_out.ch_names == raw_in.ch_names
    data = raw_out.get_data()
    assert np.all(np.isfinite(data))
    fpz = raw_in.ch_names.index("FPz")
    # Blinks on FPz (hundreds of uV) are reduced by the high-pass + ASR.
    assert np.percentile(np.abs(data[fpz]), 99.9) < 0.8 * np.percentile(np.abs(raw_in.get_data()[fpz]), 99.9)
    page = report.read_text()
    assert page.count("data:image/png;base64,") >= 4 and "Summary" in page
    _render_in_chromium(report, tmp_path)


def _render_in_chromium(report: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium for this test)")
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", "--window-size=1000,2400", report.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    assert dom.count("<img") >= 4 and "NeuroJAX preprocessing report" in dom
    pixels = shot.read_bytes()
    assert pixels[:8] == b"\x89PNG\r\n\x1a\n" and len(pixels) > 20_000  # a real page, not a blank one


@pytest.mark.parametrize(
    "args, match",
    [
        (["preprocess", "missing.fif", "-o", "out.fif"], "no such file"),
        (["preprocess", "README.md", "-o", "out.fif"], "unsupported format .md"),
        (["preprocess", "README.md", "-o", "out.txt"], "must end in .fif or .npz"),
    ],
)
def test_preprocess_errors_are_one_line_and_write_nothing(args, match, tmp_path, monkeypatch, capsys):
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    args = [str(repo / a) if a == "README.md" else a for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err
    assert not list(tmp_path.iterdir())


def test_unknown_config_key_fails_before_reading(sim_npz, tmp_path, capsys):
    path, _ = sim_npz
    config = tmp_path / "bad.toml"
    config.write_text("[asr]\ncutof = 5\n")
    assert main(["preprocess", str(path), "-o", str(tmp_path / "x.npz"), "--config", str(config)]) == 1
    assert "unknown key 'cutof'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_existing_output_needs_overwrite(sim_npz, tmp_path, capsys):
    path, _ = sim_npz
    (tmp_path / "x.npz").write_bytes(b"keep me")
    assert main(["preprocess", str(path), "-o", str(tmp_path / "x.npz")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "x.npz").read_bytes() == b"keep me"
