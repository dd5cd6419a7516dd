"""The README's Python snippets run as written (they share one namespace, in order)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.replace("/tmp/", str(tmp_path) + "/"), str(README), "exec"), namespace)
    assert namespace["cleaned"].shape == namespace["x"].shape
    assert namespace["batch"].shape == (2, *namespace["x"].shape)
