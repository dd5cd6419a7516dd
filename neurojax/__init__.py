"""NeuroJAX: differentiable M/EEG preprocessing layers in JAX and Equinox."""

__version__ = "0.1.0"

from . import preprocessing as preprocessing
