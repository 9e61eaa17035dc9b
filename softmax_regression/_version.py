"""The package version and documentation address: the one place they are written."""

__version__ = "0.1.0"

# Where the Sphinx site in docs/ is published; the HTML representation of the
# estimators links their API pages here.
DOCS_URL = "https://softmax-regression.readthedocs.io/en/latest/"
