"""Shared pytest fixtures.

JAX compiles once per shape, so tests share a few small shapes. Float64 parity tests request
the ``x64`` fixture, which enables double precision for that test only.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
import pytest


@pytest.fixture
def x64():
    """Enable float64 in JAX for one test, restoring the previous setting afterwards."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def rng():
    """A seeded NumPy generator, fresh for each test."""
    return np.random.default_rng(0)


def _shared_data_dir() -> Path:
    env = os.environ.get("NEUROJAX_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Folder of the real recordings; tests that need it skip with the reason when absent."""
    path = _shared_data_dir()
    if not (path / "eeglab_data.npz").exists():
        pytest.skip(f"real recordings not found in {path}; set NEUROJAX_DATA to the folder holding eeglab_data.npz")
    return path
