"""ASR calibration numerics (clean_rawdata 2.11 ``asr_calibrate``), in JAX.

Pipeline, for calibration data ``X`` (channels x samples, zero-mean):

1. spectral shaping filter (``_yulewalk``) from zero state; its final state seeds processing;
2. covariances ``U_k = X_k X_k^T / b`` of consecutive blocks of ``b = 10`` filtered samples (the last
   block completed by repeating the last sample);
3. geometric median of the ``U_k`` (Weiszfeld iteration, relative stopping rule, so the result
   does not depend on the data's units), the robust covariance ``Sigma``;
4. ``Sigma = V diag(lam) V^T``; ``M = sqrtm(Sigma) = V diag(sqrt(lam)) V^T``;
5. RMS of each component ``V^T x`` in 0.5-s windows overlapping by 66 %, and a robust fit
   (``fit_eeg_distribution``) giving ``mu_c`` and ``sigma_c``; thresholds ``tau = mu + cutoff sigma``.

Everything here is statistics of the calibration data; the caller keeps the results as constants.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._iir import sosfilt_block
from ._linalg import symmetrize
from ._yulewalk import round_half_away

__all__ = [
    "MIN_CALIBRATION_WINDOWS",
    "block_index",
    "shape_signal",
    "block_covariances_packed",
    "unpack_symmetric",
    "geometric_median",
    "rms_window_starts",
    "window_rms",
    "window_rms_jit",
    "coordinate_median",
]

#: Fewest calibration RMS windows accepted (the robust fit is meaningless on fewer).
MIN_CALIBRATION_WINDOWS = 20


def shape_signal(sos: Array | None, x: Float[Array, "C S"], zi: Array | None = None) -> tuple[Array, Array | None]:
    """Run the shaping filter (``sos`` may be ``None``: identity, used without a sampling rate).

    Uses the filter module's block state-space form (``n_times / 32`` sequential steps of an
    8-state recursion plus matrix products) rather than a sample-by-sample scan; same contract
    (``scipy.signal.sosfilt`` states) and the same result to rounding.
    """
    if sos is None:
        return x, zi
    y, zf = sosfilt_block(sos, x, zi)
    return y, zf


def _packing(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iu, ju = np.triu_indices(n)
    weight = np.where(iu == ju, 1.0, np.sqrt(2.0))
    return iu, ju, weight


def block_index(n_samples: int, blocksize: int = 10, offset: int = 0, n_blocks: int | None = None):
    """Sample indices ``(n_blocks, blocksize)`` of consecutive blocks starting at ``offset`` and a
    validity mask; the last real block repeats the last sample, extra (padding) blocks are masked."""
    k = -(-n_samples // blocksize)
    n_blocks = k if n_blocks is None else n_blocks
    idx = np.zeros((n_blocks, blocksize), dtype=np.int32)
    idx[:k] = offset + np.minimum(np.arange(k * blocksize), n_samples - 1).reshape(k, blocksize)
    return idx, np.arange(n_blocks) < k


def block_covariances_packed(
    x: Float[Array, "C S"], blocksize: int = 10, batch_size: int = 512, index: Array | None = None
) -> Float[Array, "K D"]:
    """Covariances of consecutive ``blocksize``-sample blocks, upper triangles packed as vectors.

    Off-diagonal entries are scaled by ``sqrt(2)`` so that the Euclidean distance between packed
    vectors equals the Frobenius distance between the matrices (what the geometric median uses).
    The last block is completed by repeating the last sample (``ceil(S / b)`` blocks); ``index``
    (from :func:`block_index`) selects other blocks.
    """
    c, s = x.shape
    idx = block_index(s, blocksize)[0] if index is None else index
    k = idx.shape[0]
    iu, ju, weight = _packing(c)
    w = jnp.asarray(weight, x.dtype)

    def one(block_idx):
        xb = x[:, block_idx]  # (C, b)
        cov = xb @ xb.T / blocksize
        return cov[iu, ju] * w

    return jax.lax.map(one, jnp.asarray(idx), batch_size=min(batch_size, k))


def unpack_symmetric(v: Float[Array, " D"], n: int) -> Float[Array, "n n"]:
    """Inverse of the packing in :func:`block_covariances_packed`."""
    iu, ju, weight = _packing(n)
    vals = v / jnp.asarray(weight, v.dtype)
    m = jnp.zeros((n, n), v.dtype).at[iu, ju].set(vals)
    return symmetrize(m + m.T - jnp.diag(jnp.diag(m)))


def geometric_median(
    points: Float[Array, "K D"], tol: float = 1e-5, max_iter: int = 500, start: Array | None = None,
    mask: Array | None = None,
) -> Float[Array, " D"]:
    """Geometric median by Weiszfeld's iteration from the coordinate-wise median.

    Stops when ``||y_new - y|| / ||y_new|| < tol`` (relative, hence unit-free) or after ``max_iter``
    iterations. Points that coincide with the current estimate get weight 0 instead of an infinite
    one (Vardi & Zhang, 2000), so duplicated blocks (e.g. flat segments) cannot produce NaN.
    ``start`` is the coordinate-wise median when given (XLA's CPU sort is slow on large inputs, so
    the calibration computes it with NumPy's selection algorithm); computed here otherwise.
    ``mask`` (K,) excludes padding points.
    """
    y0 = jnp.median(points, axis=0) if start is None else start

    def cond(carry):
        i, _, done = carry
        return (i < max_iter) & ~done

    def body(carry):
        i, y, _ = carry
        dist = jnp.sqrt(jnp.sum((points - y) ** 2, axis=1))
        use = dist > 0 if mask is None else (dist > 0) & mask
        w = jnp.where(use, 1.0 / jnp.where(use, dist, 1.0), 0.0)
        total = jnp.sum(w)
        y_new = jnp.where(total > 0, (w @ points) / jnp.where(total > 0, total, 1.0), y)
        done = jnp.linalg.norm(y_new - y) <= tol * jnp.linalg.norm(y_new)
        return i + 1, y_new, done

    _, y, _ = jax.lax.while_loop(cond, body, (jnp.asarray(0), y0, jnp.asarray(False)))
    return y


def rms_window_starts(n_samples: int, window: int, overlap: float = 0.66) -> np.ndarray:
    """0-based starts of the RMS windows, as MATLAB's ``round(1 : N*(1-overlap) : S-N) - 1``.

    The step is not rounded, each start is (half away from zero), so at 250 Hz the starts are
    1, 43, 86, 128, ... (1-based).
    """
    step = window * (1 - overlap)
    last = n_samples - window
    if last < 1:
        return np.zeros(0, dtype=int)
    count = int(np.floor((last - 1) / step + 1e-10)) + 1
    starts = 1 + step * np.arange(count)
    return round_half_away(starts).astype(int) - 1


def window_rms(
    y: Float[Array, "C S"], starts: np.ndarray, window: float, batch_size: int = 8,
    projection: Float[Array, "K C"] | None = None,
) -> Float[Array, "C n_win"]:
    """Root mean square of each row of ``y`` (of ``projection @ y`` if given) in windows
    ``[start, start + floor(window))``.

    ``window`` is the divisor (clean_windows allows a non-integer window length; the samples taken
    are ``0 .. ceil(window) - 1``, MATLAB's ``0:N-1``). Rows are processed ``batch_size`` at a
    time, projected rows included, so no second recording-sized array is made.
    """
    n_take = int(np.floor(window - 1)) + 1
    idx = jnp.asarray(starts)[:, None] + jnp.arange(n_take)[None, :]
    rows = y if projection is None else projection

    def one(row):
        row = row if projection is None else row @ y
        sq = row**2
        return jnp.sqrt(jnp.sum(sq[idx], axis=1) / window)

    return jax.lax.map(one, rows, batch_size=min(batch_size, rows.shape[0]))


#: :func:`window_rms` compiled once per input shape (``starts`` traced, ``window`` static), for
#: callers outside ``jit`` (an eager ``lax.map`` would re-trace and re-compile on every call).
window_rms_jit = jax.jit(window_rms, static_argnames=("window", "batch_size"))


def coordinate_median(points: np.ndarray, n_valid: int, chunk: int = 256) -> np.ndarray:
    """Exact coordinate-wise median of the first ``n_valid`` rows of ``points`` (K, D), on the host.

    The median of ``K`` values is the ``k = K // 2``-th order statistic, averaged with the
    ``(k - 1)``-th when ``K`` is even. One selection (``np.partition`` at ``k``) puts every smaller
    value before position ``k``, so the ``(k - 1)``-th is the maximum of that part: this is 4x
    faster than ``np.median`` (which selects both order statistics). Coordinates are processed in
    contiguous transposed chunks of ``chunk`` columns, which bounds the temporary copies.
    """
    k = n_valid // 2
    out = np.empty(points.shape[1], dtype=points.dtype)
    for j in range(0, points.shape[1], chunk):
        block = np.ascontiguousarray(points[:n_valid, j : j + chunk].T)
        block.partition(k, axis=1)
        upper = block[:, k]
        out[j : j + chunk] = upper if n_valid % 2 else 0.5 * (upper + block[:, :k].max(axis=1))
    return out
