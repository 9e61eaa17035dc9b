"""The README's Python blocks run as a reader runs them.

Every block, in order, pasted into one file and run with ``python file.py`` in
a fresh process, without the environment the test suite sets (conftest.py sets
SCIPY_ARRAY_API=1; a reader's shell does not), in an empty folder.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    for module in ("rich", "skl2onnx", "skops", "distributed", "array_api_strict"):
        pytest.importorskip(module)
    folder = tmp_path_factory.mktemp("reader")
    script = folder / "readme.py"
    script.write_text("\n".join(BLOCKS))
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SCIPY_ARRAY_API", "PYTHONPATH", "PYTEST_CURRENT_TEST")
    }
    environment["MPLBACKEND"] = "Agg"
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return folder, result.stdout


def test_readme_runs_as_one_script(readme_run):
    folder, out = readme_run
    assert "['softmax_regression.SoftmaxRegressionCV']" in out
    assert (folder / "model.skops").exists()
    assert "array_api_strict" in out and "device1" in out


def test_readme_names_keep_their_meaning(readme_run):
    """The student distils the Quickstart's pipeline, not a later model."""
    _, out = readme_run
    lines = out.splitlines()
    quickstart_accuracy = float(lines[0])
    # The soft-labels block prints the student's accuracy first, right after
    # the skops block's list of untrusted types.
    skops_line = lines.index("['softmax_regression.SoftmaxRegressionCV']")
    student_accuracy = float(lines[skops_line + 1])
    assert quickstart_accuracy > 0.95
    assert abs(student_accuracy - quickstart_accuracy) < 0.02
