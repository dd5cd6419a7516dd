"""Train a classifier with the preprocessing pipeline as its first layers, end to end.

Two classes of simulated 8-channel epochs differ only in a weak 10 Hz (class 1) versus 22 Hz
(class 0) rhythm, buried under large slow drifts and broadband noise. The model is a
:class:`~neurojax.preprocessing.pipeline.Pipeline`: a learnable band-pass ``IIRFilter``, the
log-variance of each channel, and a linear read-out. One Optax optimiser updates the read-out
*and* the filter's cutoffs: the gradient of the classification loss reaches the preprocessing.

Run: python examples/train_classifier_end_to_end.py [--steps N]
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurojax.preprocessing.filter import IIRFilter
from neurojax.preprocessing.pipeline import Pipeline

SFREQ = 128.0


def make_epochs(n_epochs: int = 64, n_channels: int = 8, n_times: int = 256, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / SFREQ
    labels = rng.integers(0, 2, n_epochs)
    freq = np.where(labels == 1, 10.0, 22.0)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (n_epochs, 1, 1))
    topography = rng.uniform(0.5, 1.0, (1, n_channels, 1))
    rhythm = 0.5 * topography * np.sin(2 * np.pi * freq * t + phase)
    drift = 5.0 * np.cumsum(rng.standard_normal((n_epochs, n_channels, n_times)), axis=-1) / np.sqrt(n_times)
    noise = rng.standard_normal((n_epochs, n_channels, n_times))
    return jnp.asarray(rhythm + drift + noise, jnp.float32), jnp.asarray(labels, jnp.float32)


class LogVariance(eqx.Module):
    """Per-channel log-variance over time: the classic band-power feature."""

    def __call__(self, x):
        return jnp.log(jnp.var(x, axis=-1) + 1e-6)


class Readout(eqx.Module):
    weight: jax.Array
    bias: jax.Array

    def __call__(self, features):
        return jnp.dot(self.weight, features - jnp.mean(features)) + self.bias


def build_model(n_channels: int = 8) -> Pipeline:
    return Pipeline(
        [IIRFilter(jnp.asarray([3.0, 40.0]), SFREQ, btype="bandpass", order=2), LogVariance(), Readout(0.01 * jnp.ones(n_channels), jnp.zeros(()))],
        sfreq=SFREQ,
    )


def train(steps: int = 200, seed: int = 0):
    x, y = make_epochs(seed=seed)
    model = build_model(x.shape[1])
    params, static = model.partition()

    def loss_fn(params):
        logits = eqx.filter_vmap(eqx.combine(params, static))(x)
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))

    # Cutoffs are in Hz and move in larger steps than the read-out weights. (The labels are
    # given through a function: a Pipeline is callable, which optax would mistake for one.)
    labels = eqx.tree_at(lambda p: p.stages[0].cutoff, jax.tree_util.tree_map(lambda _: "readout", params), "cutoff")
    optimiser = optax.multi_transform({"cutoff": optax.adam(0.5), "readout": optax.adam(0.05)}, lambda _: labels)
    opt_state = optimiser.init(params)

    @eqx.filter_jit
    def step(params, opt_state):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss, grads.stages[0].cutoff

    history, cutoff_grads = [], []
    for _ in range(steps):
        params, opt_state, loss, cutoff_grad = step(params, opt_state)
        history.append(float(loss))
        cutoff_grads.append(np.asarray(cutoff_grad))
    model = eqx.combine(params, static)
    accuracy = float(jnp.mean((eqx.filter_vmap(model)(x) > 0) == (y > 0.5)))
    return model, history, np.max(np.abs(cutoff_grads), axis=0), accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    model, history, cutoff_grad, accuracy = train(args.steps)
    print(f"largest |d(loss)/d(cutoff)| during training: {cutoff_grad.astype(float).round(5).tolist()} (the gradient reaches the filter)")
    print(f"band-pass cutoffs 3.0-40.0 Hz -> {np.asarray(model[0].cutoff, dtype=float).round(2).tolist()} Hz")
    print(f"loss {history[0]:.3f} -> {history[-1]:.3f}; training accuracy {accuracy:.2f}")


if __name__ == "__main__":
    main()
