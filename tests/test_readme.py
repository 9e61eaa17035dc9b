"""The README's Python examples run, in order, as written."""

import re
from pathlib import Path

import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("rich")
    pytest.importorskip("skl2onnx")
    pytest.importorskip("skops")
    monkeypatch.chdir(tmp_path)  # the skops example writes a file
    namespace = {"__name__": "readme"}
    for block in BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "['softmax_regression.SoftmaxRegressionCV']" in out
    assert (tmp_path / "model.skops").exists()
