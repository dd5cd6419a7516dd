"""Picard-O solver (``FastICA(algorithm='picard')``) against python-picard 0.8."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.preprocessing._fastica import sym_decorrelation
from neurojax.preprocessing.ica import FastICA, amari_distance

picard_mod = pytest.importorskip("picard")


def _mixed(rng, n_src, n_times):
    h = n_src // 2
    s = np.concatenate([rng.laplace(size=(h, n_times)), rng.uniform(-np.sqrt(3), np.sqrt(3), size=(n_src - h, n_times))])
    a = rng.normal(size=(n_src, n_src))
    return a @ s, a


def test_picard_iterates_match_python_picard(x64, rng):
    """Same whitened data and orthogonal w_init: python-picard (ortho, extended, tanh) and ours
    take the same number of iterations and agree to 1e-9 on W (measured ~1e-13), on a mixed
    super-/sub-Gaussian set (exercises the sign flips)."""
    x, a = _mixed(rng, 10, 5000)
    w0 = np.asarray(sym_decorrelation(jnp.asarray(rng.normal(size=(10, 10)))))
    model = FastICA(n_components=10, algorithm="picard", tol=1e-7, max_iter=500, w_init=w0).fit(jnp.asarray(x))
    x1 = np.sqrt(x.shape[1]) * np.asarray(model.whitening_) @ (x - x.mean(1, keepdims=True))
    _, w_ref, _, n_iter = picard_mod.picard(x1, whiten=False, w_init=w0, ortho=True, extended=True, tol=1e-7, max_iter=500, return_n_iter=True)
    assert bool(model.converged_)
    assert int(model.n_iter_) == n_iter
    # Undo our unit-variance rescaling (rows of W K scaled by 1/std) to compare rotations.
    w_ours = np.asarray(model.unmixing_) @ np.linalg.pinv(np.asarray(model.whitening_))
    w_ours /= np.linalg.norm(w_ours, axis=1, keepdims=True)
    np.testing.assert_allclose(w_ours, w_ref, atol=1e-9)


def test_picard_and_fastica_reach_the_same_solution(x64, rng):
    """I4: Picard-O (tol 1e-9) and symmetric FastICA (tol 1e-12) from different inits give the
    same unmixing up to scaled permutation: normalised Amari(W_picard, pinv(W_fastica)) < 1e-6."""
    x, a = _mixed(rng, 8, 20000)
    p = FastICA(n_components=8, algorithm="picard", tol=1e-9, max_iter=500).fit(jnp.asarray(x), key=jax.random.PRNGKey(0))
    f = FastICA(n_components=8, tol=1e-12, max_iter=1000).fit(jnp.asarray(x), key=jax.random.PRNGKey(1))
    assert bool(p.converged_) and bool(f.converged_)
    assert float(amari_distance(p.unmixing_, f.mixing_)) < 1e-6
    assert float(amari_distance(p.unmixing_, a)) < 0.02


def test_picard_rejects_other_contrasts():
    with pytest.raises(ValueError, match="picard"):
        FastICA(algorithm="picard", fun="cube")
