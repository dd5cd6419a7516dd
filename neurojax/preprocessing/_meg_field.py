"""Minimum-norm MEG field mapping in a spherical conductor (host float64 design).

Re-derivation of the lead-field dot products MNE-Python uses to map data between MEG sensor
sets (``mne/forward/_lead_dots.py``, ``_field_interpolation.py``; originally Matti
Hamalainen's MNE-C ``lead_dots.c``). For two integration points with positions ``r1, r2``
relative to the sphere origin (unit vectors ``u1, u2``, lengths ``l1, l2``) and coil normals
``n1, n2``::

    ct = u1 . u2,  beta = r_int^2 / (l1 l2)                           (r_int = 0.06 m)
    S0 = sum_n n (n+1)/(2n+1) beta^(n+1) P_n(ct)
    S1 = sum_n n/(2n+1)       beta^(n+1) P_n'(ct)
    S2 = sum_n n/((2n+1)(n+1)) beta^(n+1) P_n'(ct)
    S3 = sum_n n/((2n+1)(n+1)) beta^(n+1) P_n''(ct)                  (n = 1 .. n_coeff-1)
    a = n1.u1, b = n1.u2, c = n2.u1, d = n2.u2, e = n1.n2
    k = [a d S0 + (2 ct a d - (a c + b d)) S1 + (e + ct a d - (a c + b d)) S2
         + (b - ct a)(c - ct d) S3] * (mu0^2 / 4 pi) / (l1 l2)

and the sensor-pair value is the weighted sum over both coils' integration points. The mapping
from good channels to targets is a whitened, projected, truncated pseudo-inverse
(see :func:`mapping_matrix`).

Coil geometry: the integration points of the Elekta/MEGIN Vectorview/TRIUX coils at MNE's
"normal" accuracy are tabulated below. These numbers come from MNE-Python's
``mne/data/coil_def.dat`` (Copyright 2005-2019 Matti Hamalainen, Athinoula A. Martinos Center;
distributed with MNE-Python under the BSD-3-Clause license). Other systems: pass integration
points yourself (:func:`coil_points` accepts a custom table).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["COIL_TABLE", "coil_points", "meg_dots", "mapping_matrix", "projector"]

_MU0_SQ_OVER_4PI = 4e-14 * np.pi  # mu0^2 / (4 pi)
_INT_RAD = 0.06


def _planar(w: float, x: float, y: float) -> tuple:
    pts = np.array([[x, y, 3e-4], [x, -y, 3e-4], [-x, y, 3e-4], [-x, -y, 3e-4]])
    return np.array([w, w, -w, -w]), pts


def _square(half: float) -> tuple:
    pts = np.array([[-half, -half, 3e-4], [-half, half, 3e-4], [half, -half, 3e-4], [half, half, 3e-4]])
    return np.full(4, 0.25), pts


#: coil type -> (kind, weights (n,), points (n, 3) in the coil frame [m]); normals are +z.
COIL_TABLE: dict[int, tuple[str, np.ndarray, np.ndarray]] = {
    **{t: ("grad", *_planar(29.7619, 8.4e-3, 6.713e-3)) for t in (3012, 3013, 3014, 3015)},
    3022: ("mag", *_square(6.45e-3)),
    3023: ("mag", *_square(6.45e-3)),
    3024: ("mag", *_square(5.25e-3)),
    3025: ("mag", *_square(7.0e-3)),
}


def coil_points(
    loc: np.ndarray, coil_type: np.ndarray, dev_head_t: np.ndarray | None, table: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Integration points of every channel in the head frame.

    Arguments:
        loc: ``(C, 12)`` FIFF channel ``loc`` vectors (position, then ex, ey, ez in the device frame).
        coil_type: ``(C,)`` integer coil types (``& 0xFFFF`` is looked up in ``table``).
        dev_head_t: ``(4, 4)`` device-to-head transform (``None``: stay in the device frame).

    Returns:
        ``(rmag (N, 3), cosmag (N, 3), w (N,), owner (N,) channel index, kinds per channel)``.
    """
    table = COIL_TABLE if table is None else table
    loc = np.asarray(loc, dtype=np.float64)
    t = np.eye(4) if dev_head_t is None else np.asarray(dev_head_t, dtype=np.float64)
    rmag, cosmag, w, owner, kinds = [], [], [], [], []
    for ci, (lc, ct) in enumerate(zip(loc, np.asarray(coil_type).astype(int))):
        key = int(ct) & 0xFFFF
        if key not in table:
            raise ValueError(
                f"coil type {key} (channel {ci}) is not in the coil table (known: {sorted(table)}); "
                "pass table={type: (kind, weights, points)} for other MEG systems"
            )
        kind, wts, pts = table[key]
        trans = np.eye(4)
        trans[:3, 3] = lc[:3]
        trans[:3, :3] = lc[3:12].reshape(3, 3).T  # columns ex, ey, ez
        trans = t @ trans
        rmag.append(pts @ trans[:3, :3].T + trans[:3, 3])
        cosmag.append(np.tile(trans[:3, 2], (len(wts), 1)))
        w.append(wts)
        owner.append(np.full(len(wts), ci))
        kinds.append(kind)
    return np.concatenate(rmag), np.concatenate(cosmag), np.concatenate(w), np.concatenate(owner), kinds


def _legendre_sums(beta: np.ndarray, ct: np.ndarray, n_coeff: int) -> tuple[np.ndarray, ...]:
    """S0..S3 of the module docstring by the recurrences for P_n, P_n', P_n''."""
    p_prev, p = np.ones_like(ct), ct.copy()
    dp_prev, dp = np.zeros_like(ct), np.ones_like(ct)
    ddp = np.zeros_like(ct)
    bpow = beta * beta  # beta^(n+1) at n = 1
    s0 = np.zeros_like(ct)
    s1 = np.zeros_like(ct)
    s2 = np.zeros_like(ct)
    s3 = np.zeros_like(ct)
    for n in range(1, n_coeff):
        if n > 1:
            p_new = ((2 * n - 1) * ct * p - (n - 1) * p_prev) / n
            dp_new = n * p + ct * dp
            ddp = (n + 1) * dp + ct * ddp
            p_prev, p = p, p_new
            dp_prev, dp = dp, dp_new
            bpow = bpow * beta
        f = n / (2.0 * n + 1.0)
        g = f / (n + 1.0)
        s0 += (f * (n + 1.0)) * bpow * p
        s1 += f * bpow * dp
        s2 += g * bpow * dp
        s3 += g * bpow * ddp
    return s0, s1, s2, s3


def _pair_kernel(r1, c1, r2, c2, n_coeff, int_rad):
    """Kernel ``k`` of the module docstring for matched rows of (positions, normals)."""
    l1 = np.linalg.norm(r1, axis=-1)
    l2 = np.linalg.norm(r2, axis=-1)
    u1 = r1 / l1[..., None]
    u2 = r2 / l2[..., None]
    ct = np.clip(np.sum(u1 * u2, axis=-1), -1.0, 1.0)
    l12 = l1 * l2
    s0, s1, s2, s3 = _legendre_sums(int_rad * int_rad / l12, ct, n_coeff)
    a = np.sum(c1 * u1, axis=-1)
    b = np.sum(c1 * u2, axis=-1)
    c = np.sum(c2 * u1, axis=-1)
    d = np.sum(c2 * u2, axis=-1)
    e = np.sum(c1 * c2, axis=-1)
    part1 = ct * a * d
    part2 = a * c + b * d
    k = a * d * s0 + (2.0 * part1 - part2) * s1 + (e + part1 - part2) * s2 + (b - ct * a) * (c - ct * d) * s3
    return k * (_MU0_SQ_OVER_4PI / l12)


def meg_dots(
    pts1: tuple,
    pts2: tuple | None,
    origin: np.ndarray,
    n1: int,
    n2: int,
    n_coeff: int = 100,
    int_rad: float = _INT_RAD,
) -> np.ndarray:
    """Sensor-by-sensor lead-field dot products ``(n1, n2)`` (``pts = (rmag, cosmag, w, owner)``).

    ``pts2=None`` computes the symmetric self products of ``pts1``, evaluating the kernel on the
    upper triangle of integration-point pairs only (the kernel is symmetric).
    """
    r1, c1, w1, o1 = pts1
    r1 = r1 - origin
    a1 = np.zeros((n1, len(w1)))
    a1[o1, np.arange(len(w1))] = w1
    if pts2 is None:
        i, j = np.triu_indices(len(w1))
        kv = _pair_kernel(r1[i], c1[i], r1[j], c1[j], n_coeff, int_rad)
        k = np.zeros((len(w1), len(w1)))
        k[i, j] = kv
        k[j, i] = kv
        return a1 @ k @ a1.T
    r2, c2, w2, o2 = pts2
    r2 = r2 - origin
    k = _pair_kernel(r1[:, None, :], c1[:, None, :], r2[None, :, :], c2[None, :, :], n_coeff, int_rad)
    a2 = np.zeros((n2, len(w2)))
    a2[o2, np.arange(len(w2))] = w2
    return a1 @ k @ a2.T


def projector(vectors: np.ndarray | None, n: int) -> np.ndarray:
    """SSP projector ``I - U U^T`` from projection vectors ``(k, n)`` restricted to the channels used.

    As MNE's ``make_projector``: each vector is normalised, the set re-orthogonalised by SVD and
    directions with singular value below 1 % of the largest dropped. ``None`` -> identity.
    """
    if vectors is None or len(vectors) == 0:
        return np.eye(n)
    v = np.asarray(vectors, dtype=np.float64).T.copy()
    norms = np.linalg.norm(v, axis=0)
    keep = norms > 0
    if not keep.any():
        return np.eye(n)
    v = v[:, keep] / norms[keep]
    u, s, _ = np.linalg.svd(v, full_matrices=False)
    u = u[:, (s / s[0]) > 1e-2]
    return np.eye(n) - u @ u.T


def mapping_matrix(
    self_dots: np.ndarray,
    cross_dots: np.ndarray,
    noise_std: np.ndarray,
    proj: np.ndarray,
    miss: float = 1e-4,
) -> tuple[np.ndarray, int]:
    """Minimum-norm mapping ``(n_to, n_from)`` from whitened, projected dot products.

    ``Dw = W P^T D P W`` (``W = diag(1/noise_std)``); truncated pseudo-inverse keeping the smallest
    rank whose cumulative singular-value sum reaches ``1 - miss``; ``M = X P^T W Dw^+ W``.
    """
    pd = proj.T @ self_dots @ proj
    wh = 1.0 / np.asarray(noise_std, dtype=np.float64)
    dw = pd * wh[:, None] * wh[None, :]
    u, s, vh = np.linalg.svd(dw, hermitian=True)
    varexp = np.cumsum(s)
    varexp /= varexp[-1]
    rank = int(np.where(varexp >= 1.0 - miss)[0][0] + 1)
    keep = (np.arange(len(s)) < rank) & (s > 0)
    s_inv = np.zeros_like(s)
    s_inv[keep] = 1.0 / s[keep]
    inv = (u * s_inv[None, :]) @ vh
    inv_w = inv * wh[:, None] * wh[None, :]
    return cross_dots @ proj.T @ inv_w, rank


def as_kinds(kinds: Any) -> np.ndarray:
    """Noise standard deviations of MNE's ad hoc covariance: 20 fT (mag), 5e-13 T/m (grad)."""
    std = {"mag": 20e-15, "grad": 5e-13}
    return np.array([std[k] for k in kinds])
