r"""The arithmetic of sample and class weights, written once for any namespace.

Sample weights :math:`s_i` (class weights folded in), their sum :math:`S` in
two factors that cannot overflow, the normalised weights :math:`s_i / S` the
data term uses, the weighted total of each class and the class shares (with
label smoothing). Labels are class indices ``y`` of shape (n_samples,), or a
table of class probabilities of shape (n_samples, n_classes).

Each function takes the array namespace ``xp`` (NumPy by default): the
in-memory fit, a device (array API) and a Dask worker's chunk compute the same
quantities with the same code; NumPy arrays take NumPy's own routines
(``np.bincount``) where the standard has none.
"""

from __future__ import annotations

import numpy as np
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import _max_precision_float_dtype
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight

from ._arrays import to_host
from ._checks import check_class_weight_values, check_two_weighted_classes


def class_weight_per_class(class_weight, classes, y, sample_weight) -> np.ndarray:
    """Return the weight of each class in ``classes``, checked.

    scikit-learn's ``compute_class_weight``, except that "balanced" gives a
    class whose samples all weigh zero the weight 0, not inf (0 * inf = nan).
    ``y`` and ``sample_weight`` may also be the classes and their (weighted)
    totals (:func:`class_totals`): "balanced" only reads the weight sum per
    class.
    """
    if isinstance(class_weight, dict):
        check_class_weight_values(class_weight)
    with np.errstate(divide="ignore"):
        weights = compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
    weights[~np.isfinite(weights)] = 0.0
    return weights


def fold_class_weight(sample_weight, class_weight, y, xp=np):
    r"""Return each sample's weight times its class weight, as a new array.

    For a table of class probabilities, times the expected class weight
    :math:`q_i^\top c`. ``class_weight`` is in ``sample_weight``'s namespace;
    the caller's ``sample_weight`` is never modified.
    """
    if xp is np:
        return sample_weight * (y @ class_weight if y.ndim == 2 else class_weight[y])
    if len(y.shape) == 2:
        return sample_weight * (xp.astype(y, class_weight.dtype) @ class_weight)
    return sample_weight * xp.take(class_weight, y)


def class_sums(targets: np.ndarray, sample_weight=None) -> np.ndarray:
    """Return ``sum_i s_i q_ik`` for each class ``k`` of a probability table.

    Summed in row order, as ``np.bincount`` sums the weights of each label, so
    that one-hot rows give bit for bit the sums the labels give (a weighted
    count adds zeros for the other classes, which changes no bit).
    """
    n_samples, n_classes = targets.shape
    row = np.zeros(n_samples, dtype=np.intp)
    sums = np.empty(n_classes)
    for k in range(n_classes):
        column = targets[:, k].astype(np.float64)
        if sample_weight is not None:
            column *= sample_weight
        sums[k] = np.bincount(row, weights=column, minlength=1)[0]
    return sums


def class_totals(y, n_classes: int, sample_weight=None, xp=np) -> np.ndarray:
    """Return the (weighted) total of each class on the host, float64.

    For class indices, the (weighted) count of each class; for a table of
    class probabilities, its (weighted) column sums. Off NumPy: one reduction
    over the samples per class (the array API has no ``bincount``), brought
    to the host in one transfer.
    """
    if xp is np:
        if y.ndim == 2:
            return class_sums(y, sample_weight)
        return np.bincount(y, weights=sample_weight, minlength=n_classes)
    if len(y.shape) == 2:
        if sample_weight is None:
            return to_host(xp.sum(y, axis=0, dtype=xp.float64)).astype(np.float64)
        return to_host(xp.astype(sample_weight, y.dtype) @ y).astype(np.float64)
    if sample_weight is None:
        sums = [xp.sum(xp.astype(y == k, xp.int64)) for k in range(n_classes)]
    else:
        zero = xp.zeros((), dtype=sample_weight.dtype, device=sample_weight.device)
        sums = [xp.sum(xp.where(y == k, sample_weight, zero)) for k in range(n_classes)]
    return to_host(xp.stack(sums)).astype(np.float64)


def widest_float(xp, device):
    """float64, unless the device lacks it (Apple MPS: float32)."""
    return np.float64 if xp is np else _max_precision_float_dtype(xp, device)


def relative_weights(sample_weight, xp=np):
    """Weights over the largest one: sums that cannot overflow, same shares.

    In :func:`widest_float`; None if ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    if xp is not np:
        dtype = widest_float(xp, array_api_compat.device(sample_weight))
        sample_weight = xp.astype(sample_weight, dtype)
    return sample_weight / xp.max(sample_weight)


def weight_sum_factors(sample_weight, n_samples: int, xp=np) -> tuple[float, float]:
    r"""Return :math:`S = \sum_i s_i` as two factors that cannot overflow.

    The largest weight :math:`m` and :math:`S / m`: dividing by the largest
    weight before summing keeps the sum finite where :math:`S` itself
    exceeds the float64 range (two weights of 1e308 each).

    Parameters
    ----------
    sample_weight : array of shape (n_samples,) or None
        Finite, non-negative weights with a positive sum; None means all ones.
    n_samples : int
        Number of samples.
    xp : namespace, default=numpy
        The namespace of ``sample_weight``.

    Returns
    -------
    largest : float
        :math:`m = \max_i s_i` (1 if ``sample_weight`` is None).
    relative_sum : float
        :math:`S / m` (``n_samples`` if ``sample_weight`` is None).
    """
    if sample_weight is None:
        return 1.0, float(n_samples)
    if xp is np:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return float(xp.max(sample_weight)), float(
        xp.sum(relative_weights(sample_weight, xp))
    )


def normalised_weights(sample_weight, n_samples: int, xp=np, device=None):
    """Return the weights over their sum, :math:`s_i / S`, as float64.

    Computed as :math:`(s_i / m) / (S / m)` (see :func:`weight_sum_factors`),
    so it sums to one also where :math:`S` overflows.
    """
    if sample_weight is None:
        if xp is np:
            return np.full(n_samples, 1.0 / n_samples)
        return xp.full(
            n_samples, 1.0 / n_samples, dtype=widest_float(xp, device), device=device
        )
    if xp is np:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    relative = relative_weights(sample_weight, xp)
    return relative / xp.sum(relative)


def smoothed_shares(priors: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Return the class shares of the label-smoothed targets.

    ``(1 - eps) * priors + eps / n_classes``: the targets' shares after each
    target is mixed with the uniform distribution (``priors`` if eps is 0).
    """
    if not label_smoothing:
        return priors
    return (1.0 - label_smoothing) * priors + label_smoothing / priors.size


def class_priors(
    y, n_classes: int, sample_weight, label_smoothing: float = 0.0, xp=np
) -> np.ndarray:
    """Return the weighted share of each class on the host, shape (n_classes,).

    ``y`` holds class indices, or class probabilities (n_samples, n_classes),
    whose weighted column sums are the shares. With label smoothing the
    shares of the smoothed targets, ``(1 - eps) * shares + eps / n_classes``.
    """
    counts = class_totals(y, n_classes, relative_weights(sample_weight, xp), xp)
    return smoothed_shares(counts / counts.sum(), label_smoothing)


def fit_weights(
    class_weight, sample_weight, X, y, classes, name: str, xp=np, device=None
):
    """Return the weights a fit uses: checked sample weights times class weights.

    ``sample_weight`` (array-like or None) is checked against ``X`` and
    converted to :func:`widest_float` on ``device``; ``class_weight`` (the
    estimator's parameter: dict, "balanced" or None) is folded in
    (:func:`fold_class_weight`); ``y`` holds class indices into ``classes``
    (on the host) or class probabilities. Returns None if both are None.
    A ValueError if fewer than two classes keep a positive weight.
    """
    n_classes = classes.size
    if sample_weight is not None or class_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=widest_float(xp, device), ensure_non_negative=True
        )
    if class_weight is not None:
        # "balanced" reads only the (weighted) total of each class.
        per_class = class_weight_per_class(
            class_weight,
            classes,
            classes,
            class_totals(y, n_classes, sample_weight, xp),
        )
        if xp is not np:
            per_class = xp.asarray(per_class, dtype=sample_weight.dtype, device=device)
        sample_weight = fold_class_weight(sample_weight, per_class, y, xp)
    if sample_weight is not None or len(y.shape) == 2:
        # For class probabilities their column sums make the classes.
        check_two_weighted_classes(
            classes, class_totals(y, n_classes, sample_weight, xp), name
        )
    return sample_weight
