"""Block streaming of the job's stages: every streamed result equals the whole-array one."""

import numpy as np
import pytest
import scipy.signal

from neurojax._streaming import ResampleStream, ZeroPhaseStream
from neurojax.job import filter_stages


def _push_all(stream, x, sizes):
    out, pos = [], 0
    for k in sizes:
        out.append(stream.push(x[:, pos : pos + k], final=pos + k >= x.shape[1]))
        pos += k
    return np.concatenate(out, axis=1)


def test_zero_phase_stream_equals_whole_filter(x64, rng):
    """High-pass and notch at 250 Hz, 60 s, uneven pushes (one shorter than the pad): the streamed
    output equals IIRFilter's whole-array output to 1e-9 of the peak (the margins aim at 1e-10 of
    the edge mismatch; float64 rounding adds ~1e-13)."""
    import jax.numpy as jnp

    n = 15000
    x = np.cumsum(rng.standard_normal((3, n)), axis=1)  # drifting input: large edge mismatches
    sizes = [7, 2993, 1, 5000, 4000, 3000]
    for layer in filter_stages(250.0, 1.0, None, 50.0):
        whole = np.asarray(layer(jnp.asarray(x)))
        y = _push_all(ZeroPhaseStream(np.asarray(layer.sos), layer.padlen, n), x, sizes)
        assert np.max(np.abs(y - whole)) <= 1e-9 * np.max(np.abs(whole))


@pytest.mark.parametrize("up,down", [(1, 4), (2, 3), (5, 2), (3496, 8399)])
def test_resample_stream_equals_scipy(x64, rng, up, down):
    """Random push sizes; the streamed polyphase output equals scipy.signal.resample_poly to 1e-12
    (same taps, float64), and the row left out of the filter takes the nearest input sample."""
    n = 12000
    x = rng.standard_normal((3, n))
    sizes = rng.integers(1, 4000, size=64)
    y = _push_all(ResampleStream(up, down, n, np.array([0, 1])), x, sizes)
    ref = scipy.signal.resample_poly(x[:2], up, down, axis=1)
    assert y.shape[1] == ref.shape[1]
    assert np.max(np.abs(y[:2] - ref)) <= 1e-12
    nearest = np.minimum(np.round(np.arange(y.shape[1]) * n / y.shape[1]).astype(int), n - 1)
    np.testing.assert_array_equal(y[2], x[2, nearest])
