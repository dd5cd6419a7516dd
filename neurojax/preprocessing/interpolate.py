"""Bad-channel interpolation by spherical splines (EEG), matching MNE-Python.

The potential on the scalp is modelled as a spherical spline (Perrin et al., 1989) fitted to the
good channels and evaluated at the bad ones. With unit vectors ``p_i`` (good) and ``q_k`` (bad)
taken about a sphere origin ``o``::

    g(x) = sum_{l=1}^{50} (2l + 1) / (4 pi l^4 (l + 1)^4) P_l(x)
    G = g(P P^T) + 1e-5 I,   G c + c0 1 = V,  1^T c = 0,   V(q) = g(q . P^T) c + c0

so the bad channels are ``X[bad] = M X[good]`` with ``M`` (rows summing to one) depending only on
the positions. Defaults reproduce ``mne.io.Raw.interpolate_bads`` (50 Legendre terms, stiffness 4,
regulariser 1e-5, constant term, origin fitted to the positions by linear least squares).

Numerics: ``M`` is computed on the host in float64 by Cholesky elimination of the constant term
(no ``pinv`` rank truncation) and applied in the data dtype, so float32 data match float64 to
float32 rounding. When the bad set is a traced boolean mask (inside ``jax.jit``/``vmap``) the
matrix is read off the precomputed inverse of the full bordered system (see
``_spherical_spline.masked_matrix``), which keeps shapes static and float32 accurate.

MEG channels are not splined: :func:`meg_field_interpolate` reproduces MNE's minimum-norm field
mapping (lead-field dot products of a spherical conductor over the coils' integration points,
whitened, SSP-projected and pseudo-inverted; see ``_meg_field``).

Public API: :func:`fit_head_sphere`, :func:`spherical_spline_matrix`,
:func:`spherical_spline_interpolate`, :func:`meg_field_matrix`, :func:`meg_field_interpolate`
and the :class:`Interpolator` layer. Bad-channel detection lives in :mod:`.bad_channels`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import _spherical_spline as _ss
from ._validate import as_float_array, check_channel_names, check_ndim, is_traced

__all__ = [
    "fit_head_sphere",
    "spherical_spline_matrix",
    "spherical_spline_interpolate",
    "meg_field_matrix",
    "meg_field_interpolate",
    "Interpolator",
]


# ----------------------------------------------------------------------------------------------
# validation helpers


def _check_positions(coords: Any, n_channels: int | None = None, name: str = "sensor_coords") -> np.ndarray:
    """Concrete positions -> float64 ``(C, 3)`` after checking shape, NaN, zeros and duplicates."""
    pos = np.asarray(coords, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n_channels, 3) (x, y, z per channel); got {pos.shape}")
    if n_channels is not None and pos.shape[0] != n_channels:
        raise ValueError(
            f"{name} has {pos.shape[0]} rows but data has {n_channels} channels; pass one position per channel "
            "(select the EEG rows of both data and positions)"
        )
    bad_rows = ~np.isfinite(pos).all(axis=1) | (np.abs(pos).sum(axis=1) == 0)
    if bad_rows.any():
        idx = np.flatnonzero(bad_rows).tolist()
        raise ValueError(
            f"{name} rows {idx} are NaN/Inf or all zero (missing channel positions); spherical splines need a "
            "position for every channel: set the montage, or drop those channels from data and positions"
        )
    diff = pos[:, None, :] - pos[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    scale = np.median(np.linalg.norm(pos - pos.mean(0), axis=1))
    dist[np.diag_indices_from(dist)] = np.inf
    dup = np.argwhere(dist <= 1e-6 * scale)
    if len(dup):
        pairs = sorted({(int(min(i, j)), int(max(i, j))) for i, j in dup})
        raise ValueError(
            f"{name} has duplicate positions for channel pairs {pairs[:5]}; each channel needs a distinct location "
            "(check the montage or drop the duplicate channel)"
        )
    return pos


def _bad_mask(bad_idx: Any, n_channels: int, ch_names: Sequence[str] | None = None) -> Any:
    """Indices, names or a boolean mask -> boolean mask ``(C,)`` (NumPy if concrete, else JAX)."""
    if is_traced(bad_idx):
        arr = bad_idx
        if arr.dtype == jnp.bool_:
            if arr.shape != (n_channels,):
                raise ValueError(f"a boolean bad mask must have shape ({n_channels},), got {arr.shape}")
            return arr
        if not jnp.issubdtype(arr.dtype, jnp.integer) or arr.ndim != 1:
            raise TypeError("traced bad_idx must be a boolean mask (n_channels,) or a 1-D integer index array")
        return jnp.zeros(n_channels, bool).at[arr].set(True, mode="drop")
    if isinstance(bad_idx, (str, bytes)):
        bad_idx = [bad_idx]
    items = list(np.asarray(bad_idx).ravel()) if np.ndim(bad_idx) else [bad_idx]
    arr = np.asarray(bad_idx)
    if arr.dtype == bool:
        if arr.shape != (n_channels,):
            raise ValueError(f"a boolean bad mask must have shape ({n_channels},), got {arr.shape}")
        return arr.copy()
    if arr.size == 0:
        return np.zeros(n_channels, bool)
    if arr.dtype.kind in "US":
        if ch_names is None:
            raise ValueError("bad channels given by name need ch_names=... (one name per data channel)")
        idx = np.asarray(check_channel_names([str(i) for i in items], list(ch_names)), dtype=int)
    elif arr.dtype.kind in "iu":
        idx = arr.ravel().astype(int)
        out = (idx < 0) | (idx >= n_channels)
        if out.any():
            raise ValueError(f"bad channel index(es) {idx[out].tolist()} out of range for {n_channels} channels")
    else:
        raise TypeError(f"bad_idx must be integer indices, channel names or a boolean mask; got dtype {arr.dtype}")
    mask = np.zeros(n_channels, bool)
    mask[idx] = True
    return mask


def _resolve_origin(origin: Any, pos: Any) -> Any:
    if isinstance(origin, str):
        if origin != "auto":
            raise ValueError(f"origin must be 'auto' or a 3-vector, got {origin!r}")
        if isinstance(pos, np.ndarray):
            return _ss.fit_sphere(pos)[1]
        return _ss.fit_sphere_jax(pos)
    if is_traced(origin) or isinstance(pos, jax.Array) and not isinstance(pos, np.ndarray):
        o = jnp.asarray(origin, dtype=pos.dtype)
    else:
        o = np.asarray(origin, dtype=np.float64)
        if not np.isfinite(o).all():
            raise ValueError(f"origin must be finite, got {o.tolist()}")
    if o.shape != (3,):
        raise ValueError(f"origin must be 'auto' or a 3-vector (x, y, z), got shape {o.shape}")
    return o


def _check_counts(mask: np.ndarray) -> None:
    n_bad = int(mask.sum())
    n_good = mask.size - n_bad
    if n_good == 0:
        raise ValueError("all channels are marked bad: nothing to interpolate from")
    if n_good < 4:
        raise ValueError(f"only {n_good} good channel(s) left; spherical-spline interpolation needs at least 4")


# ----------------------------------------------------------------------------------------------
# pure functions


def fit_head_sphere(positions: Any, *, exclude_frontal: bool = True) -> tuple[float, np.ndarray]:
    """Fit a sphere to sensor (or head-shape) positions, as MNE's ``origin='auto'`` does.

    Linear least squares ``[2 p_i, 1] x = |p_i|^2`` (``rcond=1e-6``); points on the nose/face
    (``z < 0`` and ``y > 0`` in head coordinates) are left out first.

    Arguments:
        positions: ``(n_points, 3)`` in any unit (head coordinates: x right, y front, z up).
        exclude_frontal: drop nose/face points before fitting.

    Returns:
        ``(radius, origin)`` in the unit of ``positions`` (origin a float64 ``(3,)`` array).
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or not np.isfinite(pos).all():
        raise ValueError(f"positions must be a finite (n_points, 3) array; got shape {pos.shape}")
    return _ss.fit_sphere(pos, exclude_frontal=exclude_frontal)


def spherical_spline_matrix(
    sensor_coords: Any,
    bad_idx: Any,
    *,
    origin: Any = "auto",
    n_terms: int = 50,
    stiffness: float = 4,
    alpha: float = 1e-5,
    ch_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Host float64 interpolation matrix ``M`` with ``X[bad] = M @ X[good]``.

    Arguments:
        sensor_coords: ``(C, 3)`` positions of all channels (any unit; metres expected).
        bad_idx: integer indices, channel names (with ``ch_names``) or a boolean mask ``(C,)``.
        origin: ``'auto'`` (sphere fitted to all positions) or an ``(x, y, z)`` in the same unit.
        n_terms, stiffness, alpha: spline order ``N``, stiffness ``m`` and ridge ``alpha > 0``.

    Returns:
        ``(n_bad, n_good)`` float64 array; rows sum to one. Rows follow increasing bad index,
        columns increasing good index.
    """
    pos = _check_positions(sensor_coords)
    mask = _bad_mask(bad_idx, pos.shape[0], ch_names)
    _check_counts(mask)
    _check_spline_options(n_terms, stiffness, alpha)
    o = _resolve_origin(origin, pos)
    unit = _ss.unit_vectors(pos, o)
    return _ss.reduced_matrix(unit[~mask], unit[mask], n_terms=n_terms, stiffness=stiffness, alpha=alpha)


def _check_spline_options(n_terms: int, stiffness: float, alpha: float) -> None:
    if int(n_terms) != n_terms or n_terms < 1:
        raise ValueError(f"n_terms must be a positive integer, got {n_terms!r}")
    if not stiffness > 1:
        raise ValueError(f"stiffness must be > 1 (MNE uses 4), got {stiffness!r}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (it makes the spline system positive definite; MNE uses 1e-5), got {alpha!r}")


@lru_cache(maxsize=64)
def _host_matrix(
    pos_bytes: bytes, shape: tuple, mask_bytes: bytes, origin: Any, n_terms: int, stiffness: float, alpha: float
) -> np.ndarray:
    """Validated, cached host float64 matrix (repeated calls with the same montage and bad set
    skip validation, the sphere fit and the factorisation). Arguments are hashable encodings."""
    pos = _check_positions(np.frombuffer(pos_bytes, dtype=np.float64).reshape(shape))
    mask = np.frombuffer(mask_bytes, dtype=bool)
    o = _resolve_origin(origin if isinstance(origin, str) else np.frombuffer(origin, dtype=np.float64), pos)
    unit = _ss.unit_vectors(pos, o)
    matrix = _ss.reduced_matrix(unit[~mask], unit[mask], n_terms=n_terms, stiffness=stiffness, alpha=alpha)
    matrix.setflags(write=False)
    return matrix


def _apply_reduced(data: jax.Array, mask: np.ndarray, matrix: np.ndarray) -> jax.Array:
    bad = jnp.asarray(np.flatnonzero(mask), dtype=jnp.int32)
    weights = np.zeros((len(matrix), mask.size))
    weights[:, ~mask] = matrix
    out, finite = _apply_rows_jit(data, jnp.asarray(weights, dtype=data.dtype), bad)
    msg = "data (good channels) contains NaN or Inf values; mark those channels bad or clean them first"
    if is_traced(out):
        return eqx.error_if(out, ~finite, msg)
    if not bool(finite):
        raise ValueError(msg)
    return out


@jax.jit
def _apply_rows_jit(data: jax.Array, weights: jax.Array, bad: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Replace rows ``bad`` by ``weights @ data`` (weights zero on bad columns).

    One compiled kernel per (data shape, number of bad channels). Bad rows are zeroed before the
    product so NaN/Inf in a bad channel cannot leak. Good rows are copied and bad rows are finite
    combinations of them, so one fused reduction over the output tells whether any good sample
    is non-finite.
    """
    x0 = data.at[..., bad, :].set(0.0, unique_indices=True)
    filled = jnp.matmul(weights, x0, precision=jax.lax.Precision.HIGHEST)
    out = data.at[..., bad, :].set(filled, unique_indices=True)
    return out, jnp.isfinite(jnp.sum(out * 0))


def _apply_masked(data: jax.Array, mask: jax.Array, inverse: jax.Array, max_bad: int | None = None) -> jax.Array:
    """Traced-mask route. ``max_bad`` (static) bounds the number of bad channels so only that
    many rows are computed (``K x C`` instead of ``C x C`` per sample); more bad channels than
    ``max_bad`` is a runtime error."""
    n = mask.shape[0]
    m = _ss.masked_matrix(inverse.astype(jnp.result_type(inverse.dtype, data.dtype)), mask).astype(data.dtype)
    mask_c = mask[:, None]
    x_good = jnp.where(mask_c, 0.0, data).astype(data.dtype)
    hi = jax.lax.Precision.HIGHEST
    if max_bad is None or max_bad >= n:
        out = jnp.where(mask_c, jnp.matmul(m, x_good, precision=hi), data)
    else:
        mask = eqx.error_if(mask, jnp.sum(mask) > max_bad, f"more bad channels than max_bad={max_bad}")
        rows = jnp.nonzero(mask, size=max_bad, fill_value=n)[0]
        weights = jnp.take(m, rows, axis=0, mode="fill", fill_value=0)
        filled = jnp.matmul(weights, x_good, precision=hi)
        out = data.at[..., rows, :].set(filled, mode="drop")
    msg = "data (good channels) contains NaN or Inf values; mark those channels bad or clean them first"
    if is_traced(out):
        return eqx.error_if(out, ~jnp.isfinite(jnp.sum(out * 0)), msg)
    if not np.isfinite(np.asarray(out)).all():
        raise ValueError(msg)
    return out


def spherical_spline_interpolate(
    data: Any,
    bad_idx: Any,
    sensor_coords: Any,
    *,
    origin: Any = "auto",
    n_terms: int = 50,
    stiffness: float = 4,
    alpha: float = 1e-5,
    ch_names: Sequence[str] | None = None,
    max_bad: int | None = None,
) -> jax.Array:
    """Replace bad channels by spherical-spline interpolation from the good ones (MNE's method).

    Arguments:
        data: ``(..., C, T)`` (or ``(C, T)``) array; leading axes (epochs, batches) share ``M``.
        bad_idx: integer indices, channel names (with ``ch_names``) or a boolean mask ``(C,)``.
            A traced boolean mask (inside ``jit``/``vmap``) is supported with static ``C``.
        sensor_coords: ``(C, 3)`` positions in metres (any unit works, e.g. the unit sphere).
            May be traced: the result is then differentiable w.r.t. the positions too (the
            system is then factorised in the positions' dtype: use float64 for accuracy, float32
            moves ``M`` by ~3e-4).
        origin: ``'auto'`` fits a sphere to the positions (nose/face excluded, like MNE's
            head-shape fit); or pass ``(x, y, z)``, e.g. MNE's fitted head origin.
        n_terms, stiffness, alpha: MNE defaults 50, 4 and 1e-5.
        ch_names: needed only when ``bad_idx`` holds names.
        max_bad: with a traced mask, an upper bound on the number of bad channels (static);
            only that many rows are computed. ``None``: all ``C`` rows (always valid).

    Returns:
        Array like ``data`` (same dtype) with bad rows replaced; good rows are returned unchanged.
        With no bad channel the data come back as they are (with a ``RuntimeWarning``).

    Raises:
        ValueError: bad shapes, out-of-range index/unknown name, NaN/zero/duplicate positions,
            all channels bad or fewer than 4 good, non-finite good-channel data.
    """
    x = as_float_array(data)
    check_ndim(x, 2)
    n_channels = x.shape[-2]
    _check_spline_options(n_terms, stiffness, alpha)
    mask = _bad_mask(bad_idx, n_channels, ch_names)

    if is_traced(sensor_coords) or is_traced(origin):
        pos = jnp.asarray(sensor_coords)
        if pos.shape != (n_channels, 3):
            raise ValueError(f"sensor_coords must have shape ({n_channels}, 3), got {pos.shape}")
        pos = eqx.error_if(pos, ~jnp.all(jnp.isfinite(pos)), "sensor_coords contain NaN or Inf")
        o = _resolve_origin(origin, pos)
        inverse = _ss.bordered_inverse(_ss.unit_vectors(pos, o), n_terms=n_terms, stiffness=stiffness, alpha=alpha)
        if isinstance(mask, np.ndarray):
            _check_counts(mask)
        return _apply_masked(x, jnp.asarray(mask), inverse, max_bad)

    if isinstance(mask, np.ndarray):
        pos = np.asarray(sensor_coords, dtype=np.float64)
        if pos.shape != (n_channels, 3):
            _check_positions(pos, n_channels)  # raises with the precise message
        if not mask.any():
            _check_positions(pos, n_channels)
            warnings.warn("No bad channels to interpolate. Doing nothing...", RuntimeWarning, stacklevel=2)
            return x
        _check_counts(mask)
        origin_key = origin if isinstance(origin, str) else np.asarray(origin, dtype=np.float64).tobytes()
        matrix = _host_matrix(
            pos.tobytes(), pos.shape, mask.tobytes(), origin_key, int(n_terms), float(stiffness), float(alpha)
        )
        return _apply_reduced(x, mask, matrix)
    pos = _check_positions(sensor_coords, n_channels)
    o = _resolve_origin(origin, pos)
    unit = _ss.unit_vectors(pos, o)
    inverse = _ss.bordered_inverse(unit, n_terms=n_terms, stiffness=stiffness, alpha=alpha)
    inverse = jnp.asarray(inverse, dtype=jnp.result_type(float))
    mask = eqx.error_if(mask, jnp.sum(~mask) < 4, "fewer than 4 good channels: cannot interpolate")
    return _apply_masked(x, mask, inverse, max_bad)


# ----------------------------------------------------------------------------------------------
# MEG: minimum-norm field mapping (MNE's method for MEG bad channels)


def meg_field_matrix(
    loc: Any,
    coil_type: Any,
    bad_idx: Any,
    *,
    dev_head_t: Any,
    origin: Any,
    mode: str = "accurate",
    proj_vectors: Any = None,
    ch_names: Sequence[str] | None = None,
    coil_table: dict | None = None,
) -> np.ndarray:
    """Host float64 MEG mapping ``M`` with ``X[bad] = M @ X[good]`` (MNE's field interpolation).

    Good magnetometers and gradiometers together predict the bad MEG channels through the
    lead-field dot products of a spherical conductor (see ``_meg_field``): whitened by MNE's ad
    hoc noise (20 fT, 5e-13 T/m), projected by the SSP vectors, pseudo-inverted with truncation at
    ``1 - 1e-4`` of the singular-value sum.

    Arguments:
        loc: ``(C, 12)`` FIFF ``loc`` of the MEG channels (device frame).
        coil_type: ``(C,)`` coil types (Vectorview/TRIUX built in; others via ``coil_table``).
        bad_idx: indices, names (with ``ch_names``) or boolean mask ``(C,)``.
        dev_head_t: ``(4, 4)`` device-to-head transform.
        origin: sphere origin ``(3,)`` in head coordinates, metres (MNE's ``'auto'`` fits the
            head-shape points: compute it with :func:`fit_head_sphere` on the digitisation).
        mode: ``'accurate'`` (100 Legendre coefficients) or ``'fast'`` (50).
        proj_vectors: ``(k, C)`` SSP projection vectors over these channels (e.g. the rows of
            ``info['projs'][i]['data']['data']`` reordered to the channels), or None.

    Returns:
        ``(n_bad, n_good)`` float64 array.
    """
    from . import _meg_field as _mf

    if mode not in ("accurate", "fast"):
        raise ValueError(f"mode must be 'accurate' or 'fast', got {mode!r}")
    loc = np.asarray(loc, dtype=np.float64)
    if loc.ndim != 2 or loc.shape[1] != 12 or not np.isfinite(loc).all():
        raise ValueError(f"loc must be a finite (n_channels, 12) array of FIFF channel locations, got {loc.shape}")
    n = loc.shape[0]
    mask = _bad_mask(bad_idx, n, ch_names)
    if not mask.any():
        raise ValueError("no bad MEG channel to interpolate")
    if mask.all():
        raise ValueError("all channels are marked bad: nothing to interpolate from")
    o = np.asarray(origin, dtype=np.float64)
    if o.shape != (3,) or not np.isfinite(o).all():
        raise ValueError(f"origin must be a finite 3-vector in metres, got {origin!r}")
    rmag, cosmag, w, owner, kinds = _mf.coil_points(loc, coil_type, dev_head_t, coil_table)
    good = np.flatnonzero(~mask)
    bad = np.flatnonzero(mask)
    remap = np.full(n, -1)
    remap[good] = np.arange(len(good))
    in_good = np.isin(owner, good)
    pts_good = (rmag[in_good], cosmag[in_good], w[in_good], remap[owner[in_good]])
    remap_b = np.full(n, -1)
    remap_b[bad] = np.arange(len(bad))
    in_bad = np.isin(owner, bad)
    pts_bad = (rmag[in_bad], cosmag[in_bad], w[in_bad], remap_b[owner[in_bad]])
    n_coeff = 100 if mode == "accurate" else 50
    self_dots = _mf.meg_dots(pts_good, None, o, len(good), len(good), n_coeff)
    cross = _mf.meg_dots(pts_bad, pts_good, o, len(bad), len(good), n_coeff)
    vecs = None if proj_vectors is None else np.asarray(proj_vectors, dtype=np.float64)[:, good]
    proj = _mf.projector(vecs, len(good))
    noise = _mf.as_kinds([kinds[i] for i in good])
    matrix, _ = _mf.mapping_matrix(self_dots, cross, noise, proj)
    return matrix


def meg_field_interpolate(
    data: Any,
    bad_idx: Any,
    *,
    loc: Any,
    coil_type: Any,
    dev_head_t: Any,
    origin: Any,
    mode: str = "accurate",
    proj_vectors: Any = None,
    ch_names: Sequence[str] | None = None,
    coil_table: dict | None = None,
) -> jax.Array:
    """Replace bad MEG channels by MNE's minimum-norm field mapping from the good ones.

    ``data`` is ``(..., C, T)`` over the MEG channels only (magnetometers and gradiometers in
    any order, the same order as ``loc``/``coil_type``); other arguments as
    :func:`meg_field_matrix`. The matrix is designed on the host in float64 and applied in the
    data dtype; good rows are returned unchanged.
    """
    x = as_float_array(data)
    check_ndim(x, 2)
    n = x.shape[-2]
    mask = _bad_mask(bad_idx, n, ch_names)
    if is_traced(mask):
        raise TypeError("meg_field_interpolate needs a concrete bad set (the mapping is designed on the host)")
    if np.asarray(loc).shape[0] != n:
        raise ValueError(f"loc has {np.asarray(loc).shape[0]} rows but data has {n} channels")
    matrix = meg_field_matrix(
        loc, coil_type, mask, dev_head_t=dev_head_t, origin=origin, mode=mode, proj_vectors=proj_vectors,
        coil_table=coil_table,
    )
    return _apply_reduced(x, mask, matrix)


# ----------------------------------------------------------------------------------------------
# Equinox layer


class Interpolator(eqx.Module):
    """Spherical-spline bad-channel interpolation as a layer (positions static, mask an array).

    The bordered-system inverse over all channels is computed once on the host in float64 from
    the positions; each call reads the interpolation matrix off it for the current ``bad_mask``
    (a small solve with the bad block, see ``_spherical_spline.masked_matrix``) and replaces the
    bad rows. ``bad_mask`` is an ordinary array leaf, so a mask computed inside a jitted pipeline
    (e.g. by detection) can be swapped in with :meth:`with_bad_mask`; the output is linear, hence
    differentiable, in the data.

    Arguments:
        pos: ``(C, 3)`` channel positions (metres or any unit).
        bad_mask: boolean ``(C,)``, integer indices or names (with ``ch_names``); default none bad.
        origin: ``'auto'`` or ``(x, y, z)``; n_terms, stiffness, alpha as in
            :func:`spherical_spline_interpolate`.
        sfreq: sampling rate, used by :meth:`fit` (bad-channel detection).
        ch_names: channel names (to give bad channels by name).
        max_bad: static bound on the number of bad channels; computes only that many rows per
            call (faster for large ``C``); ``None`` computes all ``C`` rows.

    Example:
        >>> interp = Interpolator(pos, bad_mask=[3, 17])
        >>> cleaned = eqx.filter_jit(interp)(eeg)  # (..., C, T); or inside any jitted model
    """

    inverse: jax.Array
    bad_mask: jax.Array
    pos: tuple = eqx.field(static=True)
    origin: tuple = eqx.field(static=True)
    n_terms: int = eqx.field(static=True)
    stiffness: float = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    sfreq: float | None = eqx.field(static=True)
    ch_names: tuple | None = eqx.field(static=True)
    max_bad: int | None = eqx.field(static=True)
    # Pipeline.trainable_filter exposes only these fields to an optimiser.
    trainable_fields: ClassVar[tuple[str, ...]] = ()  # positions and the bad set are not learned by gradient

    def __init__(
        self,
        pos: Any,
        bad_mask: Any = None,
        *,
        origin: Any = "auto",
        n_terms: int = 50,
        stiffness: float = 4,
        alpha: float = 1e-5,
        sfreq: float | None = None,
        ch_names: Sequence[str] | None = None,
        max_bad: int | None = None,
    ):
        _check_spline_options(n_terms, stiffness, alpha)
        if max_bad is not None and (int(max_bad) != max_bad or max_bad < 1):
            raise ValueError(f"max_bad must be a positive integer or None, got {max_bad!r}")
        p = _check_positions(pos, name="pos")
        o = np.asarray(_resolve_origin(origin, p), dtype=np.float64)
        unit = _ss.unit_vectors(p, o)
        self.inverse = jnp.asarray(
            _ss.bordered_inverse(unit, n_terms=n_terms, stiffness=stiffness, alpha=alpha), dtype=jnp.result_type(float)
        )
        n = p.shape[0]
        mask = np.zeros(n, bool) if bad_mask is None else _bad_mask(bad_mask, n, ch_names)
        if isinstance(mask, np.ndarray) and mask.any():
            _check_counts(mask)
        self.bad_mask = jnp.asarray(mask)
        self.pos = tuple(map(tuple, p.tolist()))
        self.origin = tuple(o.tolist())
        self.n_terms = int(n_terms)
        self.stiffness = float(stiffness)
        self.alpha = float(alpha)
        self.sfreq = None if sfreq is None else float(sfreq)
        self.ch_names = None if ch_names is None else tuple(ch_names)
        self.max_bad = None if max_bad is None else int(max_bad)

    @property
    def n_channels(self) -> int:
        return len(self.pos)

    def with_bad_mask(self, bad_mask: Any) -> Interpolator:
        """Copy with another bad set (mask, indices or names); works with traced masks."""
        mask = _bad_mask(bad_mask, self.n_channels, self.ch_names)
        if isinstance(mask, np.ndarray) and mask.any():
            _check_counts(mask)
        return eqx.tree_at(lambda m: m.bad_mask, self, jnp.asarray(mask))

    def fit(
        self, x: Any, *, key: jax.Array | None = None, ransac: bool = False, keep_existing: bool = True, **detect_kwargs: Any
    ) -> Interpolator:
        """Detect bad channels in ``x`` and return a copy whose ``bad_mask`` flags them.

        Runs :func:`neurojax.preprocessing.bad_channels.find_bad_channels` (all channels are
        treated as one type) on ``x`` ``(C, T)`` or epochs ``(E, C, T)`` (concatenated in time).
        With ``ransac=True`` the RANSAC criterion runs too, using these positions and ``key`` (a
        pipeline hands every fitted stage a key, so the key alone does not switch RANSAC on). Needs ``sfreq`` given at
        construction. Jittable in ``x``. ``keep_existing`` keeps channels already marked bad.
        """
        from .bad_channels import find_bad_channels

        if self.sfreq is None:
            raise ValueError("Interpolator.fit needs the sampling rate: build it with Interpolator(pos, sfreq=...)")
        x = as_float_array(x)
        check_ndim(x, 2)
        if x.shape[-2] != self.n_channels:
            raise ValueError(f"data has {x.shape[-2]} channels but the Interpolator was built for {self.n_channels}")
        if x.ndim > 2:
            x = jnp.moveaxis(x, -2, 0).reshape(self.n_channels, -1)
        if ransac and key is None:
            raise ValueError("ransac=True needs a PRNG key: fit(x, key=jax.random.PRNGKey(0), ransac=True)")
        found = find_bad_channels(
            x, self.sfreq, pos=np.asarray(self.pos) if ransac else None, ransac=ransac, key=key, **detect_kwargs
        )
        mask = found.mask | self.bad_mask if keep_existing else found.mask
        return eqx.tree_at(lambda m: m.bad_mask, self, mask)

    def matrix(self) -> jax.Array:
        """The ``(C, C)`` matrix for the current mask (bad rows only are non-zero)."""
        return _ss.masked_matrix(self.inverse, self.bad_mask)

    def __call__(self, x: Any) -> jax.Array:
        """Interpolate the channels flagged in ``bad_mask``; ``x`` is ``(..., C, T)``."""
        x = as_float_array(x)
        check_ndim(x, 2)
        if x.shape[-2] != self.n_channels:
            raise ValueError(f"data has {x.shape[-2]} channels but the Interpolator was built for {self.n_channels}")
        mask = eqx.error_if(self.bad_mask, jnp.sum(~self.bad_mask) < 4, "fewer than 4 good channels: cannot interpolate")
        return _apply_masked(x, mask, self.inverse, self.max_bad)
