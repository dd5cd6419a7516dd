"""Pipeline mechanics with small stand-in stages (stage-specific chains: test_pipeline_stages.py)."""

import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.preprocessing.pipeline import Pipeline


class Gain(eqx.Module):
    gain: jax.Array
    sfreq: float = eqx.field(static=True, default=100.0)
    trainable_fields = ("gain",)

    def __call__(self, x):
        return self.gain * x


class Centre(eqx.Module):
    """Needs fitting: removes the per-channel mean of the data it was fitted on."""

    mean: jax.Array | None = None
    trainable_fields = ()

    def fit(self, x, *, key=None):
        return Centre(jnp.mean(x, axis=-1, keepdims=True))

    @property
    def n_channels(self):
        return None if self.mean is None else self.mean.shape[-2]

    def __call__(self, x):
        return x - self.mean


class Decimate(eqx.Module):
    sfreq: float = eqx.field(static=True)
    target_sfreq: float = eqx.field(static=True)

    def __call__(self, x):
        return x[..., :: int(self.sfreq // self.target_sfreq)]


class Head(eqx.Module):
    weight: jax.Array

    def __call__(self, x):
        return jnp.sum(self.weight * jnp.mean(x**2, axis=-1))


@pytest.fixture
def data(rng):
    return jnp.asarray(rng.standard_normal((3, 40)), jnp.float32)


def test_fit_equals_fitting_stages_by_hand(data):
    pipe = Pipeline([Gain(jnp.asarray(2.0)), Centre(), jnp.tanh], sfreq=100.0).fit(data)
    by_hand = Centre().fit(2.0 * data)
    np.testing.assert_allclose(pipe[1].mean, by_hand.mean, rtol=1e-6)
    np.testing.assert_allclose(pipe(data), jnp.tanh(by_hand(2.0 * data)), rtol=1e-6)


def test_fit_returns_new_pipeline_and_leaves_original(data):
    pipe = Pipeline([Centre()])
    fitted = pipe.fit(data)
    assert pipe[0].mean is None and fitted[0].mean is not None


def test_jit_once_and_vmap_over_recordings(data):
    pipe = Pipeline([Gain(jnp.asarray(2.0)), Centre()]).fit(data)
    batch = jnp.stack([data, 3 * data, -data])
    out = eqx.filter_jit(eqx.filter_vmap(pipe))(batch)
    for i in range(3):
        np.testing.assert_allclose(out[i], pipe(batch[i]), rtol=1e-6, atol=1e-6)


def test_rates_are_threaded_through_a_resampler():
    pipe = Pipeline([Decimate(100.0, 50.0), Gain(jnp.asarray(1.0), sfreq=50.0)], sfreq=100.0)
    assert pipe.rate_before(1) == 50.0 and pipe.output_sfreq == 50.0
    assert pipe[1:].sfreq == 50.0
    with pytest.raises(ValueError, match="expects sfreq=100 Hz but receives 50 Hz"):
        Pipeline([Decimate(100.0, 50.0), Gain(jnp.asarray(1.0), sfreq=100.0)], sfreq=100.0)


def test_channel_mismatch_is_a_clear_error(data):
    pipe = Pipeline([Centre()]).fit(data)
    with pytest.raises(ValueError, match="fitted on 3 channels but receives 4"):
        pipe(jnp.zeros((4, 40)))
    with pytest.raises(ValueError, match="built for 2 channels"):
        Pipeline([jnp.tanh], ch_names=["a", "b"])(data)


def _scores_and_mask(x):
    # Like a detector: returns a tuple, not data for a next stage.
    score = jnp.std(x, axis=-1)
    return score, score > 1.0


def test_non_array_output_only_at_the_end(data):
    with pytest.raises(TypeError, match="only the last stage"):
        Pipeline([_scores_and_mask, jnp.tanh])(data)
    score, mask = Pipeline([jnp.tanh, _scores_and_mask])(data)
    assert score.shape == mask.shape == (3,)


def test_repr_lists_stages_and_rates(data):
    text = repr(Pipeline([Gain(jnp.asarray(2.0)), Centre().fit(data)], sfreq=100.0))
    assert "[0] Gain(gain=2, sfreq=100.0)  @ 100 Hz" in text and "Centre(mean=array(3, 1))" in text


def test_trainable_filter_freezes_fitted_statistics(data):
    pipe = Pipeline([Gain(jnp.asarray(2.0)), Centre(), Head(jnp.ones(3))]).fit(data)
    params, frozen = pipe.partition()
    assert params[0].gain is not None and params[1].mean is None and params[2].weight is not None
    assert frozen[1].mean is not None
    everything, _ = pipe.partition(freeze_fitted=False)
    assert everything[1].mean is not None


def test_gradient_reaches_the_preprocessing_parameters(data):
    pipe = Pipeline([Gain(jnp.asarray(2.0)), Centre(), Head(jnp.ones(3))]).fit(data)
    params, static = pipe.partition()

    def loss(p):
        return eqx.combine(p, static)(data)

    grads = jax.grad(loss)(params)
    eps = 1e-3
    bumped = eqx.tree_at(lambda p: p[0].gain, params, params[0].gain + eps)
    fd = (loss(bumped) - loss(params)) / eps
    np.testing.assert_allclose(grads[0].gain, fd, rtol=1e-2)


def test_save_load_round_trip(tmp_path, data):
    pipe = Pipeline([Gain(jnp.asarray(2.0)), Centre(), jnp.tanh], sfreq=100.0, ch_names=["a", "b", "c"]).fit(data)
    pipe.save(tmp_path / "pipe.eqx")
    loaded = Pipeline.load(tmp_path / "pipe.eqx")
    assert loaded.sfreq == 100.0 and loaded.ch_names == ("a", "b", "c")
    np.testing.assert_array_equal(loaded[1].mean, pipe[1].mean)
    np.testing.assert_array_equal(loaded(data), pipe(data))


def test_save_rejects_lambdas_and_load_rejects_other_files(tmp_path):
    with pytest.raises(TypeError, match="lambda"):
        Pipeline([lambda x: x]).save(tmp_path / "p.eqx")
    (tmp_path / "junk.eqx").write_bytes(b"\x00\x01binary")
    with pytest.raises(ValueError, match="not a NeuroJAX module file"):
        Pipeline.load(tmp_path / "junk.eqx")


def test_sharded_batch_over_four_cpu_devices(tmp_path):
    # XLA's device count is fixed at start-up, so this runs in a fresh interpreter.
    script = textwrap.dedent(
        """
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
        import equinox as eqx, jax, jax.numpy as jnp, numpy as np
        from neurojax.preprocessing.pipeline import Pipeline, shard_batch
        assert len(jax.devices()) == 4
        pipe = Pipeline([jnp.tanh, lambda x: x - jnp.mean(x, axis=-1, keepdims=True)])
        xs = shard_batch(np.random.default_rng(0).standard_normal((8, 3, 32)).astype(np.float32))
        out = eqx.filter_jit(eqx.filter_vmap(pipe))(xs)
        assert len(out.sharding.device_set) == 4
        ref = np.stack([pipe(x) for x in np.asarray(xs)])
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
        try:
            shard_batch(np.zeros((6, 3, 32)))
        except ValueError as err:
            assert "evenly" in str(err)
        else:
            raise AssertionError("uneven batch accepted")
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
