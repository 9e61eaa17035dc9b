r"""What a fitted model's linear scores give: predictions and accuracy.

The scores :math:`z_{ik} = w_k^\top x_i + b_k` of a batch of rows, and what
each public method makes of them (the margin for two classes, the most
probable class, the softmax, its log), in any array namespace: NumPy and
scipy.sparse in memory, another namespace on its device, a Dask worker's
chunk.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils._array_api import get_namespace_and_device, move_to
from sklearn.utils.extmath import safe_sparse_dot

from ._loss import _log_softmax, _softmax_inplace

METHODS = ("decision_function", "predict", "predict_proba", "predict_log_proba")


def linear_scores(X, coef, intercept, xp=np):
    """``X coef^T + intercept``, shape (n_samples, n_classes).

    NumPy ``X`` may be sparse; in another namespace, in the promoted dtype
    of ``X`` and ``coef``.
    """
    if xp is np:
        raw_prediction = safe_sparse_dot(X, coef.T, dense_output=True)
        raw_prediction += intercept
        return raw_prediction
    dtype = xp.result_type(X.dtype, coef.dtype)
    return xp.astype(X, dtype, copy=False) @ xp.astype(coef, dtype, copy=False).T + (
        xp.astype(intercept, dtype, copy=False)
    )


def take_classes(classes, indices, xp, device):
    """``classes[indices]``, in ``X``'s namespace unless the labels are strings."""
    xp_classes, _, device_classes = get_namespace_and_device(classes)
    indices = move_to(indices, xp=xp_classes, device=device_classes)
    labels = xp_classes.take(classes, indices, axis=0)
    if isinstance(classes, np.ndarray) and not np.issubdtype(classes.dtype, np.number):
        return labels
    return move_to(labels, xp=xp, device=device)


def from_scores(raw_prediction, method: str, classes, xp=np):
    """Return what ``method`` (one of :data:`METHODS`) makes of the scores.

    ``raw_prediction`` is overwritten (``predict_proba``). For two classes
    ``decision_function`` is the 1-D margin of ``classes[1]`` over
    ``classes[0]``; ``predict`` gives ties to the first class.
    """
    if method == "decision_function":
        if raw_prediction.shape[1] == 2:
            return raw_prediction[:, 1] - raw_prediction[:, 0]
        return raw_prediction
    if method == "predict_proba":
        _softmax_inplace(raw_prediction, axis=1, xp=None if xp is np else xp)
        return raw_prediction
    if method == "predict_log_proba":
        return _log_softmax(raw_prediction, axis=1, xp=xp)
    if xp is np:
        return classes[np.argmax(raw_prediction, axis=1)]
    return take_classes(
        classes,
        xp.argmax(raw_prediction, axis=1),
        xp,
        get_namespace_and_device(raw_prediction)[2],
    )


def label_accuracy(estimator, X, y, sample_weight=None, offset=None) -> float:
    """Return the (weighted) share of ``estimator.predict(X, offset)`` equal to y.

    scikit-learn's ``ClassifierMixin.score``, with the offset; its
    ``accuracy_score`` accepts arrays of any namespace it supports.
    """
    from sklearn.metrics import accuracy_score  # as ClassifierMixin.score does

    predicted = estimator.predict(X, offset=offset)
    return float(accuracy_score(y, predicted, sample_weight=sample_weight))


def expected_accuracy(raw_prediction, targets, sample_weight=None, xp=np, device=None):
    r"""Return the (weighted) expected accuracy against class probabilities.

    :math:`\sum_i s_i q_{i, \hat y_i} / \sum_i s_i`: the chance that the
    prediction :math:`\hat y_i` (the most probable class) matches a label
    drawn from :math:`q_i`; for one-hot rows, the accuracy. ``targets`` and
    ``sample_weight`` are of the namespace of ``raw_prediction`` (NumPy,
    another array API namespace on ``device``, or ``dask.array``), in the
    precision the sums should have. Returns a 0-d array of that namespace (a
    lazy one for Dask: ``float()`` computes both sums in one pass).
    """
    predicted = xp.argmax(raw_prediction, axis=1)
    if xp is np:
        hits = targets[np.arange(predicted.size), predicted]
        return np.average(hits, weights=sample_weight)
    n_classes = raw_prediction.shape[1]
    classes = (
        xp.arange(n_classes) if device is None else xp.arange(n_classes, device=device)
    )
    chosen = classes[None, :] == predicted[:, None]
    hits = xp.sum(xp.where(chosen, targets, xp.zeros_like(targets)), axis=1)
    if sample_weight is None:
        return xp.mean(hits)
    return xp.sum(hits * sample_weight) / xp.sum(sample_weight)
