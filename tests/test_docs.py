"""The documentation builds without a warning, offline, and documents the API."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("pydata_sphinx_theme")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # A copy of the sources, so the build writes nothing into the checkout.
    sources = tmp_path_factory.mktemp("sources")
    for folder in ("docs", "examples"):
        shutil.copytree(
            ROOT / folder,
            sources / folder,
            ignore=shutil.ignore_patterns("_build", "generated", "auto_examples"),
        )
    output = sources / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         str(sources / "docs"), str(output)],
        capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output


def page(site, name):
    return (site / "generated" / f"softmax_regression.{name}.html").read_text()


@pytest.mark.parametrize("name", ["SoftmaxRegression", "SoftmaxRegressionCV"])
def test_class_pages_document_the_methods(site, name):
    html = page(site, name)
    for method in [
        "fit", "predict", "predict_proba", "predict_log_proba",
        "decision_function", "score", "densify", "sparsify",
    ]:  # fmt: skip
        assert f'id="softmax_regression.{name}.{method}"' in html, method
    assert "sample_weight" in html


def test_binary_decision_function_is_documented(site):
    html = page(site, "SoftmaxRegression")
    section = html.split('id="softmax_regression.SoftmaxRegression.decision_function"')
    assert "margin" in section[1][:4000]


def test_theme_footer_and_maths(site):
    index = (site / "index.html").read_text()
    assert "pydata-sphinx-theme" in index or "pydata_sphinx_theme" in index
    assert re.search(r"©\s*Copyright\s+softmax-regression developers", index)
    maths = (site / "maths.html").read_text()
    assert "mathjax" in maths.lower()
    assert r"\frac{\partial \operatorname{CE}}{\partial z_k}" in maths


def test_gallery_is_built(site):
    gallery = (site / "auto_examples" / "index.html").read_text()
    for example in (ROOT / "examples").glob("plot_*.py"):
        assert example.stem in gallery
