"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``artifact``, ``metrics``) holding pure functions followed by the
:class:`equinox.Module` layer that wraps them. This package re-exports the public names.
"""

from . import metrics as metrics
from .asr import ASR as ASR, ASRState as ASRState, apply_asr as apply_asr, calibrate_asr as calibrate_asr, clean_windows as clean_windows
from .ica import FastICA as FastICA, fastica as fastica, ica_apply as ica_apply, ica_sources as ica_sources, find_bads_ref as find_bads_ref, amari_distance as amari_distance
from .interpolate import Interpolator as Interpolator, fit_head_sphere as fit_head_sphere, spherical_spline_interpolate as spherical_spline_interpolate, spherical_spline_matrix as spherical_spline_matrix
from .bad_channels import BadChannels as BadChannels, find_bad_channels as find_bad_channels
from . import artifact as artifact
