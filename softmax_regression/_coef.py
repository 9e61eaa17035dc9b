"""The flat coefficient layout ``[W, b]`` every layer shares.

``scipy.optimize`` works on one float64 vector: the rows of the weights
``W`` (n_classes x n_features, row ``k`` is class ``k``) one after the other,
then the intercepts ``b`` if ``fit_intercept``. Here: its length, views of its
parts, the starting point, the rows of a path of solutions, the fitted
attributes a solution makes and the flat vector a fitted model gives back.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._arrays import to_host


def n_coef(n_classes: int, n_features: int, fit_intercept: bool) -> int:
    """Length of the flat coefficient vector."""
    return n_classes * (n_features + fit_intercept)


def split_coef(
    coef, n_classes: int, n_features: int, fit_intercept: bool, reshape=None
):
    """Return views of a flat ``[W, b]``: weights (n_classes, n_features), b.

    The intercepts are None if not ``fit_intercept``. ``reshape`` is the
    namespace's function for arrays without a ``reshape`` method (the array
    API's); by default the method.
    """
    n_weights = n_classes * n_features
    weights = coef[:n_weights]
    shape = (n_classes, n_features)
    weights = weights.reshape(shape) if reshape is None else reshape(weights, shape)
    return weights, coef[n_weights:] if fit_intercept else None


def as_rows(coefs: np.ndarray, n_classes: int, n_features: int) -> np.ndarray:
    """Flat ``[W, b]`` vectors as (..., n_classes, n_features + fit_intercept)."""
    weights = coefs[..., : n_classes * n_features].reshape(
        *coefs.shape[:-1], n_classes, n_features
    )
    intercept = coefs[..., n_classes * n_features :]
    if intercept.shape[-1] == 0:
        return weights
    return np.concatenate([weights, intercept[..., np.newaxis]], axis=-1)


def prior_intercepts(priors: np.ndarray) -> np.ndarray:
    """Return intercepts whose softmax is ``priors``: centred logs, floored.

    They minimise the unpenalised objective with ``W = 0``. A class whose
    weight is zero gets the log of machine epsilon instead of minus infinity.
    """
    log_priors = np.log(np.maximum(priors, np.finfo(np.float64).eps))
    return log_priors - log_priors.mean()


def initial_coef(
    priors: np.ndarray, n_features: int, fit_intercept: bool
) -> np.ndarray:
    """Return the starting point: ``W = 0``, intercepts at the log class priors.

    The intercepts minimise the objective for ``W = 0`` (a constant model
    predicts the weighted class shares ``priors``), saving the solvers the
    iterations that find them from zero. Flat ``[W, b]``, float64.
    """
    n_classes = priors.size
    coef = np.zeros(n_coef(n_classes, n_features, fit_intercept))
    if fit_intercept:
        coef[n_classes * n_features :] = prior_intercepts(priors)
    return coef


def fitted_attributes(
    coef, classes, n_features: int, fit_intercept: bool, dtype, from_host=None
) -> dict:
    """Return the fitted attributes that a flat ``[W, b]`` solution makes.

    ``classes_``, ``coef_`` and ``intercept_`` (shifted to sum to zero; zeros
    without intercepts), in ``dtype``. ``from_host`` moves the coefficients to
    where the data is (the array API path); they stay NumPy arrays if None.
    """
    n_classes = classes.shape[0]
    weights, intercept = split_coef(coef, n_classes, n_features, fit_intercept)
    if intercept is None:
        intercept = np.zeros(n_classes)
    else:
        intercept = intercept - intercept.mean()
    weights, intercept = weights.astype(dtype), intercept.astype(dtype)
    if from_host is not None:
        weights, intercept = from_host(weights), from_host(intercept)
    return {"classes_": classes, "coef_": weights, "intercept_": intercept}


def previous_coef(estimator, classes, n_features: int) -> np.ndarray:
    """Return a fitted model's solution as a flat ``[W, b]``, float64.

    For ``warm_start``: the classes and the number of features must be those
    of the data (a ValueError says what differs). The previous fit's
    attributes may be of another namespace or device, or sparse.
    """
    classes, previous_classes = to_host(classes), to_host(estimator.classes_)
    if not np.array_equal(classes, previous_classes) or (
        estimator.coef_.shape[1] != n_features
    ):
        raise ValueError(
            "warm_start=True needs the same classes and number of features "
            f"as the previous fit: it had classes {previous_classes.tolist()} "
            f"and {estimator.coef_.shape[1]} features, this data has "
            f"{classes.tolist()} and {n_features}. Set warm_start=False "
            "to start afresh."
        )
    coef = estimator.coef_
    coef = coef.toarray() if sp.issparse(coef) else coef
    parts = [to_host(coef).ravel()]
    if estimator.fit_intercept:
        parts.append(to_host(estimator.intercept_))
    return np.concatenate(parts).astype(np.float64)
