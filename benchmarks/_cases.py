"""Data sets, and the record of the machine and versions, shared by the benchmarks.

``text_like`` is the sparse text-like generator: a bag-of-words matrix whose
column popularity follows Zipf's law (column ``j`` is drawn with probability
proportional to ``1 / (j + 1) ** 1.1``), ``nnz_per_row`` draws per row (the
duplicates merged, so rows have fewer distinct columns), values
``log(1 + count)`` with Poisson counts, rows scaled to unit L2 norm as tf-idf
rows are, and labels planted by a random linear model plus Gumbel noise (the
softmax model itself, so the problem is well specified).
"""

from __future__ import annotations

import datetime
import platform

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
