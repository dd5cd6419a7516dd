"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``bad_channels``, ``artifact``, ``metrics``) holding pure functions followed by
the :class:`equinox.Module` layer that wraps them; ``pipeline`` chains the layers. This package
re-exports the public names.
"""

from . import artifact as artifact, metrics as metrics
from .artifact import RiemannDetector as RiemannDetector, detect_artifacts_riemann as detect_artifacts_riemann
from .asr import ASR as ASR, ASRState as ASRState, apply_asr as apply_asr, calibrate_asr as calibrate_asr, clean_windows as clean_windows
from .bad_channels import BadChannels as BadChannels, find_bad_channels as find_bad_channels
from .filter import (
    IIRFilter as IIRFilter,
    butter_sos as butter_sos,
    filter_data as filter_data,
    iir_filter as iir_filter,
    notch_filter as notch_filter,
    notch_sos as notch_sos,
    sosfilt as sosfilt,
    sosfilt_zi as sosfilt_zi,
    sosfiltfilt as sosfiltfilt,
)
from .ica import (
    FastICA as FastICA,
    amari_distance as amari_distance,
    fastica as fastica,
    find_bads_ref as find_bads_ref,
    ica_apply as ica_apply,
    ica_sources as ica_sources,
)
from .interpolate import (
    Interpolator as Interpolator,
    fit_head_sphere as fit_head_sphere,
    spherical_spline_interpolate as spherical_spline_interpolate,
    spherical_spline_matrix as spherical_spline_matrix,
)
from .pipeline import Pipeline as Pipeline, shard_batch as shard_batch
from .resample import (
    Resampler as Resampler,
    rational_ratio as rational_ratio,
    resample_minimal as resample_minimal,
    resample_mne as resample_mne,
    resample_poly as resample_poly,
)
