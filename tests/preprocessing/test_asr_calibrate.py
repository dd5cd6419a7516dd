"""ASR calibration: each piece against its reference (MATLAB tables, meegkit, NumPy oracles).

Reference values: clean_rawdata 2.11 ``asr_calibrate.m`` hard-coded shaping filters; meegkit 0.2.0
``fit_eeg_distribution`` (faithful port, 13-value shape grid).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import lfilter, sosfilt
from scipy.special import gamma, gammaincinv

sys.path.insert(0, str(Path(__file__).parent))
from _asr_synth import clean  # noqa: E402

from neurojax.preprocessing._asr_calibrate import (  # noqa: E402
    block_covariances_packed,
    coordinate_median,
    geometric_median,
    rms_window_starts,
    unpack_symmetric,
)
from neurojax.preprocessing._eeg_distribution import SHAPE_RANGE, fit_eeg_distribution, shape_table  # noqa: E402
from neurojax.preprocessing._yulewalk import shaping_filter_ba, shaping_filter_sos  # noqa: E402
from neurojax.preprocessing.asr import ASRState, calibrate_asr  # noqa: E402

# clean_rawdata 2.11 asr_calibrate.m, used when MATLAB's yulewalk is unavailable: (B, A).
MATLAB_TABLES = {
    100: ([0.9314233528641650, -1.0023683814963549, -0.4125359862018213, 0.7631567476327510, 0.4160430392910331, -0.6549131038692215, -0.0372583518046807, 0.1916268458752655, 0.0462411971592346],
          [1.0, -0.4544220180303844, -1.0007038682936749, 0.5374925521337940, 0.4905013360991340, -0.4861062879351137, -0.1995986490699414, 0.1830048420730026, 0.0457678549234644]),
    128: ([1.1027301639165037, -2.0025621813611867, 0.8942119516481342, 0.1549979524226999, 0.0192366904488084, 0.1782897770278735, -0.5280306696498717, 0.2913540603407520, -0.0262209802526358],
          [1.0, -1.1042042046423233, -0.3319558528606542, 0.5802946221107337, -0.0010360013915635, 0.0382167091925086, -0.2609928034425362, 0.0298719057761086, 0.0935044692959187]),
    200: ([1.4489483325802353, -2.6692514764802775, 2.0813970620731115, -0.9736678877049534, 0.1054605060352928, -0.1889101692314626, 0.6111331636592364, -0.3616483013075088, 0.1834313060776763],
          [1.0, -0.9913236099393967, 0.3159563145469344, -0.0708347481677557, -0.0558793822071149, -0.2539619026478943, 0.2473056615251193, -0.0420478437473110, 0.0077455718334464]),
    256: ([1.7587013141770287, -4.3267624394458641, 5.7999880031015953, -6.2396625463547508, 5.3768079046882207, -3.7938218893374835, 2.1649108095226470, -0.8591392569863763, 0.2569361125627988],
          [1.0, -1.7008039639301735, 1.9232830391058724, -2.0826929726929797, 1.5982638742557307, -1.0735854183930011, 0.5679719225652651, -0.1886181499768189, 0.0572954115997261]),
    300: ([1.9153920676433143, -5.7748421104926795, 9.1864764859103936, -10.7350356619363630, 9.6423672437729007, -6.6181939699544277, 3.4219421494177711, -1.2622976569994351, 0.2968423019363821],
          [1.0, -2.3143703322055491, 3.2222567327379434, -3.6030527704320621, 2.9645154844073698, -1.8842615840684735, 0.9222455868758080, -0.3103251703648485, 0.0634586449896364]),
    500: ([2.3133520086975823, -11.9471223009159130, 29.1067166493384340, -43.7550171007238190, 44.3385767452216370, -30.9965523846388000, 14.6209883020737190, -4.2743412400311449, 0.5982553583777899],
          [1.0, -4.6893329084452580, 10.5989986701080210, -14.9691518101365230, 14.3320358399731820, -9.4924317069169977, 4.2425899618982656, -1.1715600975178280, 0.1538048427717476]),
    512: ([2.3275475636130865, -12.2166478485960430, 30.1632789058248850, -45.8009842020820410, 46.7261263011068880, -32.7796858196767220, 15.4623349612560630, -4.5019779685307473, 0.6242733481676324],
          [1.0, -4.7827378944258703, 10.9780696236622980, -15.6795187888195360, 15.1281978667576310, -10.0632079834518220, 4.5014690636505614, -1.2394100873286753, 0.1614727510688058]),
}


@pytest.mark.parametrize("sfreq", sorted(MATLAB_TABLES))
def test_yulewalk_matches_matlab_tables(sfreq):
    # The tables carry 16 significant digits; the design is ill-conditioned above 300 Hz
    # (spec: ports agree to <= 4e-13 up to 300 Hz and 3.3e-11 at 500/512 Hz).
    b, a = shaping_filter_ba(sfreq)
    b_ref, a_ref = (np.asarray(v) for v in MATLAB_TABLES[sfreq])
    tol = 1e-12 if sfreq <= 300 else 1e-10
    assert np.max(np.abs(b - b_ref)) / np.max(np.abs(b_ref)) < tol
    assert np.max(np.abs(a - a_ref)) / np.max(np.abs(a_ref)) < tol


@pytest.mark.parametrize("sfreq", [125.0, 250.0, 1000.0, 2048.0])
def test_yulewalk_matches_meegkit(sfreq):
    from meegkit.utils.asr import yulewalk

    nyq = sfreq / 2
    f = np.array([0, 2, 3, 13, 16, 40, min(80.0, nyq - 1), nyq]) * 2 / sfreq
    b_ref, a_ref = yulewalk(8, f, np.array([3, 0.75, 0.33, 0.33, 1, 1, 3, 3]))
    b, a = shaping_filter_ba(sfreq)
    assert np.allclose(b, b_ref, rtol=0, atol=1e-9 * np.abs(b_ref).max())
    assert np.allclose(a, a_ref, rtol=0, atol=1e-9 * np.abs(a_ref).max())


def test_shaping_filter_response_and_sos():
    # Spec table of |H| at 250 Hz (0, 10, 80 Hz) and SOS = (b, a) to rounding.
    from scipy.signal import freqz

    b, a = shaping_filter_ba(250.0)
    _, h = freqz(b, a, worN=[0.0, 10.0, 80.0], fs=250.0)
    assert np.allclose(np.abs(h), [1.36, 0.37, 2.95], atol=0.01)
    x = np.random.default_rng(0).standard_normal(2000)
    assert np.allclose(sosfilt(shaping_filter_sos(250.0), x), lfilter(b, a, x), rtol=0, atol=1e-10)


def test_shape_table_constants():
    # Spec table (gammaincinv bounds), and the grid keeps beta = 3.5 (13 values).
    bounds, _, sd = shape_table()
    assert len(SHAPE_RANGE) == 13 and abs(SHAPE_RANGE[-1] - 3.5) < 1e-12
    expected = {0: (-1.6086245846, 0.1821153069, 0.7798557338), 2: (-1.4241772711, 0.1791434546, 0.7071067812),
                6: (-1.2321075529, 0.1781986734, 0.6352021642), 12: (-1.1056166644, 0.1800484586, 0.5925671313)}
    for k, (lo, hi, s) in expected.items():
        assert np.allclose([bounds[k, 0], bounds[k, 1], sd[k]], [lo, hi, s], atol=1e-9)
        b = SHAPE_RANGE[k]
        assert np.isclose(bounds[k, 1], gammaincinv(1 / b, 2 * 0.6 - 1) ** (1 / b), rtol=1e-12)
        assert np.isclose(sd[k], np.sqrt(gamma(3 / b) / gamma(1 / b)), rtol=1e-12)


def test_fit_eeg_distribution_matches_meegkit(x64):
    from meegkit.utils.asr import fit_eeg_distribution as reference

    rng = np.random.default_rng(0)
    for n in (200, 200, 700, 700, 1500, 1500):  # few sizes: one compilation each
        r = np.abs(rng.standard_normal(n)) * rng.uniform(0.5, 2) + rng.uniform(0, 3)
        r[: n // 5] *= rng.uniform(1, 10)
        ours = [float(v) for v in fit_eeg_distribution(r)]
        ref = reference(r)
        # Identical grid and operation order: equal to rounding (observed <= 3e-16).
        assert np.allclose(ours, ref, rtol=1e-12, atol=0)


def test_sorted_histogram_equals_clamped_floor_binning():
    from neurojax.preprocessing._eeg_distribution import _sorted_histogram

    # Rows as fit_eeg_distribution builds them: sorted, scaled to [0, nbins], excluded entries
    # +inf at the end. Values on integer edges and exactly at nbins exercise the floor and clamp.
    rng = np.random.default_rng(3)
    nbins = np.array([5, 3, 7])
    h = np.full((3, 2, 12), np.inf)
    for j, nb in enumerate(nbins):
        for s, m in enumerate((12, 8)):
            v = np.sort(np.concatenate([rng.uniform(0, nb, m - 3), [0.0, 1.0, float(nb)]]))
            h[j, s, :m] = v
    ours = np.asarray(_sorted_histogram(jnp.asarray(h, jnp.float32), jnp.asarray(nbins), 8))
    for j, nb in enumerate(nbins):
        for s in range(2):
            v = h[j, s][np.isfinite(h[j, s])]
            expected = np.bincount(np.minimum(np.floor(v), nb - 1).astype(int), minlength=8)
            np.testing.assert_array_equal(ours[j, s], expected)


def test_fit_eeg_distribution_equivariance_and_recovery(x64):
    rng = np.random.default_rng(1)
    r = np.concatenate([rng.standard_normal(7000) + 10, rng.uniform(14, 40, 3000)])
    mu, sig, _, beta = (float(v) for v in fit_eeg_distribution(r))
    # Recovery of the clean Gaussian part despite 30 % high outliers (spec: within 20 %).
    assert abs(mu - 10) < 0.2 and abs(sig - 1) < 0.2
    mu2, sig2, _, beta2 = (float(v) for v in fit_eeg_distribution(2 * r + 3))
    assert beta2 == beta and np.isclose(mu2, 2 * mu + 3, rtol=1e-12) and np.isclose(sig2, 2 * sig, rtol=1e-12)


def _weiszfeld(points, tol=1e-5, max_iter=500):
    y = np.median(points, axis=0)
    for _ in range(max_iter):
        d = np.sqrt(((points - y) ** 2).sum(1))
        w = 1 / d
        y_new = (w @ points) / w.sum()
        done = np.linalg.norm(y_new - y) / np.linalg.norm(y_new) < tol
        y = y_new
        if done:
            break
    return y


def test_block_covariances_and_geometric_median(x64):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 1003))  # 1003 = 100 blocks + 3: last block padded
    packed = np.asarray(block_covariances_packed(jnp.asarray(x), 10))
    idx = np.minimum(np.arange(101 * 10), 1002).reshape(101, 10)
    covs = np.stack([x[:, i] @ x[:, i].T / 10 for i in idx])
    unpacked = np.stack([np.asarray(unpack_symmetric(jnp.asarray(p), 4)) for p in packed[[0, 57, 100]]])
    assert np.allclose(unpacked, covs[[0, 57, 100]], rtol=0, atol=1e-14 * np.abs(covs).max())
    ref = _weiszfeld(covs.reshape(len(covs), -1)).reshape(4, 4)
    ours = np.asarray(unpack_symmetric(geometric_median(jnp.asarray(packed)), 4))
    assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < 1e-6
    # Unit invariance: data x 1e-6 -> median x 1e-12 (relative stopping rule).
    small = np.asarray(unpack_symmetric(geometric_median(jnp.asarray(packed * 1e-12)), 4))
    assert np.linalg.norm(small * 1e12 - ours) / np.linalg.norm(ours) < 1e-10


@pytest.mark.parametrize("n_valid", [101, 100])
def test_coordinate_median_equals_numpy(n_valid):
    """Single-selection median = np.median exactly (odd and even counts); rows past n_valid (padding
    blocks) are ignored; chunking (7 columns) does not matter."""
    rng = np.random.default_rng(4)
    pts = rng.standard_normal((105, 30)).astype(np.float32)
    pts[n_valid:] = 1e9
    assert np.array_equal(coordinate_median(pts, n_valid, chunk=7), np.median(pts[:n_valid], axis=0))


@pytest.mark.parametrize("blocksize, bound", [(10, 0.5), (100, 0.25)])
def test_geometric_median_is_robust(x64, blocksize, bound):
    """Spec U4: 30 % of blocks with a strong rank-1 artifact move the median < 25 % of its norm.

    The spec's 13 % is for 100-sample blocks (measured here: 12-13 % over seeds 3-5); with
    clean_rawdata's default 10-sample blocks each covariance is a noisy rank-<=10 estimate, the
    clean cloud is wide, and the median moves ~40 % (0.40-0.41), so that case is bounded at 50 %.
    The mean moves > 100x in both.
    """
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5000))
    bad = np.zeros(5000, bool)
    bad[: 1500] = True
    x_art = x.copy()
    x_art[:, bad] += 20 * np.outer(rng.standard_normal(6), rng.standard_normal(bad.sum()))

    def median(d):
        packed = block_covariances_packed(jnp.asarray(d), blocksize=blocksize)
        return np.asarray(unpack_symmetric(geometric_median(packed), 6))

    clean_med, art_med = median(x), median(x_art)
    assert np.linalg.norm(art_med - clean_med) / np.linalg.norm(clean_med) < bound
    assert np.linalg.norm(np.cov(x_art) - np.cov(x)) / np.linalg.norm(np.cov(x)) > 100


def test_rms_window_starts_match_matlab_formula():
    starts = rms_window_starts(250 * 10, 125) + 1  # 1-based like MATLAB
    assert list(starts[:4]) == [1, 43, 86, 128]
    for fs in [100, 128, 250, 256, 500, 512, 1000]:
        n = int(np.floor(0.5 * fs + 0.5))
        s = 20 * fs
        step = n * (1 - 0.66)
        expected = np.floor(1 + step * np.arange(int((s - n - 1) / step + 1e-10) + 1) + 0.5).astype(int)
        got = rms_window_starts(s, n) + 1
        assert np.array_equal(got, expected) and got[-1] <= s - n


def _numpy_calibration(x, sfreq, cutoff):
    """Float64 NumPy oracle of asr_calibrate (blocksize 10), with meegkit's fit."""
    from meegkit.utils.asr import fit_eeg_distribution as fit

    b, a = shaping_filter_ba(sfreq)
    xf = lfilter(b, a, x, axis=1)
    c, s = x.shape
    idx = np.minimum(np.arange(-(-s // 10) * 10), s - 1).reshape(-1, 10)
    covs = np.stack([xf[:, i] @ xf[:, i].T / 10 for i in idx]).reshape(len(idx), -1)
    sigma = _weiszfeld(covs).reshape(c, c)
    lam, v = np.linalg.eigh((sigma + sigma.T) / 2)
    n = int(np.floor(0.5 * sfreq + 0.5))
    y = (v.T @ xf) ** 2
    starts = rms_window_starts(s, n)
    rms = np.sqrt(np.stack([[y[ch, st : st + n].sum() for st in starts] for ch in range(c)]) / n)
    mu, sig = np.array([fit(r)[:2] for r in rms]).T
    tau = mu + cutoff * sig
    return lam, v, (v * tau**2) @ v.T


def test_calibration_matches_numpy_oracle(x64):
    x = clean(250 * 30)
    st = calibrate_asr(x, cutoff=5.0, sfreq=250.0)
    lam, v, q = _numpy_calibration(x, 250.0, 5.0)
    m = np.asarray(st.sqrt_covariance)
    sigma = (v * lam) @ v.T
    assert np.allclose(m @ m, sigma, rtol=0, atol=1e-6 * np.abs(sigma).max())  # Weiszfeld tol 1e-5
    assert np.allclose(m, m.T)
    t = np.asarray(st.threshold_matrix)
    assert np.linalg.norm(t.T @ t - q) / np.linalg.norm(q) < 1e-5
    vv = np.asarray(st.mixing_matrix)
    assert np.allclose(vv.T @ vv, np.eye(x.shape[0]), atol=1e-12)


def test_tutorial_calibration_api():
    import jax

    data = jax.random.normal(jax.random.PRNGKey(1), (4, 600)) * 0.1
    state = calibrate_asr(data, cutoff=3.0)
    assert isinstance(state, ASRState) and state.cutoff == 3.0
    m = state.mixing_matrix
    assert m.shape == (4, 4) and state.component_stdevs.shape == (4,)
    assert jnp.allclose(m.T @ m, jnp.eye(4), atol=1e-5)
    assert jnp.all(state.component_stdevs > 0)
    assert calibrate_asr(data).cutoff == 5.0  # function default (EEGLAB GUI: 20)


def test_calibration_errors():
    x = clean(400, n_ch=4)
    with pytest.raises(ValueError, match="too short"):
        calibrate_asr(x[:, :40])
    with pytest.raises(ValueError, match="too short"):
        calibrate_asr(x, sfreq=250.0)  # 1.6 s < 20 windows of 0.5 s
    bad = x.copy()
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        calibrate_asr(bad)
    with pytest.raises(ValueError, match="zero variance"):
        calibrate_asr(np.zeros((4, 400)))


def test_average_reference_is_finite_and_warns():
    x = clean(250 * 30).astype(np.float32)
    x = x - x.mean(0, keepdims=True)  # rank 5
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        st = calibrate_asr(x, sfreq=250.0)
    assert any("rank-deficient" in str(w.message) for w in rec)
    for field in (st.mixing_matrix, st.component_stdevs, st.mu, st.sigma):
        assert np.all(np.isfinite(np.asarray(field)))
    assert np.all(np.asarray(st.component_stdevs) > 0)


def test_calibration_leaves_the_input_array_usable():
    """The calibration donates its padded working copy to XLA; a caller's jax array whose length
    needs no padding (2048 samples is a bucket size) must not be the buffer that is consumed."""
    from neurojax.preprocessing.asr import _bucket

    x = jnp.asarray(np.random.default_rng(5).standard_normal((4, 2048)), dtype=jnp.float32)
    assert _bucket(2048) == 2048
    calibrate_asr(x, sfreq=128.0)
    assert np.isfinite(float(jnp.sum(x)))
