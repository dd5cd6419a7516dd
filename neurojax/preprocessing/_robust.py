"""Robust statistics along the time axis without sorting.

XLA's CPU sort is slow (about 1 s for a 376 x 14400 array, 15x NumPy's partition), and robust
channel statistics need several medians per channel. ``quantile_bisect`` finds a quantile by
bisection on the value: each step counts the samples below the midpoint, so 40 steps cost 40
vectorised passes and give the quantile to ``range * 2**-40`` (well below float32 resolution
for data of bounded range). It returns the lower ("inverted CDF") quantile; for an even count
the median differs from NumPy's midpoint average by at most half the gap between the two central
samples, irrelevant for detection thresholds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["quantile_bisect", "median_bisect", "mad_bisect"]

_N_ITER = 40


def quantile_bisect(x: jax.Array, q: float) -> jax.Array:
    """``q``-quantile of ``x`` along the last axis (lower quantile, bisection on the value)."""
    n = x.shape[-1]
    target = jnp.ceil(q * n).astype(jnp.int32)
    target = jnp.clip(target, 1, n)
    lo = jnp.min(x, axis=-1)
    hi = jnp.max(x, axis=-1)

    def body(_, carry):
        lo, hi = carry
        mid = 0.5 * (lo + hi)
        count = jnp.sum(x <= mid[..., None], axis=-1)
        enough = count >= target
        return jnp.where(enough, lo, mid), jnp.where(enough, mid, hi)

    lo, hi = jax.lax.fori_loop(0, _N_ITER, body, (lo, hi))
    return hi


def median_bisect(x: jax.Array) -> jax.Array:
    """Median along the last axis (see module docstring)."""
    return quantile_bisect(x, 0.5)


def mad_bisect(x: jax.Array) -> jax.Array:
    """Median absolute deviation from the median along the last axis (unscaled)."""
    med = median_bisect(x)
    return median_bisect(jnp.abs(x - med[..., None]))
