r"""Softmax, log-softmax and the cross-entropy loss on raw scores.

This module computes in NumPy: no model, no penalty (sample weights are
normalised by :mod:`._weights`). It works on ``raw_prediction``, the
unnormalised scores (logits) :math:`z`, of a batch of samples.

Notation, used in every docstring of the package: for one sample with raw
scores :math:`z \in \mathbb{R}^K` over :math:`K` classes,

.. math::

    p_k = \operatorname{softmax}(z)_k
        = \frac{e^{z_k - m}}{\sum_{j=1}^K e^{z_j - m}},
    \qquad m = \max_j z_j,

which equals :math:`e^{z_k} / \sum_j e^{z_j}` for every real :math:`m`; taking
the maximum means no exponent is positive, so nothing overflows, and at least
one term of the sum is 1, so it cannot underflow to zero. With the true class
:math:`y \in \{0, \dots, K-1\}`,

.. math::

    \operatorname{CE}(z, y) = -\log p_y
        = \operatorname{logsumexp}(z) - z_y,
    \qquad
    \frac{\partial \operatorname{CE}}{\partial z_k} = p_k - [k = y],

where :math:`[k = y]` is 1 for the true class and 0 otherwise. The derivative
follows from :math:`\partial p_y / \partial z_k = p_y([k = y] - p_k)`.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ._weights import normalised_weights

__all__ = ["cross_entropy", "cross_entropy_grad", "log_softmax", "softmax"]


def _as_float_array(raw_prediction) -> np.ndarray:
    """Return ``raw_prediction`` as a floating array, keeping float32 as float32."""
    raw_prediction = np.asarray(raw_prediction)
    if not np.issubdtype(raw_prediction.dtype, np.floating):
        # Integers and booleans are promoted; float16/32/64 stay as they are.
        raw_prediction = raw_prediction.astype(np.float64)
    return raw_prediction


def _softmax_inplace(raw_prediction, axis: int, xp=None):
    """Overwrite ``raw_prediction`` with its softmax along ``axis``.

    This is the kernel every other function of the package is built on.

    Parameters
    ----------
    raw_prediction : array of floating dtype
        Raw scores, overwritten with the probabilities.
    axis : int
        The class axis.
    xp : array namespace, optional
        The namespace of ``raw_prediction`` if it is not a NumPy array (an
        array API namespace, see :mod:`softmax_regression._backends.array_api`).

    Returns
    -------
    log_sum_exp : array
        ``logsumexp(raw_prediction, axis)`` of the scores as they were on entry,
        with ``axis`` removed; the same dtype as ``raw_prediction``.
    """
    in_numpy = xp is None
    if in_numpy:
        xp = np
    max_raw = xp.max(raw_prediction, axis=axis, keepdims=True)
    raw_prediction -= max_raw
    if in_numpy:
        np.exp(raw_prediction, out=raw_prediction)
    else:  # the array API has no out=; in-place assignment is standard
        raw_prediction[...] = xp.exp(raw_prediction)
    sum_exp = xp.sum(raw_prediction, axis=axis, keepdims=True)
    raw_prediction /= sum_exp
    # sum_exp >= 1 since one term is exp(0): the log is finite.
    log_sum_exp = xp.log(sum_exp)
    log_sum_exp += max_raw
    return xp.squeeze(log_sum_exp, axis=axis)


def softmax(raw_prediction, axis: int = -1) -> np.ndarray:
    r"""Softmax of raw scores along ``axis``, computed stably.

    .. math:: p_k = e^{z_k - m} / \sum_j e^{z_j - m}, \quad m = \max_j z_j.

    Parameters
    ----------
    raw_prediction : array-like of any shape
        Raw scores (logits). ``-inf`` is allowed (that class gets probability 0)
        as long as every slice along ``axis`` has a finite maximum.
    axis : int, default=-1
        The class axis; every slice along it sums to one.

    Returns
    -------
    probabilities : ndarray of the same shape
        float32 for float32 input, float64 for float64 or integer input.

    Examples
    --------
    >>> from softmax_regression import softmax
    >>> softmax([1.0, 1.0, 1e4]).round(6).tolist()
    [0.0, 0.0, 1.0]
    """
    raw_prediction = _as_float_array(raw_prediction)
    probabilities = raw_prediction.copy()
    _softmax_inplace(probabilities, axis=axis)
    return probabilities


def log_softmax(raw_prediction, axis: int = -1) -> np.ndarray:
    r"""Logarithm of the softmax along ``axis``, through log-sum-exp.

    .. math::
        \log p_k = z_k - m - \log \sum_j e^{z_j - m}, \quad m = \max_j z_j.

    Unlike ``np.log(softmax(z))`` it stays finite where a probability
    underflows to zero.

    Parameters
    ----------
    raw_prediction : array-like of any shape
        Raw scores (logits).
    axis : int, default=-1
        The class axis.

    Returns
    -------
    log_probabilities : ndarray of the same shape and floating dtype

    Examples
    --------
    >>> from softmax_regression import log_softmax
    >>> log_softmax([0.0, 1000.0]).tolist()
    [-1000.0, 0.0]
    """
    return _log_softmax(_as_float_array(raw_prediction), axis, np)


def _log_softmax(raw_prediction, axis: int, xp):
    """:func:`log_softmax` of a float array of the namespace ``xp``."""
    max_raw = xp.max(raw_prediction, axis=axis, keepdims=True)
    shifted = raw_prediction - max_raw
    sum_exp = xp.sum(xp.exp(shifted), axis=axis, keepdims=True)
    shifted -= xp.log(sum_exp)
    return shifted


def _check_targets(
    targets,
    n_classes: int | None = None,
    name: str = "y",
    xp=None,
    to_numpy=None,
    first_row: int = 0,
):
    r"""Validate a table of class probabilities, one row per sample.

    Each row :math:`q_i` must be finite, non-negative and sum to one within
    :math:`\sqrt{\epsilon}` of its dtype (1.5e-8 for float64, 3.5e-4 for
    float32: what a computed probability vector meets, and what rounded
    ones do not; normalise those first). Rows are used as they are, not
    renormalised.

    Parameters
    ----------
    targets : array-like of shape (n_samples, n_classes)
        The table.
    n_classes : int, optional
        The number of columns it must have.
    name : str, default="y"
        The argument's name, for the errors.
    xp : array namespace, optional
        The namespace of ``targets`` if not NumPy (the array API path, where
        the checks run on the device and only the first offending row is
        brought to the host, by ``to_numpy``).
    to_numpy : callable, optional
        Converts a row of ``targets`` to NumPy, for the message.
    first_row : int, default=0
        The index of the first row in the whole data (a Dask chunk's offset),
        for the message.

    Returns
    -------
    targets : ndarray of shape (n_samples, n_classes)
        float32 and float64 kept (no copy), anything else converted to float64.
    """
    if xp is None:
        xp, targets, float64 = np, _as_float_array(targets), np.float64
    else:
        float64 = xp.float64
        if not xp.isdtype(targets.dtype, "real floating"):
            targets = xp.astype(targets, float64)
    if to_numpy is None:
        to_numpy = np.asarray
    if targets.ndim != 2:
        raise ValueError(
            f"{name} as class probabilities must be 2-D (n_samples, n_classes); "
            f"got shape {targets.shape}."
        )
    if n_classes is not None and targets.shape[1] != n_classes:
        raise ValueError(
            f"{name} as class probabilities must have one column per class "
            f"({n_classes}); got {targets.shape[1]} columns."
        )
    tolerance = float(xp.finfo(targets.dtype).eps) ** 0.5
    row_sums = xp.sum(targets, axis=1, dtype=float64)
    problems = (
        (~xp.all(xp.isfinite(targets), axis=1), "is not finite (NaN or infinity)"),
        (xp.any(targets < 0, axis=1), "has a negative entry"),
        (xp.abs(row_sums - 1.0) > tolerance, "does not sum to 1"),
    )
    for bad, what in problems:
        if not bool(xp.any(bad)):
            continue
        # The first offending row (argmax of booleans: NumPy 1.x has no
        # np.astype, the array API no argmax of booleans).
        row = int(np.argmax(bad) if xp is np else xp.argmax(xp.astype(bad, xp.int8)))
        values = to_numpy(targets[row, :]).tolist()
        row += first_row
        if what != "does not sum to 1":
            raise ValueError(
                f"{name} is not a table of class probabilities: row {row} {what}: "
                f"{values}."
            )
        raise ValueError(
            f"{name} is not a table of class probabilities: row {row} sums to "
            f"{float(np.sum(values))!r}, not 1 (within {tolerance:.2g} for "
            f"{targets.dtype}). Divide each row by its sum; for counts, pass "
            "counts / counts.sum(axis=1, keepdims=True) with sample_weight="
            "counts.sum(axis=1)."
        )
    return targets


def _check_label_smoothing(label_smoothing) -> float:
    """Return ``label_smoothing`` as a float in [0, 1), or raise ValueError."""
    value = float(label_smoothing) if isinstance(label_smoothing, Real) else np.nan
    if isinstance(label_smoothing, bool) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"label_smoothing must be a number in [0, 1); got {label_smoothing!r}."
        )
    return value


def _check_labels_and_weights(raw_prediction, y, sample_weight):
    """Validate the arguments of the cross-entropy functions.

    Returns the raw scores as a 2-D float array of shape (n_samples, n_classes),
    the labels as a 1-D integer array or the class probabilities as a 2-D
    array (n_samples, n_classes), the normalised sample weights (summing to
    one, float64) and whether the input was a single sample.
    """
    raw_prediction = _as_float_array(raw_prediction)
    y = np.asarray(y)
    single_sample = raw_prediction.ndim == 1
    if single_sample:
        if y.ndim == 1 and y.shape == raw_prediction.shape:
            y = y[np.newaxis, :]  # one sample's class probabilities
        elif y.ndim != 0:
            raise ValueError(
                "For 1-D raw_prediction (one sample), y must be a single integer "
                "label or a vector of class probabilities of the same length; "
                f"got an array of shape {y.shape}."
            )
        else:
            y = y.reshape(1)
        raw_prediction = raw_prediction[np.newaxis, :]
    elif raw_prediction.ndim == 2:
        if y.shape not in ((raw_prediction.shape[0],), raw_prediction.shape):
            raise ValueError(
                "y must be 1-D with one label per row of raw_prediction, or 2-D "
                "with one row of class probabilities per row: raw_prediction has "
                f"shape {raw_prediction.shape}, y has shape {y.shape}."
            )
    else:
        raise ValueError(
            "raw_prediction must be 1-D (n_classes,) or 2-D (n_samples, "
            f"n_classes); got {raw_prediction.ndim} dimensions."
        )
    n_samples, n_classes = raw_prediction.shape
    if y.ndim == 2:
        y = _check_targets(y, n_classes)
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must hold integer class indices in [0, {n_classes}) or rows of "
            f"class probabilities; got dtype {y.dtype}."
        )
    elif n_samples and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"y must hold class indices in [0, {n_classes}) for {n_classes} "
            f"columns of raw_prediction; got values in [{y.min()}, {y.max()}]."
        )
    if sample_weight is None:
        if n_samples == 0:
            raise ValueError("raw_prediction holds no sample.")
    else:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                f"sample_weight must have shape ({n_samples},); got "
                f"{sample_weight.shape}."
            )
        if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise ValueError("sample_weight must be finite and non-negative.")
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight must have a positive sum.")
    normalised_weight = normalised_weights(sample_weight, n_samples)
    return raw_prediction, y, normalised_weight, single_sample


def _target_table(y, n_classes: int, label_smoothing: float, dtype) -> np.ndarray:
    r"""Return the targets :math:`t_i = (1 - \varepsilon) q_i + \varepsilon / K`.

    :math:`q_i` is the one-hot vector of label :math:`y_i` for 1-D ``y``, or
    row :math:`i` of 2-D ``y``. For the batch functions below, whose inputs
    are n_samples x n_classes already; the fit never builds this table.
    """
    if y.ndim == 1:
        table = np.zeros((y.size, n_classes), dtype=dtype)
        table[np.arange(y.size), y] = 1.0
    else:
        table = y.astype(dtype, copy=True)
    if label_smoothing:
        table *= 1.0 - label_smoothing
        table += label_smoothing / n_classes
    return table


def cross_entropy(raw_prediction, y, sample_weight=None, *, label_smoothing=0.0):
    r"""Cross-entropy of raw scores against labels or class probabilities.

    For one sample with target distribution :math:`t` over the classes,

    .. math::
        \operatorname{CE}(z, t) = -\sum_k t_k \log p_k
        = \operatorname{logsumexp}(z) - t^\top z

    (using :math:`\sum_k t_k = 1`), which for a hard label :math:`y`
    (:math:`t = e_y`, one-hot) is :math:`-\log p_y
    = \operatorname{logsumexp}(z) - z_y`. With label smoothing
    :math:`\varepsilon` the target is :math:`(1 - \varepsilon) q +
    \varepsilon / K`, as in PyTorch's ``CrossEntropyLoss``, where :math:`q`
    is the one-hot label or the given probabilities. For a batch, the weighted
    mean

    .. math::
        L = \frac{\sum_i s_i \operatorname{CE}(z_i, t_i)}{\sum_i s_i}.

    Parameters
    ----------
    raw_prediction : array-like of shape (n_classes,) or (n_samples, n_classes)
        Raw scores of one sample, or of a batch (one row per sample).
    y : int, array-like of shape (n_samples,) or (n_samples, n_classes)
        The true class as an index (an integer for one sample, an integer
        array for a batch), or class probabilities: a vector of length
        n_classes for one sample, a table with one row per sample for a batch
        (non-negative, each row summing to one within the square root of its
        dtype's machine epsilon).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights :math:`s_i` of a batch; ``None`` means all ones.
    label_smoothing : float in [0, 1), default=0.0
        :math:`\varepsilon`: the share of the target spread uniformly over
        the classes.

    Returns
    -------
    loss : numpy floating scalar
        Of the dtype of ``raw_prediction`` (float32 stays float32).

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_regression import cross_entropy
    >>> float(cross_entropy([0.0, 0.0], 1)) == float(np.log(2))
    True
    >>> float(cross_entropy([0.0, 0.0], [0.5, 0.5])) == float(np.log(2))
    True
    """
    label_smoothing = _check_label_smoothing(label_smoothing)
    raw_prediction, y, normalised_weight, _ = _check_labels_and_weights(
        raw_prediction, y, sample_weight
    )
    n_samples, n_classes = raw_prediction.shape
    if y.ndim == 1 and not label_smoothing:
        raw_target = raw_prediction[np.arange(n_samples), y]
    else:
        targets = _target_table(y, n_classes, label_smoothing, raw_prediction.dtype)
        # t_k z_k only where t_k > 0: a class of raw score -inf and target 0
        # adds nothing (not 0 * inf = nan).
        with np.errstate(invalid="ignore"):
            raw_target = np.where(targets > 0, targets * raw_prediction, 0).sum(axis=1)
    log_sum_exp = _softmax_inplace(raw_prediction.copy(), axis=1)
    # A sample of weight zero is left out, also where its loss is infinite
    # (a true class of raw score -inf): 0 * inf would be nan. Accumulate in
    # float64 so a float32 batch loses no more than one rounding.
    counted = normalised_weight > 0
    per_sample = (log_sum_exp - raw_target)[counted].astype(np.float64)
    loss = np.dot(normalised_weight[counted], per_sample)
    return raw_prediction.dtype.type(loss)


def cross_entropy_grad(
    raw_prediction, y, sample_weight=None, *, label_smoothing=0.0
) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to ``raw_prediction``.

    For one sample it is :math:`p - t`, the probabilities minus the target:
    :math:`p - e_y` for a hard label, with label smoothing :math:`p -
    (1 - \varepsilon) q - \varepsilon / K`. For a batch, row :math:`i` is
    :math:`s_i (p_i - t_i) / \sum_j s_j`.

    Parameters
    ----------
    raw_prediction : array-like of shape (n_classes,) or (n_samples, n_classes)
        Raw scores of one sample, or of a batch.
    y : int, array-like of shape (n_samples,) or (n_samples, n_classes)
        The true class index, or class probabilities (see
        :func:`cross_entropy`).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of a batch; ``None`` means all ones.
    label_smoothing : float in [0, 1), default=0.0
        The share of the target spread uniformly over the classes.

    Returns
    -------
    gradient : ndarray of the same shape and floating dtype as raw_prediction

    Examples
    --------
    >>> from softmax_regression import cross_entropy_grad
    >>> cross_entropy_grad([0.0, 0.0], 1).tolist()
    [0.5, -0.5]
    >>> cross_entropy_grad([0.0, 0.0], 1, label_smoothing=0.2).tolist()
    [0.4, -0.4]
    """
    label_smoothing = _check_label_smoothing(label_smoothing)
    raw_prediction, y, normalised_weight, single_sample = _check_labels_and_weights(
        raw_prediction, y, sample_weight
    )
    gradient = raw_prediction.copy()
    _softmax_inplace(gradient, axis=1)
    if y.ndim == 1 and not label_smoothing:
        gradient[np.arange(gradient.shape[0]), y] -= 1
    else:
        gradient -= _target_table(y, gradient.shape[1], label_smoothing, gradient.dtype)
    gradient *= normalised_weight.astype(gradient.dtype)[:, np.newaxis]
    return gradient[0] if single_sample else gradient
