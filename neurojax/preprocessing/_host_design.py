"""Operators of a *traced* filter design: values built on the host in float64, tangents in JAX.

The block filter kernels need operators (powers of the state matrix, impulse responses, a
change of state basis) that float32 arithmetic cannot build accurately when poles lie near
``z = 1``: the companion-form state matrix there is far from normal, and forming ``A^L`` or a
balanced basis in float32 loses most digits. For concrete coefficients the kernels therefore
build everything on the host in float64. A learnable cutoff makes the coefficients traced; this
module keeps the float64 host build for the *values* (through :func:`jax.pure_callback`) and
takes the *derivatives* from a JAX build of the same operators in the same basis, so gradients
w.r.t. the coefficients still flow.

Why the split is exact: the basis ``P`` only changes rounding, not the filter, so it is held
constant (its value from the host) when differentiating; the tangents are then the JAX
derivatives of ``ops(sos; P)``. Their float32 rounding affects the gradient only at the level
of a few ulps of the derivative, not the filtered signal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["host_value_jax_tangent"]


def host_value_jax_tangent(
    host_build: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    jax_build: Callable[[jax.Array, tuple[jax.Array, ...]], tuple[jax.Array, ...]],
    sos: jax.Array,
    shapes: tuple[tuple[int, ...], ...],
    dtype,
) -> tuple[jax.Array, ...]:
    """Operators with values from ``host_build`` and derivatives from ``jax_build``.

    Arguments:
        host_build: ``sos (float64, normalised, NumPy) -> operators`` (float64 NumPy arrays).
        jax_build: ``(sos, host_values) -> operators`` in JAX; it may read constants such as the
            state basis from ``host_values`` (treated as constants) and must agree with
            ``host_build`` up to rounding.
        sos: traced ``(n_sections, 6)`` coefficients (any batch of them is handled by ``vmap``).
        shapes: static shapes of the operators ``host_build`` returns.
        dtype: dtype of the returned operators.

    Returns:
        The operators, each of ``shapes[i]`` in ``dtype``.
    """
    dtype = jnp.dtype(dtype)
    result_shapes = tuple(jax.ShapeDtypeStruct(s, dtype) for s in shapes)

    def on_host(sos_np):
        sos64 = np.asarray(sos_np, dtype=np.float64)
        ops = host_build(sos64 / sos64[:, 3:4])
        return tuple(np.asarray(o, dtype=dtype) for o in ops)

    def values(s):
        return jax.pure_callback(on_host, result_shapes, s, vmap_method="sequential")

    @jax.custom_jvp
    def build(s):
        return values(s)

    @build.defjvp
    def _jvp(primals, tangents):
        (s,), (ds,) = primals, tangents
        out = values(s)
        constants = tuple(jax.lax.stop_gradient(o) for o in out)
        _, d_out = jax.jvp(partial(_normalised_build, jax_build, constants=constants, dtype=dtype), (s,), (ds,))
        return out, d_out

    return build(sos)


def _normalised_build(jax_build, s, *, constants, dtype):
    s = (s / s[:, 3:4]).astype(dtype)
    return tuple(jax_build(s, constants))
