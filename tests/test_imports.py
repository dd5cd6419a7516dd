"""Every public module imports (a broken import anywhere fails here first)."""

import importlib
import pkgutil

import neurojax


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(neurojax.__path__, prefix="neurojax.")]
    assert "neurojax.preprocessing.metrics" in names and "neurojax.datasets" in names
    for name in names:
        importlib.import_module(name)

