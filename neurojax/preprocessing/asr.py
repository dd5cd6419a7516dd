r"""Artifact Subspace Reconstruction (ASR), as in EEGLAB's clean_rawdata 2.11.

ASR removes high-variance, transient artifacts (blinks, movement, muscle bursts, electrode pops)
by comparing short windows of the data with statistics of clean calibration data and
reconstructing the offending spatial components from the others.

**Calibration** (:func:`calibrate_asr`) on mostly clean data ``X`` (channels x samples, high-passed):
the data are passed through a spectral-shaping IIR filter (order-8 Yule-Walker design for the
sampling rate; it emphasises < 2 Hz and > 40 Hz); the geometric median of covariances of
10-sample blocks gives a robust covariance :math:`\Sigma = V \operatorname{diag}(\lambda) V^T`
(:math:`M = \Sigma^{1/2}`); the RMS of each component :math:`v_c^T x` in 0.5-s windows is fitted
robustly (truncated generalised Gaussian) giving :math:`\mu_c, \sigma_c`; the threshold of component
``c`` is :math:`\tau_c = \mu_c + \kappa \sigma_c` with :math:`\kappa` = ``cutoff``.

**Processing** (:func:`apply_asr`): the covariance :math:`\Sigma_n` of the last ``N`` shaped samples
is eigendecomposed every ``step_size`` samples (:math:`\Sigma_n = U \operatorname{diag}(\ell) U^T`).
Component :math:`u_i` is rejected when its variance exceeds the calibrated threshold for that
direction, :math:`\ell_i > \|T u_i\|^2` with :math:`T = \operatorname{diag}(\tau) V^T`, at most
``max_dims`` (+1, as in the reference) of them. Rejected components are re-estimated from the kept
ones, :math:`R = \Sigma U_K (U_K^T \Sigma U_K)^{-1} U_K^T` (identical to the reference's
:math:`M \operatorname{pinv}(K U^T M) U^T`), and successive ``R`` are blended with raised-cosine
weights. The output is aligned with the input (the look-ahead delay is removed, the ends are
point-reflected) and has its length.

**Cutoff.** :math:`\kappa` is in units of the spread of the *window RMS*, not of amplitude. The
function default 5 is clean_rawdata's function-level default (aggressive: on clean synthetic data
about 17 % of samples are modified); EEGLAB's GUI default and the clean_rawdata README recommend 20
(clean stationary data pass unchanged); 10-30 is the usual range for real recordings.

**With and without a sampling rate.** Passing ``sfreq=`` runs the full clean_rawdata algorithm
(shaping filter for that rate, 0.5-s calibration windows, processing window
``max(0.5 s, 1.5 C / sfreq)``, step ``floor(window / 2)``). Without it (the tutorial's calls) there is
no way to design the filter, so the documented sample-based fallback is used: no shaping filter,
calibration RMS windows of ``max(ceil(1.5 C), min(64, floor(S / 8)))`` samples (at least 20 such
windows are required) summarised by their median and normal-consistent MAD (the truncated
distribution fit of clean_rawdata needs hundreds of windows; on ~20 it underestimates the spread
several-fold and rejects clean data), processing window ``window_size`` samples (default 100), step
``step_size`` (default ``window_size // 2``), look-ahead ``round(window_size / 2)``.

**Streaming.** :func:`asr_stream_init` / :func:`asr_stream_process` process a recording chunk by
chunk; update points stay on the recording's global grid, so the concatenated output equals one
:func:`apply_asr` call for any chunking (MATLAB's ``asr_process`` instead adds an update at every
chunk end, as its memory splits do).

**Ends.** As in ``clean_asr`` the recording is extended by point reflection at both ends. On
white-ish data the reflected tail is offset by twice the last sample's deviation from the local
mean, which can inflate the last window's covariance and modify the final ``<= step_size``
samples even of clean data (the reference does the same).

Deviations from the MATLAB reference (deliberate, see the spec): NaN/Inf input raises instead of
being zeroed; block size is always 10 (no free-memory rule); one logical memory split (the
reference's MaxMem splits are an artefact that changes the output); rank-deficient calibration data
(average reference, interpolated channels) get their null eigenvalues floored with a warning
instead of producing a complex ``sqrtm``; calibration needs at least 20 RMS windows.
"""

from __future__ import annotations

import warnings
from functools import lru_cache, partial
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._asr_calibrate import (
    MIN_CALIBRATION_WINDOWS,
    block_index,
    block_covariances_packed,
    coordinate_median,
    geometric_median,
    rms_window_starts,
    shape_signal,
    unpack_symmetric,
    window_rms,
)
from ._asr_process import (
    _Params, _process_params, blend_in_place, reconstruction_for_mode, update_points,
    window_covariances,
)
from ._asr_stream import ASRStream, asr_stream_init, asr_stream_process
from ._clean_windows import clean_windows
from ._eeg_distribution import SHAPE_RANGE, fit_rows, grid_bounds, grid_tables
from ._validate import as_float_array, check_finite, check_ndim, check_same_channels, check_sfreq
from ._yulewalk import round_half_away, shaping_filter_sos

__all__ = [
    "ASRState",
    "calibrate_asr",
    "apply_asr",
    "clean_windows",
    "ASR",
    "ASRStream",
    "asr_stream_init",
    "asr_stream_process",
    "MIN_CALIBRATION_WINDOWS",
]

class ASRState(NamedTuple):
    """Calibrated ASR statistics.

    Attributes:
        mixing_matrix: ``V`` (C, C), orthonormal eigenvectors of the robust calibration covariance
            ``Sigma`` (columns, ascending eigenvalues); ``V^T V = I``.
        component_stdevs: ``sqrt(lam)`` (C,), all > 0, so ``M = sqrtm(Sigma) = V diag(stdevs) V^T``.
        cutoff: rejection threshold ``kappa`` in RMS-spread units (see the module docstring).
        mu: robust mean of each component's window RMS (C,).
        sigma: robust standard deviation of each component's window RMS (C,).
        sos: shaping filter as second-order sections (n_sections, 6), ``None`` without ``sfreq``.
        zi: shaping-filter state after the calibration data, ``(n_sections, C, 2)`` or ``None``.
        sfreq: sampling rate used for calibration, ``None`` in the sample-based fallback.
    """

    mixing_matrix: Array
    component_stdevs: Array
    cutoff: float | Array = 5.0
    mu: Array | None = None
    sigma: Array | None = None
    sos: Array | None = None
    zi: Array | None = None
    sfreq: float | None = None

    @property
    def thresholds(self) -> Array:
        """``tau = mu + cutoff * sigma`` per component."""
        return self.mu + self.cutoff * self.sigma

    @property
    def threshold_matrix(self) -> Array:
        """The reference's ``T = diag(tau) V^T`` (compare ``T^T T`` across implementations)."""
        return self.thresholds[:, None] * self.mixing_matrix.T

    @property
    def sqrt_covariance(self) -> Array:
        """The reference's mixing matrix ``M = sqrtm(Sigma)``."""
        v = self.mixing_matrix
        return (v * self.component_stdevs) @ v.T


# --------------------------------------------------------------------------------------------
# Calibration


def _calibration_window(n_channels: int, n_samples: int, sfreq: float | None, window_len: float) -> int:
    if sfreq is not None:
        return int(round_half_away(window_len * sfreq))
    return max(int(np.ceil(1.5 * n_channels)), min(64, n_samples // 8))


def _bucket(n: int) -> int:
    """Round a calibration length up to one of 8 sizes per octave (<= 12.5 % zero padding), so
    recordings of similar length (e.g. after clean_windows) reuse one compiled calibration."""
    if n <= 64:
        return n
    g = 2 ** (int(np.floor(np.log2(n))) - 3)
    return -(-n // g) * g


@lru_cache(maxsize=32)
def _calibrator(n_channels: int, s_bucket: int, has_filter: bool, blocksize: int, n_win: int, overlap: float,
                fit_key: tuple):
    """Jitted calibration stages for inputs left-padded with zeros to ``s_bucket`` samples.

    Zeros before the data leave the shaping filter's state at exactly zero, so the filtered data
    and the final state are those of the unpadded input; padding blocks and windows are masked.
    """
    n_blocks = -(-s_bucket // blocksize)
    if n_blocks > 512:  # whole batches of block_covariances_packed: no remainder to concatenate
        n_blocks = -(-n_blocks // 512) * 512
    n_rms = max(len(rms_window_starts(s_bucket, n_win, overlap)), 1)
    m_max, nb_max = grid_bounds(n_rms, fit_key)

    @partial(jax.jit, donate_argnums=0)  # the padded copy's buffer can hold the filtered data
    def stage1(x, sos, block_idx):
        zi = jnp.zeros((sos.shape[0], n_channels, 2), x.dtype) if has_filter else None
        xf, zf = shape_signal(sos if has_filter else None, x, zi)
        finite = jnp.all(jnp.isfinite(xf))
        return finite, xf, zf, block_covariances_packed(xf, blocksize, index=block_idx)

    @jax.jit
    def stage2(xf, packed, start, block_mask, rms_starts, rms_mask, tables):
        cov = unpack_symmetric(geometric_median(packed, start=start, mask=block_mask), n_channels)
        lam, v = jnp.linalg.eigh(cov)
        rms = window_rms(xf, rms_starts, n_win, projection=v.T)  # component activations, batched
        if has_filter:
            rms = jnp.where(rms_mask[None, :], rms, jnp.inf)  # padding windows sort last
            mu, sig, _, _ = fit_rows(rms, tables, m_max, nb_max)
        else:
            # Sample-based fallback (no sfreq): its ~20 windows are too few for the truncated
            # distribution fit, whose spread then comes out 3-10x too small and rejects clean data.
            # Median and normal-consistent MAD of the window RMS are robust at that size.
            rms = jnp.where(rms_mask[None, :], rms, jnp.nan)
            mu = jnp.nanmedian(rms, axis=1)
            sig = 1.4826 * jnp.nanmedian(jnp.abs(rms - mu[:, None]), axis=1)
        return lam, v, mu, sig

    def run(x, sos, fit_key=fit_key):
        s = x.shape[1]
        pad = s_bucket - s
        xb = jnp.pad(x, ((0, 0), (pad, 0))) if pad else jnp.array(x, copy=True)  # stage1 consumes it
        block_idx, block_mask = block_index(s, blocksize, pad, n_blocks)
        finite, xf, zf, packed = stage1(xb, sos, jnp.asarray(block_idx))
        del xb  # the padded copy is not needed any more (peak memory)
        if not bool(finite):
            return finite, None, None, None, None, None
        # exact start of the Weiszfeld iteration by host selection (XLA's CPU sort is far slower)
        start = coordinate_median(np.asarray(packed), int(block_mask.sum()))
        starts = rms_window_starts(s, n_win, overlap)
        rms_starts = np.zeros(n_rms, dtype=np.int32)
        rms_starts[: len(starts)] = starts + pad
        rms_mask = np.arange(n_rms) < len(starts)
        tables = tuple(jnp.asarray(t) for t in grid_tables(len(starts), n_rms, fit_key))
        lam, v, mu, sig = stage2(xf, packed, jnp.asarray(start, packed.dtype), jnp.asarray(block_mask),
                                 jnp.asarray(rms_starts), jnp.asarray(rms_mask), tables)
        return finite, lam, v, zf, mu, sig

    return run


def calibrate_asr(
    clean_data: Float[Array, "C S"],
    cutoff: float = 5.0,
    *,
    sfreq: float | None = None,
    blocksize: int = 10,
    window_len: float = 0.5,
    window_overlap: float = 0.66,
    max_dropout_fraction: float = 0.1,
    min_clean_fraction: float = 0.25,
) -> ASRState:
    """Calibrate ASR on (mostly) clean data.

    Arguments:
        clean_data: ``(n_channels, n_times)`` calibration data, high-passed (zero-mean), mostly
            artifact-free (the statistics tolerate roughly 30 % contamination). Use
            :func:`clean_windows` to select clean segments of a recording automatically.
        cutoff: ``kappa``, threshold in standard deviations of the window RMS. Default 5 (the
            clean_rawdata function default); EEGLAB's GUI uses 20; 10-30 is typical for real data.
        sfreq: sampling rate in Hz. With it: the full clean_rawdata calibration (shaping filter,
            ``window_len``-second RMS windows). Without it: the sample-based fallback (no filter,
            ``max(ceil(1.5 C), min(64, S // 8))``-sample RMS windows).
        blocksize: samples per block covariance (10).
        window_len: RMS window in seconds when ``sfreq`` is given (0.5).
        window_overlap: overlap of the RMS windows (0.66).
        max_dropout_fraction, min_clean_fraction: robust-fit constraints (0.1, 0.25).

    Returns:
        :class:`ASRState`.

    Raises:
        ValueError: NaN/Inf values, fewer than 20 RMS windows of data, all-zero data or a diverging
            shaping filter. Rank-deficient data (average reference) only warn: the null eigenvalues
            are floored at ``1e-10`` (float64) / ``1e-6`` (float32) of the largest.

    Not jit-compatible (it checks values eagerly); run it once, outside ``jit``.
    """
    x = as_float_array(clean_data, "clean_data")
    check_ndim(x, 2, "clean_data", "(n_channels, n_times)")
    if x.ndim != 2:
        raise ValueError(f"clean_data must be 2-D (n_channels, n_times); got shape {x.shape}")
    check_finite(x, "clean_data")
    fs = None if sfreq is None else check_sfreq(sfreq)
    c, s = x.shape
    if c < 2:
        raise ValueError(f"ASR needs at least 2 channels, got {c}")
    n_win = _calibration_window(c, s, fs, window_len)
    starts = rms_window_starts(s, n_win, window_overlap)
    if len(starts) < MIN_CALIBRATION_WINDOWS:
        step = n_win * (1 - window_overlap)
        need = int(np.ceil(n_win + 1 + step * (MIN_CALIBRATION_WINDOWS - 1)))
        unit = f" ({need / fs:.2f} s at {fs:g} Hz)" if fs else ""
        raise ValueError(
            f"calibration data too short: {s} samples give {len(starts)} RMS windows of {n_win} samples, "
            f"at least {MIN_CALIBRATION_WINDOWS} are needed, i.e. at least {need} samples{unit}"
        )
    fit_key = (float(min_clean_fraction), float(max_dropout_fraction), (0.022, 0.6), (0.01, 0.01), SHAPE_RANGE)
    run = _calibrator(c, _bucket(s), fs is not None, int(blocksize), n_win, float(window_overlap), fit_key)
    sos = jnp.asarray(shaping_filter_sos(fs), x.dtype) if fs is not None else jnp.zeros((1, 6), x.dtype)
    finite, lam, v, zf, mu, sig = run(x, sos)
    if not bool(finite):
        raise ValueError(
            "the shaping IIR filter diverged on the calibration data; remove bad segments/channels "
            "or high-pass the data first"
        )
    lam_max = float(lam[-1])
    if not lam_max > 0:
        raise ValueError("calibration data have zero variance; pass real, non-constant data")
    rel = 1e-10 if x.dtype == jnp.float64 else 1e-6
    if float(lam[0]) < rel * lam_max:
        warnings.warn(
            f"calibration covariance is rank-deficient (eigenvalue ratio {float(lam[0]) / lam_max:.1e}; "
            "average reference, interpolated or bridged channels?); flooring null eigenvalues at "
            f"{rel:g} x the largest. Dropping channels to full rank is cleaner.",
            stacklevel=2,
        )
        lam = jnp.maximum(lam, rel * lam_max)
    return ASRState(
        mixing_matrix=v,
        component_stdevs=jnp.sqrt(lam),
        cutoff=cutoff,
        mu=mu,
        sigma=sig,
        sos=sos if fs is not None else None,
        zi=zf if fs is not None else None,
        sfreq=fs,
    )


# --------------------------------------------------------------------------------------------
# Processing


@lru_cache(maxsize=64)
def _processor(c: int, s: int, params: _Params, has_filter: bool, mode: str):
    n, p, step, maxdims = params
    length = s + p
    points = update_points(length, step, phase=0, first=True, final=True)
    pad_end = int(np.max(np.diff(points, prepend=0)))  # blend_in_place reads whole intervals
    ends = points - 1 + (n - 1)  # window ends in a zero-prefixed (n - 1 + length) coordinate
    early = ends < 2 * n - 2  # windows that include some of the zero prefix
    reflect_start = np.mod(np.arange(p, 0, -1), s)
    reflect_end = np.arange(s - 2, s - 2 - p, -1)

    def one(x, v, stdevs, tau, sos, zi, temperature):
        # statistics stream: the shaped [x, reflected end], filtered in place chunk by chunk
        ext = 2 * x[:, -1:] - x[:, reflect_end]
        d = jnp.concatenate([x, ext], axis=1)
        xf = shape_signal(sos, d, zi)[0] if has_filter else d
        # windows reaching before the start see zeros: only those few read a zero-padded prefix,
        # the rest slice the filtered data directly (no padded copy of the whole recording)
        head = jnp.concatenate([jnp.zeros((c, n - 1), x.dtype), xf[:, :n]], axis=1)
        parts = [window_covariances(head, ends[early], n)] if early.any() else []
        if not early.all():
            parts.append(window_covariances(xf, ends[~early] - (n - 1), n))
        covs = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
        r, trivial = reconstruction_for_mode(covs, v, stdevs, tau, maxdims, mode, temperature)
        # work stream: [reflected start (P), x, padding], blended in place. XLA would build it
        # first (it only reads the input), keeping it alive beside the shaped signal: the padding's
        # (zero) data dependency on r orders it after the statistics, one recording less of peak
        # memory. The padding is never output (masked in blend_in_place), whatever r holds.
        carry = 2 * x[:, :1] - x[:, reflect_start]
        padding = jnp.zeros((c, pad_end), x.dtype) * r[0, 0, 0]
        work = jnp.concatenate([carry, x, padding], axis=1)
        out = blend_in_place(work, r, trivial, jnp.eye(c, dtype=x.dtype), jnp.asarray(True), points)
        return out[:, p : p + s]  # the carry's outputs are dropped

    @jax.jit
    def run(xb, v, stdevs, tau, sos, zi, temperature):
        if xb.shape[0] == 1:  # no loop (and no stacked copy of the output) for a single recording
            return one(xb[0], v, stdevs, tau, sos, zi, temperature)[None]
        # lax.map, not vmap, over the batch: vmap would turn the per-update conditionals of the
        # fast path into selects that evaluate both branches
        return jax.lax.map(lambda x: one(x, v, stdevs, tau, sos, zi, temperature), xb)

    return run


def apply_asr(
    data: Float[Array, "*batch C S"],
    state: ASRState,
    window_size: int | None = None,
    step_size: int | None = None,
    *,
    sfreq: float | None = None,
    lookahead: int | None = None,
    max_dims: float = 0.66,
    mode: str = "hard",
    temperature: float = 0.1,
) -> Float[Array, "*batch C S"]:
    """Clean ``data`` with calibrated ASR (offline, as clean_rawdata's ``clean_asr``).

    Arguments:
        data: ``(..., n_channels, n_times)``, same channels (and order) as the calibration data.
        state: from :func:`calibrate_asr`; ``state.cutoff`` may be a traced array (gradients).
        window_size: processing window ``N`` in samples (at least ``1.5 C``). Default: 0.5 s with a
            sampling rate, 100 samples without.
        step_size: samples between eigendecomposition updates. Default ``floor(N / 2)``
            (``clean_asr``; MATLAB's ``asr_process`` alone uses 32).
        sfreq: sampling rate; must equal the calibration's (it is taken from ``state`` if omitted).
        lookahead: look-ahead ``P`` in samples, default ``round(N / 2)`` (MATLAB rounding).
        max_dims: most components removed per window, a fraction of C if < 1 (0.66 -> round(0.66 C));
            like the reference, up to ``max_dims + 1`` can be removed.
        mode: ``"hard"`` (exact keep/reject; straight-through sigmoid gradient for the cutoff) or
            ``"smooth"`` (differentiable relaxation also in the forward pass).
        temperature: sigmoid temperature of the decision surrogate, in log-variance units.

    Returns:
        Cleaned data, same shape and dtype. Samples whose windows stay below threshold are returned
        bit-for-bit unchanged (hard mode).
    """
    x = as_float_array(data, "data")
    check_ndim(x, 2, "data")
    c = state.mixing_matrix.shape[0]
    check_same_channels(c, x, "data", "the ASR state")
    x = check_finite(x, "data")
    fs = state.sfreq
    if sfreq is not None:
        sfreq = check_sfreq(sfreq)
        if fs is None:
            raise ValueError("apply_asr got sfreq but the state was calibrated without it; pass sfreq to calibrate_asr too")
        if abs(sfreq - fs) > 1e-9 * fs:
            raise ValueError(f"sfreq={sfreq:g} Hz differs from the calibration's {fs:g} Hz")
    if mode not in ("hard", "smooth"):
        raise ValueError(f"mode must be 'hard' or 'smooth', got {mode!r}")
    params = _process_params(c, fs, window_size, step_size, lookahead, max_dims)
    s = x.shape[-1]
    if s < max(params.n_win, params.lookahead + 1):
        need = max(params.n_win, params.lookahead + 1)
        raise ValueError(f"data has {s} samples; ASR needs at least one processing window ({need} samples)")
    run = _processor(c, s, params, fs is not None, mode)
    dtype = x.dtype
    v = jnp.asarray(state.mixing_matrix, dtype)
    stdevs = jnp.asarray(state.component_stdevs, dtype)
    tau = jnp.asarray(state.mu, dtype) + jnp.asarray(state.cutoff, dtype) * jnp.asarray(state.sigma, dtype)
    sos = jnp.asarray(state.sos, dtype) if fs is not None else None
    zi = jnp.asarray(state.zi, dtype) if fs is not None else None
    xb = x.reshape((-1, c, s))
    out = run(xb, v, stdevs, tau, sos, zi, jnp.asarray(temperature, dtype))
    return out.reshape(x.shape)


# --------------------------------------------------------------------------------------------
# Equinox layer


class ASR(eqx.Module):
    """Artifact Subspace Reconstruction as an Equinox layer.

    ``ASR(sfreq=250.0, cutoff=20.0).fit(recording)`` calibrates (by default on the windows that
    :func:`clean_windows` keeps, ``calibration="auto"``, which needs ``sfreq``; ``"off"`` or no ``sfreq``
uses the whole input) and returns
    a fitted layer; calling it cleans data with the same channels.

    The fitted statistics (``mixing_matrix``, ``component_stdevs``, ``mu``, ``sigma``, filter
    state) are constants: ``__call__`` stops their gradients. ``cutoff`` is a learnable array:
    in ``mode="hard"`` the forward pass is exactly clean_rawdata's (hard keep/reject) and its
    gradient flows through a sigmoid straight-through surrogate; ``mode="smooth"`` relaxes the
    decisions in the forward pass too (Bayesian reconstruction, see :mod:`._asr_process`).
    """

    cutoff: Array
    mixing_matrix: Array | None = None
    component_stdevs: Array | None = None
    mu: Array | None = None
    sigma: Array | None = None
    sos: Array | None = None
    zi: Array | None = None
    sfreq: float | None = eqx.field(static=True, default=None)
    window_size: int | None = eqx.field(static=True, default=None)
    step_size: int | None = eqx.field(static=True, default=None)
    lookahead: int | None = eqx.field(static=True, default=None)
    max_dims: float = eqx.field(static=True, default=0.66)
    mode: str = eqx.field(static=True, default="hard")
    temperature: float = eqx.field(static=True, default=0.1)
    calibration: str = eqx.field(static=True, default="auto")
    # Pipeline.trainable_filter exposes only these fields to an optimiser.
    trainable_fields: ClassVar[tuple[str, ...]] = ("cutoff",)

    @property
    def n_channels(self) -> int | None:
        """Channels of the fitted mixing matrix (``None`` before ``fit``)."""
        return None if self.mixing_matrix is None else self.mixing_matrix.shape[0]

    def __init__(
        self,
        sfreq: float | None = None,
        cutoff: float | Array = 5.0,
        *,
        window_size: int | None = None,
        step_size: int | None = None,
        lookahead: int | None = None,
        max_dims: float = 0.66,
        mode: str = "hard",
        temperature: float = 0.1,
        calibration: str = "auto",
        state: ASRState | None = None,
    ):
        if mode not in ("hard", "smooth"):
            raise ValueError(f"mode must be 'hard' or 'smooth', got {mode!r}")
        if calibration not in ("auto", "off"):
            raise ValueError(f"calibration must be 'auto' or 'off', got {calibration!r}")
        self.sfreq = None if sfreq is None else check_sfreq(sfreq)
        self.cutoff = cutoff if isinstance(cutoff, jax.Array) else jnp.asarray(cutoff, dtype=jnp.result_type(float))
        self.window_size, self.step_size, self.lookahead = window_size, step_size, lookahead
        self.max_dims, self.mode, self.temperature, self.calibration = max_dims, mode, float(temperature), calibration
        if state is not None:
            self.mixing_matrix, self.component_stdevs = state.mixing_matrix, state.component_stdevs
            self.mu, self.sigma, self.sos, self.zi = state.mu, state.sigma, state.sos, state.zi

    @property
    def is_fitted(self) -> bool:
        return self.mixing_matrix is not None

    def state(self) -> ASRState:
        """The fitted statistics as an :class:`ASRState` (gradients of the statistics stopped)."""
        if not self.is_fitted:
            raise ValueError("ASR layer is not fitted; call .fit(calibration_data) first")
        sg = jax.lax.stop_gradient
        return ASRState(
            mixing_matrix=sg(self.mixing_matrix),
            component_stdevs=sg(self.component_stdevs),
            cutoff=self.cutoff,
            mu=sg(self.mu),
            sigma=sg(self.sigma),
            sos=None if self.sos is None else sg(self.sos),
            zi=None if self.zi is None else sg(self.zi),
            sfreq=self.sfreq,
        )

    def fit(self, x: Float[Array, "C S"], *, key=None) -> ASR:
        """Calibrate on ``x`` and return the fitted layer (``key`` is unused: deterministic)."""
        del key
        x = as_float_array(x, "x")
        if self.calibration == "auto" and self.sfreq is not None:
            x, _ = clean_windows(x, self.sfreq)
        st = calibrate_asr(x, float(self.cutoff), sfreq=self.sfreq)
        return ASR(
            self.sfreq,
            self.cutoff,
            window_size=self.window_size,
            step_size=self.step_size,
            lookahead=self.lookahead,
            max_dims=self.max_dims,
            mode=self.mode,
            temperature=self.temperature,
            calibration=self.calibration,
            state=st,
        )

    def __call__(self, x: Float[Array, "*batch C S"]) -> Float[Array, "*batch C S"]:
        return apply_asr(
            x,
            self.state(),
            self.window_size,
            self.step_size,
            lookahead=self.lookahead,
            max_dims=self.max_dims,
            mode=self.mode,
            temperature=self.temperature,
        )
