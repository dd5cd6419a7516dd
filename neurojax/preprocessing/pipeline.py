"""``Pipeline``: an ordered chain of preprocessing stages that fits, jits, vmaps and trains.

A pipeline is an :class:`equinox.Module` holding a tuple of stages, in the spirit of
:class:`equinox.nn.Sequential`. Any stage may be a NeuroJAX layer (``IIRFilter``,
``Resampler``, ``Interpolator``, ``ASR``, ``FastICA``, ``RiemannDetector``), any other
``eqx.Module`` or a plain function of one array.

Stage protocol (all optional, duck-typed):
    ``fit(x, *, key)``
        returns a fitted copy; :meth:`Pipeline.fit` calls it on the output of the stages before.
    ``sfreq``
        the sampling rate the stage was built for; checked against the rate flowing through.
    ``target_sfreq``
        the rate the stage outputs (a resampler); downstream stages see this rate.
    ``n_channels``
        the channel count a fitted stage expects; checked against the data.
    ``trainable_fields`` (class attribute)
        names of the fields an optimiser may change (cutoffs, thresholds). Fitted statistics
        (ASR mixing/threshold matrices, ICA unmixing, reference means) are left out, so
        :meth:`Pipeline.trainable_filter` freezes them. Modules without this attribute (e.g. a
        classifier head) are trainable in every floating-point array.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._serialise import load_module, save_module
from ._validate import as_float_array, check_sfreq

__all__ = ["Pipeline", "shard_batch"]


def _stage_name(stage: Any) -> str:
    return type(stage).__name__ if isinstance(stage, eqx.Module) else getattr(stage, "__name__", type(stage).__name__)


def _stage_summary(stage: Any) -> str:
    """``Name(key=value, ...)`` with the scalar configuration and the shapes of fitted arrays."""
    if not isinstance(stage, eqx.Module):
        return _stage_name(stage)
    parts = []
    for name in getattr(stage, "__dataclass_fields__", {}):
        value = getattr(stage, name, None)
        if isinstance(value, (jax.Array, np.ndarray)):
            shown = np.asarray(value)
            parts.append(f"{name}={shown.item():.4g}" if shown.size == 1 else f"{name}=array{tuple(shown.shape)}")
        elif isinstance(value, (bool, int, float, str)) or value is None:
            parts.append(f"{name}={value!r}")
        elif isinstance(value, tuple) and len(value) <= 4 and all(isinstance(v, (int, float, str)) for v in value):
            parts.append(f"{name}={value!r}")
    return f"{_stage_name(stage)}({', '.join(parts)})"


def _output_sfreq(stage: Any, sfreq: float | None) -> float | None:
    target = getattr(stage, "target_sfreq", None)
    return float(target) if target is not None else sfreq


class Pipeline(eqx.Module):
    """An ordered chain of stages applied one after the other.

    Arguments:
        stages: the stages, in order (a sequence of modules or callables).
        sfreq: sampling rate of the input, in Hz (optional). When given, each stage that
            declares an ``sfreq`` must agree with the rate reaching it, and a resampler's
            ``target_sfreq`` becomes the rate seen downstream.
        ch_names: channel names of the input (optional metadata; its length must match the data).

    Example::

        pipe = Pipeline([IIRFilter(...), ASR(...)], sfreq=250.0)
        pipe = pipe.fit(train, key=jax.random.PRNGKey(0))
        cleaned = eqx.filter_jit(pipe)(x)               # one compile
        batch = eqx.filter_jit(eqx.filter_vmap(pipe))(xs)  # many recordings, same layout
    """

    stages: tuple[Any, ...]
    sfreq: float | None = eqx.field(static=True, default=None)
    ch_names: tuple[str, ...] | None = eqx.field(static=True, default=None)

    def __init__(self, stages: Sequence[Any], *, sfreq: float | None = None, ch_names: Sequence[str] | None = None):
        stages = tuple(stages)
        for i, stage in enumerate(stages):
            if not callable(stage):
                raise TypeError(f"stage {i} ({stage!r}) is not callable; stages are eqx.Modules or functions of one array")
        self.stages = stages
        self.sfreq = None if sfreq is None else check_sfreq(sfreq)
        self.ch_names = None if ch_names is None else tuple(str(c) for c in ch_names)
        self.check_rates()

    # -- structure -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.stages)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.stages)

    def __getitem__(self, index: int | slice) -> Any:
        """A stage (integer index) or a sub-pipeline (slice) with the rate seen at its start."""
        if isinstance(index, slice):
            start = range(len(self.stages))[index][0] if self.stages[index] else 0
            return Pipeline(self.stages[index], sfreq=self.rate_before(start), ch_names=self.ch_names)
        return self.stages[index]

    def __repr__(self) -> str:
        lines = [f"Pipeline(sfreq={self.sfreq!r}, n_stages={len(self.stages)})"]
        for i, stage in enumerate(self.stages):
            rate = self.rate_before(i)
            at = f"  @ {rate:g} Hz" if rate is not None else ""
            lines.append(f"  [{i}] {_stage_summary(stage)}{at}")
        return "\n".join(lines)

    def rate_before(self, index: int) -> float | None:
        """Sampling rate reaching stage ``index`` (``None`` when the input rate is unknown)."""
        rate = self.sfreq
        for stage in self.stages[:index]:
            rate = _output_sfreq(stage, rate)
        return rate

    @property
    def output_sfreq(self) -> float | None:
        """Sampling rate of the pipeline's output."""
        return self.rate_before(len(self.stages))

    def check_rates(self) -> None:
        """Raise ``ValueError`` if a stage was built for another rate than the one reaching it."""
        rate = self.sfreq
        for i, stage in enumerate(self.stages):
            expected = getattr(stage, "sfreq", None)
            if rate is not None and expected is not None and not np.isclose(float(expected), rate, rtol=1e-9):
                raise ValueError(
                    f"stage {i} ({_stage_name(stage)}) expects sfreq={float(expected):g} Hz but receives "
                    f"{rate:g} Hz; build it with the rate after the stages before it"
                )
            if expected is not None and rate is None:
                rate = float(expected)
            rate = _output_sfreq(stage, rate)

    def _check_channels(self, i: int, stage: Any, x: jax.Array) -> None:
        expected = getattr(stage, "n_channels", None)
        if isinstance(expected, (int, np.integer)) and x.ndim >= 2 and x.shape[-2] != expected:
            raise ValueError(
                f"stage {i} ({_stage_name(stage)}) was fitted on {int(expected)} channels but receives {x.shape[-2]}"
            )

    def _check_input(self, x: Any) -> jax.Array:
        x = as_float_array(x)
        if self.ch_names is not None and (x.ndim < 2 or x.shape[-2] != len(self.ch_names)):
            raise ValueError(f"data has shape {x.shape} but the pipeline was built for {len(self.ch_names)} channels ({self.ch_names[:3]}...)")
        return x

    # -- fit and apply -----------------------------------------------------------------------

    def fit(self, x: Any, *, key: jax.Array | None = None) -> Pipeline:
        """Fit the stages that need calibration, in order, each on the output of those before.

        Arguments:
            x: training data ``(..., n_channels, n_times)``.
            key: PRNG key, split between the stages that take one (ICA initialisation).

        Returns:
            A new fitted ``Pipeline``; ``self`` is unchanged.
        """
        x = self._check_input(x)
        key = jax.random.PRNGKey(0) if key is None else key
        fitted = []
        for i, stage in enumerate(self.stages):
            self._check_channels(i, stage, x)
            if hasattr(stage, "fit"):
                key, subkey = jax.random.split(key)
                stage = stage.fit(x, key=subkey)
            fitted.append(stage)
            if i < len(self.stages) - 1:
                x = self._as_stage_output(i, stage, stage(x))
        return Pipeline(fitted, sfreq=self.sfreq, ch_names=self.ch_names)

    def _as_stage_output(self, i: int, stage: Any, y: Any) -> jax.Array:
        if not isinstance(y, (jax.Array, np.ndarray)):
            raise TypeError(
                f"stage {i} ({_stage_name(stage)}) returns {type(y).__name__}, not an array; only the last "
                "stage may return something else (e.g. a detector's distances and mask)"
            )
        return y

    def __call__(self, x: Any, *, key: jax.Array | None = None) -> Any:
        """Apply every stage in order. ``key`` is accepted for ``eqx.nn``-style composition."""
        del key
        x = self._check_input(x)
        for i, stage in enumerate(self.stages):
            self._check_channels(i, stage, x)
            y = stage(x)
            x = self._as_stage_output(i, stage, y) if i < len(self.stages) - 1 else y
        return x

    # -- training -----------------------------------------------------------------------------

    def trainable_filter(self, *, freeze_fitted: bool = True) -> Pipeline:
        """A boolean pytree for :func:`equinox.partition`: True for parameters to optimise.

        With ``freeze_fitted=True`` (default) a stage that lists ``trainable_fields`` exposes only
        those (cutoffs, thresholds); its fitted statistics stay frozen. Stages without that list
        (a model head, a user module) are trainable in every floating-point array. With
        ``freeze_fitted=False`` every floating-point array is trainable.

        Example::

            params, static = eqx.partition(pipe, pipe.trainable_filter())
            loss = lambda p: objective(eqx.combine(p, static))
        """
        if not freeze_fitted:
            return jax.tree_util.tree_map(eqx.is_inexact_array, self)
        specs = tuple(_stage_filter(stage) for stage in self.stages)
        base = jax.tree_util.tree_map(lambda _: False, self)
        return eqx.tree_at(lambda p: p.stages, base, specs)

    def partition(self, *, freeze_fitted: bool = True) -> tuple[Pipeline, Pipeline]:
        """``eqx.partition(self, self.trainable_filter(...))``: (trainable, frozen)."""
        return eqx.partition(self, self.trainable_filter(freeze_fitted=freeze_fitted))

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the (fitted) pipeline to ``path``: a JSON description plus the array leaves."""
        save_module(path, self)

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """Read a pipeline written by :meth:`save`."""
        pipe = load_module(path)
        if not isinstance(pipe, cls):
            raise TypeError(f"{path} holds a {type(pipe).__name__}, not a Pipeline")
        return pipe


def _stage_filter(stage: Any) -> Any:
    if not isinstance(stage, eqx.Module):
        return jax.tree_util.tree_map(lambda _: False, stage)
    names = getattr(type(stage), "trainable_fields", None)
    if names is None:
        return jax.tree_util.tree_map(eqx.is_inexact_array, stage)
    spec = jax.tree_util.tree_map(lambda _: False, stage)
    for name in names:
        value = getattr(stage, name)
        if value is None:
            continue
        spec = eqx.tree_at(lambda m: getattr(m, name), spec, jax.tree_util.tree_map(eqx.is_inexact_array, value))
    return spec


def shard_batch(xs: Any, devices: Sequence[jax.Device] | None = None) -> jax.Array:
    """Place a batch ``(n_recordings, ...)`` across devices along its first axis.

    A jitted, vmapped pipeline applied to the result runs each device's share of recordings on
    that device (SPMD); ``n_recordings`` must be a multiple of the number of devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    xs = jnp.asarray(xs)
    if xs.shape[0] % len(devices):
        raise ValueError(f"batch of {xs.shape[0]} recordings cannot be split evenly over {len(devices)} devices; pad or trim the batch")
    mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
    return jax.device_put(xs, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch")))

