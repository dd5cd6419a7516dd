"""Configuration of the ``neurojax preprocess`` job (a small TOML file, every key optional).

Example ``pipeline.toml`` (the values shown are the defaults)::

    [filter]
    highpass = 1.0          # Hz, or false to skip; ASR and ICA assume drift-free data
    lowpass = false         # Hz, or false
    line_freq = 50.0        # mains frequency for the notch, or false

    [bad_channels]
    detect = true           # PREP-style detection per channel type
    interpolate = true      # EEG: spherical splines; MEG: MNE field mapping (needs a FIF file)

    [asr]
    enabled = true
    cutoff = 20.0           # EEGLAB GUI default; 5 is more aggressive
    types = ["eeg"]         # channel types ASR runs on (one ASR per type)

    [ica]
    enabled = false
    n_components = 0.99     # int, or a fraction of variance as in MNE
    eog = []                # reference channel names; empty = every EOG-typed channel
    threshold = 3.0         # MNE's z-score rule for find_bads_eog

    [resample]
    sfreq = false           # Hz, or false to keep the rate

    [fit]
    max_duration = 300.0    # s: longer recordings are fitted on evenly spaced segments of
    segment = 30.0          # s each, then cleaned whole, block by block

Unknown sections or keys are errors (a misspelt key must not silently fall back to a default).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["FilterConfig", "BadChannelConfig", "ASRConfig", "ICAConfig", "ResampleConfig", "FitConfig", "PreprocessConfig", "load_config"]


@dataclass(frozen=True)
class FilterConfig:
    highpass: float | None = 1.0
    lowpass: float | None = None
    line_freq: float | None = 50.0


@dataclass(frozen=True)
class BadChannelConfig:
    detect: bool = True
    interpolate: bool = True


@dataclass(frozen=True)
class ASRConfig:
    enabled: bool = True
    cutoff: float = 20.0
    types: tuple[str, ...] = ("eeg",)


@dataclass(frozen=True)
class ICAConfig:
    enabled: bool = False
    n_components: float = 0.99
    eog: tuple[str, ...] = ()
    threshold: float = 3.0


@dataclass(frozen=True)
class ResampleConfig:
    sfreq: float | None = None


@dataclass(frozen=True)
class FitConfig:
    max_duration: float = 300.0
    segment: float = 30.0


@dataclass(frozen=True)
class PreprocessConfig:
    filter: FilterConfig = field(default_factory=FilterConfig)
    bad_channels: BadChannelConfig = field(default_factory=BadChannelConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    ica: ICAConfig = field(default_factory=ICAConfig)
    resample: ResampleConfig = field(default_factory=ResampleConfig)
    fit: FitConfig = field(default_factory=FitConfig)


_OPTIONAL_FLOATS = {("filter", "highpass"), ("filter", "lowpass"), ("filter", "line_freq"), ("resample", "sfreq")}


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if (section, key) in _OPTIONAL_FLOATS:
        if value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"config {where} must be a positive number of Hz or false, got {value!r}")
        return float(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"config {where} must be true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"config {where} must be a list of strings, got {value!r}")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"config {where} must be a positive number, got {value!r}")
    return value


def config_from_dict(raw: dict[str, Any]) -> PreprocessConfig:
    """Validate a parsed TOML document into a :class:`PreprocessConfig`."""
    config = PreprocessConfig()
    sections = {f.name: f for f in fields(PreprocessConfig)}
    for section, values in raw.items():
        if section not in sections:
            raise ValueError(f"config: unknown section [{section}]; known sections: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ValueError(f"config: [{section}] must be a table of keys")
        current = getattr(config, section)
        known = {f.name for f in fields(current)}
        updates = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"config: unknown key '{key}' in [{section}]; known keys: {', '.join(sorted(known))}")
            updates[key] = _coerce(section, key, value, getattr(current, key))
        config = replace(config, **{section: replace(current, **updates)})
    return config


def load_config(path: str | Path | None) -> PreprocessConfig:
    """Read a TOML config file (``None``: the defaults)."""
    if path is None:
        return PreprocessConfig()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from err
    return config_from_dict(raw)
