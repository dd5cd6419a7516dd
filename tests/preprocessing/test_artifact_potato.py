"""Potato / PotatoField: parity with pyRiemann 0.12 ``pyriemann.artifact_detection`` (float64).

Fixture: 100 epochs of 8 channels; 6 carry rank-1 bursts of amplitudes 2 to 12, so the outer loop
removes some, re-estimates and removes more (several iterations, a real test of the mechanics).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats

from neurojax.preprocessing import artifact

pytest.importorskip("pyriemann")
from pyriemann.artifact_detection import Potato as PrPotato  # noqa: E402
from pyriemann.artifact_detection import PotatoField as PrPotatoField  # noqa: E402


@pytest.fixture
def covs():
    r = np.random.default_rng(3)
    n, c, t = 100, 8, 200
    mix = np.eye(c) + 0.5 * r.standard_normal((c, c))
    x = np.einsum("ij,njt->nit", mix, r.standard_normal((n, c, t)))
    bad = r.choice(n, 6, replace=False)
    amps = np.array([2.0, 3.0, 4.0, 6.0, 8.0, 12.0])
    u = r.standard_normal((6, c))
    x[bad] += amps[:, None, None] * u[:, :, None] * r.standard_normal((6, 1, t))
    return np.einsum("nit,njt->nij", x, x) / t


def _pr_fit(covs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PrPotato(**kw).fit(covs)


@pytest.mark.parametrize("threshold", [3.0, 1.5])
def test_potato_fit_matches_pyriemann(x64, covs, threshold):
    """G4: clean mask identical, covmean rtol 1e-10, μ/σ 1e-10, z 1e-8; several outer iterations."""
    ref = _pr_fit(covs, threshold=threshold)
    ours = artifact.Potato(threshold=threshold).fit(covs)
    assert int(ours.n_iter_) >= 2
    np.testing.assert_allclose(ours.covmean_, ref.covmean_, rtol=1e-10, atol=1e-14)
    assert float(ours.mean_) == pytest.approx(ref._mean, rel=1e-10)
    assert float(ours.std_) == pytest.approx(ref._std, rel=1e-10)
    z, z_ref = np.asarray(ours.transform(covs)), ref.transform(covs)
    np.testing.assert_allclose(z, z_ref, rtol=1e-8, atol=1e-8)
    pred, pred_ref = np.asarray(ours.predict(covs)), ref.predict(covs)
    differ = pred != pred_ref
    assert np.all(np.abs(z_ref[differ] - threshold) < 1e-6)  # labels may differ only on the edge
    np.testing.assert_array_equal(np.asarray(ours(covs)), pred == 0)
    np.testing.assert_allclose(ours.predict_proba(covs), ref.predict_proba(covs), rtol=1e-8, atol=1e-12)


def test_potato_mechanics(x64, covs):
    """G5: iteration cap, labels and sample weights as pyRiemann; errors."""
    for kw in (dict(n_iter_max=1), dict(n_iter_max=2, pos_label=2, neg_label=-1)):
        ref = _pr_fit(covs, **kw)
        ours = artifact.Potato(**kw).fit(covs)
        np.testing.assert_allclose(ours.covmean_, ref.covmean_, rtol=1e-10)
        np.testing.assert_array_equal(np.asarray(ours.predict(covs)), ref.predict(covs))
    y = np.ones(len(covs), int)
    y[:10] = 0
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(covs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = PrPotato().fit(covs, y, sample_weight=w)
    ours = artifact.Potato().fit(covs, y, sample_weight=w)
    np.testing.assert_allclose(ours.covmean_, ref.covmean_, rtol=1e-10)
    assert float(ours.std_) == pytest.approx(ref._std, rel=1e-10)
    with pytest.raises(ValueError, match="rejected all"):
        artifact.Potato(threshold=-10.0).fit(covs)
    with pytest.raises(ValueError, match="must be different"):
        artifact.Potato(pos_label=1, neg_label=1).fit(covs)
    with pytest.raises(ValueError, match="not fitted"):
        artifact.Potato().predict(covs)
    with pytest.raises(ValueError, match="riemann"):
        artifact.Potato(metric="logeuclid").fit(covs)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0])
def test_potato_partial_fit(x64, covs, alpha):
    """G6: partial_fit formulas (α = 0 is a no-op, α = 1 jumps to the new mean), 1e-10."""
    ref = _pr_fit(covs[:50])
    ours = artifact.Potato().fit(covs[:50])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.partial_fit(covs[50:], alpha=alpha)
    ours = ours.partial_fit(covs[50:], alpha=alpha)
    np.testing.assert_allclose(ours.covmean_, ref.covmean_, rtol=1e-10)
    if alpha == 1.0:
        # d = log δ(X_m, X_m): the log of a rounding-level distance in both libraries
        assert float(ours.mean_) < -20 and ref._mean < -20
        return
    assert float(ours.mean_) == pytest.approx(ref._mean, rel=1e-10)
    assert float(ours.std_) == pytest.approx(ref._std, rel=1e-10)


@pytest.mark.parametrize("method", ["fisher", "stouffer"])
def test_potato_field_matches_pyriemann(x64, covs, method):
    """G7: two potatoes (all 8 channels, first 4); combined p-values vs pyRiemann 1e-12 relative
    on identical z-scores (1e-8), default n_iter_max = 10."""
    sets = [covs, covs[:, :4, :4]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = PrPotatoField(n_potatoes=2, method_combination=method).fit(sets)
    ours = artifact.PotatoField(n_potatoes=2, method_combination=method).fit(sets)
    assert ours.n_iter_max == 10
    np.testing.assert_allclose(ours.transform(sets), ref.transform(sets), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(sets), ref.predict_proba(sets), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(ours.predict(sets)), ref.predict(sets))
    with pytest.raises(ValueError, match="n_potatoes"):
        ours.predict_proba(sets[:1])


def test_combine_pvalues_matches_scipy(x64):
    """Fisher and Stouffer equal scipy.stats.combine_pvalues after the [1e-10, 1] clip (1e-12)."""
    from neurojax.preprocessing._potato import combine_pvalues

    p = np.clip(np.random.default_rng(1).uniform(0, 1, (3, 20)) ** 3, 1e-10, 1.0)
    for method in ("fisher", "stouffer"):
        ref = scipy.stats.combine_pvalues(p, method=method, axis=0).pvalue
        np.testing.assert_allclose(combine_pvalues(p, method, axis=0), ref, rtol=1e-12)
