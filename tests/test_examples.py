"""The runnable examples execute and show what they claim (small sizes)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_optax_recovers_the_teacher_cutoffs():
    example = _load("tune_filter_cutoffs")
    cutoffs, losses = example.train(steps=200)
    np.testing.assert_allclose(cutoffs, example.TRUE_CUTOFFS, rtol=0.05)
    assert losses[-1] < 1e-3 * losses[0]


@pytest.mark.slow
def test_classifier_trains_through_the_filter():
    example = _load("train_classifier_end_to_end")
    model, history, cutoff_grad, accuracy = example.train(steps=120)
    assert np.all(cutoff_grad > 0)  # the classification loss reaches the preprocessing
    assert history[-1] < 0.75 * history[0]
    low, high = np.asarray(model[0].cutoff)
    assert low < 10.0 < high  # the learned pass band keeps the informative 10 Hz rhythm
    assert accuracy > 0.75


@pytest.mark.slow
def test_optax_finds_the_grid_search_asr_cutoff():
    example = _load("tune_asr_cutoff")
    loss = example.setup(n_channels=8, duration=40.0)
    best = example.grid_optimum(loss)
    learned, history = example.descend(loss, steps=80)
    assert abs(learned - best) / best < 0.05
    assert history[-1] < history[0]
