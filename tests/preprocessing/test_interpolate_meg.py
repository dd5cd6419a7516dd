"""MEG bad-channel interpolation by minimum-norm field mapping vs MNE (S11 and acceptance)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurojax.preprocessing import _meg_field as mf
from neurojax.preprocessing.interpolate import meg_field_interpolate, meg_field_matrix

mne = pytest.importorskip("mne")


@pytest.fixture(scope="module")
def raw_meg(shared_data_dir):
    raw = mne.io.read_raw_fif(shared_data_dir / "mne_test_raw.fif", verbose=False)
    raw.crop(0, 1.0).load_data(verbose=False)
    from mne.bem import _check_origin

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        origin = _check_origin("auto", raw.info)
    return raw, origin


def _geometry(info, picks):
    names = [info["ch_names"][i] for i in picks]
    loc = np.array([info["chs"][i]["loc"] for i in picks])
    coil = np.array([info["chs"][i]["coil_type"] for i in picks])
    vecs = []
    for p in info["projs"]:
        cols = {c: j for j, c in enumerate(p["data"]["col_names"])}
        for row in p["data"]["data"]:
            vecs.append([row[cols[n]] if n in cols else 0.0 for n in names])
    return names, loc, coil, np.array(vecs) if vecs else None


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "accurate"])
def test_mapping_matrix_matches_mne(raw_meg, mode):
    """S11: mapping on a 60-channel MEG subset (40 grad + 20 mag, 3 SSP projectors, 3 bad) equals
    ``mne.forward._map_meg_or_eeg_channels`` to rtol 1e-8 of the largest entry."""
    from mne.forward._field_interpolation import _map_meg_or_eeg_channels

    raw, origin = raw_meg
    info = raw.info
    picks = mne.pick_types(info, meg=True, exclude=[])[:60]
    names, loc, coil, vecs = _geometry(info, picks)
    bads = [names[3], names[17], names[44]]
    good = [i for i, n in enumerate(names) if n not in bads]
    bad = [names.index(b) for b in bads]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE warns that the SSP vectors lost magnitude in the subset
        ref = _map_meg_or_eeg_channels(
            mne.pick_info(info, picks[good]), mne.pick_info(info, picks[bad]), mode, origin=origin
        )
    ours = meg_field_matrix(
        loc, coil, bads, dev_head_t=info["dev_head_t"]["trans"], origin=origin, mode=mode, proj_vectors=vecs,
        ch_names=names,
    )
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8 * np.abs(ref).max())


@pytest.mark.slow
def test_interpolate_bads_meg_correlation(raw_meg, x64):
    """Issue acceptance: on mne_test_raw (all 306 MEG channels, MEG 2443 + 2 more bad) our output
    correlates >= 0.99 with ``Raw.interpolate_bads`` (measured 1 - 1e-13, rel. error < 1e-9)."""
    raw, origin = raw_meg
    bads = ["MEG 2443", "MEG 0113", "MEG 1711"]
    picks = mne.pick_types(raw.info, meg=True, exclude=[])
    names, loc, coil, vecs = _geometry(raw.info, picks)
    r2 = raw.copy()
    r2.info["bads"] = bads
    ref = r2.interpolate_bads(origin=origin, verbose=False).get_data(picks)
    out = np.asarray(
        meg_field_interpolate(
            raw.get_data(picks), bads, loc=loc, coil_type=coil, dev_head_t=raw.info["dev_head_t"]["trans"],
            origin=origin, proj_vectors=vecs, ch_names=names,
        )
    )
    for b in bads:
        i = names.index(b)
        assert np.corrcoef(out[i], ref[i])[0, 1] >= 0.99
        np.testing.assert_allclose(out[i], ref[i], atol=1e-9 * np.abs(ref[i]).max())
    good = [i for i, n in enumerate(names) if n not in bads]
    np.testing.assert_array_equal(out[good], raw.get_data(picks)[good])


def test_coil_table_and_errors():
    """Coil frames follow the FIFF loc convention; unknown coil types and bad input raise."""
    loc = np.zeros((2, 12))
    loc[:, 3:12] = np.eye(3).ravel()
    loc[0, :3] = [0, 0, 0.1]
    loc[1, :3] = [0.03, 0, 0.1]
    rmag, cosmag, w, owner, kinds = mf.coil_points(loc, np.array([3012, 3024]), None)
    assert kinds == ["grad", "mag"] and owner.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_allclose(cosmag, np.tile([0, 0, 1.0], (8, 1)))
    np.testing.assert_allclose(w[4:].sum(), 1.0)
    np.testing.assert_allclose(rmag[:4].mean(0), [0, 0, 0.1003])
    with pytest.raises(ValueError, match="coil type 9999"):
        mf.coil_points(loc, np.array([9999, 3024]), None)
    with pytest.raises(ValueError, match="all channels"):
        meg_field_matrix(loc, [3012, 3024], [0, 1], dev_head_t=np.eye(4), origin=np.zeros(3))
    with pytest.raises(ValueError, match="mode"):
        meg_field_matrix(loc, [3012, 3024], [0], dev_head_t=np.eye(4), origin=np.zeros(3), mode="slow")
    with pytest.raises(ValueError, match="loc"):
        meg_field_matrix(loc[:, :6], [3012, 3024], [0], dev_head_t=np.eye(4), origin=np.zeros(3))
