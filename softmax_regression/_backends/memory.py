"""The in-memory backend: NumPy and scipy.sparse data, evaluated by our threads.

Validation as scikit-learn does it (``validate_data``: float32 and float64
dense arrays in any order and CSR/CSC matrices are used as they are, never
copied), the data a fit reads (:class:`InMemoryData`), predictions and scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._arrays import to_host
from .._checks import check_offset, check_two_classes, numeric_table, target_columns
from .._linear_loss import LinearSoftmaxLoss
from .._loss import _check_targets
from .._parallel import evaluation_threads, threads_for_work
from .._scaling import weighted_column_square_means
from .._scores import expected_accuracy, from_scores, label_accuracy, linear_scores
from .._shard import CrossEntropyShard, ShardDataTerm
from .._weights import (
    class_priors,
    fit_weights,
    normalised_weights,
    weight_sum_factors,
)
from ._protocol import FitInput

ACCEPTED_SPARSE = ["csr", "csc"]
ACCEPTED_DTYPES = [np.float64, np.float32]


def in_memory_loss(
    X,
    y: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None,
    l2_reg_strength: float | np.ndarray,
    fit_intercept: bool,
    n_threads: int = 1,
    label_smoothing: float = 0.0,
    offset: np.ndarray | None = None,
) -> LinearSoftmaxLoss:
    """Return the penalised objective over in-memory data, on ``n_threads``.

    A :class:`~softmax_regression._shard.CrossEntropyShard` over all the rows
    of ``X`` (referenced, never copied nor modified) under
    :class:`~softmax_regression._linear_loss.LinearSoftmaxLoss`. ``y`` holds
    class indices in ``[0, n_classes)`` or class probabilities;
    ``sample_weight`` non-negative weights with a positive sum, or None for
    all ones; ``offset`` (n_samples, n_classes) is added to the scores.
    """
    n_samples, n_features = X.shape
    shard = CrossEntropyShard(
        X,
        y,
        n_classes,
        normalised_weights(sample_weight, n_samples),
        fit_intercept,
        n_threads,
        label_smoothing=label_smoothing,
        offset=None if offset is None else offset.astype(X.dtype, copy=False),
    )
    return LinearSoftmaxLoss(
        ShardDataTerm(X, shard), n_classes, n_features, l2_reg_strength, fit_intercept
    )


class InMemoryData:
    """Training data in memory, as a fit sees it (a ``_fit.FitData``).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Validated training data, float32 or float64.
    y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Class indices in ``[0, n_classes)``, or class probabilities.
    n_classes : int
        Number of classes.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum (class weights included).
    label_smoothing : float, default=0.0
        The share of each target spread uniformly over the classes.
    offset : ndarray of shape (n_samples, n_classes), optional
        Added to the raw scores.
    """

    can_form_hessian = True

    def __init__(
        self,
        X,
        y: np.ndarray,
        n_classes: int,
        sample_weight: np.ndarray | None,
        label_smoothing: float = 0.0,
        offset: np.ndarray | None = None,
    ) -> None:
        self.X = X
        self.y = y
        self.n_classes = n_classes
        self.sample_weight = sample_weight
        self.label_smoothing = label_smoothing
        self.offset = offset
        self.shape = X.shape
        # Sums that do not depend on the coefficients (_duality), kept for
        # every fit on this data (a path of Cs).
        self.moments_cache: dict = {}
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)

    def entries(self) -> int:
        """Return the stored entries of ``X``: the work of one pass, per class."""
        return self.X.nnz if self.sparse else self.shape[0] * self.shape[1]

    def class_priors(self) -> np.ndarray:
        return class_priors(
            self.y, self.n_classes, self.sample_weight, self.label_smoothing
        )

    def weight_sum_factors(self) -> tuple[float, float]:
        return weight_sum_factors(self.sample_weight, self.shape[0])

    def column_square_means(self) -> np.ndarray:
        return weighted_column_square_means(self.X, self.sample_weight)

    @contextmanager
    def objective(
        self,
        l2_reg_strength: float | np.ndarray,
        fit_intercept: bool,
        n_threads: int | None,
    ) -> Iterator[LinearSoftmaxLoss]:
        """Open the objective, its threads running while the context is open.

        BLAS is pinned before the evaluation threads start and released after
        they are joined (contexts exit in reverse order), also on an exception.
        """
        if n_threads is None:
            n_threads = threads_for_work(self.entries() * self.n_classes)
        with (
            evaluation_threads(n_threads) as n_threads,
            in_memory_loss(
                self.X,
                self.y,
                self.n_classes,
                self.sample_weight,
                l2_reg_strength=l2_reg_strength,
                fit_intercept=fit_intercept,
                n_threads=n_threads,
                label_smoothing=self.label_smoothing,
                offset=self.offset,
            ) as loss,
        ):
            yield loss

    @staticmethod
    def from_host(array: np.ndarray) -> np.ndarray:
        """Return ``array``: the fitted attributes stay NumPy arrays."""
        return array

    def sample_rows(self) -> SampleRows:
        """Return the per-row arrays of the compiled stochastic phase (``_sag``)."""
        n_samples = self.shape[0]
        soft = self.y.ndim == 2
        placeholder = np.zeros((1, 1))
        return SampleRows(
            targets=np.zeros(1, np.int64) if soft else self.y.astype(np.int64),
            soft_targets=self.y.astype(np.float64) if soft else placeholder,
            soft=soft,
            label_smoothing=float(self.label_smoothing),
            offset=placeholder if self.offset is None else self.offset.astype(float),
            has_offset=self.offset is not None,
            relative_weight=n_samples
            * normalised_weights(self.sample_weight, n_samples),
        )


class SampleRows(NamedTuple):
    """Row ``i``'s target, offset and weight, as the compiled kernels take them.

    ``relative_weight`` is ``n s_i / S``: the weights relative to their mean,
    so that the mean loss is ``sum_i relative_weight_i CE_i / n``. Unused
    arrays (``soft_targets`` for labels, ``targets`` for soft targets,
    ``offset`` without one) are 1-element placeholders, so that one compiled
    version serves every combination.
    """

    targets: np.ndarray
    soft_targets: np.ndarray
    soft: bool
    label_smoothing: float
    offset: np.ndarray
    has_offset: bool
    relative_weight: np.ndarray


def memory_input(estimator, X, y, sample_weight, purpose: str, offset=None) -> tuple:
    """``X``, ``y``, ``sample_weight``, ``offset`` for work done in memory.

    All of it is, here. Labels, weights and offsets of another namespace
    (under array API dispatch) follow NumPy ``X`` to the host.
    """
    return X, to_host(y), to_host(sample_weight), to_host(offset)


def validate_fit_data(estimator, X, y, sample_weight):
    """Validate the training data; fold class weights into sample weights.

    Returns ``X`` (not copied when float32/float64 dense or CSR/CSC), ``y``,
    the sorted classes, ``y`` as indices into them, and the sample weights
    times the class weights (None if neither was given). For a 2-D ``y``
    of class probabilities, the classes are ``np.arange(n_classes)`` (or
    the DataFrame's columns) and the targets take the place of the indices.
    """
    columns = target_columns(y)
    name = type(estimator).__name__
    if columns is None:
        X, y = validate_data(
            estimator,
            X,
            y,
            accept_sparse=ACCEPTED_SPARSE,
            dtype=ACCEPTED_DTYPES,
            multi_output=False,
        )
        check_classification_targets(y)
        classes, y_encoded = np.unique(y, return_inverse=True)
        check_two_classes(classes, name)
    else:
        X = validate_data(
            estimator, X, accept_sparse=ACCEPTED_SPARSE, dtype=ACCEPTED_DTYPES
        )
        y_encoded = _check_targets(numeric_table(y), name="y")
        check_consistent_length(X, y_encoded)
        classes = np.asarray(columns)
    sample_weight = fit_weights(
        estimator.class_weight, sample_weight, X, y_encoded, classes, name
    )
    return X, y, classes, y_encoded, sample_weight


@contextmanager
def fit_data(estimator, X, y, sample_weight, offset=None) -> Iterator[FitInput]:
    """Validate the training data and hold it as :class:`InMemoryData`."""
    X, y, sample_weight, offset = memory_input(
        estimator, X, y, sample_weight, "fit", offset
    )
    X, y, classes, y_encoded, fit_weight = validate_fit_data(
        estimator, X, y, sample_weight
    )
    offset = check_offset(offset, X.shape[0], classes.size)
    data = InMemoryData(
        X,
        y_encoded,
        classes.size,
        fit_weight,
        float(estimator.label_smoothing),
        offset,
    )
    yield FitInput(data, X, y, classes, sample_weight)


def raw_prediction(estimator, X, method: str, offset=None) -> np.ndarray:
    """Validate ``X``; return its scores (plus ``offset``), (n_samples, n_classes).

    ``method`` names the caller in errors.
    """
    check_is_fitted(estimator)
    check_same_namespace(X, estimator, attribute="coef_", method=method)
    X = validate_data(
        estimator,
        X,
        accept_sparse=ACCEPTED_SPARSE,
        dtype=ACCEPTED_DTYPES,
        reset=False,
    )
    scores = linear_scores(X, estimator.coef_, estimator.intercept_)
    if offset is not None:
        scores += check_offset(to_host(offset), *scores.shape)
    return scores


def predict(estimator, X, method: str, offset=None):
    """``estimator.<method>(X)``, one of :data:`~softmax_regression._scores.METHODS`."""
    return from_scores(
        raw_prediction(estimator, X, method, offset), method, estimator.classes_
    )


def score(estimator, X, y, sample_weight=None, offset=None) -> float:
    """Accuracy, or the expected accuracy against class probabilities."""
    if target_columns(y) is None:
        return label_accuracy(estimator, X, y, sample_weight, offset)
    scores = raw_prediction(estimator, X, "score", offset)
    targets = _check_targets(numeric_table(y), estimator.classes_.shape[0], name="y")
    check_consistent_length(scores, targets, sample_weight)
    return float(expected_accuracy(scores, targets, sample_weight))
