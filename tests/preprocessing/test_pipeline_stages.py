"""Pipelines of the real NeuroJAX stages: fit/apply equivalence, jit/vmap, gradients, I/O, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.datasets import simulate_recording
from neurojax.preprocessing import ASR, FastICA, IIRFilter, Interpolator, Pipeline, Resampler

SFREQ = 100.0


@pytest.fixture(scope="module")
def recording():
    # 8 channels x 40 s: enough clean windows for ASR calibration, small enough to compile fast.
    return simulate_recording(8, SFREQ, 40.0, seed=2, artifacts=["blink", "noisy_channel"])


def _chain(pos, bad):
    return [
        IIRFilter(jnp.asarray(1.0), SFREQ, btype="highpass"),
        Interpolator(pos, bad_mask=bad, sfreq=SFREQ),
        ASR(SFREQ, cutoff=20.0, calibration="off"),
        FastICA(n_components=4, max_iter=200, store_sources=False),
    ]


def test_fit_and_apply_equal_the_stages_by_hand(recording):
    x = jnp.asarray(recording.data)
    key = jax.random.PRNGKey(0)
    pipe = Pipeline(_chain(recording.pos, recording.bad_mask), sfreq=SFREQ).fit(x, key=key)

    # By hand: each stage with a fit is fitted on the output of those before it, with the keys the
    # pipeline hands out (one split per fitted stage, in order).
    y, k, by_hand = x, key, []
    for stage in _chain(recording.pos, recording.bad_mask):
        if hasattr(stage, "fit"):
            k, sub = jax.random.split(k)
            stage = stage.fit(y, key=sub)
        by_hand.append(stage)
        y = stage(y)
    asr, ica = by_hand[2], by_hand[3]

    np.testing.assert_array_equal(pipe[1].bad_mask, by_hand[1].bad_mask)
    np.testing.assert_allclose(pipe[2].mixing_matrix, asr.mixing_matrix, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(pipe[3].unmixing_, ica.unmixing_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pipe(x), y, rtol=1e-4, atol=1e-4 * float(jnp.std(y)))


def test_jit_once_and_vmap_over_recordings(recording):
    x = jnp.asarray(recording.data)
    pipe = Pipeline(_chain(recording.pos, recording.bad_mask)[:3], sfreq=SFREQ).fit(x)
    batch = jnp.stack([x, 0.5 * x, x[:, ::-1]])
    run = eqx.filter_jit(eqx.filter_vmap(pipe))
    out = run(batch)
    for i in range(batch.shape[0]):
        np.testing.assert_allclose(out[i], pipe(batch[i]), rtol=1e-4, atol=1e-3 * float(jnp.std(batch[i])))


def test_gradient_wrt_cutoffs_matches_finite_differences(x64, recording):
    x = jnp.asarray(recording.data, jnp.float64)[:, :1000] * 1e5
    pipe = Pipeline(
        [IIRFilter(jnp.asarray([2.0, 30.0]), SFREQ, btype="bandpass"), ASR(SFREQ, cutoff=5.0, calibration="off", mode="smooth")],
        sfreq=SFREQ,
    ).fit(x)
    params, static = pipe.partition()

    def loss(p):
        return jnp.mean(eqx.combine(p, static)(x) ** 2)

    grads = jax.grad(loss)(params)
    for path in (lambda p: p.stages[0].cutoff, lambda p: p.stages[1].cutoff):
        value = path(params)
        g = np.atleast_1d(np.asarray(path(grads)))
        for i in range(g.size):
            step = 1e-4 * float(np.atleast_1d(value)[i])
            bump = jnp.zeros(value.shape).reshape(-1).at[i].set(step).reshape(value.shape)
            up = loss(eqx.tree_at(path, params, value + bump))
            down = loss(eqx.tree_at(path, params, value - bump))
            fd = float((up - down) / (2 * step))
            assert g[i] != 0.0
            np.testing.assert_allclose(g[i], fd, rtol=1e-3, atol=1e-9 * abs(float(loss(params))))


def test_trainable_parameters_are_cutoffs_only(recording):
    x = jnp.asarray(recording.data)
    pipe = Pipeline(_chain(recording.pos, recording.bad_mask)[:3], sfreq=SFREQ).fit(x)
    params, frozen = pipe.partition()
    leaves = jax.tree_util.tree_leaves(params)
    assert len(leaves) == 2  # IIRFilter.cutoff and ASR.cutoff
    assert params[2].mixing_matrix is None and frozen[2].mixing_matrix is not None


def test_save_load_round_trip_of_a_fitted_pipeline(tmp_path, recording):
    x = jnp.asarray(recording.data)
    pipe = Pipeline(_chain(recording.pos, recording.bad_mask), sfreq=SFREQ, ch_names=recording.ch_names).fit(x, key=jax.random.PRNGKey(1))
    pipe.save(tmp_path / "fitted.eqx")
    loaded = Pipeline.load(tmp_path / "fitted.eqx")
    assert loaded.ch_names == recording.ch_names
    np.testing.assert_array_equal(loaded(x), pipe(x))


def test_resampler_sets_the_rate_downstream():
    ok = Pipeline([Resampler(200.0, 100.0), IIRFilter(jnp.asarray(1.0), 100.0, btype="highpass")], sfreq=200.0)
    assert ok.output_sfreq == 100.0
    with pytest.raises(ValueError, match="expects sfreq=200 Hz but receives 100 Hz"):
        Pipeline([Resampler(200.0, 100.0), IIRFilter(jnp.asarray(1.0), 200.0, btype="highpass")], sfreq=200.0)
    y = ok(jnp.ones((2, 400)))
    assert y.shape == (2, 200)


def test_channel_count_mismatch_after_fit(recording):
    x = jnp.asarray(recording.data)
    pipe = Pipeline([ASR(SFREQ, cutoff=20.0, calibration="off")], sfreq=SFREQ).fit(x)
    with pytest.raises(ValueError, match="fitted on 8 channels but receives 7"):
        pipe(x[:7])
