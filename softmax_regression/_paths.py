"""Where an L1 path starts: the largest ``C`` at which every coefficient is zero."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._backends import backend_for
from ._checks import check_penalty_factor
from ._coef import split_coef
from ._fit import fit_coef

#: The ``C`` of the fit that finds the intercepts (and the unpenalised
#: features) with every penalised coefficient at zero.
_TINY_C = 1e-12


def l1_min_c(
    X,
    y,
    *,
    sample_weight=None,
    offset=None,
    l1_ratio=1.0,
    l1_type="ungrouped",
    **params,
) -> float:
    r"""Return the ``C`` at and below which the L1 penalty zeroes every coefficient.

    The start of a regularisation path (glmnet's ``lambda_max``, as
    :math:`C = 1 / (\lambda n)`; scikit-learn's :func:`sklearn.svm.l1_min_c`).
    With every penalised coefficient at zero, the intercepts (and the
    features with a zero ``penalty_factor``) take their fitted values and
    the cross-entropy's gradient :math:`g_j` with respect to feature
    :math:`j`'s coefficients follows; zero is optimal as long as
    :math:`\lVert g_j \rVert \le r f_j / (C S)` for every feature, with the
    largest absolute entry for ``l1_type="ungrouped"`` and the Euclidean norm
    for ``"grouped"``. So

    .. math::

        C_{\min} = \min_j \frac{r f_j}{S \lVert g_j \rVert}.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data, as :meth:`SoftmaxRegression.fit` takes it.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Labels or class probabilities.
    sample_weight : array-like of shape (n_samples,), default=None
    offset : array-like of shape (n_samples, n_classes), default=None
    l1_ratio : float in (0, 1], default=1.0
        The share of L1 in the penalty (the L2 share does not move the point).
    l1_type : {"ungrouped", "grouped"}, default="ungrouped"
    **params
        Other :class:`SoftmaxRegression` parameters that change the
        objective: ``class_weight``, ``label_smoothing``, ``fit_intercept``,
        ``penalty_factor``.

    Returns
    -------
    C : float
        ``inf`` if no feature has a penalised, non-zero gradient.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmax_regression import SoftmaxRegression, l1_min_c
    >>> X, y = load_iris(return_X_y=True)
    >>> C = l1_min_c(X, y)
    >>> SoftmaxRegression(C=C, l1_ratio=1.0).fit(X, y).coef_.any()
    np.False_
    >>> SoftmaxRegression(C=1.1 * C, l1_ratio=1.0).fit(X, y).coef_.any()
    np.True_
    """
    from ._estimator import SoftmaxRegression

    if not 0 < l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be in (0, 1]; got {l1_ratio!r}.")
    estimator = SoftmaxRegression(
        l1_ratio=l1_ratio, l1_type=l1_type, solver="newton-cd", **params
    )
    estimator._validate_params()
    with backend_for(X, y, sample_weight, offset).fit_data(
        estimator, X, y, sample_weight, offset
    ) as (data, *_):
        n_features = data.shape[1]
        factor = check_penalty_factor(estimator.penalty_factor, n_features)
        factor = np.ones(n_features) if factor is None else factor
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            coef, _ = fit_coef(
                data,
                C=_TINY_C,
                l1_ratio=1.0,
                fit_intercept=estimator.fit_intercept,
                solver="newton-cd",
                tol=1e-12,
                max_iter=200,
                penalty_factor=factor,
                l1_type=l1_type,
            )
        largest_weight, relative_weight_sum = data.weight_sum_factors()
        with data.objective(0.0, estimator.fit_intercept, None) as loss:
            _, gradient = loss.loss_gradient(coef)
    gradient, _ = split_coef(
        gradient, data.n_classes, n_features, estimator.fit_intercept
    )
    if l1_type == "grouped":
        norms = np.sqrt(np.square(gradient).sum(axis=0))
    else:
        norms = np.abs(gradient).max(axis=0)
    penalised = (factor > 0) & (norms > 0)
    if not np.any(penalised):
        return np.inf
    scale = largest_weight * relative_weight_sum
    return float(np.min(l1_ratio * factor[penalised] / (scale * norms[penalised])))
