"""Fused zero-phase block kernel (``_zero_phase``): parity with SciPy, shapes, transforms, gradients.

The kernel filters only the edges apart and fuses the forward and backward block recursions;
these tests pin the cases where that bookkeeping could go wrong: lengths that are not a whole
number of blocks, signals just longer than the pad length (shorter than one block), no padding,
batch axes, and odd orders (first-order sections). Reference: ``scipy.signal.sosfiltfilt``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal as ss

from neurojax.preprocessing import filter as F

FS = 1000.0
DESIGNS = [
    (4, [1.0, 40.0], "bandpass"),
    (4, 0.1, "highpass"),
    (4, [48.0, 52.0], "bandstop"),
    (5, 40.0, "lowpass"),
    (3, [8.0, 12.0], "bandpass"),
]
BLOCK = 64


def _rel(a, b):
    b = np.asarray(b)
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def _signal(shape, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(shape[-1]) / FS
    return rng.standard_normal(shape) + 1.5 + np.sin(2 * np.pi * 0.3 * t)


@pytest.mark.parametrize("order,f,btype", DESIGNS)
def test_block_kernel_matches_scipy_float64(x64, order, f, btype):
    """f64 parity <= 1e-9 of the peak (spec F2): lengths padlen+1 (< one block), 1000 (not a
    multiple of the block) and 1024 (a multiple: no remainder segment); odd and no padding."""
    sos = ss.butter(order, f, btype, fs=FS, output="sos")
    padlen = F.sos_padlen(sos)
    for n_times in (padlen + 1, 1000, 1024):
        x = _signal((2, n_times))
        for padtype in ("odd", None):
            ref = ss.sosfiltfilt(sos, x, padtype=padtype)
            ours = F.sosfiltfilt(sos, jnp.asarray(x), padtype=padtype, method="block", block_len=BLOCK)
            assert _rel(ours, ref) <= 1e-9, (n_times, padtype)


def test_block_kernel_even_constant_and_mne_padding(x64):
    """Other edge types and the long MNE pad (longer than several blocks), 1e-9 of the peak."""
    sos = ss.butter(4, [1.0, 40.0], "bandpass", fs=FS, output="sos")
    x = _signal((2, 1000), seed=1)
    for padtype in ("even", "constant"):
        ref = ss.sosfiltfilt(sos, x, padtype=padtype)
        assert _rel(F.sosfiltfilt(sos, jnp.asarray(x), padtype=padtype, method="block"), ref) <= 1e-9
    padlen = 300  # MNE's reflect_limited padding, then sosfiltfilt(padlen=0)
    ext = np.concatenate([2 * x[:, :1] - x[:, padlen:0:-1], x, 2 * x[:, -1:] - x[:, -2 : -padlen - 2 : -1]], axis=1)
    ref = ss.sosfiltfilt(sos, ext, padlen=0)[:, padlen:-padlen]
    ours = F.iir_filter(jnp.asarray(x), FS, 1.0, 40.0, padlen=padlen, method="block")
    assert _rel(ours, ref) <= 1e-9


def test_block_kernel_batch_jit_vmap(x64):
    """Batch axes, jit and vmap equal a loop over rows to 1e-10 relative: not bit-identical
    because the GEMMs see a different number of rows and may sum in another order."""
    sos = ss.butter(4, [1.0, 40.0], "bandpass", fs=FS, output="sos")
    x = jnp.asarray(_signal((2, 3, 1000), seed=2))
    fn = jax.jit(lambda v: F.sosfiltfilt(sos, v, method="block"))
    batched = fn(x)
    looped = np.stack([[np.asarray(F.sosfiltfilt(sos, x[i, j], method="block")) for j in range(3)] for i in range(2)])
    assert batched.shape == x.shape
    assert _rel(batched, looped) <= 1e-10
    assert _rel(jax.vmap(fn)(x), looped) <= 1e-10
    assert _rel(looped, ss.sosfiltfilt(sos, np.asarray(x))) <= 1e-9


def test_block_kernel_gradients_match_finite_differences(x64):
    """Gradients w.r.t. the input (directional) and the traced cutoff vs central differences,
    relative 1e-6 (O(h^2) truncation of the differences dominates)."""
    x = jnp.asarray(_signal((2, 1000), seed=3))
    target = jnp.asarray(np.random.default_rng(4).standard_normal(x.shape))

    def loss(v, fc):
        sos = F.butter_sos(4, fc, FS, "bandpass")
        return jnp.mean((F.sosfiltfilt(sos, v, padlen=27, method="block") - target) ** 2)

    loss = jax.jit(loss)
    fc = jnp.array([1.0, 40.0])
    gx, gc = jax.grad(loss, argnums=(0, 1))(x, fc)
    h = 1e-4
    fd_c = np.array([(loss(x, fc.at[i].add(h)) - loss(x, fc.at[i].add(-h))) / (2 * h) for i in range(2)])
    np.testing.assert_allclose(np.asarray(gc), fd_c, rtol=0, atol=1e-6 * np.max(np.abs(fd_c)))
    direction = jnp.asarray(np.random.default_rng(5).standard_normal(x.shape))
    fd_x = (loss(x + 1e-3 * direction, fc) - loss(x - 1e-3 * direction, fc)) / 2e-3
    assert abs(float(jnp.sum(gx * direction)) - float(fd_x)) <= 1e-6 * abs(float(fd_x))


def test_block_kernel_float32_within_five_times_scipy():
    """float32 (balanced basis, fused operators built in float64): error vs the float64
    reference at most 5x SciPy's own float32 error (spec F7), incl. the 0.1 Hz high-pass."""
    x = _signal((2, 6000), seed=6)
    for order, f, btype in DESIGNS:
        sos = ss.butter(order, f, btype, fs=FS, output="sos")
        ref = ss.sosfiltfilt(sos, x)
        scipy32 = _rel(ss.sosfiltfilt(sos.astype(np.float32), x.astype(np.float32)), ref)
        ours = F.sosfiltfilt(sos, jnp.asarray(x, jnp.float32), method="block")
        assert ours.dtype == jnp.float32
        assert _rel(ours, ref) <= 5 * scipy32, (order, f, btype)


def test_block_kernel_nonfinite_input_under_jit_raises():
    """Traced input with a NaN fails at run time (checked from the kernel's end state)."""
    sos = ss.butter(4, [1.0, 40.0], "bandpass", fs=FS, output="sos")
    x = np.asarray(_signal((2, 1000), seed=7), np.float32)
    x[1, 500] = np.nan
    fn = jax.jit(lambda v: F.sosfiltfilt(sos, v, method="block"))
    with pytest.raises(Exception, match="NaN or Inf"):
        jax.block_until_ready(fn(jnp.asarray(x)))
    x[1, 500] = np.inf
    with pytest.raises(Exception, match="NaN or Inf"):
        jax.block_until_ready(fn(jnp.asarray(x)))
