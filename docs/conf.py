"""Sphinx configuration: numpydoc API pages and a sphinx-gallery of examples.

Builds offline too: the intersphinx inventories are fetched only when their
hosts answer, so ``sphinx-build -W`` passes with or without a network (links to
the numpy, scipy, scikit-learn and Python docs are then plain text).
"""

import socket
from urllib.parse import urlsplit

from softmax_regression import __version__
from softmax_regression._version import DOCS_URL

project = "softmax-regression"
author = "softmax-regression developers"
copyright = author
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # A local copy of MathJax (from the [docs] extra) in _static/mathjax,
    # instead of a CDN: the maths renders in a browser with no network.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
autosummary_generate = True
# The class template documents every method; numpydoc's own member tables
# would list them twice.
numpydoc_show_class_members = False
exclude_patterns = ["_build", "generated/*.examples"]

# The page's table of contents lists methods as "fit()", not
# "SoftmaxRegressionCV.fit()", which ran over the sidebar's edge.
toc_object_entries_show_parents = "hide"

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"softmax-regression {version}"
html_baseurl = DOCS_URL
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    # Timings would land in docs/sg_execution_times.rst, in the sources.
    "write_computation_times": False,
}

_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "sklearn": "https://scikit-learn.org/stable",
}


def _reachable(url: str) -> bool:
    """Whether ``url``'s host accepts a connection within two seconds."""
    try:
        socket.create_connection((urlsplit(url).hostname, 443), timeout=2).close()
    except OSError:
        return False
    return True


intersphinx_mapping = {
    name: (url, None) for name, url in _INVENTORIES.items() if _reachable(url)
}
