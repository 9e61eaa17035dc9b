"""The documentation builds without a warning, offline, and documents the API."""

import ast
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
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
    # plot_gallery=0: the gallery's pages without running the examples (13 s
    # of 20), which test_examples runs; that [docs] installs what they import
    # is checked below.
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-D", "plot_gallery=0", str(sources / "docs"), str(output)],
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


def test_pages_load_no_remote_script(site):
    """The maths renders offline: MathJax (and every script) is served locally."""
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        for source in re.findall(r"<script[^>]*\ssrc=\"([^\"]*)\"", path.read_text()):
            assert "//" not in source, f"{path.name} loads {source}"
    maths = (site / "maths.html").read_text()
    assert re.search(r'<script[^>]*src="_static/mathjax/tex-chtml\.js', maths)
    assert (site / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000


def test_inference_links_its_public_types(site):
    html = page(site, "SoftmaxRegression")
    section = html.split('id="softmax_regression.SoftmaxRegression.inference"')[1]
    assert "softmax_regression.InferenceResult.html" in section
    assert "softmax_regression.SeparationWarning.html" in section
    assert "_inference" not in html


def test_fit_documents_class_probability_targets(site):
    for name in ("SoftmaxRegression", "SoftmaxRegressionCV"):
        html = page(site, name)
        for method in ("fit", "score"):
            section = html.split(f'id="softmax_regression.{name}.{method}"')[1]
            assert "(n_samples, n_classes)" in section[:3000], (name, method)


def test_gallery_is_built(site):
    gallery = (site / "auto_examples" / "index.html").read_text()
    for example in (ROOT / "examples").glob("plot_*.py"):
        assert example.stem in gallery


def _requirement_name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
    return name.lower().replace("_", "-")


def _installed_closure(names: set[str]) -> set[str]:
    """The distributions ``names`` install, with their own (non-extra) needs."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requires if "extra ==" not in r]
    return seen


def test_docs_extra_installs_what_the_build_imports():
    """`pip install -e ".[docs]"` alone is enough for `sphinx-build -W docs`.

    The gallery runs every example, so the [docs] extra must bring what the
    examples and conf.py import (a fresh venv with only [docs] once failed on
    statsmodels). Checked against the project's declared requirements: the
    modules imported, mapped to the distributions that provide them here.
    """
    tomllib = pytest.importorskip("tomllib")  # Python 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared, todo = set(), ["docs"]
    while todo:
        for requirement in extras[todo.pop()]:
            match = re.match(r"softmax-regression\[(.*)\]", requirement)
            if match:
                todo += match.group(1).split(",")
            else:
                declared.add(_requirement_name(requirement))
    declared |= {_requirement_name(r) for r in project["dependencies"]}
    provided = _installed_closure(declared)
    providers = metadata.packages_distributions()
    sources = [*sorted((ROOT / "examples").glob("*.py")), ROOT / "docs" / "conf.py"]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "softmax_regression":
                    continue
                distributions = {
                    _requirement_name(d) for d in providers.get(top, [top])
                }
                assert distributions & provided, (
                    f"{source.name} imports {module}, which [docs] does not install"
                )


def test_long_names_fit_their_boxes(site):
    """At 1400 px the API page title and a gallery card's title ran over their
    edges (seen in headless Chromium): titles are the short names, the page's
    table of contents omits the class, and what cannot break may wrap."""
    html = page(site, "SoftmaxRegressionCV")
    assert re.search(r"<h1>SoftmaxRegressionCV<", html)
    assert "SoftmaxRegressionCV.fit()" not in html.split('class="page-toc')[1]
    css = (site / "_static" / "custom.css").read_text()
    assert ".sphx-glr-thumbnail-title" in css and "overflow-wrap: anywhere" in css
    gallery = (site / "auto_examples" / "index.html").read_text()
    assert "_static/custom.css" in gallery
