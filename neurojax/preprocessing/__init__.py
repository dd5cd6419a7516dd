"""Differentiable M/EEG preprocessing stages.

Each stage lives in its own public module (``filter``, ``resample``, ``asr``, ``ica``,
``interpolate``, ``artifact``, ``metrics``) holding pure functions followed by the
:class:`equinox.Module` layer that wraps them. This package re-exports the public names.
"""

from . import metrics as metrics
from .artifact import Potato, PotatoField, RiemannDetector, covariances, detect_artifacts_riemann, detect_artifacts_riemann_field, distance_riemann, epoch_covariances, make_epochs, mean_riemann
