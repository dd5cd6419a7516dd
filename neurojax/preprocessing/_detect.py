"""Outlier-removal loops on log Riemannian distances: the robust detector and pyRiemann's Potato.

Both loops re-estimate a reference (Karcher mean of the currently clean matrices), score every
matrix by its log distance to it, and drop (one-sided, never re-admitted) those whose z-score
reaches the threshold, until the clean set stops changing or the iteration cap is hit. They differ
in the scores:

* robust (our default): ``z = (d − median) / (1.4826 · MAD)`` over the clean set, the reference
  mean warm-started from the previous iteration and computed with unit Karcher steps whose last
  eigendecomposition also yields the distances (about half the eigendecompositions of the
  pyRiemann schedule; same fixed point). The median and the MAD ignore up to half of the
  set, so a tight cluster of artifacts cannot inflate the scale and hide itself.
* Potato (Barachant et al. 2013, pyRiemann semantics): ``z = (d − mean) / std`` (ddof 0), the mean
  restarted from the Euclidean mean each iteration. With a fraction ε of similar outliers every
  outlier scores exactly ``√((1 − ε)/ε)`` on the first pass, 2.0 at ε = 20 %, so nothing is removed.

Everything is a ``lax.while_loop`` over static shapes (masks, not boolean indexing): one compiled
program per input shape, vmappable over recordings.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ._riemann import distance, euclid_mean, karcher_mean_fast, karcher_mean_info, safe_sqrt

__all__ = ["MAD_SCALE", "log_distance", "masked_median", "robust_center_scale", "robust_fit", "potato_fit"]

#: ``1 / Φ⁻¹(3/4)``: makes the MAD a consistent estimator of a Gaussian standard deviation.
MAD_SCALE = 1.482602218505602


@partial(jax.jit, static_argnames=("floor",))
def log_distance(c: Array, ref: Array, floor: bool) -> Array:
    """``log δ(C_i, ref)``; with ``floor`` distances below √eps (rounding level) are raised to it,
    so identical matrices give equal finite scores instead of ``log 0``."""
    d = distance(c, ref)
    if floor:
        d = jnp.maximum(d, jnp.sqrt(jnp.finfo(d.dtype).eps))
    return jnp.log(d)


def masked_median(v: Float[Array, " n"], mask: Bool[Array, " n"]) -> Float[Array, ""]:
    """``numpy.median(v[mask])`` with static shapes (mean of the two middle values)."""
    n = jnp.sum(mask)
    s = jnp.sort(jnp.where(mask, v, jnp.inf))
    lo, hi = jnp.maximum((n - 1) // 2, 0), jnp.maximum(n // 2, 0)
    return 0.5 * (s[lo] + s[hi])


def robust_center_scale(d: Array, mask: Array) -> tuple[Array, Array]:
    """Median and ``1.4826·MAD`` of ``d[mask]``; the scale is floored at ``1e-12 (1 + |median|)``."""
    m = masked_median(d, mask)
    s = MAD_SCALE * masked_median(jnp.abs(d - m), mask)
    return m, jnp.maximum(s, 1e-12 * (1.0 + jnp.abs(m)))


def _normalised(w: Array) -> Array:
    return w / jnp.sum(w)


@partial(jax.jit, static_argnames=("n_iter", "tol", "maxiter"))
def robust_fit(
    covs: Float[Array, "m n n"], n_std: Array, mask0: Bool[Array, " m"], *, n_iter: int, tol: float, maxiter: int
) -> dict[str, Array]:
    """Iterative robust outlier removal. Returns the reference mean, the median/scale of the clean
    set used for the final scores, the final z-scores and log distances, the clean mask the
    statistics were computed on, and the number of outer iterations."""
    dtype = covs.dtype
    m0 = euclid_mean(covs, _normalised(mask0.astype(dtype)))

    def cond(state):
        return (state["it"] < n_iter) & state["changed"]

    def body(state):
        keep = state["keep"]
        w = _normalised(keep.astype(dtype))
        mean, d2, _ = karcher_mean_fast(covs, w, state["mean"], tol, maxiter)
        d = jnp.log(jnp.maximum(safe_sqrt(d2), jnp.sqrt(jnp.finfo(dtype).eps)))
        center, scale = robust_center_scale(d, keep)
        z = (d - center) / scale
        new_keep = keep & (z < n_std)
        return dict(
            it=state["it"] + 1,
            keep=new_keep,
            stats_keep=keep,
            mean=mean,
            center=center,
            scale=scale,
            zscore=z,
            logdist=d,
            changed=jnp.any(new_keep != keep),
        )

    zeros = jnp.zeros(covs.shape[0], dtype)
    state = dict(
        it=jnp.asarray(0),
        keep=mask0,
        stats_keep=mask0,
        mean=m0,
        center=jnp.zeros((), dtype),
        scale=jnp.ones((), dtype),
        zscore=zeros,
        logdist=zeros,
        changed=jnp.asarray(True),
    )
    return jax.lax.while_loop(cond, body, state)


@partial(jax.jit, static_argnames=("n_iter_max", "tol", "maxiter"))
def potato_fit(
    covs: Float[Array, "m n n"],
    sample_weight: Float[Array, " m"],
    y0: Bool[Array, " m"],
    threshold: Array,
    *,
    n_iter_max: int,
    tol: float,
    maxiter: int,
) -> dict[str, Array]:
    """pyRiemann ``Potato.fit``: Euclidean-initialised mean of the clean set, mean/std (ddof 0) of
    its log distances, one-sided rejection, stop when the labels repeat. ``empty`` flags the case
    where every matrix was rejected (pyRiemann raises)."""
    dtype = covs.dtype

    def cond(state):
        return (state["it"] < n_iter_max) & ~state["done"]

    def body(state):
        ix = state["y"]
        n_clean = jnp.sum(ix)
        w = _normalised(jnp.where(ix, sample_weight, 0.0))
        mean = karcher_mean_info(covs, w, euclid_mean(covs, w), tol, maxiter)[0]
        d = log_distance(covs, mean, floor=False)
        mu = jnp.sum(jnp.where(ix, d, 0.0)) / n_clean
        sigma = jnp.sqrt(jnp.sum(jnp.where(ix, (d - mu) ** 2, 0.0)) / n_clean)
        y = ix & ((d - mu) / sigma < threshold)
        empty = n_clean == 0
        return dict(
            it=state["it"] + 1,
            y=y,
            mean=mean,
            mu=mu,
            sigma=sigma,
            done=jnp.all(y == ix) | empty,
            empty=empty,
        )

    n = covs.shape[-1]
    state = dict(
        it=jnp.asarray(0),
        y=y0,
        mean=jnp.eye(n, dtype=dtype),
        mu=jnp.zeros((), dtype),
        sigma=jnp.ones((), dtype),
        done=jnp.asarray(False),
        empty=jnp.asarray(False),
    )
    return jax.lax.while_loop(cond, body, state)
