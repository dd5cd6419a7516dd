"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``artifact``, ``metrics``) holding pure functions followed by the
:class:`equinox.Module` layer that wraps them. This package re-exports the public names.
"""

from . import metrics as metrics
from .filter import IIRFilter, butter_sos, filter_data, iir_filter, notch_filter, notch_sos, sosfilt, sosfilt_zi, sosfiltfilt
from .resample import Resampler, rational_ratio, resample_minimal, resample_mne, resample_poly
