"""ASR processing numerics (clean_rawdata 2.11 ``asr_process``), batched over update points.

Once the statistics signal (the shaped data) is known, every update point is independent:

* the covariance at update point ``n`` averages the outer products of the last ``N`` shaped
  samples (``N - 1`` samples of history from earlier calls, zeros at the very start);
* ``Sigma_n = U diag(lam) U^T`` (ascending); component ``i`` is kept iff ``lam_i < ||T u_i||^2``
  or it is among the ``C - maxdims - 1`` weakest (so at most ``maxdims + 1`` are removed, as in the
  reference);
* reconstruction ``R = Sigma U_K (U_K^T Sigma U_K)^{-1} U_K^T`` with ``Sigma = M^2`` the calibration
  covariance (the conditional mean of the rejected components given the kept ones; equal to the
  reference's ``M pinv(K U^T M) U^T``), written with a diagonal weight ``w`` so it has a fixed shape::

      R(w) = Sigma U (diag(w) G + diag(g) (I - diag(w)))^{-1} diag(w) U^T,  G = U^T Sigma U, g = diag(G)

  which is the hard reconstruction for ``w`` in {0, 1} and the smooth (Bayesian) relaxation of the
  spec for ``0 < w < 1``;
* samples between two update points are blended with raised-cosine weights between the previous
  and the new ``R`` and copied bit-exactly when both are the identity.

So the eigendecompositions are batched (certified trivial updates skip them) and the blending is two
small matmuls per repaired interval, done in place in one work buffer; memory is linear in the
duration (one ``N``-sample window per update point is gathered in batches, and the processing kernel
holds about one recording-sized temporary).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._linalg import symmetrize
from ._yulewalk import round_half_away

__all__ = [
    "update_points", "blend_layout", "window_covariances", "eigh_safe", "reconstruction", "reconstruction_fast",
    "certified_trivial", "reconstruction_for_mode", "blend_in_place",
]


def update_points(length: int, stepsize: int, phase: int = 0, first: bool = True, final: bool = True) -> np.ndarray:
    """1-based update positions within a processed range of ``length`` samples.

    Positions are the multiples of ``stepsize`` counted from the start of the recording (``phase``
    samples of this grid were consumed by earlier calls), plus ``length`` itself when ``final``
    (the end of the recording, as in the reference), plus position 1 on the very first call.
    """
    first_pt = stepsize - (phase % stepsize)
    pts = list(range(first_pt, length + 1, stepsize))
    if final and (not pts or pts[-1] != length):
        pts.append(length)
    if first and (not pts or pts[0] != 1):
        pts.insert(0, 1)
    return np.asarray(pts, dtype=int)


def blend_layout(points: np.ndarray, start: int = 0):
    """Host-side index tables for blending work positions ``start+1 .. points[-1]`` (1-based).

    Returns ``(gather, weight, scatter)``: ``gather`` (n_upd, k_max) 0-based positions of the
    samples of each interval (padded with ``points[-1]``, a dummy column), ``weight`` the
    raised-cosine weights ``(1 - cos(pi j / k)) / 2`` (j = 1..k; the last one exactly 1), and
    ``scatter`` mapping each processed position back to its flat slot in ``gather``.
    """
    prev = np.concatenate([[start], points[:-1]])
    lengths = points - prev
    k_max = int(lengths.max())
    n_upd = len(points)
    end = int(points[-1])
    gather = np.full((n_upd, k_max), end, dtype=int)
    weight = np.zeros((n_upd, k_max))
    scatter = np.zeros(end - start, dtype=int)
    for j, (p0, k) in enumerate(zip(prev, lengths)):
        gather[j, :k] = np.arange(p0, p0 + k)
        weight[j, :k] = (1 - np.cos(np.pi * np.arange(1, k + 1) / k)) / 2
        scatter[p0 - start : p0 - start + k] = j * k_max + np.arange(k)
    return gather, weight, scatter


def window_covariances(xf_pad: Float[Array, "C T"], ends, n_win: int, batch_size: int = 64) -> Float[Array, "n C C"]:
    """``W W^T / N`` for the ``N``-sample window ending at each 0-based index in ``ends``."""
    starts = jnp.asarray(ends) - n_win + 1

    def one(s):
        w = jax.lax.dynamic_slice_in_dim(xf_pad, s, n_win, axis=1)
        return w @ w.T / n_win

    return jax.lax.map(one, starts, batch_size=min(batch_size, len(ends)))


@jax.custom_jvp
def eigh_safe(a: Float[Array, "... n n"]) -> tuple[Array, Array]:
    """``eigh`` whose eigenvector derivative is finite at (near-)repeated eigenvalues.

    The JVP replaces ``1 / (lam_j - lam_i)`` by ``d / (d^2 + eps^2)``, ``eps`` = 1e-6 x the mean
    eigenvalue magnitude; identical to the exact derivative for well-separated eigenvalues.
    """
    lam, u = jnp.linalg.eigh(symmetrize(a))
    return lam, u


@eigh_safe.defjvp
def _eigh_safe_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lam, u = jnp.linalg.eigh(symmetrize(a))
    ut = jnp.swapaxes(u, -1, -2)
    dm = ut @ symmetrize(da) @ u
    gap = lam[..., None, :] - lam[..., :, None]  # lam_j - lam_i
    eps = 1e-6 * jnp.mean(jnp.abs(lam), axis=-1)[..., None, None] + jnp.finfo(lam.dtype).tiny
    f = gap / (gap**2 + eps**2)
    f = f * (1 - jnp.eye(lam.shape[-1], dtype=lam.dtype))
    dlam = jnp.diagonal(dm, axis1=-2, axis2=-1)
    du = u @ (f * dm)
    return (lam, u), (dlam, du)


def _keep(lam: Array, u: Array, t_mat: Array, maxdims: int) -> tuple[Array, np.ndarray]:
    """Hard decisions: component ``i`` is kept iff ``lam_i < ||T u_i||^2`` or it is among the
    ``C - maxdims - 1`` weakest (protected). One helper, so every path decides identically."""
    c = t_mat.shape[0]
    theta = jnp.sum((t_mat @ u) ** 2, axis=-2)  # ||T u_i||^2
    protected = (np.arange(c) + 1) < (c - maxdims)
    return (lam < theta) | protected, protected


def reconstruction(
    covs: Float[Array, "n C C"],
    v: Float[Array, "C C"],
    stdevs: Float[Array, " C"],
    tau: Float[Array, " C"],
    maxdims: int,
    mode: str = "hard",
    temperature: float = 0.1,
    eig: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Reconstruction matrices ``(n, C, C)`` and ``trivial`` flags ``(n,)`` at each update point.

    ``mode="hard"``: exact keep/reject decisions; the gradient flows through a sigmoid surrogate of
    the decision (straight-through), ``w_i = sigmoid((log theta_i - log lam_i) / temperature)``.
    ``mode="smooth"``: the decisions are replaced by ``w_i`` in the forward pass too.
    ``eig``: ``eigh_safe(covs)`` when the caller already has it (not recomputed).
    """
    c = v.shape[0]
    lam, u = eigh_safe(covs) if eig is None else eig  # ascending
    t_mat = tau[:, None] * v.T  # T = diag(tau) V^T
    keep, protected = _keep(lam, u, t_mat, maxdims)
    tiny = jnp.finfo(lam.dtype).tiny
    if mode == "hard":
        # The surrogate only carries the cutoff's influence: with U and lam detached, the data
        # gradient is the exact (piecewise) derivative of the hard forward pass.
        lam_s = jax.lax.stop_gradient(lam)
        theta_s = jnp.sum((t_mat @ jax.lax.stop_gradient(u)) ** 2, axis=-2)
    else:
        lam_s, theta_s = lam, jnp.sum((t_mat @ u) ** 2, axis=-2)
    soft = jax.nn.sigmoid((jnp.log(jnp.maximum(theta_s, tiny)) - jnp.log(jnp.maximum(lam_s, tiny))) / temperature)
    soft = jnp.where(protected, 1.0, soft)
    hard = keep.astype(lam.dtype)
    w = hard + soft - jax.lax.stop_gradient(soft) if mode == "hard" else soft
    sigma = (v * stdevs**2) @ v.T
    su = sigma @ u  # (n, C, C)
    g = jnp.swapaxes(u, -1, -2) @ su
    gd = jnp.diagonal(g, axis1=-2, axis2=-1)
    a = w[..., :, None] * g + jnp.eye(c, dtype=g.dtype) * (gd * (1 - w))[..., None, :]
    rhs = w[..., :, None] * jnp.swapaxes(u, -1, -2)
    r = su @ jnp.linalg.solve(a, rhs)
    if mode == "hard":
        trivial = jnp.all(keep, axis=-1)
        exact = jnp.where(trivial[..., None, None], jnp.eye(c, dtype=r.dtype), r)
        r = r - jax.lax.stop_gradient(r) + jax.lax.stop_gradient(exact)
    else:
        trivial = jnp.zeros(lam.shape[:-1], dtype=bool)
    return r, trivial


def certified_trivial(
    covs: Float[Array, "n C C"], v: Float[Array, "C C"], tau: Float[Array, " C"]
) -> Array:
    """``(n,)`` flags: updates whose every component is provably kept, without an eigendecomposition.

    Component ``i`` (eigenvector ``u_i`` of ``Sigma_n``, eigenvalue ``lam_i = u_i^T Sigma_n u_i``) is
    kept iff ``lam_i < ||T u_i||^2 = u_i^T Q u_i`` with ``Q = T^T T = V diag(tau^2) V^T``. If
    ``Q - Sigma_n`` is positive definite, ``u^T (Q - Sigma_n) u > 0`` for every ``u``, in particular
    for every eigenvector, so the update is trivial (``R = I``). One Cholesky factorisation tests
    this (it fails, giving NaN, otherwise). The test is sufficient, not necessary: uncertified
    updates take the eigendecomposition path. A relative margin (``Sigma_n`` scaled by ``1 + eps``)
    keeps updates within rounding of the threshold on that exact path.
    """
    eps = 1e-3 if covs.dtype == jnp.float32 else 1e-8
    q = (v * tau**2) @ v.T
    chol = jnp.linalg.cholesky(symmetrize(q - (1 + eps) * covs))
    return jnp.all(jnp.isfinite(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def reconstruction_fast(covs, v, stdevs, tau, maxdims: int, temperature):
    """Hard-mode :func:`reconstruction` that skips the eigendecomposition of certified updates.

    Updates passing :func:`certified_trivial` get ``R = I`` directly (what the eigh path returns for
    them, exactly); the others are eigendecomposed one at a time under ``lax.cond`` and, if every
    component is kept, also get ``R = I``; only the remaining ones build ``R`` (the eigh path), so on
    a CPU the work is proportional to the number of uncertified and of repaired updates. Under ``vmap`` the condition becomes
    a select and both branches run (still correct). Derivatives (``custom_jvp``) are those of the
    eigh path for every update, so the cutoff surrogate and data gradients are unchanged.
    """
    c = v.shape[0]
    ok = certified_trivial(covs, v, tau)
    t_mat = tau[:, None] * v.T

    def identity(cov):
        return jnp.eye(c, dtype=cov.dtype), jnp.asarray(True)

    def full(cov, lam, u):
        r, t = reconstruction(cov[None], v, stdevs, tau, maxdims, "hard", temperature, eig=(lam, u))
        return r[0], t[0]

    def decide(cov):
        # often an uncertified update is still trivial: decide from the eigendecomposition (the
        # dominant cost) and build R (from the same eigendecomposition) only when something is rejected
        lam, u = eigh_safe(cov[None])
        keep, _ = _keep(lam, u, t_mat, maxdims)
        return jax.lax.cond(jnp.all(keep), lambda *a: identity(cov), full, cov, lam, u)

    def one(args):
        cov, certified = args
        return jax.lax.cond(certified, identity, decide, cov)

    return jax.lax.map(one, (covs, ok))


@reconstruction_fast.defjvp
def _reconstruction_fast_jvp(maxdims, primals, tangents):
    def full(covs, v, stdevs, tau, temperature):
        return reconstruction(covs, v, stdevs, tau, maxdims, "hard", temperature)

    return jax.jvp(full, primals, tangents)


def reconstruction_for_mode(covs, v, stdevs, tau, maxdims: int, mode: str, temperature):
    """The reconstruction the processing kernels use: the certified fast path in hard mode.

    Soft modes need every update's eigendecomposition for their smooth keep weights, so they
    always take :func:`reconstruction`.
    """
    if mode == "hard":
        return reconstruction_fast(covs, v, stdevs, tau, maxdims, temperature)
    return reconstruction(covs, v, stdevs, tau, maxdims, mode, temperature)


def blend_in_place(
    work: Float[Array, "C L"],
    r: Float[Array, "n C C"],
    trivial: Array,
    r_prev: Float[Array, "C C"],
    prev_trivial: Array,
    points: np.ndarray,
) -> Float[Array, "C L"]:
    """Raised-cosine blend of ``work`` between consecutive reconstructions, interval by interval.

    Interval ``j`` holds work columns ``points[j-1] .. points[j] - 1`` (0-based; from 0 for the
    first), blended as ``beta R_j y + (1 - beta) R_{j-1} y`` with ``beta`` from
    :func:`blend_layout`. Each interval is read from and written back into the one work buffer, so
    no second copy of the recording is made; intervals between two trivial updates are left as they
    are (bit-exact copy). ``work`` needs ``max interval length`` columns of padding after
    ``points[-1]``; returns the blended buffer (same shape).
    """
    prev = np.concatenate([[0], points[:-1]])
    lengths = points - prev
    weight = blend_layout(points)[1]
    k_max = weight.shape[1]
    if work.shape[1] < prev[-1] + k_max:
        raise ValueError(f"work buffer too short: {work.shape[1]} columns, need {prev[-1] + k_max}")
    r_before = jnp.concatenate([r_prev[None], r[:-1]], axis=0)
    t_before = jnp.concatenate([jnp.asarray(prev_trivial)[None], trivial[:-1]], axis=0)
    copy = trivial & t_before
    beta = jnp.asarray(weight, work.dtype)[:, None, :]
    inside = jnp.asarray(np.arange(k_max)[None, :] < lengths[:, None])[:, None, :]
    starts = jnp.asarray(prev, jnp.int32)

    def body(j, work):
        y = jax.lax.dynamic_slice_in_dim(work, starts[j], k_max, axis=1)

        def mix():
            mixed = beta[j] * (r[j] @ y) + (1 - beta[j]) * (r_before[j] @ y)
            return jnp.where(inside[j], mixed, y)  # columns past the interval belong to the next one

        new = jax.lax.cond(copy[j], lambda: y, mix)
        return jax.lax.dynamic_update_slice_in_dim(work, new, starts[j], axis=1)

    return jax.lax.fori_loop(0, len(points), body, work)


class _Params(NamedTuple):
    n_win: int
    lookahead: int
    stepsize: int
    maxdims: int


def _process_params(c, sfreq, window_size, step_size, lookahead, max_dims) -> _Params:
    if sfreq is not None:
        w = 0.5 if window_size is None else window_size / sfreq
        w = max(w, 1.5 * c / sfreq)
        n_win = int(round_half_away(w * sfreq))
        look = int(round_half_away(w * sfreq / 2)) if lookahead is None else int(lookahead)
        step = int(np.floor(sfreq * w / 2)) if step_size is None else int(step_size)
    else:
        n_win = max(100 if window_size is None else int(window_size), int(round_half_away(1.5 * c)))
        look = int(round_half_away(n_win / 2)) if lookahead is None else int(lookahead)
        step = max(n_win // 2, 1) if step_size is None else int(step_size)
    if step < 1:
        raise ValueError(f"step_size must be a positive number of samples, got {step}")
    if not 0 <= look <= n_win:
        raise ValueError(f"lookahead must lie in [0, window] = [0, {n_win}] samples, got {look}")
    maxdims = int(round_half_away(c * max_dims)) if max_dims < 1 else int(max_dims)
    return _Params(n_win, look, step, maxdims)
