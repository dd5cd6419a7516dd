"""Timing helper shared by the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import time

import jax


def best_of(fn, repeat: int):
    """Run ``fn`` ``repeat`` times, waiting for JAX results; return (fastest seconds, last output)."""
    times = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        jax.block_until_ready(out)
        times.append(time.perf_counter() - start)
    return min(times), out
