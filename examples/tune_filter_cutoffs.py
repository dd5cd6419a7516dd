"""Recover known filter cutoffs by gradient descent with Optax.

A "teacher" band-pass IIRFilter with cutoffs (8, 30) Hz filters white noise; a "student" with
the same design but cutoffs started at (2, 70) Hz is trained to reproduce the teacher's output.
The loss is zero exactly at the teacher's cutoffs, so the optimum is known analytically. The
student learns log-cutoffs (positive by construction, comparable step sizes for both edges).

Run: python examples/tune_filter_cutoffs.py [--steps N]
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurojax.preprocessing.filter import IIRFilter

SFREQ = 250.0
TRUE_CUTOFFS = np.array([8.0, 30.0])


def train(steps: int = 300, learning_rate: float = 0.05, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    x = jax.random.normal(jax.random.PRNGKey(seed), (4, 1000))
    target = IIRFilter(jnp.asarray(TRUE_CUTOFFS), SFREQ, btype="bandpass")(x)

    # padlen is frozen at construction; give the student the teacher's so edges are treated alike.
    teacher_padlen = IIRFilter(jnp.asarray(TRUE_CUTOFFS), SFREQ, btype="bandpass").padlen

    def loss_fn(log_cutoff):
        student = IIRFilter(jnp.exp(log_cutoff), SFREQ, btype="bandpass", padlen=teacher_padlen)
        return jnp.mean((student(x) - target) ** 2) / jnp.mean(target**2)

    params = jnp.log(jnp.asarray([2.0, 70.0]))
    optimiser = optax.adam(learning_rate)
    opt_state = optimiser.init(params)

    @eqx.filter_jit
    def step(params, opt_state):
        loss, grad = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimiser.update(grad, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state)
        losses.append(float(loss))
    return np.exp(np.asarray(params)), losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    cutoffs, losses = train(args.steps)
    error = np.abs(cutoffs - TRUE_CUTOFFS) / TRUE_CUTOFFS
    print(f"true cutoffs {TRUE_CUTOFFS.tolist()} Hz; learned {cutoffs.round(3).tolist()} Hz (relative error {error.round(4).tolist()})")
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.2e} over {len(losses)} Adam steps")


if __name__ == "__main__":
    main()
