"""Config files for ``neurojax preprocess``: defaults, overrides and one-line errors."""

import pytest

from neurojax.config import PreprocessConfig, load_config


def _write(tmp_path, text):
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    config = load_config(None)
    assert config == PreprocessConfig()
    assert config.filter.highpass == 1.0 and config.asr.cutoff == 20.0 and not config.ica.enabled


def test_overrides_and_false_disables(tmp_path):
    config = load_config(_write(tmp_path, "[filter]\nhighpass = 0.5\nline_freq = false\n[asr]\ntypes = ['eeg', 'mag']\n[ica]\nenabled = true\n"))
    assert config.filter.highpass == 0.5 and config.filter.line_freq is None
    assert config.asr.types == ("eeg", "mag") and config.ica.enabled
    assert config.resample.sfreq is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("[filtre]\nhighpass = 1\n", "unknown section \\[filtre\\]"),
        ("[filter]\nhigh_pass = 1\n", "unknown key 'high_pass' in \\[filter\\]"),
        ("[filter]\nhighpass = -1\n", "positive number of Hz or false"),
        ("[asr]\nenabled = 'yes'\n", "true or false"),
        ("[asr]\ntypes = 'eeg'\n", "list of strings"),
        ("[asr\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_one_clear_error(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_config(_write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
