"""Input validation shared by every stage.

Public functions validate at their boundary and raise :class:`ValueError` (bad values) or
:class:`TypeError` (wrong kind of object) with a message that says what to change. Checks on
*values* (finiteness, cutoff ranges) run eagerly on concrete arrays; on traced arrays (inside
``jax.jit``/``vmap``/``grad``) they become runtime checks through :func:`equinox.error_if`, so a
jitted pipeline fails loudly too instead of returning garbage.

Conventions (see ``CONTRIBUTING.md``): arrays are laid out ``(..., n_channels, n_times)``; the
output dtype follows the input (float32 by default, float64 under ``jax_enable_x64``); integer
input is promoted to JAX's default float dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from beartype import beartype
from jaxtyping import jaxtyped

__all__ = [
    "typechecked",
    "is_traced",
    "as_float_array",
    "check_finite",
    "check_ndim",
    "check_min_samples",
    "check_sfreq",
    "check_frequency",
    "check_channel_names",
    "check_same_channels",
]

#: Decorator for public functions: jaxtyping shape/dtype annotations checked by beartype.
#: A mismatch raises ``jaxtyping.TypeCheckError`` (a ``TypeError``) naming the argument.
typechecked = jaxtyped(typechecker=beartype)


def is_traced(x: Any) -> bool:
    """True when ``x`` is an abstract value inside a JAX transformation."""
    return isinstance(x, jax.core.Tracer)


def as_float_array(x: Any, name: str = "data") -> jax.Array:
    """Convert ``x`` to a floating JAX array, keeping a floating input's dtype.

    Raises:
        TypeError: if ``x`` is complex, boolean or not array-like.
    """
    try:
        arr = jnp.asarray(x)
    except TypeError as err:
        raise TypeError(f"{name} must be array-like (numpy or JAX array), got {type(x).__name__}") from err
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.dtype == jnp.bool_:
        raise TypeError(f"{name} must be numeric, got a boolean array")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    return arr


def check_finite(x: jax.Array, name: str = "data") -> jax.Array:
    """Reject NaN/Inf. Eager ``ValueError`` on concrete input, runtime error under ``jit``."""
    if is_traced(x):
        return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"{name} contains NaN or Inf values")
    finite = np.isfinite(np.asarray(x))
    if not finite.all():
        n_bad = int((~finite).sum())
        raise ValueError(
            f"{name} contains {n_bad} NaN or Inf value(s); remove or interpolate them "
            "(e.g. mark the channel bad) before preprocessing"
        )
    return x


def check_ndim(x: jax.Array, min_ndim: int, name: str = "data", layout: str = "(..., n_channels, n_times)") -> None:
    """Require at least ``min_ndim`` axes, stating the expected layout."""
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s) laid out as {layout}; got shape {x.shape}")


def check_min_samples(x: jax.Array, min_samples: int, name: str = "data", why: str = "") -> None:
    """Require at least ``min_samples`` samples on the last (time) axis."""
    n = x.shape[-1] if x.ndim else 0
    if n < min_samples:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} has {n} samples along the last (time) axis; at least {min_samples} are needed{reason}")


def check_sfreq(sfreq: Any, name: str = "sfreq") -> float:
    """Return ``sfreq`` as a Python float after checking it is a finite positive number."""
    if is_traced(sfreq):
        raise TypeError(f"{name} must be a static Python number (it sets array shapes), not a traced array")
    try:
        value = float(sfreq)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number in Hz, got {sfreq!r}") from err
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive sampling rate in Hz, got {sfreq!r}")
    return value


def check_frequency(freq: Any, sfreq: float, name: str = "cutoff") -> Any:
    """Require every entry of ``freq`` in the open interval (0, Nyquist).

    ``freq`` may be a traced (learnable) array; then the check runs at run time.
    """
    nyquist = sfreq / 2.0
    if is_traced(freq):
        bad = jnp.any((freq <= 0) | (freq >= nyquist) | ~jnp.isfinite(freq))
        return eqx.error_if(freq, bad, f"{name} must lie strictly between 0 and Nyquist ({nyquist:g} Hz)")
    values = np.atleast_1d(np.asarray(freq, dtype=float))
    if not np.all(np.isfinite(values)) or np.any(values <= 0) or np.any(values >= nyquist):
        raise ValueError(
            f"{name}={np.asarray(freq).tolist()} Hz is outside (0, {nyquist:g}) Hz: every frequency must be "
            f"positive and below Nyquist (sfreq/2 = {nyquist:g} Hz); lower it or resample first"
        )
    return freq


def check_channel_names(requested: Sequence[str], available: Sequence[str], name: str = "channel") -> list[int]:
    """Map channel names to indices, raising ``ValueError`` that lists unknown names."""
    index = {ch: i for i, ch in enumerate(available)}
    unknown = [ch for ch in requested if ch not in index]
    if unknown:
        preview = ", ".join(list(available)[:10]) + (", ..." if len(available) > 10 else "")
        raise ValueError(f"unknown {name} name(s) {unknown}; available names are: {preview}")
    return [index[ch] for ch in requested]


def check_same_channels(n_expected: int, x: jax.Array, name: str = "data", what: str = "the fitted state") -> None:
    """Require ``x.shape[-2] == n_expected`` (channel axis of ``(..., n_channels, n_times)``)."""
    if x.ndim < 2 or x.shape[-2] != n_expected:
        got = x.shape[-2] if x.ndim >= 2 else "no channel axis"
        raise ValueError(f"{name} has {got} channels but {what} was fitted on {n_expected}; pass the same channels in the same order")
