"""Every Python block of the tutorial in docs/ runs, in order, in one namespace."""

import re
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.slow
def test_tutorial_runs_and_shows_what_it_says(capsys):
    text = (DOCS / "tutorial.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/tutorial.md[block {i}]", "exec"), namespace)
    # The tutorial's claims, checked.
    assert abs(float(namespace["params"].cutoff) - 3.0) < 0.15
    assert set(namespace["rec"].bad_channels) <= set(namespace["found"].names(namespace["rec"].ch_names))
    assert namespace["cleaned"].shape == namespace["x"].shape
    out = capsys.readouterr().out
    assert "M^T M = I: True" in out
    assert np.isfinite(np.asarray(namespace["x_ica"])).all()
