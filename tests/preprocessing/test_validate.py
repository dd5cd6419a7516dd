"""Shared validation: bad input is rejected with messages that say what to fix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurojax.preprocessing import _validate as v


def test_as_float_array_keeps_float_and_promotes_int():
    assert v.as_float_array(np.ones(3, np.float32)).dtype == jnp.float32
    assert jnp.issubdtype(v.as_float_array(np.arange(3)).dtype, jnp.floating)


@pytest.mark.parametrize("bad", [np.ones(3, complex), np.ones(3, bool), "abc"])
def test_as_float_array_rejects_non_real(bad):
    with pytest.raises(TypeError):
        v.as_float_array(bad)


@settings(max_examples=25, deadline=None)
@given(
    n_ch=st.integers(1, 4),
    n_t=st.integers(2, 30),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    data=st.data(),
)
def test_check_finite_rejects_any_nan_or_inf(n_ch, n_t, value, data):
    x = np.zeros((n_ch, n_t), np.float32)
    x[data.draw(st.integers(0, n_ch - 1)), data.draw(st.integers(0, n_t - 1))] = value
    with pytest.raises(ValueError, match="NaN or Inf"):
        v.check_finite(jnp.asarray(x))


def test_check_finite_under_jit_raises_at_run_time():
    f = jax.jit(lambda x: v.check_finite(x) * 2)
    np.testing.assert_array_equal(f(jnp.ones(3)), 2 * np.ones(3))
    with pytest.raises(Exception, match="NaN or Inf"):
        jax.block_until_ready(f(jnp.array([1.0, jnp.nan, 0.0])))


@settings(max_examples=20, deadline=None)
@given(ndim=st.integers(0, 1))
def test_check_ndim_states_layout(ndim):
    with pytest.raises(ValueError, match="n_channels, n_times"):
        v.check_ndim(jnp.zeros((3,) * ndim), 2)


def test_check_min_samples_says_how_many():
    with pytest.raises(ValueError, match="at least 100"):
        v.check_min_samples(jnp.zeros((2, 10)), 100, why="pad length")


@pytest.mark.parametrize("sfreq", [0, -1.0, np.nan, np.inf])
def test_check_sfreq_rejects_non_positive(sfreq):
    with pytest.raises(ValueError, match="positive sampling rate"):
        v.check_sfreq(sfreq)


def test_check_sfreq_rejects_non_number():
    with pytest.raises(TypeError):
        v.check_sfreq("fast")


@settings(max_examples=30, deadline=None)
@given(freq=st.one_of(st.floats(max_value=0.0, allow_nan=False), st.floats(min_value=500.0, allow_nan=False)))
def test_check_frequency_outside_open_interval(freq):
    with pytest.raises(ValueError, match="Nyquist"):
        v.check_frequency(freq, 1000.0)


def test_check_frequency_accepts_inside_and_checks_traced():
    assert v.check_frequency([1.0, 40.0], 1000.0) == [1.0, 40.0]
    f = jax.jit(lambda c: v.check_frequency(c, 1000.0) + 0)
    assert float(f(jnp.asarray(40.0))) == 40.0
    with pytest.raises(Exception, match="Nyquist"):
        jax.block_until_ready(f(jnp.asarray(600.0)))


def test_check_channel_names_lists_unknown():
    assert v.check_channel_names(["Cz", "Fz"], ["Fz", "Cz", "Pz"]) == [1, 0]
    with pytest.raises(ValueError, match=r"\['Oz'\]"):
        v.check_channel_names(["Oz"], ["Fz", "Cz"])


def test_check_same_channels():
    v.check_same_channels(3, jnp.zeros((3, 10)))
    with pytest.raises(ValueError, match="4 channels but"):
        v.check_same_channels(3, jnp.zeros((4, 10)))
