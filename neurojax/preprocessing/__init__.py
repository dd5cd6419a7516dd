"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``artifact``, ``metrics``) holding pure functions followed by the
:class:`equinox.Module` layer that wraps them. This package re-exports the public names.
"""

from . import metrics as metrics
from .asr import ASR as ASR, ASRState as ASRState, apply_asr as apply_asr, calibrate_asr as calibrate_asr, clean_windows as clean_windows
