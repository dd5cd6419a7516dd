"""Edge extensions for zero-phase filtering (SciPy's ``padtype`` values).

``odd`` reflects the signal through its end points (``2 x_0 - x_{n..1}``), ``even`` mirrors it,
``constant`` repeats the end values. Each adds ``n`` samples on both ends of the last axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["odd_extension", "even_extension", "constant_extension", "extend_edges", "edge_pieces"]


def odd_extension(x: jax.Array, n: int) -> jax.Array:
    if n == 0:
        return x
    left = 2 * x[..., :1] - x[..., n:0:-1]
    right = 2 * x[..., -1:] - x[..., -2 : -n - 2 : -1]
    return jnp.concatenate([left, x, right], axis=-1)


def even_extension(x: jax.Array, n: int) -> jax.Array:
    if n == 0:
        return x
    return jnp.concatenate([x[..., n:0:-1], x, x[..., -2 : -n - 2 : -1]], axis=-1)


def constant_extension(x: jax.Array, n: int) -> jax.Array:
    if n == 0:
        return x
    shape = x.shape[:-1] + (n,)
    return jnp.concatenate([jnp.broadcast_to(x[..., :1], shape), x, jnp.broadcast_to(x[..., -1:], shape)], axis=-1)


def extend_edges(x: jax.Array, padtype: str | None, n: int) -> jax.Array:
    if padtype is None or n == 0:
        return x
    return {"odd": odd_extension, "even": even_extension, "constant": constant_extension}[padtype](x, n)


def edge_pieces(x: jax.Array, padtype: str | None, n: int) -> tuple[jax.Array, jax.Array]:
    """The ``(left, right)`` samples :func:`extend_edges` would add, without copying ``x``.

    Each has shape ``(..., n)`` (``(..., 0)`` for ``padtype=None`` or ``n = 0``); the fused
    zero-phase kernel filters them apart from the signal itself.
    """
    if padtype is None or n == 0:
        empty = jnp.zeros(x.shape[:-1] + (0,), x.dtype)
        return empty, empty
    if padtype == "odd":
        return 2 * x[..., :1] - x[..., n:0:-1], 2 * x[..., -1:] - x[..., -2 : -n - 2 : -1]
    if padtype == "even":
        return x[..., n:0:-1], x[..., -2 : -n - 2 : -1]
    shape = x.shape[:-1] + (n,)
    return jnp.broadcast_to(x[..., :1], shape), jnp.broadcast_to(x[..., -1:], shape)
