"""Block-streaming versions of the job's stages, whose concatenated output equals one whole-array call.

Every stage has ``push(block, final) -> samples``: it takes the next ``(n_channels, n)`` block of
the recording and returns the output samples that are final so far (possibly none); the call
with ``final=True`` flushes the rest. Concatenating the outputs gives the whole-array result:

* :class:`ZeroPhaseStream` -- MNE's zero-phase IIR filter (odd reflection of ``p`` samples at
  both ends, forward pass from ``zi x_ext[0]``, backward pass from ``zi y[-1]``). The forward pass
  is causal and carried exactly through the filter state. The backward pass is anti-causal, so a
  block's backward pass starts ``margin`` samples after the last sample it emits, from the steady
  state of the last forward output; the start-up error decays like ``r^k`` (``r`` the largest pole
  radius), so ``margin = 1.25 log(tol) / log(r) + 16`` samples make it ``<= tol`` (1e-10) of the
  mismatch (the factor covers the polynomial growth of repeated poles). The last block runs the
  whole-array end (right reflection, exact backward start).
* :class:`ResampleStream` -- polyphase resampling ``y[i] = sum_n x[n] h[i D - n U + half]``.
  Output ``i`` needs inputs ``n_lo(i) .. n_hi(i)``; a buffer that starts at a multiple of ``D``
  is resampled as a whole (outputs then sit on the global grid, shifted by ``n0 U / D``), zero
  padded to a fixed capacity (padding only touches outputs not emitted yet, or equals the true
  zero padding at the end), so the kernel compiles once.
* :class:`MatrixStage` -- a per-sample affine map ``y = T x + c`` (interpolation, ICA).
* :class:`Subset` -- runs a stage on some channels and delays the others to match.

Host NumPy glue around the library's public kernels (``sosfilt`` with ``zi``,
``resample_poly``); the ASR stream lives in :mod:`neurojax.preprocessing.asr`.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import scipy.signal
from jaxtyping import Float

from .preprocessing._polyphase import rational_taps
from .preprocessing.filter import sosfilt
from .preprocessing.resample import resample_poly

__all__ = ["Stage", "ZeroPhaseStream", "ResampleStream", "MatrixStage", "Subset", "filter_margin", "run_stages"]

Block = Float[np.ndarray, "C n"]


class Stage(Protocol):
    def push(self, x: Block, final: bool = False) -> Block: ...


def _empty(c: int, dtype) -> np.ndarray:
    return np.zeros((c, 0), dtype)


def filter_margin(sos: np.ndarray, tol: float = 1e-10) -> int:
    """Samples after which a backward-pass start-up error is below ``tol`` of the edge mismatch.

    ``r`` is the largest pole radius of the sections; the transient decays like ``k^m r^k``, so
    ``1.25 log(tol)/log(r) + 16`` samples (the factor and offset cover multiplicities ``m`` of the
    4th-order designs used here; the streaming tests check the bound).
    """
    sos = np.asarray(sos, dtype=np.float64)
    r = max(np.max(np.abs(np.roots(sec[3:]))) for sec in sos)
    if not r < 1:
        raise ValueError(f"the filter is not stable (pole radius {r:.6f} >= 1): it cannot be streamed")
    return int(math.ceil(1.25 * math.log(tol) / math.log(r))) + 16


class ZeroPhaseStream:
    """Zero-phase (forward-backward) filtering of a recording delivered in blocks (MNE padding).

    Arguments:
        sos: ``(n_sections, 6)`` float64 sections.
        padlen: pad length of the whole-array filter (``IIRFilter.padlen``); the pad used is
            ``min(padlen, n_total - 1)`` as in MNE.
        n_total: samples in the whole recording.
        tol: backward start-up error allowed, relative to the edge mismatch (sets the margin).
    """

    def __init__(self, sos: np.ndarray, padlen: int, n_total: int, *, tol: float = 1e-10):
        self.sos = np.asarray(sos, dtype=np.float64)
        self.p = min(int(padlen), int(n_total) - 1)
        self.margin = filter_margin(self.sos, tol)
        self.zi = scipy.signal.sosfilt_zi(self.sos)  # (n_sections, 2) steady state of a unit step
        self._head = None  # input held until p + 1 samples arrived (for the left reflection)
        self._z = None  # forward state (n_sections, C, 2)
        self._y = None  # forward outputs not emitted yet
        self._tail = None  # last p + 1 inputs (for the right reflection)

    def _forward(self, x: np.ndarray, z0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, z = sosfilt(self.sos.astype(x.dtype), x, zi=z0.astype(x.dtype))
        return np.asarray(y), np.asarray(z)

    def _backward(self, y: np.ndarray) -> np.ndarray:
        rev = np.ascontiguousarray(y[:, ::-1])
        z0 = self.zi[:, None, :] * rev[None, :, :1]
        out, _ = self._forward(rev, z0)
        return out[:, ::-1]

    def push(self, x: Block, final: bool = False) -> Block:
        x = np.asarray(x)
        c, p = x.shape[0], self.p
        if self._z is None:  # not started: wait for the samples of the left reflection
            self._head = x if self._head is None else np.concatenate([self._head, x], axis=1)
            if self._head.shape[1] < p + 1 and not final:
                return _empty(c, x.dtype)
            head, self._head = self._head, None
            left = 2 * head[:, :1] - head[:, p:0:-1]
            seq = np.concatenate([left, head], axis=1)
            y, self._z = self._forward(seq, self.zi[:, None, :] * seq[None, :, :1])
            self._y, self._tail = y[:, p:], head[:, -(p + 1) :]
        elif x.shape[1]:
            y, self._z = self._forward(x, self._z)
            self._y = np.concatenate([self._y, y], axis=1)
            self._tail = np.concatenate([self._tail, x], axis=1)[:, -(p + 1) :]
        if final:
            tail = self._tail
            right = 2 * tail[:, -1:] - tail[:, -2 : -p - 2 : -1]
            y_right, _ = self._forward(right, self._z) if p else (right, None)
            n = self._y.shape[1]
            out = self._backward(np.concatenate([self._y, y_right], axis=1))[:, :n]
            self._y = _empty(c, x.dtype)
            return out
        n_ready = self._y.shape[1] - self.margin
        if n_ready <= 0:
            return _empty(c, x.dtype)
        out = self._backward(self._y)[:, :n_ready]
        self._y = self._y[:, n_ready:]
        return out


class ResampleStream:
    """Polyphase resampling by ``up/down`` (SciPy's ``resample_poly``, zero padding) in blocks.

    Rows ``data_rows`` are filtered; the other rows (stim, misc) take the nearest input sample
    ``round(i n_total / n_out)``, as the whole-array job does.

    Arguments:
        up, down: the reduced ratio.
        n_total: input samples of the whole recording.
        data_rows: rows to filter (``None``: all).
    """

    def __init__(self, up: int, down: int, n_total: int, data_rows: np.ndarray | None = None):
        g = math.gcd(int(up), int(down))
        self.up, self.down, self.n_total = int(up) // g, int(down) // g, int(n_total)
        self.h, self.half = rational_taps(self.up, self.down, ("kaiser", 5.0))
        self.n_out = -(-self.n_total * self.up // self.down)
        self.rows = data_rows
        self._buf = None
        self._n0 = 0  # input index of the buffer's first column (a multiple of down)
        self._received = 0
        self._emitted = 0
        self._capacity = 0

    def _n_lo(self, i: int) -> int:
        return -(-(i * self.down + self.half - len(self.h) + 1) // self.up)

    def push(self, x: Block, final: bool = False) -> Block:
        x = np.asarray(x)
        c = x.shape[0]
        self._buf = x if self._buf is None else np.concatenate([self._buf, x], axis=1)
        self._received += x.shape[1]
        if final:
            i_end = self.n_out
        else:  # outputs whose last input n_hi(i) = floor((i D + half) / U) has arrived
            i_end = min(self.n_out, max(self._emitted, -(-(self._received * self.up - self.half) // self.down)))
        if i_end <= self._emitted:
            return _empty(c, x.dtype)
        rows = np.arange(c) if self.rows is None else np.asarray(self.rows)
        n_buf = self._buf.shape[1]
        quantum = 4 * self.down
        self._capacity = max(self._capacity, -(-n_buf // quantum) * quantum)
        seg = np.zeros((rows.size, self._capacity), x.dtype)
        seg[:, :n_buf] = self._buf[rows]
        i0 = self._n0 // self.down * self.up  # global index of the segment's output 0
        y = np.asarray(resample_poly(seg, self.up, self.down))
        out = np.empty((c, i_end - self._emitted), x.dtype)
        out[rows] = y[:, self._emitted - i0 : i_end - i0]
        other = np.setdiff1d(np.arange(c), rows)
        if other.size:
            idx = np.arange(self._emitted, i_end)
            nearest = np.minimum(np.round(idx * self.n_total / self.n_out).astype(np.int64), self.n_total - 1)
            out[other] = self._buf[other][:, np.clip(nearest - self._n0, 0, n_buf - 1)]
        self._emitted = i_end
        # Keep what the next outputs (and their nearest samples) need, from a multiple of down.
        need = min(self._n_lo(i_end), int(np.floor(i_end * self.n_total / self.n_out)))
        n0 = max(self._n0, (max(need, 0) // self.down) * self.down)
        self._buf = self._buf[:, n0 - self._n0 :]
        self._n0 = n0
        return out


class MatrixStage:
    """``y = T x + c`` for every sample (a fitted linear map: interpolation, ICA back-projection)."""

    def __init__(self, matrix: np.ndarray, offset: np.ndarray | None = None):
        self.matrix = np.asarray(matrix)
        self.offset = None if offset is None else np.asarray(offset)[:, None]

    def push(self, x: Block, final: bool = False) -> Block:
        y = self.matrix.astype(x.dtype) @ x
        return y if self.offset is None else y + self.offset.astype(x.dtype)


class Subset:
    """Run ``inner`` on channels ``rows``; the other channels are delayed to stay aligned."""

    def __init__(self, rows: np.ndarray, inner: Stage):
        self.rows, self.inner = np.asarray(rows), inner
        self._pending = None

    def push(self, x: Block, final: bool = False) -> Block:
        x = np.asarray(x)
        self._pending = x if self._pending is None else np.concatenate([self._pending, x], axis=1)
        if x.shape[1] == 0 and not final:
            return _empty(x.shape[0], x.dtype)
        y = np.asarray(self.inner.push(x[self.rows], final))
        k = y.shape[1]
        out = self._pending[:, :k].copy()
        out[self.rows] = y
        self._pending = self._pending[:, k:]
        if final and self._pending.shape[1]:
            raise RuntimeError("internal error: a streaming stage did not flush all samples")
        return out


def run_stages(stages: list, x: Block, final: bool = False) -> Block:
    """Push one block through a chain of stages."""
    for stage in stages:
        x = stage.push(x, final)
    return x
