"""What every backend module provides: the seam the estimators call through.

A backend is a module of :mod:`softmax_regression._backends` (in memory, on
a device through the array API, on a Dask cluster) with the functions of
:class:`Backend`. Each holds its own validation, the data a fit reads (a
:class:`~softmax_regression._fit.FitData`), its predictions and its score.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol


class FitInput(NamedTuple):
    """Validated training data, as a backend hands it to the estimator."""

    #: What the solver reads (a FitData).
    data: Any
    #: ``X``, ``y`` and ``sample_weight`` as the callbacks are shown them.
    X: Any
    y: Any
    #: The class labels, stored as ``classes_`` as they are.
    classes: Any
    sample_weight: Any


class Backend(Protocol):
    """The functions of a backend module."""

    def fit_data(
        self, estimator, X, y, sample_weight, offset=None
    ) -> AbstractContextManager[FitInput]:
        """Validate the training data and hold it for a fit, while open."""

    def raw_prediction(self, estimator, X, method: str, offset=None):
        """Validate ``X``; return its scores (n_samples, n_classes)."""

    def predict(self, estimator, X, method: str, offset=None):
        """Return what ``estimator.<method>(X)`` returns (``_scores.METHODS``)."""

    def score(self, estimator, X, y, sample_weight, offset=None) -> float:
        """``estimator.score(X, y, sample_weight)``."""

    def memory_input(
        self, estimator, X, y, sample_weight, purpose: str, offset=None
    ) -> tuple:
        """``X, y, sample_weight, offset`` as NumPy for work done in memory only.

        ``purpose`` ("cross-validation", "inference") names that work in the
        error of a backend that cannot (Dask: its data does not fit).
        """
