"""The one rule for comparing two fits: a tolerance that follows from their stops.

Two fits of the same problem (two backends, two solvers, warm against cold,
Dask against memory, float32 against float64, ...) stop at different points
inside their stopping regions: how far apart depends on the arithmetic (BLAS
kernels, SIMD loops, summation order), not only on the problem. A hand-picked
``atol`` that holds under one machine's rounding fails under another's. So a
comparison asserts what the stops guarantee, never more:

* Near the minimiser ``w*`` of a function that is ``mu``-strongly convex there,
  ``||w - w*|| <= ||grad f(w)|| / mu`` (from ``<grad f(w), w - w*> >=
  mu ||w - w*||^2``). So two fits ``a`` and ``b`` of one problem satisfy
  ``||w_a - w_b|| <= (||g_a|| + ||g_b||) / mu``, with the gradients measured
  here in float64 by the written-out objective (not by the fits'
  own reports) and ``mu`` the smallest eigenvalue of the Hessian at ``w_a``,
  halved for the Hessian's change between the points (both are in the
  region where Newton's method converges quadratically; the tests check the
  bound is small before relying on it). Coefficients both fits hold at the
  same bound are fixed there and compared exactly; the bound covers the free
  ones, with the gradient restricted to them.
* Scores move by at most ``||x~_i|| ||w_a - w_b||`` (``x~`` the row with a 1
  for the intercept) and the softmax's Jacobian has infinity-norm at most
  1/2, so probabilities agree within half of that.

:func:`assert_same_optimum` asserts the distance; it returns both bounds for
the caller's comparisons. Where two results are equal by
construction, the test compares exactly and says so instead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.linalg import null_space

from softmax_regression._arrays import to_host
from softmax_regression._backends.memory import in_memory_loss
from softmax_regression._weights import fit_weights


class Agreement(NamedTuple):
    """How far apart two fits may be, from their gradients."""

    distance: float
    probability: float


def flat_coef(model) -> np.ndarray:
    """The fitted ``[W, b]`` of ``model`` as a flat float64 host vector."""
    coef = np.asarray(_host(model.coef_), dtype=np.float64).ravel()
    if getattr(model, "fit_intercept", True):
        coef = np.r_[coef, np.asarray(_host(model.intercept_), dtype=np.float64)]
    return coef


def _host(array):
    if sp.issparse(array):
        return array.toarray()
    if hasattr(array, "to_numpy"):  # pandas
        return array.to_numpy()
    return to_host(array)


def objective_for(
    X,
    y,
    n_classes: int,
    *,
    C: float = 1.0,
    sample_weight=None,
    penalty_factor=None,
    fit_intercept: bool = True,
    label_smoothing: float = 0.0,
    offset=None,
):
    """The L2-penalised objective in float64, as the estimators define it."""
    X = X.astype(np.float64)
    weight_sum = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    l2 = 1.0 / (C * weight_sum)
    if penalty_factor is not None:
        l2 = l2 * np.asarray(penalty_factor, dtype=np.float64)
    return in_memory_loss(
        X,
        y,
        n_classes,
        None if sample_weight is None else np.asarray(sample_weight, np.float64),
        l2,
        fit_intercept,
        label_smoothing=label_smoothing,
        offset=None if offset is None else np.asarray(offset, np.float64),
    )


def assert_same_optimum(
    loss,
    coef_a: np.ndarray,
    coef_b: np.ndarray,
    *,
    needed: float,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    X=None,
    l1: float | np.ndarray = 0.0,
) -> Agreement:
    """Assert two fits reached the same minimiser, as far as their stops imply.

    Parameters
    ----------
    loss : LinearSoftmaxLoss
        The objective both fits minimised, in float64 (:func:`objective_for`).
    coef_a, coef_b : ndarray of shape (n_coef,)
        The two fits' flat ``[W, b]``.
    needed : float
        The largest distance bound the test can use: asserting that the
        bound is under it checks that the fits were driven far enough for
        the comparison to mean something. Set ten times above the bound
        measured on the developers' machine: the gradient a stop leaves
        varies with the arithmetic (seen: 40x, where a final polishing step
        ran on one machine and not on another), and the comparison itself
        uses the bound measured here, whatever it is.
    bounds : tuple of two ndarrays of shape (n_classes, n_features), optional
        Box constraints on ``W`` both fits obeyed.
    X : array-like, optional
        The rows whose probabilities the caller compares.
    l1 : float or ndarray of shape (n_features,), default=0
        An L1 strength added to ``loss`` (elastic net): the gradient is then
        the subgradient of least norm, and the bound holds with ``mu`` the
        smooth part's (the L1 term is convex).

    Returns
    -------
    agreement : Agreement
        ``distance``, the bound on the coefficients' distance (outside the
        undetermined shifts), and ``probability``, with ``X`` the bound on
        how far the two fits' probabilities may be apart there (see the
        module docstring; NaN without ``X``).
    """
    coef_a = np.asarray(coef_a, dtype=np.float64)
    coef_b = np.asarray(coef_b, dtype=np.float64)
    free = np.ones(coef_a.size, dtype=bool)
    n_weights = loss.n_classes * loss.n_features
    if bounds is not None:
        lower, upper = (
            np.broadcast_to(bound, (loss.n_classes, loss.n_features)).ravel()
            for bound in bounds
        )
        for bound in (lower, upper):
            held = (coef_a[:n_weights] == bound) & (coef_b[:n_weights] == bound)
            free[:n_weights] &= ~held
        # Coefficients fixed at one bound by both are equal exactly.
        assert_allclose(coef_a[~free], coef_b[~free], rtol=0, atol=0)
    # Adding a constant to every class's intercept, or to every class's
    # coefficient of an unpenalised feature, changes no probability: those
    # directions are not determined by the data, and two fits may differ
    # along them. Everything below is in their orthogonal complement.
    basis = _determined_directions(loss, free)
    gradients = [
        basis.T @ _least_subgradient(loss, coef, l1)[free] for coef in (coef_a, coef_b)
    ]
    hessian = loss.data_term.hessian(coef_a)
    penalty = np.broadcast_to(loss.l2_reg_strength, (loss.n_classes, loss.n_features))
    hessian[np.arange(n_weights), np.arange(n_weights)] += penalty.ravel()
    reduced = basis.T @ hessian[np.ix_(free, free)] @ basis
    mu = 0.5 * float(np.linalg.eigvalsh(reduced)[0])
    assert mu > 0, "the problem is not strongly convex at the optimum"
    bound = sum(float(np.linalg.norm(g)) for g in gradients) / mu
    assert bound <= needed, (
        f"the fits' gradients only bound their distance by {bound:.3g} > "
        f"{needed:.3g}: fit them to a smaller tol"
    )
    distance = float(np.linalg.norm(basis.T @ (coef_a - coef_b)[free]))
    assert distance <= bound, (
        f"the fits are {distance:.3g} apart, more than their gradients allow "
        f"({bound:.3g})"
    )
    probability = np.nan
    if X is not None:
        rows = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        row_norms = np.sqrt(np.sum(rows**2, axis=1) + 1.0)
        probability = 0.5 * float(row_norms.max()) * bound
    return Agreement(distance=bound, probability=probability)


def _determined_directions(loss, free: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the free coefficients' directions the data fix.

    The complement of the shifts shared by all classes of the intercepts and
    of each unpenalised feature (over the free coefficients).
    """
    n_classes, n_features = loss.n_classes, loss.n_features
    penalty = np.broadcast_to(loss.l2_reg_strength, (n_features,))
    shifts = []
    for feature in np.flatnonzero(penalty == 0):
        shift = np.zeros(loss.n_coef)
        shift[feature : n_classes * n_features : n_features] = 1.0
        shifts.append(shift)
    if loss.fit_intercept:
        shift = np.zeros(loss.n_coef)
        shift[n_classes * n_features :] = 1.0
        shifts.append(shift)
    shifts = [shift[free] for shift in shifts if np.all(shift[~free] == 0)]
    if not shifts:
        return np.eye(int(free.sum()))
    return null_space(np.array(shifts))


def _least_subgradient(loss, coef: np.ndarray, l1) -> np.ndarray:
    """The gradient, or with an L1 term the subgradient of least norm."""
    gradient = loss.loss_gradient(coef)[1]
    if np.all(np.asarray(l1) == 0):
        return gradient
    n_weights = loss.n_classes * loss.n_features
    strength = np.broadcast_to(l1, (loss.n_classes, loss.n_features)).ravel()
    weights, smooth = coef[:n_weights], gradient[:n_weights]
    gradient[:n_weights] = np.where(
        weights != 0,
        smooth + strength * np.sign(weights),
        np.sign(smooth) * np.maximum(np.abs(smooth) - strength, 0.0),
    )
    return gradient


def assert_same_objective(
    loss, coef_a, coef_b, *, relative_gap: float, l1: float | np.ndarray = 0.0
) -> None:
    """Assert two fits whose stops promise a relative gap have equal objectives.

    Both objectives lie in ``[f*, (1 + relative_gap) f*]`` (``tol="auto"``
    promises ``relative_gap=1e-6``), so they differ by at most
    ``relative_gap`` times the smaller, plus the float64 rounding of the two
    sums.
    """
    values = []
    for coef in (coef_a, coef_b):
        coef = np.asarray(coef, dtype=np.float64)
        weights = coef[: loss.n_classes * loss.n_features]
        strength = np.broadcast_to(l1, (loss.n_classes, loss.n_features)).ravel()
        values.append(loss.loss(coef) + float(strength @ np.abs(weights)))
    smaller = min(values)
    assert abs(values[0] - values[1]) <= (relative_gap + 1e-13) * smaller, values


def assert_same_fit(
    model_a,
    model_b,
    X,
    y,
    *,
    sample_weight=None,
    offset=None,
    needed: float = np.inf,
    relative_gap: float | None = None,
) -> Agreement | None:
    """:func:`assert_same_optimum` for two estimators fitted with one setting.

    The objective comes from ``model_a``'s parameters (``C``, ``l1_ratio``,
    ``fit_intercept``, ``class_weight``, ``label_smoothing``,
    ``penalty_factor`` and the bounds). Returns their :class:`Agreement` on
    ``X``. With ``relative_gap`` (fits with ``tol="auto"``, which promise a
    gap rather than a gradient, or without an L2 term, where the objective is
    not strongly convex), compares their objectives instead
    (:func:`assert_same_objective`) and returns None.
    """
    params = model_a.get_params()
    classes = _host(model_a.classes_)
    n_classes = len(classes)
    X_host = X.toarray() if sp.issparse(X) else _host(X)
    y_host = _host(y)
    if y_host.ndim == 1:
        y_host = np.searchsorted(classes, y_host)
    n_features = X_host.shape[1]
    if params.get("class_weight") is not None:
        # Folded as the fits fold them (what is compared is the fit, not this).
        sample_weight = fit_weights(
            params["class_weight"],
            None if sample_weight is None else _host(sample_weight),
            X_host,
            y_host,
            np.arange(n_classes),
            "fit",
        )
    factor = params.get("penalty_factor")
    factor = np.ones(n_features) if factor is None else np.asarray(factor, float)
    l1_ratio = params.get("l1_ratio", 0.0)
    weight_sum = (
        X_host.shape[0]
        if sample_weight is None
        else float(np.sum(_host(sample_weight)))
    )
    loss = objective_for(
        X_host,
        y_host,
        n_classes,
        C=params["C"] / (1.0 - l1_ratio) if l1_ratio < 1 else np.inf,
        sample_weight=None if sample_weight is None else _host(sample_weight),
        penalty_factor=factor,
        fit_intercept=params["fit_intercept"],
        label_smoothing=params.get("label_smoothing", 0.0),
        offset=None if offset is None else _host(offset),
    )
    l1 = l1_ratio / (params["C"] * weight_sum) * factor
    coef_a, coef_b = flat_coef(model_a), flat_coef(model_b)
    if relative_gap is not None:
        assert_same_objective(loss, coef_a, coef_b, relative_gap=relative_gap, l1=l1)
        return None
    bounds = None
    lower, upper = params.get("lower_bounds"), params.get("upper_bounds")
    if lower is not None or upper is not None:
        shape = (n_classes, n_features)
        bounds = tuple(
            np.broadcast_to(
                np.asarray(fill if bound is None else bound, dtype=np.float64), shape
            )
            for bound, fill in ((lower, -np.inf), (upper, np.inf))
        )
    return assert_same_optimum(
        loss, coef_a, coef_b, needed=needed, bounds=bounds, X=X_host, l1=l1
    )


def path_coef_flat(path_coef: np.ndarray) -> np.ndarray:
    """A ``coefs_paths_`` entry (intercepts in the last column) as flat ``[W, b]``."""
    return np.r_[path_coef[:, :-1].ravel(), path_coef[:, -1]]


def ambiguous_rows(scores: np.ndarray, tolerance: float) -> np.ndarray:
    """Rows whose two largest scores (or probabilities) are within ``2 tolerance``.

    Two fits whose scores differ by at most ``tolerance`` predict the same
    class on every other row; on these, either may win.
    """
    top_two = np.sort(scores, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0] <= 2 * tolerance


def assert_same_accuracy(
    score_a: float, proba_b: np.ndarray, y, tolerance: float, sample_weight=None
) -> None:
    """Assert an accuracy equals another fit's up to its ambiguous rows.

    ``score_a`` is one fit's (weighted) accuracy, ``proba_b`` the other's
    probabilities on the same rows, within ``tolerance`` of the first's.
    """
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    labels = np.argmax(proba_b, axis=1)
    classes = np.unique(y)
    correct = classes[labels] == np.asarray(y)
    score_b = float(weight @ correct) / weight.sum()
    slack = float(weight @ ambiguous_rows(proba_b, tolerance)) / weight.sum()
    assert abs(score_a - score_b) <= slack + 1e-12, (score_a, score_b, slack)
