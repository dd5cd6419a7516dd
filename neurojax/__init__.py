"""NeuroJAX: differentiable M/EEG preprocessing layers in JAX and Equinox."""

__version__ = "0.1.0"

from . import preprocessing as preprocessing
from .preprocessing import (
    ASR as ASR,
    FastICA as FastICA,
    IIRFilter as IIRFilter,
    Interpolator as Interpolator,
    Pipeline as Pipeline,
    Resampler as Resampler,
    RiemannDetector as RiemannDetector,
)
