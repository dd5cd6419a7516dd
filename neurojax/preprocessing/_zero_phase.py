"""Fused zero-phase (forward-backward) block kernel behind ``sosfiltfilt`` and the MNE preset.

SciPy's ``sosfiltfilt`` extends the signal, filters it forward, reverses it, filters again and
crops. Done literally that is about four full-size copies of the signal (the extension, the
forward output, its reversal, the backward output) plus the crop. Here the signal ``x`` is
read twice and the output written once:

* only the edges (``left``/``right``, the pad samples, a few hundred to a few thousand per row)
  are filtered separately, by a small block runner;
* the blocks of ``x`` itself (``X``, rows of ``L`` samples, a free reshape when ``L`` divides
  the length) go through one GEMM that produces the inputs of *both* recursions, and one GEMM
  (plus a small one on the block states) that writes the output.

Why that works. With the dense block state-space form of the cascade (spec section 5; ``O``,
``T``, ``R``, ``A^L`` from :func:`._iir.block_operators`), the forward pass over block ``b`` is

    y1_b = O s_b + T x_b,                     s_{b+1} = A^L s_b + R x_b,

and the backward pass is the same system run on the time-reversed forward output. With ``J``
the ``L x L`` reversal, the backward state entering block ``b`` from the right, ``w_b``, obeys

    w_{b-1} = A^L w_b + R J y1_b = A^L w_b + (R J T) x_b + (R J O) s_b,
    y_b     = J O w_b + J T J y1_b = (J T J T) x_b + (J T J O) s_b + (J O) w_b.

So ``X @ [R^T | (R J T)^T]`` feeds both recursions, and ``y = X K_out + [S | W] K_state``.
The compositions are formed once per design (on the host in float64 for concrete sections).
All products are plain 2-D GEMMs over ``(rows * blocks, L)``, so reverse-mode autodiff's
weight gradients (needed for a learnable cutoff) contract over the long axis without
transposing the signal.

Non-finite input: a NaN/Inf anywhere in ``x`` or its edges reaches the final backward state
(every state depends on all earlier inputs of its pass, and the backward pass depends on all
forward states), so the check for traced input is one ``isfinite`` on that small vector instead
of a separate full pass over the input.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._iir import host_block_operators, traced_block_operators

__all__ = ["ZeroPhaseOps", "zero_phase_operators", "zero_phase_rows"]

_HI = jax.lax.Precision.HIGHEST


class ZeroPhaseOps(NamedTuple):
    """Operators of the fused kernel (internal state basis ``s' = P^-1 s``), all in one dtype."""

    obs: jax.Array  # O (L, M): output from the block's initial state
    toep: jax.Array  # T (L, L): lower-triangular Toeplitz of the impulse response
    rmat: jax.Array  # R (M, L): state contribution of the block's samples
    a_pow: jax.Array  # A^L (M, M)
    a: jax.Array  # A (M, M)
    p_inv: jax.Array  # P^-1 (M, M): SciPy zi layout -> internal basis
    k_in: jax.Array  # [R^T | (R J T)^T] (L, 2M)
    k_sin: jax.Array  # (R J O)^T (M, M): forward state -> backward input
    k_out: jax.Array  # (J T J T)^T (L, L)
    k_state: jax.Array  # [(J T J O)^T ; (J O)^T] (2M, L)


def _compose(obs, toep, rmat, xp):
    """The composed operators ``(k_in, k_sin, k_out, k_state)`` in the namespace ``xp``."""
    mm = (lambda u, v: jnp.matmul(u, v, precision=_HI)) if xp is jnp else np.matmul
    toep_r = toep[::-1, ::-1]  # J T J
    rmat_r = rmat[:, ::-1]  # R J
    k_in = xp.concatenate([rmat.T, mm(rmat_r, toep).T], axis=1)
    k_sin = mm(rmat_r, obs).T
    k_out = mm(toep_r, toep).T
    k_state = xp.concatenate([mm(toep_r, obs).T, obs[::-1].T], axis=0)
    return k_in, k_sin, k_out, k_state


def zero_phase_operators(sos, block_len: int, dtype) -> ZeroPhaseOps:
    """Build :class:`ZeroPhaseOps` for sections ``sos`` (rows ``[b0, b1, b2, a0, a1, a2]``).

    Concrete sections: everything (including the compositions) in float64 on the host, in the
    balanced state basis for float32 work (see :func:`._iir.balancing_transform`), then cast.
    Traced sections: the same host values, with derivatives from a JAX build of the operators in
    that basis (:func:`._iir.traced_block_operators`).
    """
    if not isinstance(sos, jax.core.Tracer):
        ops = host_block_operators(sos, block_len, dtype)
        ops = tuple(jnp.asarray(o, dtype=dtype) for o in ops + _compose(*ops[:3], np))
    else:
        m = 2 * sos.shape[0]
        extra_shapes = ((block_len, 2 * m), (m, m), (block_len, block_len), (2 * m, block_len))
        ops = traced_block_operators(sos, block_len, dtype, compose=(
            lambda o: _compose(*o[:3], np), lambda o: _compose(*o[:3], jnp), extra_shapes))
    obs, toep, rmat, a_pow, a, _, p_inv = ops[:7]
    return ZeroPhaseOps(obs, toep, rmat, a_pow, a, p_inv, *ops[7:])


def _scan_states(u, a_pow, s0, reverse: bool):
    """States of ``s <- s A^L^T + u_b`` over the block axis 0 of ``u (nb, n, M)``.

    Returns ``(states (nb, n, M), s_last)``: ``states[b]`` is the state *entering* block ``b``
    (from the left for the forward pass, from the right when ``reverse``).
    """

    def step(s, ub):
        return jnp.matmul(s, a_pow.T, precision=_HI) + ub, s

    s_last, states = jax.lax.scan(step, s0, u, reverse=reverse)
    return states, s_last


def _run_small(ops: ZeroPhaseOps, x: jax.Array, s0: jax.Array):
    """Causal block filter of short rows ``x (n, m)`` from states ``s0 (n, M)``: ``(y, s_end)``.

    Used for the edges only (a few blocks), so the zero padding to whole blocks is cheap; the
    end state is taken after sample ``m``, not after the padding.
    """
    n, m = x.shape
    if m == 0:
        return x, s0
    L = ops.toep.shape[0]
    nb = -(-m // L)
    pad = nb * L - m
    xb = jnp.pad(x, ((0, 0), (0, pad))).reshape(n * nb, L)
    u = jnp.matmul(xb, ops.rmat.T, precision=_HI).reshape(n, nb, -1)
    states, s_last = _scan_states(jnp.swapaxes(u, 0, 1), ops.a_pow, s0, reverse=False)
    states = jnp.swapaxes(states, 0, 1).reshape(n * nb, -1)
    y = jnp.matmul(states, ops.obs.T, precision=_HI) + jnp.matmul(xb, ops.toep.T, precision=_HI)
    y = y.reshape(n, nb * L)[:, :m]
    if pad:
        rem = L - pad
        s_end = jnp.matmul(states[(nb - 1) :: nb], jnp.linalg.matrix_power(ops.a, rem).T, precision=_HI)
        s_end = s_end + jnp.matmul(xb[(nb - 1) :: nb, :rem], ops.rmat[:, L - rem :].T, precision=_HI)
    else:
        s_end = s_last
    return y, s_end


def _filtfilt_small(ops: ZeroPhaseOps, ext: jax.Array, zi: jax.Array) -> jax.Array:
    """Literal forward-backward pass on short extended rows (signals shorter than one block)."""
    y1, _ = _run_small(ops, ext, zi[None, :] * ext[:, :1])
    rev = y1[:, ::-1]
    y2, _ = _run_small(ops, rev, zi[None, :] * rev[:, :1])
    return y2[:, ::-1], y2[:, -1]


def zero_phase_rows(
    ops: ZeroPhaseOps,
    zi: Float[Array, " M"],
    x: Float[Array, "n n_times"],
    left: Float[Array, "n n_left"],
    right: Float[Array, "n n_right"],
    check_finite: bool = False,
) -> Float[Array, "n n_times"]:
    """Zero-phase filter of rows ``x`` extended by ``left``/``right`` (SciPy ``sosfiltfilt`` core).

    Equals cropping ``flip(F(flip(F(e, zi e[0])), zi y1[-1]))`` to the ``x`` samples, where
    ``e = [left, x, right]``, ``F(v, s)`` is the causal cascade from state ``s`` and ``zi`` is
    the steady-state vector (:func:`._sos_engine.sosfilt_zi`, flattened, SciPy basis).

    Arguments:
        ops: operators from :func:`zero_phase_operators`, in the dtype of ``x``.
        zi: ``(M,)`` steady-state initial condition in SciPy's flattened layout.
        x: ``(n, n_times)`` rows.
        left, right: ``(n, n_left)`` / ``(n, n_right)`` edge extensions (may be empty).
        check_finite: under ``jit``, fail at run time when the input holds NaN/Inf.

    Returns:
        ``(n, n_times)`` filtered rows.
    """
    n, n_times = x.shape
    L = ops.toep.shape[0]
    zi = jnp.matmul(ops.p_inv, zi.astype(x.dtype), precision=_HI)  # internal basis
    nb = n_times // L
    if nb == 0:  # shorter than one block: nothing to fuse
        ext = jnp.concatenate([left, x, right], axis=1)
        y, w_end = _filtfilt_small(ops, ext, zi)
        y = y[:, left.shape[1] : left.shape[1] + n_times]
        return _finite_or_error(y, w_end, check_finite)
    main_len = nb * L
    main = x if main_len == n_times else x[:, :main_len]
    right_seg = jnp.concatenate([x[:, main_len:], right], axis=1)
    first = left[:, :1] if left.shape[1] else x[:, :1]
    _, s_main = _run_small(ops, left, zi[None, :] * first)

    m = ops.a.shape[0]
    xb = main.reshape(n * nb, L)
    g = jnp.matmul(xb, ops.k_in, precision=_HI).reshape(n, nb, 2 * m)
    g = jnp.swapaxes(g, 0, 1)  # (nb, n, 2M): small, block axis first for the scans
    s_states, s_end = _scan_states(g[..., :m], ops.a_pow, s_main, reverse=False)

    # right segment (remainder + pad) forward, then backward from SciPy's y1[-1] state
    y_r, _ = _run_small(ops, right_seg, s_end)
    last = y_r[:, -1:] if right_seg.shape[1] else None
    if last is None:  # no right segment: y1[-1] is the last sample of the last block
        last = (jnp.matmul(s_states[-1], ops.obs[-1:].T, precision=_HI)
                + jnp.matmul(xb[(nb - 1) :: nb], ops.toep[-1:].T, precision=_HI))
    y_r_back, w_main = _run_small(ops, y_r[:, ::-1], zi[None, :] * last)

    v = g[..., m:] + jnp.matmul(s_states, ops.k_sin, precision=_HI)
    w_states, w_end = _scan_states(v, ops.a_pow, w_main, reverse=True)
    sw = jnp.swapaxes(jnp.concatenate([s_states, w_states], axis=-1), 0, 1).reshape(n * nb, 2 * m)
    if check_finite:  # attached to the small state tensor, not to the full-size output
        sw = _finite_or_error(sw, w_end, True)
    y = jnp.matmul(xb, ops.k_out, precision=_HI) + jnp.matmul(sw, ops.k_state, precision=_HI)
    y = y.reshape(n, main_len)
    if main_len < n_times:
        y = jnp.concatenate([y, y_r_back[:, ::-1][:, : n_times - main_len]], axis=1)
    return y


def _finite_or_error(value, state, check: bool):
    if not check:
        return value
    return eqx.error_if(value, ~jnp.all(jnp.isfinite(state)), "x contains NaN or Inf values")
