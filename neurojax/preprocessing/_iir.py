"""Second-order-section IIR kernels shared by the filter, resample and ASR stages.

Each section is a biquad in direct form II transposed (DF-II-T), the form used by
``scipy.signal.sosfilt``. For section ``k`` with coefficients ``[b0, b1, b2, 1, a1, a2]``::

    y[t]  = b0 x[t] + z0[t-1]
    z0[t] = b1 x[t] - a1 y[t] + z1[t-1]
    z1[t] = b2 x[t] - a2 y[t]

Running the cascade as second-order sections keeps float32 stable where the expanded (b, a)
polynomial would move poles outside the unit circle.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["sosfilt_scan"]


def sosfilt_scan(
    sos: Float[Array, "n_sections 6"],
    x: Float[Array, "*batch n_times"],
    zi: Float[Array, "n_sections *batch 2"] | None = None,
) -> tuple[Float[Array, "*batch n_times"], Float[Array, "n_sections *batch 2"]]:
    """Filter ``x`` along its last axis with a cascade of biquads, one time step per scan step.

    Arguments:
        sos: ``(n_sections, 6)`` rows ``[b0, b1, b2, a0, a1, a2]``; normalised by ``a0`` here.
        x: input, time on the last axis.
        zi: initial state in ``scipy.signal.sosfilt``'s layout ``(n_sections, *batch, 2)``;
            zeros when ``None``.

    Returns:
        ``(y, zf)``: the output and the final state, same layouts as ``x`` and ``zi``.
    """
    sos = sos / sos[:, 3:4]
    batch = x.shape[:-1]
    n_sections = sos.shape[0]
    if zi is None:
        zi = jnp.zeros((n_sections, *batch, 2), x.dtype)
    b0, b1, b2 = (sos[:, i].reshape((n_sections,) + (1,) * len(batch)) for i in range(3))
    a1, a2 = (sos[:, i].reshape((n_sections,) + (1,) * len(batch)) for i in (4, 5))

    def step(state, xt):
        z0, z1 = state
        v = xt
        new_z0, new_z1 = [], []
        for k in range(n_sections):  # static, small: sections of one design
            y = b0[k] * v + z0[k]
            new_z0.append(b1[k] * v - a1[k] * y + z1[k])
            new_z1.append(b2[k] * v - a2[k] * y)
            v = y
        return (jnp.stack(new_z0), jnp.stack(new_z1)), v

    x_t = jnp.moveaxis(x, -1, 0)
    (z0, z1), y_t = jax.lax.scan(step, (zi[..., 0], zi[..., 1]), x_t)
    return jnp.moveaxis(y_t, 0, -1), jnp.stack([z0, z1], axis=-1)
