"""Fixtures shared by the stage tests."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _asr_synth import SFREQ, clean  # noqa: E402

from neurojax.preprocessing.asr import calibrate_asr  # noqa: E402


@pytest.fixture(scope="module")
def cal64():
    """30 s of clean synthetic EEG and its float64 ASR calibration (cutoff 5, full clean_rawdata).

    Float64 stays enabled until the requesting module ends: the parity tests of that module
    compare against asrpy in double precision throughout.
    """
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        cal = clean(int(SFREQ * 30))
        yield cal, calibrate_asr(cal, cutoff=5.0, sfreq=SFREQ)
    finally:
        jax.config.update("jax_enable_x64", previous)
