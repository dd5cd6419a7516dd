"""Robust fit of a truncated generalised Gaussian to window amplitudes (``fit_eeg_distribution``).

clean_rawdata estimates the mean ``mu`` and spread ``sigma`` of the *clean* part of a sample of
window RMS values that may contain a large fraction of artifacts. It searches a grid of
(interval width, shape beta, interval start) for the truncated generalised Gaussian whose binned
density is closest (in Kullback-Leibler divergence) to the histogram of the sorted values in that
interval:

* starts ``q_lo + 0.01 i`` (i = 0..10) and widths ``(q_hi - q_lo) - 0.01 j`` (j = 0..43) of the
  sorted sample, converted to integer counts with MATLAB rounding;
* ``nbins = round(3 log2(1 + m / 2))`` histogram bins for an interval of ``m`` values;
* shapes ``beta = 1.7, 1.85, ..., 3.5`` (13 values) with z-bounds from the inverse incomplete gamma
  function (a constant table computed here once with SciPy).

The first minimum in the order (widest width first, then smallest beta, then lowest start) wins,
as in the reference's nested loops. The whole grid is evaluated at once (no Python loop over the
grid at run time); shapes depend only on the number of values. The fit is an argmin over a grid:
it is **not** differentiable and the caller treats its outputs as constants.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from scipy.special import gamma, gammaincinv

from ._yulewalk import round_half_away

__all__ = ["fit_eeg_distribution", "SHAPE_RANGE", "shape_table", "grid_tables", "grid_bounds", "fit_rows"]

#: Shape grid of clean_rawdata (1.7:0.15:3.5), built from integer counts so 3.5 is included.
SHAPE_RANGE = tuple(1.7 + 0.15 * k for k in range(13))


def shape_table(shapes=SHAPE_RANGE, quantiles=(0.022, 0.6)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-bounds ``(n_shapes, 2)``, pdf rescalers and ``sqrt(Gamma(3/b)/Gamma(1/b))`` per shape."""
    q = np.asarray(quantiles, dtype=float)
    sgn = np.sign(q - 0.5)
    bounds = np.stack([sgn * gammaincinv(1.0 / b, sgn * (2 * q - 1)) ** (1.0 / b) for b in shapes])
    rescale = np.array([b / (2 * gamma(1.0 / b)) for b in shapes])
    sd_factor = np.array([np.sqrt(gamma(3.0 / b) / gamma(1.0 / b)) for b in shapes])
    return bounds, rescale, sd_factor


def _counts(n: int, min_clean_fraction: float, max_dropout_fraction: float, quantiles: tuple, step_sizes: tuple):
    q_lo, q_hi = min(quantiles), max(quantiles)
    max_width = q_hi - q_lo
    min_width = min_clean_fraction * max_width
    n_starts = int(np.floor(max_dropout_fraction / step_sizes[0] + 1e-9)) + 1
    starts = round_half_away(n * (q_lo + step_sizes[0] * np.arange(n_starts))).astype(int)
    n_widths = int(np.floor((max_width - min_width) / step_sizes[1] + 1e-9)) + 1
    widths = round_half_away(n * (max_width - step_sizes[1] * np.arange(n_widths))).astype(int)
    m_max = int(round_half_away(n * max_width))
    nbins = round_half_away(3 * np.log2(1 + widths / 2)).astype(int)
    return starts, widths, m_max, nbins


def grid_bounds(n_bound: int, key: tuple) -> tuple[int, int]:
    """Static ``(m_max, nb_max)`` for any sample size ``n <= n_bound``."""
    _, _, m_max, nbins = _counts(n_bound, *key[:4])
    return m_max, int(nbins.max())


@lru_cache(maxsize=128)
def grid_tables(n: int, n_bound: int, key: tuple) -> tuple:
    """Host-side integer grid and model log-densities for ``n`` values, padded to ``n_bound``'s sizes.

    ``key = (min_clean_fraction, max_dropout_fraction, quantiles, step_sizes, shapes)``. They depend
    only on these parameters, so they are computed once per ``(n, n_bound, key)`` (cached; the
    arrays are read-only).
    """
    min_clean, max_drop, quantiles, step_sizes, shapes = key
    starts, widths, _, nbins = _counts(n, min_clean, max_drop, quantiles, step_sizes)
    if widths.min() < 2 or n < 3:
        raise ValueError(f"fit_eeg_distribution needs more values: got {n}; use at least 20 windows of calibration data")
    _, nb_max = grid_bounds(n_bound, key)
    bounds, rescale, sd_factor = shape_table(shapes, quantiles)
    p = np.zeros((len(widths), len(shapes), nb_max))
    for j, nb in enumerate(nbins):
        for k, b in enumerate(shapes):
            z = bounds[k, 0] + np.arange(0.5, nb + 0.5) / nb * (bounds[k, 1] - bounds[k, 0])
            pk = np.exp(-np.abs(z) ** b) * rescale[k]
            p[j, k, :nb] = pk / np.sum(pk)
    logp = np.log(np.where(p > 0, p, 1.0))
    tables = (starts, widths, nbins, p, logp, bounds, sd_factor, np.asarray(shapes))
    for t in tables:
        t.setflags(write=False)  # shared by every caller through the cache
    return tables


def _sorted_histogram(h: Array, nbins: Array, nb_max: int) -> Array:
    """Counts of ``min(floor(h), nbins - 1)`` over bins ``0..nb_max-1``, per row of sorted ``h``.

    Each row of ``h`` (shape ``(n_w, n_s, m)``) is non-decreasing, with excluded entries set to
    ``+inf`` at its end, so a histogram is a difference of cumulative counts: for an integer edge
    ``b``, ``floor(h) < b`` exactly when ``h < b``, i.e. the left insertion index of ``b``. The top
    bin takes everything from edge ``nbins - 1`` up (the reference's clamp) and bins beyond a
    row's ``nbins`` stay empty. This is exact and avoids a scatter over every value (2-3x faster
    than ``segment_sum`` on CPU).
    """
    edges = jnp.arange(1, nb_max + 1, dtype=h.dtype)
    below = jax.vmap(jax.vmap(lambda row: jnp.searchsorted(row, edges, side="left", method="scan")))(h)
    n_valid = jnp.sum(jnp.isfinite(h), axis=-1, keepdims=True)
    past_top = jnp.arange(1, nb_max + 1)[None, None, :] >= nbins[:, None, None]
    cumulative = jnp.where(past_top, n_valid, below)
    return jnp.diff(cumulative, axis=-1, prepend=jnp.zeros_like(cumulative[..., :1]))


def fit_padded(x: Array, tables: tuple, m_max: int, nb_max: int) -> tuple[Array, Array, Array, Array]:
    """Fit one row ``x`` whose entries beyond the valid count are ``+inf`` (they sort last)."""
    starts, widths, nbins, p, logp, bounds_all, sd_factor, shapes = tables
    dtype = x.dtype
    xs = jnp.sort(x)
    seg = xs[starts[:, None] + jnp.arange(m_max)[None, :]]  # (n_s, m_max)
    base = seg[:, :1]
    rel = seg - base
    top = rel[:, widths - 1].T  # (n_w, n_s)
    scale = nbins.astype(dtype)[:, None] / top  # same op order as the reference
    h = rel[None, :, :] * scale[:, :, None]  # (n_w, n_s, m_max)
    valid = (jnp.arange(m_max)[None, None, :] < widths[:, None, None]) & jnp.isfinite(h)
    logq = jnp.log(_sorted_histogram(jnp.where(valid, h, jnp.inf), nbins, nb_max).astype(dtype) + 0.01)
    p = p.astype(dtype)[:, :, None, :]
    logp = logp.astype(dtype)[:, :, None, :]
    kl = jnp.sum(p * (logp - logq[:, None, :, :]), axis=-1) + jnp.log(widths.astype(dtype))[:, None, None]
    kl = jnp.where(jnp.isnan(kl), jnp.inf, kl)
    best = jnp.argmin(kl.ravel())  # first minimum in (width, shape, start) order
    j, k, s = jnp.unravel_index(best, kl.shape)
    bounds = bounds_all.astype(dtype)[k]
    lo = base[s, 0]
    hi = lo + rel[s, widths[j] - 1]
    alpha = (hi - lo) / (bounds[1] - bounds[0])
    mu = lo - bounds[0] * alpha
    sigma = alpha * sd_factor.astype(dtype)[k]
    return mu, sigma, alpha, shapes.astype(dtype)[k]


def fit_eeg_distribution(
    x: Float[Array, "... n"],
    min_clean_fraction: float = 0.25,
    max_dropout_fraction: float = 0.1,
    quantiles: tuple[float, float] = (0.022, 0.6),
    step_sizes: tuple[float, float] = (0.01, 0.01),
    shapes: tuple[float, ...] = SHAPE_RANGE,
) -> tuple[Array, Array, Array, Array]:
    """Robust ``(mu, sigma, alpha, beta)`` of the clean part of amplitude samples ``x``.

    Arguments:
        x: amplitude values (typically window RMS) on the last axis; leading axes are batched
            (one fit per row, processed sequentially to bound memory).
        min_clean_fraction: smallest fraction of the values assumed clean (0.25).
        max_dropout_fraction: largest fraction of abnormally low values (0.1).
        quantiles: quantile range of the generalised Gaussian that is fitted (0.022, 0.6).
        step_sizes: grid steps for the interval start and width (0.01, 0.01).
        shapes: shape parameters searched (default 1.7, 1.85, ..., 3.5).

    Returns:
        ``mu`` (location), ``sigma`` (standard deviation), ``alpha`` (scale), ``beta`` (shape),
        each with the leading shape of ``x``. Equivariant: ``fit(a x + c) = (a mu + c, a sigma)``
        for ``a > 0``.
    """
    q = tuple(float(v) for v in quantiles)
    st = tuple(float(v) for v in step_sizes)
    if min(q) < 0 or max(q) > 1:
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    if min(st) < 1e-4 or max(st) > 0.1:
        raise ValueError(f"step_sizes must lie in [1e-4, 0.1], got {step_sizes}")
    if min(shapes) <= 1 or max(shapes) >= 7:
        raise ValueError(f"shapes must lie in (1, 7), got {shapes}")
    x = jnp.asarray(x)
    key = (float(min_clean_fraction), float(max_dropout_fraction), q, st, tuple(float(b) for b in shapes))
    n = int(x.shape[-1])
    tables = tuple(jnp.asarray(t) for t in grid_tables(n, n, key))
    lead = x.shape[:-1]
    out = _fitter(*grid_bounds(n, key))(x.reshape((-1, n)), tables)
    return tuple(o.reshape(lead) for o in out)


@lru_cache(maxsize=64)
def _fitter(m_max: int, nb_max: int):
    return jax.jit(lambda rows, tables: fit_rows(rows, tables, m_max, nb_max))


def fit_rows(rows: Array, tables: tuple, m_max: int, nb_max: int):
    """:func:`fit_padded` for each row, sequentially (bounded memory)."""
    return jax.lax.map(lambda row: fit_padded(row, tables, m_max, nb_max), rows)
