"""Data sets, and the record of the machine and versions, shared by the benchmarks.

``text_like`` is the sparse text-like generator: a bag-of-words matrix whose
column popularity follows Zipf's law (column ``j`` is drawn with probability
proportional to ``1 / (j + 1) ** 1.1``), ``nnz_per_row`` draws per row (the
duplicates merged, so rows have fewer distinct columns), values
``log(1 + count)`` with Poisson counts, rows scaled to unit L2 norm as tf-idf
rows are, and labels planted by a random linear model plus Gumbel noise (the
softmax model itself, so the problem is well specified).

``docstrings`` is a real text corpus built offline from text that Python and
its packages ship: every docstring (module, class, function; at least five
words) of the standard library's and the installed packages' source files,
labelled by the top-level package it comes from (``email``, ``asyncio``,
``numpy``, ``sklearn``, ...), for the packages with at least
``min_per_class`` such docstrings, at most ``max_per_class`` each (the first
in file order). Which packages are installed decides the classes: the
benchmark's JSON records them. TF-IDF of word uni- and bigrams, as a text
user would fit it (scikit-learn's ``TfidfVectorizer``, ``sublinear_tf``,
``min_df=2``).
"""

from __future__ import annotations

import ast
import collections
import datetime
import os
import platform
import sysconfig

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.preprocessing import StandardScaler


def standardised(load) -> tuple:
    """A scikit-learn toy data set with standardised features."""
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def iris() -> tuple:
    """Iris, standardised: 150 x 4, 3 classes."""
    return standardised(load_iris)


def digits() -> tuple:
    """Digits, standardised: 1,797 x 64, 10 classes."""
    return standardised(load_digits)


def dense(n_samples, n_features, n_classes, dtype=np.float64, seed=0) -> tuple:
    """make_classification with one cluster per class and 5% flipped labels."""
    X, y = make_classification(
        n_samples,
        n_features,
        n_informative=min(n_features // 2, 3 * n_classes),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=0.05,
        random_state=seed,
    )
    return X.astype(dtype), y


def text_like(n_samples, n_features, nnz_per_row, n_classes, seed=0) -> tuple:
    """CSR with Zipf-distributed columns, L2-normalised log counts, planted labels."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_features + 1)
    column_probability = 1.0 / ranks**1.1
    column_probability /= column_probability.sum()
    nnz = n_samples * nnz_per_row
    indices = rng.choice(n_features, size=nnz, p=column_probability)
    data = np.log1p(rng.poisson(2.0, size=nnz) + 1.0)
    indptr = np.arange(0, nnz + 1, nnz_per_row)
    X = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    X = X.multiply(1 / np.sqrt(X.multiply(X).sum(axis=1))).tocsr()
    true_weights = rng.normal(size=(n_features, n_classes)) * 3
    scores = X @ true_weights + rng.gumbel(size=(n_samples, n_classes))
    return X, scores.argmax(axis=1)


def _docstrings_by_package(root: str, max_files: int | None) -> dict:
    """Docstrings of at least five words under ``root``, by top-level package."""
    found = collections.defaultdict(list)
    files_seen = collections.Counter()
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            d
            for d in subdirectories
            if d not in ("site-packages", "test", "tests", "__pycache__")
        )
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            package = os.path.relpath(path, root).split(os.sep)[0].removesuffix(".py")
            if package.startswith("_") or package == "softmax_regression":
                continue  # private modules; and not our own docs
            if max_files is not None and files_seen[package] >= max_files:
                continue
            files_seen[package] += 1
            try:
                with open(path, encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(
                    node,
                    (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef),
                ):
                    text = ast.get_docstring(node)
                    if text and len(text.split()) >= 5:
                        found[package].append(text)
    return found


def docstrings(
    min_per_class: int = 200,
    max_per_class: int = 3000,
    max_features: int = 30_000,
    max_files: int | None = None,
    installed_packages: bool = True,
) -> tuple:
    """TF-IDF of the docstrings Python and its installed packages ship.

    Returns ``(X, y, labels)``: CSR float64 (n_documents, <= max_features),
    integer classes, and the package name of each class. ``max_files`` (per
    package) and ``installed_packages=False`` (the standard library only)
    make a small corpus quickly, for smoke tests.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    paths = sysconfig.get_paths()
    roots = [paths["stdlib"]]
    if installed_packages:
        roots += [paths["purelib"], paths["platlib"]]
    corpus = collections.defaultdict(list)
    for root in dict.fromkeys(roots):
        for package, texts in _docstrings_by_package(root, max_files).items():
            corpus[package].extend(texts)
    labels = sorted(p for p, texts in corpus.items() if len(texts) >= min_per_class)
    documents, y = [], []
    for index, package in enumerate(labels):
        texts = corpus[package][:max_per_class]
        documents.extend(texts)
        y.extend([index] * len(texts))
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=max_features, sublinear_tf=True
    )
    X = vectorizer.fit_transform(documents).tocsr()
    return X, np.asarray(y), labels


def debian_packages(
    n_classes: int = 50, max_features: int = 20_000, max_documents: int | None = None
) -> tuple | None:
    """TF-IDF of Debian's package index: what a package is, labelled by section.

    Each document is one binary package of the apt lists on this machine (its
    name, one-line description and the names of the packages it depends on);
    its class is the package's section (``contrib/``, ``non-free/`` prefixes
    dropped), the ``n_classes`` most common sections kept. Text nobody here
    wrote. Returns ``(X, y, labels)`` like :func:`docstrings`, or None where
    the machine has no apt lists.
    """
    import glob
    import re
    import subprocess

    from sklearn.feature_extraction.text import TfidfVectorizer

    lists = sorted(glob.glob("/var/lib/apt/lists/*_Packages*"))
    if not lists:
        return None
    records = []
    for path in lists:
        text = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for stanza in text.split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.MULTILINE))
            if "Section" in fields and "Description" in fields:
                depends = re.sub(r"\([^)]*\)|[,|]", " ", fields.get("Depends", ""))
                document = " ".join((fields["Package"], fields["Description"], depends))
                records.append((document, fields["Section"].split("/")[-1]))
    counts = collections.Counter(section for _, section in records)
    labels = sorted(section for section, _ in counts.most_common(n_classes))
    index = {section: i for i, section in enumerate(labels)}
    kept = [(d, index[s]) for d, s in records if s in index][:max_documents]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=max_features,
        sublinear_tf=True,
        token_pattern=r"(?u)\b[\w.+-]{2,}\b",
    )
    X = vectorizer.fit_transform([d for d, _ in kept]).tocsr()
    return X, np.asarray([c for _, c in kept]), labels


def run_environment() -> dict:
    """The date, machine and versions a benchmark's JSON records."""
    import softmax_regression

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": softmax_regression._parallel.available_cpus(),
        },
        "versions": {
            "softmax_regression": softmax_regression.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
