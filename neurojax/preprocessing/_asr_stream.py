"""Chunked (streaming) ASR whose concatenated output equals one offline call.

Two index streams share the same 1-based positions ``n``: the *statistics* stream ``F`` (shaped new
samples ``x_n``) and the *work* stream ``W = [reflected start (P samples), x_1, x_2, ...]``, delayed by
the look-ahead ``P``. The update at position ``n`` uses ``F[n-N+1 .. n]`` and blends ``W`` positions
``(last_n, n]``. Update points are the multiples of ``stepsize`` counted from the start of the
recording (plus 1 and the end, as in the offline call), so chunk boundaries never add update points
(unlike MATLAB, where every call end is one). Samples after the last update point wait in the
state's buffer; the ``final`` call appends the end reflection and flushes them. The output of each
call is therefore variable in length (known on the host), and the concatenation over all calls
equals :func:`neurojax.preprocessing.asr.apply_asr` on the whole recording. Public names are
re-exported by :mod:`neurojax.preprocessing.asr`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._asr_calibrate import shape_signal
from ._asr_process import _Params, _process_params, blend_layout, reconstruction_for_mode, window_covariances
from ._validate import as_float_array, check_finite, check_same_channels

__all__ = ["ASRStream", "asr_stream_init", "asr_stream_process", "StreamCounters", "points_between"]


class StreamCounters(NamedTuple):
    received: int  # samples of x seen so far (F known up to this position)
    last_n: int  # W blended up to this position
    started: bool  # an update point (position 1) was already made


def points_between(lo: int, hi: int, stepsize: int, first: bool, final: bool) -> np.ndarray:
    """Update positions in ``(lo, hi]``: grid multiples of ``stepsize``, 1 if ``first``, ``hi`` if ``final``."""
    pts = list(range((lo // stepsize + 1) * stepsize, hi + 1, stepsize))
    if first and lo < 1 <= hi and (not pts or pts[0] != 1):
        pts.insert(0, 1)
    if final and hi > lo and (not pts or pts[-1] != hi):
        pts.append(hi)
    return np.asarray(pts, dtype=int)


def _tables(points: np.ndarray, last_n: int, buf_len: int, n_buf: int, n_chunk: int, n_max: int, step: int,
            received: int, n_win: int):
    """Runtime index tables for one call, padded to ``n_max`` update points of ``step`` samples."""
    rel = points - last_n
    gather, weight, scatter = blend_layout(rel)
    k = gather.shape[1]
    dummy = n_buf + n_chunk  # zero column appended to the work array
    offset = n_buf - buf_len  # W position last_n + 1 sits at this work index
    g = np.full((n_max, step), dummy, dtype=np.int32)
    w = np.zeros((n_max, step))
    real = gather < rel[-1]
    g[: len(points), :k] = np.where(real, gather + offset, dummy)
    w[: len(points), :k] = weight
    # flat slots of the padded layout, in W order
    sc = (scatter // k) * step + scatter % k
    out = np.full(n_max * step, n_max * step - 1, dtype=np.int32)
    out[: len(sc)] = sc
    ends = np.full(n_max, points[-1] - received + n_win - 2, dtype=np.int32)
    ends[: len(points)] = points - received + n_win - 2
    valid = np.zeros(n_max, dtype=bool)
    valid[: len(points)] = True
    return g, w, out, ends, valid, len(points) - 1


@lru_cache(maxsize=32)
def segment_kernel(c: int, n_buf: int, n_chunk: int, n_f: int, n_max: int, n_win: int, maxdims: int, has_filter: bool,
                   mode: str):
    """Jitted kernel for one call; sizes static, positions passed as runtime index tables."""

    @jax.jit
    def run(buf, chunk_w, chunk_f, hist, zi, r_prev, prev_trivial, v, stdevs, tau, sos, temperature, tables):
        gather, weight, scatter, ends, valid, last = tables
        xf, zf = shape_signal(sos, chunk_f, zi) if has_filter else (chunk_f, zi)
        xpad = jnp.concatenate([hist, xf], axis=1)
        new_hist = xpad[:, xpad.shape[1] - (n_win - 1) :]
        covs = window_covariances(xpad, ends, n_win)
        r, trivial = reconstruction_for_mode(covs, v, stdevs, tau, maxdims, mode, temperature)
        trivial = trivial | ~valid
        work = jnp.concatenate([buf, chunk_w, jnp.zeros((c, 1), buf.dtype)], axis=1)
        r_before = jnp.concatenate([r_prev[None], r[:-1]], axis=0)
        t_before = jnp.concatenate([jnp.asarray(prev_trivial)[None], trivial[:-1]], axis=0)
        yb = jnp.moveaxis(work[:, gather], 0, 1)  # (n_max, C, step)
        beta = weight.astype(work.dtype)[:, None, :]
        out = beta * (r @ yb) + (1 - beta) * (r_before @ yb)
        out = jnp.where((trivial & t_before)[:, None, None], yb, out)
        flat = jnp.moveaxis(out, 1, 0).reshape(c, -1)[:, scatter]
        rest = work[:, n_chunk : n_chunk + n_buf]
        return flat, rest, zf, new_hist, r[last], trivial[last]

    return run


def stream_step(chunk: Array, final: bool, *, arrays: dict, counters: StreamCounters, params, has_filter: bool,
                mode: str, temperature: float):
    """One chunk: returns ``(output, new arrays dict, new counters)``."""
    n_win, p, step, maxdims = params
    c = chunk.shape[0]
    dtype = chunk.dtype
    received, last_n, started = counters
    n_buf = p + step  # right-aligned buffer of W positions last_n+1 .. P+received
    buf = arrays["buf"]
    tail = arrays["tail"]
    if not started:
        if chunk.shape[1] < p + 1:
            raise ValueError(f"the first chunk needs at least lookahead + 1 = {p + 1} samples, got {chunk.shape[1]}")
        start = 2 * chunk[:, :1] - chunk[:, np.arange(p, 0, -1)]
        buf = jnp.concatenate([jnp.zeros((c, n_buf - p), dtype), start], axis=1)
    all_tail = chunk[:, -(p + 1) :] if tail is None else jnp.concatenate([tail, chunk], axis=1)[:, -(p + 1) :]
    chunk_f = chunk
    if final:
        if all_tail.shape[1] < p + 1:
            raise ValueError(f"the recording must hold at least lookahead + 1 = {p + 1} samples")
        ext = 2 * all_tail[:, -1:] - all_tail[:, np.arange(p - 1, -1, -1)]
        chunk_f = jnp.concatenate([chunk, ext], axis=1)
    new_received = received + chunk_f.shape[1]
    points = points_between(received, new_received, step, first=not started, final=final)
    buf_len = p + received - last_n
    if len(points) == 0:
        # No update point: nothing can be blended yet; filter and keep everything.
        xf, zf = shape_signal(arrays["sos"], chunk_f, arrays["zi"]) if has_filter else (chunk_f, arrays["zi"])
        hist = jnp.concatenate([arrays["hist"], xf], axis=1)[:, -(n_win - 1) :]
        new_buf = jnp.concatenate([buf, chunk], axis=1)[:, -n_buf:]
        new = dict(arrays, buf=new_buf, tail=all_tail, zi=zf, hist=hist)
        return chunk[:, :0], new, StreamCounters(new_received, last_n, started)
    n_max = chunk_f.shape[1] // step + 3
    tables = _tables(points, last_n, buf_len, n_buf, chunk.shape[1], n_max, step, received, n_win)
    kernel = segment_kernel(c, n_buf, chunk.shape[1], chunk_f.shape[1], n_max, n_win, maxdims, has_filter, mode)
    flat, rest, zf, hist, r_last, t_last = kernel(
        buf, chunk, chunk_f, arrays["hist"], arrays["zi"], arrays["r_prev"], arrays["prev_trivial"], arrays["v"],
        arrays["stdevs"], arrays["tau"], arrays["sos"], jnp.asarray(temperature, dtype),
        tuple(jnp.asarray(t) for t in tables[:5]) + (jnp.asarray(tables[5]),))
    new_last = int(points[-1])
    n_out = new_last - last_n
    drop = min(max(0, p - last_n), n_out)  # W positions <= P are the reflected start, never output
    new = dict(arrays, buf=rest, tail=all_tail, zi=zf, hist=hist, r_prev=r_last, prev_trivial=t_last)
    return flat[:, drop:n_out], new, StreamCounters(new_received, new_last, True)


class ASRStream(NamedTuple):
    """State of chunked ASR processing (see :func:`asr_stream_process`)."""

    arrays: dict
    counters: StreamCounters
    params: _Params
    has_filter: bool
    mode: str
    temperature: float


def asr_stream_init(
    state,
    window_size: int | None = None,
    step_size: int | None = None,
    *,
    lookahead: int | None = None,
    max_dims: float = 0.66,
    mode: str = "hard",
    temperature: float = 0.1,
    dtype=None,
) -> ASRStream:
    """Start chunked processing with the same parameters as :func:`apply_asr`."""
    c = state.mixing_matrix.shape[0]
    fs = state.sfreq
    params = _process_params(c, fs, window_size, step_size, lookahead, max_dims)
    dtype = dtype or jnp.asarray(state.mixing_matrix).dtype
    arrays = dict(
        buf=jnp.zeros((c, 0), dtype),
        tail=None,
        hist=jnp.zeros((c, params.n_win - 1), dtype),
        zi=None if fs is None else jnp.asarray(state.zi, dtype),
        sos=None if fs is None else jnp.asarray(state.sos, dtype),
        r_prev=jnp.eye(c, dtype=dtype),
        prev_trivial=jnp.asarray(True),
        v=jnp.asarray(state.mixing_matrix, dtype),
        stdevs=jnp.asarray(state.component_stdevs, dtype),
        tau=jnp.asarray(state.mu, dtype) + jnp.asarray(state.cutoff, dtype) * jnp.asarray(state.sigma, dtype),
    )
    return ASRStream(arrays, StreamCounters(0, 0, False), params, fs is not None, mode, float(temperature))


def asr_stream_process(chunk: Float[Array, "C n"], stream: ASRStream, final: bool = False) -> tuple[Array, ASRStream]:
    """Process the next ``chunk`` of a recording; returns ``(cleaned samples, new stream)``.

    Update points stay on the recording's global grid, so the concatenated outputs of all calls
    (the last one with ``final=True``, which appends the end reflection and flushes) equal
    :func:`apply_asr` on the whole recording, whatever the chunk sizes. Each call returns the
    samples that are final so far (about ``lookahead`` + up to ``step_size`` samples of delay);
    the first chunk needs at least ``lookahead + 1`` samples.
    """
    x = as_float_array(chunk, "chunk")
    if x.ndim != 2:
        raise ValueError(f"chunk must be 2-D (n_channels, n_times); got shape {x.shape}")
    check_same_channels(stream.arrays["v"].shape[0], x, "chunk", "the ASR state")
    x = check_finite(x, "chunk").astype(stream.arrays["v"].dtype)
    out, arrays, counters = stream_step(
        x, final, arrays=stream.arrays, counters=stream.counters, params=stream.params,
        has_filter=stream.has_filter, mode=stream.mode, temperature=stream.temperature,
    )
    return out, stream._replace(arrays=arrays, counters=counters)
