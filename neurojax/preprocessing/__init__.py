"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``artifact``, ``metrics``) holding pure functions followed by the
:class:`equinox.Module` layer that wraps them. This package re-exports the public names.
"""

from . import metrics as metrics
from .interpolate import Interpolator as Interpolator, fit_head_sphere as fit_head_sphere, meg_field_interpolate as meg_field_interpolate, meg_field_matrix as meg_field_matrix, spherical_spline_interpolate as spherical_spline_interpolate, spherical_spline_matrix as spherical_spline_matrix
from .bad_channels import BadChannels as BadChannels, find_bad_channels as find_bad_channels
