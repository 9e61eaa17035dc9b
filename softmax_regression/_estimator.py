"""The scikit-learn estimator: input validation and fitted state."""

from __future__ import annotations

import os
import sys
import warnings
from numbers import Integral, Real
from typing import ClassVar

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._array_api import check_same_namespace, get_namespace_and_device
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._array_api import dispatched_namespace, to_host
from ._callbacks import CallbackSupportMixin, IterationTasks, has_callbacks
from ._fit import InMemoryData, fit_coef, initial_coef, resolve_solver
from ._loss import _check_targets, _log_softmax, _softmax_inplace
from ._scaling import class_sums
from ._shard import split_coef
from ._solvers import (
    CONVERGED,
    MAX_ITER,
    NEWTON_METHODS,
    OVERFLOW,
    STOPPED,
    SolverResult,
    gap_threshold,
)
from ._version import DOCS_URL

_ACCEPTED_SPARSE = ["csr", "csc"]
_ACCEPTED_DTYPES = [np.float64, np.float32]
SOLVERS = ("auto", "lbfgs", *NEWTON_METHODS)


def _any_dask(*values) -> bool:
    """Whether any of ``values`` is a Dask collection (Dask is not imported)."""
    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(v) for v in values)


def _check_class_weight_values(class_weight: dict) -> None:
    """Reject class weights that are not finite, non-negative numbers."""
    for label, weight in class_weight.items():
        if not (
            isinstance(weight, Real)
            and not isinstance(weight, bool)
            and np.isfinite(weight)
            and weight >= 0
        ):
            raise ValueError(
                f"class_weight for class {label!r} must be a finite, non-negative "
                f"number; got {weight!r}. Use 0 to leave a class out."
            )


def _check_two_classes(classes: np.ndarray, name: str) -> None:
    """Reject labels of fewer than two distinct classes."""
    if classes.size < 2:
        raise ValueError(
            f"{name} needs samples of at least 2 classes in y; got only one class: "
            f"{classes.tolist()[0]!r}."
        )


def _check_two_weighted_classes(
    classes: np.ndarray, weight_per_class: np.ndarray, name: str
) -> None:
    """Reject weights that leave fewer than two classes with positive weight."""
    if np.count_nonzero(weight_per_class > 0) < 2:
        raise ValueError(
            f"{name} needs samples of at least 2 classes with positive weight; "
            "after sample_weight and class_weight, only class(es) "
            f"{classes[weight_per_class > 0].tolist()} remain."
        )


def _class_weight_per_class(class_weight, classes, y, sample_weight) -> np.ndarray:
    """Return the weight of each class in ``classes``, checked.

    scikit-learn's ``compute_class_weight``, except that "balanced" gives a
    class whose samples all weigh zero the weight 0, not inf (0 * inf = nan).
    ``y`` and ``sample_weight`` may also be the classes and their (weighted)
    counts: "balanced" only reads the weight sum per class.
    """
    if isinstance(class_weight, dict):
        _check_class_weight_values(class_weight)
    with np.errstate(divide="ignore"):
        weights = compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
    weights[~np.isfinite(weights)] = 0.0
    return weights


def _target_columns(y):
    """Return the class labels of a 2-D ``y`` of class probabilities, or None.

    A 2-D ``y`` with two or more columns is a table of class probabilities
    (its columns the classes: a DataFrame's column labels, else
    ``0 .. n_classes - 1``); anything else is labels (a single column among
    them, which scikit-learn flattens with a DataConversionWarning).
    """
    shape = getattr(y, "shape", None)
    if shape is None:
        if not isinstance(y, (list, tuple)) or not y or np.ndim(y[0]) != 1:
            return None
        shape = np.shape(y)
    if len(shape) != 2 or shape[1] < 2:
        return None
    columns = getattr(y, "columns", None)
    return np.arange(shape[1]) if columns is None else np.asarray(columns)


def _numeric_table(y) -> np.ndarray:
    """``y`` as a NumPy table, or a ValueError saying why it is not numeric."""
    table = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if not (
        np.issubdtype(table.dtype, np.number) or np.issubdtype(table.dtype, np.bool_)
    ):
        raise ValueError(
            f"y is 2-D with {table.shape[1]} columns, so it is read as a table of "
            f"class probabilities, but its dtype is {table.dtype}, not numeric. "
            "Pass a 1-D y of labels, or one numeric column per class."
        )
    return table


def _check_solver(solver: str, l1_ratio: float) -> None:
    if l1_ratio > 0 and solver not in ("auto", "lbfgs"):
        raise ValueError(
            f"l1_ratio={l1_ratio} needs solver='lbfgs' (L-BFGS-B on the split "
            f"W = W+ - W-); solver={solver!r} needs a twice-differentiable "
            "objective, which the L1 penalty is not. Use solver='auto' or "
            "'lbfgs', or l1_ratio=0."
        )


def _solver_tol(tol) -> float | None:
    """Return the drivers' ``tol``: None for ``"auto"`` (the decrease test)."""
    return None if isinstance(tol, str) else float(tol)


# Frames in these directories are the library's, not the user's: a warning
# points at the first frame outside them (also through Pipeline, GridSearchCV).
_INTERNAL_DIRECTORIES = tuple(
    os.path.dirname(path) + os.sep
    for path in (sklearn.__file__, joblib.__file__, __file__)
)


# At the starting point the gradient is a weighted mean of features times
# (probability - label): with standardised features it is below a few units.
_LARGE_INITIAL_GRADIENT = 100.0


def _user_stacklevel() -> int:
    """Return the ``stacklevel`` that makes a warning name the user's line.

    For the function that calls :func:`warnings.warn`: the number of frames
    up to the first one outside softmax_regression, scikit-learn (its
    ``_fit_context`` wrapper, Pipeline, GridSearchCV) and joblib.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _INTERNAL_DIRECTORIES
    ):
        frame = frame.f_back
        level += 1
    return level


def _warn_if_not_converged(
    result: SolverResult, solver: str, max_iter: int, tol: float, dtype
) -> None:
    """Warn, in terms of what happened, when a fit stopped short of ``tol``.

    No warning when the solver converged, or when a callback stopped it (the
    user asked for that).
    """
    if result.status in (CONVERGED, STOPPED):
        return
    if _solver_tol(tol) is None:
        reached = (
            "the estimated relative objective gap was "
            f"{result.gap_estimate:.3g} and the largest gradient entry "
            f"{result.max_abs_gradient:.3g}: tol='auto' stops at an estimated "
            f"gap of {gap_threshold(np.finfo(dtype).eps):g} with a small "
            "preconditioned gradient"
        )
    else:
        reached = (
            f"the largest gradient entry reached {result.max_abs_gradient:.3g} > "
            f"tol={tol:g}"
        )
    if result.status == MAX_ITER:
        message = (
            f"{solver} did not converge: it stopped after {result.n_iter} "
            f"iterations (max_iter={max_iter}) and {reached} (scipy: "
            f"{result.message}). Increase max_iter, standardise the features "
            "(e.g. with sklearn.preprocessing.StandardScaler), or decrease C."
        )
    elif result.status == OVERFLOW:
        message = (
            f"{solver} stopped after {result.n_iter} iterations: "
            f"{result.message}, so it cannot go on; {reached}. Features of this "
            "magnitude put the Hessian, of the order of their square, beyond "
            "float64: standardise them (e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )
    elif result.n_iter == 0:
        message = (
            f"{solver} could not decrease the objective from its starting point "
            f"(scipy: {result.message}); {reached}. A line search that fails "
            "at once means the objective's scale defeats it, as features of "
            "extreme magnitude do: standardise them (e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )
    else:
        precision = np.dtype(dtype).name
        message = (
            f"{solver} stopped after {result.n_iter} iterations, before "
            f"max_iter={max_iter}, because the objective no longer decreases in "
            f"{precision} arithmetic (scipy: {result.message}); {reached}. tol is "
            "below what the floating-point objective resolves here, so more "
            "iterations would not help. "
        )
        if result.initial_max_abs_gradient > _LARGE_INITIAL_GRADIENT:
            message += (
                "Gradients scale with the features (the largest entry was "
                f"{result.initial_max_abs_gradient:.3g} at the start): "
                "standardising them (e.g. with sklearn.preprocessing."
                "StandardScaler) makes a small tol reachable."
            )
        else:
            message += (
                "The solution is as accurate as the arithmetic allows: use tol >= "
                f"{result.max_abs_gradient:.1g} (or tol='auto') to accept it "
                "silently" + (", or fit in float64." if precision == "float32" else ".")
            )
    warnings.warn(message, ConvergenceWarning, stacklevel=_user_stacklevel())


class SoftmaxRegression(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic (softmax) regression with an L2 or elastic-net penalty.

    Fits one weight vector and one intercept per class by minimising the
    weighted mean cross-entropy of the softmax of the linear scores plus a
    penalty on the weights:

    .. math::

        \min_{W, b} \; \frac{1}{S} \sum_{i=1}^{n} s_i
            \left(\log \sum_{k} e^{w_k^\top x_i + b_k}
                  - w_{y_i}^\top x_i - b_{y_i}\right)
            + \frac{1}{C S}\left(r \lVert W \rVert_1
            + \frac{1 - r}{2} \lVert W \rVert_F^2\right),

    where :math:`s_i` is the sample weight of sample :math:`i` times the class
    weight of its class, :math:`S = \sum_i s_i` and :math:`r` is ``l1_ratio``.
    With ``l1_ratio=0`` (the default) this is exactly the objective of
    :class:`sklearn.linear_model.LogisticRegression` with ``solver="lbfgs"``
    for three or more classes, and with ``l1_ratio > 0`` that of its
    ``penalty="elasticnet", solver="saga"``: the same ``C`` gives the same
    model.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the regularisation strength, in ``(0, inf]``. Smaller is a
        stronger penalty. ``np.inf`` fits without penalty (which diverges on
        separable data).
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercepts :math:`b`.
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights of each class, as
        ``{class_label: weight}``; ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))`` (with sample weights, the
        weighted counts), as in scikit-learn. With class-probability targets
        :math:`q_i`, sample :math:`i`'s weight is multiplied by
        :math:`\sum_k q_{ik} w_k`, its expected class weight (for a one-hot
        row, the weight of its class), and "balanced" counts class :math:`k`
        as :math:`\sum_i s_i q_{ik}`. Class weights apply to the targets as
        given, before label smoothing.
    label_smoothing : float in [0, 1), default=0.0
        :math:`\varepsilon`, as PyTorch's ``CrossEntropyLoss``: each sample's
        target becomes :math:`(1 - \varepsilon) q_i + \varepsilon / K`, with
        :math:`q_i` its one-hot label (or its row of class probabilities), so
        the loss is :math:`(1 - \varepsilon) \operatorname{CE}(z_i, q_i) +
        \varepsilon \operatorname{CE}(z_i, \text{uniform})`. It keeps the
        fitted probabilities away from 0 and 1. 0 fits the labels as they
        are (bit for bit the model without the parameter).
    l1_ratio : float, default=0.0
        The share :math:`r \in [0, 1]` of L1 in the penalty: 0 is pure L2,
        1 pure L1 (lasso). With ``l1_ratio > 0`` the problem is solved by
        L-BFGS-B on the split :math:`W = W^+ - W^-`, :math:`W^\pm \ge 0`, a
        smooth bound-constrained problem with the same minimum, so the
        coefficients the penalty removes come out exactly zero. Needs
        ``solver="lbfgs"``.
    solver : str, default="auto"
        One of ``"auto"``, ``"lbfgs"``, ``"newton-cg"``, ``"trust-ncg"``,
        ``"trust-krylov"``. ``"auto"`` is ``"lbfgs"`` with ``l1_ratio > 0``
        or on dense data of at least 1,000,000 entries (solved in rescaled
        coefficients, below), and ``"newton-cg"`` otherwise (sparse data,
        smaller dense data): the faster of the two to a relative objective
        gap of 1e-6 on each benchmark case (benchmarks/README.md), and
        newton-cg's ``tol="auto"`` stop is the reliable one on
        ill-conditioned data.
        ``"lbfgs"``: :func:`scipy.optimize.minimize` with ``L-BFGS-B`` and the
        analytic gradient, with scikit-learn's settings (up to 50 line-search
        steps), except that it does not stop on a small relative decrease of
        the objective: see ``tol``. The others are scipy's second-order
        methods driven by exact Hessian-vector products (each costs about one
        gradient): ``"newton-cg"`` (line search), ``"trust-ncg"`` (truncated
        CG in a trust region) and ``"trust-krylov"`` (nearly exact trust-region
        steps). They take few, expensive iterations and reach small ``tol``
        quickly on well-conditioned problems. On small problems (at most
        1,000,000 multiply-adds for ``n_samples * n_coef**2``, iris for
        instance) they form the Hessian once per iteration and multiply by
        it, which costs less than the Python calls of separate products.
        Beware that scipy's
        ``"trust-krylov"`` allocates ``16 * n_coef**2`` bytes (at most 8 GB)
        per subproblem, whatever the problem needs; a ResourceWarning says so
        above 1 GiB.

        Every solver starts from ``W = 0`` with the intercepts at the log of
        the (weighted) class shares, the best constant model, unless
        ``warm_start`` gives another start. On dense data of at least
        1,000,000 entries and ``l1_ratio=0`` the solvers work in rescaled
        coefficients ``W = D U`` (``D`` diagonal, powers of two, from the
        Hessian's diagonal at that start): the same minimiser, reached in
        1.5-2.7x less time on the benchmarks; ``tol``, ``verbose`` and
        callbacks refer to the original coefficients.
    tol : float or "auto", default="auto"
        When to stop. A float: when the largest absolute entry of the
        objective's (projected) gradient is at most ``tol``; how close that is
        to the optimum depends on how the features are scaled (on the
        benchmarks ``tol=1e-4`` left relative objective gaps from 1e-9 to
        4e-2). ``"auto"``: when the estimated relative objective gap
        ``(f - f*) / f*`` is at most 1e-7, a tenth of the 1e-6 it targets,
        whatever the scaling. The estimate follows the last iteration's
        decrease (the last 10 for lbfgs) and how much the gradient, measured
        in the inverse of the Hessian's diagonal at the start, shrank over
        it: near the optimum both shrink alike, so the gap left is the
        decrease times ``r / (1 - r)``, with ``r`` that ratio. It is trusted
        only when the decrease is about what the previous estimate predicted
        (not a step cut short) and the preconditioned gradient predicts a gap
        under 1e-7 too; lbfgs also needs a decrease under 1e-6 over its last
        10 iterations. Newton methods then usually stop at the first
        iteration whose gap is under 1e-6, or the next.
        L-BFGS and trust-ncg can still stop early on ill-conditioned data
        (lbfgs on unscaled digits: a gap of 3e-4): use newton-cg, or a float
        ``tol``, there. Measured gaps at the stop are in
        benchmarks/README.md. If the test cannot be met (``max_iter`` is hit,
        or the line search fails because the objective is flat to machine
        precision), a :class:`~sklearn.exceptions.ConvergenceWarning` says
        what was reached. ``LogisticRegression`` also stops, silently, when
        the objective decreases by less than 64 machine epsilons relatively,
        which at ``tol=1e-10`` can leave its gradient near 1e-7.
    max_iter : int, default=500
        Maximum number of solver iterations; 0 returns the starting point
        (see ``solver``, or the previous solution with ``warm_start``). On standardised
        iris, wine, digits and breast_cancer, lbfgs needs at most 203
        iterations for any ``C`` from 1e-3 to 1e4 (32 for digits at ``C=1``),
        so 500 converges on standardised real data with room to spare; the
        same data unscaled can need over 10,000, and then the
        ConvergenceWarning says to standardise. scikit-learn's default of 100
        stops some of these fits early.
    warm_start : bool, default=False
        Start from the solution of the previous call to :meth:`fit` instead of
        from the default start. The classes and the number of features must not change.
    verbose : int, default=0
        What :meth:`fit` prints. 0: nothing. 1: one line per fit when it
        ends: the solver, iterations, objective evaluations, Hessian-vector
        products, seconds, the final objective and largest absolute gradient
        entry, and why it stopped (converged, and on which test; the
        iteration limit; an objective flat in floating point; a callback).
        2: also a line per iteration (objective, largest absolute gradient
        entry, elapsed seconds). 3: each iteration's line also gives the inner
        solver's work since the previous one (objective evaluations, that is
        line-search steps; Hessian-vector products, that is inner CG or
        Lanczos steps) and the largest change of a coefficient.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    coef_ : ndarray of shape (n_classes, n_features)
        One weight vector per class, also for two classes. Of the dtype of the
        training data (float32 or float64).
    intercept_ : ndarray of shape (n_classes,)
        The intercepts, shifted to sum to zero (adding a constant to all of
        them changes no prediction); zeros if ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, defined only when ``X`` has string column
        names (a pandas DataFrame, say).
    n_iter_ : ndarray of shape (1,), int32
        Number of solver iterations of the last :meth:`fit`, as an array as in
        ``LogisticRegression`` (``n_iter_[0]``).

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same objective, plus other
        penalties and solvers.

    Notes
    -----
    **Two classes.** The model keeps one weight vector per class and
    :meth:`decision_function` returns the margin :math:`z_1 - z_0` of the
    second class over the first, scikit-learn's binary convention. At the
    optimum :math:`w_0 = -w_1` (the penalty gradient forces it), so the margin
    has weight :math:`d = 2 w_1` and the penalty is
    :math:`\lVert w_0 \rVert^2 + \lVert w_1 \rVert^2 = \lVert d \rVert^2 / 2`.
    Hence ``SoftmaxRegression(C=C)`` is the same classifier as the binary
    ``LogisticRegression(C=2 * C)``, whose ``coef_[0]`` equals our
    ``coef_[1] - coef_[0]`` and whose ``intercept_[0]`` equals our
    ``intercept_[1] - intercept_[0]``.

    **Callbacks.** With scikit-learn 1.9 or later, ``set_callbacks`` takes the
    callbacks of :mod:`sklearn.callback` (``ProgressBar``, ``ScoringMonitor``,
    your own): the fit is a task and each iteration of any solver a subtask
    named ``"<solver>-iter"``, whose hooks see the model as it stands after
    that iteration. A callback whose ``on_fit_task_end`` returns True stops
    the solver there, without a ConvergenceWarning.

    **Memory.** :meth:`fit` never copies ``X`` when it is float32 or float64
    (dense in any order, or CSR/CSC): the intercept is handled separately, not
    as a column of ones, sparse data is never densified and float32 is never
    upcast. Its extra memory is one (n_classes, n_samples) array of ``X``'s
    dtype plus small vectors.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmax_regression import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(C=10.0).fit(X, y)
    >>> clf.predict(X[:3]).tolist()
    [0, 0, 0]
    >>> clf.predict_proba(X[:1]).sum().round(12)
    np.float64(1.0)
    >>> round(clf.score(X, y), 2)
    0.98
    """

    # The "?" of the HTML representation opens our API page.
    _doc_link_module = "softmax_regression"
    _doc_link_template = DOCS_URL + "generated/{estimator_module}.{estimator_name}.html"

    _parameter_constraints: ClassVar[dict] = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        C=1.0,
        *,
        fit_intercept=True,
        class_weight=None,
        l1_ratio=0.0,
        label_smoothing=0.0,
        solver="auto",
        tol="auto",
        max_iter=500,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.l1_ratio = l1_ratio
        self.label_smoothing = label_smoothing
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Without an intercept every decision boundary passes through the
        # origin, so data not centred there cannot be fitted well (scikit-learn's
        # LogisticRegression(fit_intercept=False) scores the same on its checks).
        tags.classifier_tags.poor_score = not self.fit_intercept
        tags.array_api_support = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to training data.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape \
                (n_samples, n_features)
            Training data. float32 and float64 arrays (any memory order) and
            CSR/CSC matrices are used as they are, without a copy; anything
            else is converted to float64 first. A Dask collection is fitted on
            the ``dask.distributed`` cluster of the default client, where it
            stays (see the Dask page of the documentation). Under
            ``sklearn.config_context(array_api_dispatch=True)``, arrays of
            another namespace (PyTorch, CuPy, array-api-strict) are fitted on
            their device, where they stay; the fitted attributes are then
            arrays of that namespace on that device (see the array API page of
            the documentation).
        y : array-like or dask Array/Series of shape (n_samples,) or \
                (n_samples, n_classes)
            Class labels of any type, at least two distinct ones; or a table
            of class probabilities (soft targets: several annotators' votes,
            a teacher model's ``predict_proba``), one column per class, each
            row non-negative and summing to one. With a table, ``classes_`` is
            ``0 .. n_classes - 1`` (or the DataFrame's columns) and the loss
            is the cross-entropy against each row (see the maths page). Under
            array API dispatch, moved to ``X``'s namespace and device (string
            labels stay NumPy).
        sample_weight : array-like or dask Array/Series of shape (n_samples,), \
                default=None
            Non-negative weights; ``None`` means all ones. A weight of 2 is the
            same as repeating the sample, a weight of 0 as leaving it out.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        _check_solver(self.solver, self.l1_ratio)
        if _any_dask(X, y, sample_weight):
            from . import _dask

            # A Dask collection's empty pandas/NumPy counterpart has its names.
            _check_feature_names(self, X._meta, reset=True)
            with _dask.DaskData(
                X,
                y,
                sample_weight,
                self.class_weight,
                self.fit_intercept,
                type(self).__name__,
                float(self.label_smoothing),
            ) as data:
                self.n_features_in_ = data.shape[1]
                return self._fit_data(data, X, y, data.classes, sample_weight)
        xp = dispatched_namespace(X)
        if xp is not None:
            from ._array_api import ArrayAPIData, validate_fit_data

            X, classes, y_encoded, fit_weight, classes_host = validate_fit_data(
                self, X, y, sample_weight, xp
            )
            data = ArrayAPIData(
                X,
                y_encoded,
                classes_host.size,
                fit_weight,
                xp,
                float(self.label_smoothing),
            )
            return self._fit_data(data, X, y, classes, sample_weight)
        if get_config()["array_api_dispatch"]:
            # NumPy X: labels and weights of another namespace follow it.
            y, sample_weight = to_host(y), to_host(sample_weight)
        X, y, classes, y_encoded, fit_weight = self._validate_fit_data(
            X, y, sample_weight
        )
        data = InMemoryData(
            X, y_encoded, classes.size, fit_weight, float(self.label_smoothing)
        )
        return self._fit_data(data, X, y, classes, sample_weight)

    def _fit_data(self, data, X, y, classes, sample_weight):
        """Fit on validated ``data``; ``X``, ``y`` as the callbacks see them.

        ``classes`` are stored as they are (NumPy, or ``y``'s namespace on the
        array API path); the coefficients go where ``data`` says
        (``data.from_host``, if it has one: ``X``'s namespace and device).
        """
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task = self._init_callback_context(max_subtasks=self.max_iter + 1)
        task.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        coef, result = self._solve(
            task,
            data,
            X,
            y,
            classes,
            C=self.C,
            l1_ratio=self.l1_ratio,
            coef0=self._warm_start_coef(classes, data.shape[1]),
            metadata=metadata,
        )
        from_host = getattr(data, "from_host", None)
        self._set_coef(coef, classes, data.shape[1], data.dtype, from_host)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        if from_host is not None:
            self.n_iter_ = from_host(self.n_iter_)
        task.call_on_fit_task_end(
            estimator=self, X=X, y=y, metadata=metadata, reconstruction_attributes={}
        )
        return self

    def _solve(
        self,
        task,
        data: InMemoryData,
        X,
        y,
        classes,
        *,
        C: float,
        l1_ratio: float,
        coef0: np.ndarray | None,
        n_threads: int | None = None,
        metadata: dict | None = None,
        min_iter: int = 0,
    ) -> tuple[np.ndarray, SolverResult]:
        """Fit one ``(C, l1_ratio)`` with this estimator's solver settings.

        ``data`` is what the solver sees (:class:`~._fit.InMemoryData`, or
        a Dask cluster's); ``X`` and ``y`` are what the callbacks are shown.
        Each solver iteration is a callback subtask of ``task`` (if callbacks
        are set); a ConvergenceWarning says why the solver stopped short.
        Returns the flat solution ``[W, b]`` and the solver's result.
        """
        n_features = data.shape[1]
        solver = resolve_solver(self.solver, data.X, l1_ratio)
        if coef0 is None:
            coef0 = initial_coef(data.class_priors(), n_features, self.fit_intercept)
        iterations = None
        if has_callbacks(self):
            iterations = IterationTasks(
                task,
                self,
                lambda coef: self._fitted_attributes(
                    coef,
                    classes,
                    n_features,
                    data.dtype,
                    getattr(data, "from_host", None),
                ),
                coef0,
                f"{solver}-iter",
                X=X,
                y=y,
                metadata=metadata,
            )
        coef, result = fit_coef(
            data,
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=self.fit_intercept,
            solver=solver,
            tol=_solver_tol(self.tol),
            max_iter=self.max_iter,
            verbose=self.verbose,
            coef0=coef0,
            n_threads=n_threads,
            callback=iterations,
            min_iter=min_iter,
        )
        if iterations is not None:
            iterations.close()
        _warn_if_not_converged(result, solver, self.max_iter, self.tol, data.dtype)
        return coef, result

    def _validate_fit_data(self, X, y, sample_weight):
        """Validate the training data; fold class weights into sample weights.

        Returns ``X`` (not copied when float32/float64 dense or CSR/CSC), ``y``,
        the sorted classes, ``y`` as indices into them, and the sample weights
        times the class weights (None if neither was given). For a 2-D ``y``
        of class probabilities, the classes are ``np.arange(n_classes)`` (or
        the DataFrame's columns) and the targets take the place of the indices.
        """
        columns = _target_columns(y)
        if columns is not None:
            return self._validate_soft_fit_data(X, y, columns, sample_weight)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=_ACCEPTED_SPARSE,
            dtype=_ACCEPTED_DTYPES,
            multi_output=False,
        )
        check_classification_targets(y)
        classes, y_encoded = np.unique(y, return_inverse=True)
        name = type(self).__name__
        _check_two_classes(classes, name)
        if sample_weight is not None or self.class_weight is not None:
            # float64 whatever X's dtype: weights of float32 data may exceed
            # float32's range, and they are only n_samples numbers.
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self.class_weight is not None:
            class_weight = _class_weight_per_class(
                self.class_weight, classes, y, sample_weight
            )
            # A new array: the caller's sample_weight is never modified.
            sample_weight = sample_weight * class_weight[y_encoded]
        if sample_weight is not None:
            _check_two_weighted_classes(
                classes,
                np.bincount(y_encoded, weights=sample_weight, minlength=classes.size),
                name,
            )
        return X, y, classes, y_encoded, sample_weight

    def _validate_soft_fit_data(self, X, y, columns, sample_weight):
        """:meth:`_validate_fit_data` for a table of class probabilities."""
        X = validate_data(
            self, X, accept_sparse=_ACCEPTED_SPARSE, dtype=_ACCEPTED_DTYPES
        )
        targets = _check_targets(_numeric_table(y), name="y")
        check_consistent_length(X, targets)
        classes = np.asarray(columns)
        name = type(self).__name__
        if sample_weight is not None or self.class_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self.class_weight is not None:
            class_weight = _class_weight_per_class(
                self.class_weight, classes, classes, class_sums(targets, sample_weight)
            )
            # A new array: the expected class weight of each sample.
            sample_weight = sample_weight * (targets @ class_weight)
        _check_two_weighted_classes(classes, class_sums(targets, sample_weight), name)
        return X, y, classes, targets, sample_weight

    def _fitted_attributes(
        self, coef, classes, n_features: int, dtype, from_host=None
    ) -> dict:
        """Return the fitted attributes that a flat ``[W, b]`` solution makes.

        ``from_host`` moves the coefficients to where the data is (the array
        API path); they stay NumPy arrays if it is None.
        """
        n_classes = classes.shape[0]
        weights, intercept = split_coef(coef, n_classes, n_features, self.fit_intercept)
        if intercept is None:
            intercept = np.zeros(n_classes)
        else:
            intercept = intercept - intercept.mean()
        weights, intercept = weights.astype(dtype), intercept.astype(dtype)
        if from_host is not None:
            weights, intercept = from_host(weights), from_host(intercept)
        return {"classes_": classes, "coef_": weights, "intercept_": intercept}

    def _set_coef(self, coef, classes, n_features: int, dtype, from_host=None) -> None:
        """Store a flat ``[W, b]`` solution as the fitted attributes."""
        for name, value in self._fitted_attributes(
            coef, classes, n_features, dtype, from_host
        ).items():
            setattr(self, name, value)

    def inference(
        self,
        X,
        y,
        sample_weight=None,
        *,
        cov_type="nonrobust",
        groups=None,
        reference_class=None,
        alpha=0.05,
        max_bytes=None,
    ):
        r"""Return standard errors, tests and intervals for the coefficients.

        Inference is on contrasts against ``reference_class``:
        :math:`\beta_k = (w_k - w_r, b_k - b_r)` for every other class, as
        Stata's ``basezero`` and statsmodels' ``MNLogit`` parametrise the
        model. Pass the data the model was fitted on. For an unpenalised fit
        (``C=np.inf``) these are the maximum-likelihood standard errors; for a
        penalised one, sandwich estimates around the penalised estimate
        (classical tests do not hold; the estimators and their formulas are
        on the maths page, under inference). Sample weights are frequency
        weights: a weight of 2 is a repeated row, also here; class weights
        are folded into them as in :meth:`fit`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data.
        y : array-like of shape (n_samples,)
            The training labels (from ``classes_``).
        sample_weight : array-like of shape (n_samples,), default=None
            The training weights.
        cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
            The covariance estimator: the inverse information, the
            heteroscedasticity-robust sandwich (HC1 is HC0, as in statsmodels'
            discrete models; multiply ``cov_params`` by ``nobs / df_resid``
            for linear regression's small-sample factor), or
            the sandwich clustered by ``groups`` (with statsmodels'
            small-sample correction).
        groups : array-like of shape (n_samples,), default=None
            Cluster labels, for ``cov_type="cluster"``.
        reference_class : label, default=None
            The base class; ``classes_[0]`` if None.
        alpha : float, default=0.05
            The level of the intervals of ``conf_int()``.
        max_bytes : int, default=None
            The largest covariance matrix to build, in bytes (2 GiB if None):
            it has :math:`((K - 1)(d + 1))^2` entries.

        Returns
        -------
        result : InferenceResult
            A :class:`~softmax_regression.InferenceResult`: ``params``,
            ``bse``, ``zvalues``, ``pvalues``, ``conf_int()``,
            ``cov_params``, ``llf``, ``llnull``, ``llr``, ``llr_pvalue``,
            ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
            ``df_resid``, ``summary()`` and ``to_frame()``.

        Warns
        -----
        SeparationWarning
            A :class:`~softmax_regression.SeparationWarning` when, without a
            penalty, the data (quasi-)separate a class: it names the class and
            the features, whose standard errors are then infinite.
        """
        from ._inference import COV_TYPES, DEFAULT_MAX_BYTES, compute_inference

        check_is_fitted(self)
        if _any_dask(X, y, sample_weight):
            raise TypeError(
                "inference builds the Hessian in memory: pass NumPy data (a "
                "Dask collection's .compute(), or a sample that fits)."
            )
        # Device arrays (array API): the Hessian is built on the host.
        X, y, sample_weight = to_host(X), to_host(y), to_host(sample_weight)
        # SoftmaxRegressionCV: the chosen C and l1_ratio, of a refitted model.
        if hasattr(self, "C_") and not getattr(self, "refit", True):
            raise ValueError(
                "inference needs the estimate of one objective; refit=False "
                "averages the folds' coefficients. Fit with refit=True."
            )
        C = float(self.C_ if hasattr(self, "C_") else self.C)
        l1_ratio = float(
            self.l1_ratio_ if hasattr(self, "l1_ratio_") else self.l1_ratio
        )
        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
        if not (isinstance(alpha, Real) and 0.0 < alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
        if l1_ratio > 0:
            raise ValueError(
                f"inference needs a smooth objective; l1_ratio={l1_ratio} "
                "makes the penalty non-differentiable where coefficients are "
                "zero. Refit with l1_ratio=0 (on the features it kept, for "
                "example) to infer."
            )
        if getattr(self, "label_smoothing", 0.0):
            raise ValueError(
                "inference is for the likelihood of the labels; "
                f"label_smoothing={self.label_smoothing} fits other targets. "
                "Refit with label_smoothing=0."
            )
        if _target_columns(y) is not None:
            raise ValueError(
                "inference needs class labels (1-D y); the model's likelihood "
                "for class-probability targets is not a sampling model."
            )
        X = validate_data(
            self, X, accept_sparse=_ACCEPTED_SPARSE, dtype=np.float64, reset=False
        )
        y = np.asarray(y)
        check_consistent_length(X, y)
        classes = to_host(self.classes_)
        y_index = np.searchsorted(classes, y)
        y_index = np.clip(y_index, 0, classes.size - 1)
        unknown = classes[y_index] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels the model was not fitted on, e.g. "
                f"{y[unknown][0]!r}; its classes are {classes.tolist()}."
            )
        weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight is not None:
            weight = (
                weight
                * _class_weight_per_class(self.class_weight, classes, y, weight)[
                    y_index
                ]
            )
        if reference_class is None:
            reference = 0
        else:
            matches = np.flatnonzero(classes == reference_class)
            if matches.size == 0:
                raise ValueError(
                    f"reference_class={reference_class!r} is not one of the "
                    f"classes {classes.tolist()}."
                )
            reference = int(matches[0])
        coef = to_host(self.coef_)
        coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(X.shape[1])]
        coef = coef.astype(np.float64)
        intercept = to_host(self.intercept_).astype(np.float64)
        # The fitted probabilities, in float64, from the validated X.
        probabilities = safe_sparse_dot(X, coef.T, dense_output=True) + intercept
        _softmax_inplace(probabilities, axis=1)
        return compute_inference(
            X=X,
            y_index=y_index,
            probabilities=probabilities,
            coef=coef,
            intercept=intercept,
            sample_weight=weight,
            classes=classes,
            reference=reference,
            C=C,
            fit_intercept=self.fit_intercept,
            cov_type=cov_type,
            groups=groups,
            alpha=float(alpha),
            feature_names=list(names),
            max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes),
        )

    def densify(self):
        """Convert ``coef_`` to a dense array, if :meth:`sparsify` made it sparse.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        check_is_fitted(self)
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def sparsify(self):
        """Store ``coef_`` as a scipy.sparse CSR matrix.

        Worth it when most coefficients are zero, as ``l1_ratio > 0`` makes
        them: predictions then cost one sparse product. Predictions are
        unchanged; :meth:`densify` converts back, and :meth:`fit` always
        stores a dense array.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        check_is_fitted(self)
        if not isinstance(self.coef_, np.ndarray) and not sp.issparse(self.coef_):
            raise TypeError(
                "sparsify needs NumPy coefficients: scipy.sparse has no form for "
                f"arrays of {type(self.coef_).__module__.split('.')[0]}, where "
                "this model was fitted. Move it to NumPy first: under "
                "array_api_dispatch, model = sklearn.utils._array_api."
                "move_estimator_to(model, numpy, 'cpu')."
            )
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def _warm_start_coef(self, classes, n_features: int):
        """Return the previous solution as a flat ``[W, b]`` if warm starting."""
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        # The previous fit's attributes may be of another namespace or device.
        classes, previous_classes = to_host(classes), to_host(self.classes_)
        if not np.array_equal(classes, previous_classes) or (
            self.coef_.shape[1] != n_features
        ):
            raise ValueError(
                "warm_start=True needs the same classes and number of features "
                f"as the previous fit: it had classes {previous_classes.tolist()} "
                f"and {self.coef_.shape[1]} features, this data has "
                f"{classes.tolist()} and {n_features}. Set warm_start=False "
                "to start afresh."
            )
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
        parts = [to_host(coef).ravel()]
        if self.fit_intercept:
            parts.append(to_host(self.intercept_))
        return np.concatenate(parts).astype(np.float64)

    def _raw_prediction(self, X, method: str):
        """Validate ``X`` and return the scores, of shape (n_samples, n_classes).

        Also returns the namespace of ``X`` if it is not NumPy's (array API
        dispatch), else None. ``method`` names the caller in errors.
        """
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="coef_", method=method)
        xp = dispatched_namespace(X)
        if xp is not None:
            from ._array_api import linear_scores

            X = validate_data(self, X, dtype=[xp.float64, xp.float32], reset=False)
            return linear_scores(X, self.coef_, self.intercept_, xp), xp
        X = validate_data(
            self, X, accept_sparse=_ACCEPTED_SPARSE, dtype=_ACCEPTED_DTYPES, reset=False
        )
        raw_prediction = safe_sparse_dot(X, self.coef_.T, dense_output=True)
        raw_prediction += self.intercept_
        return raw_prediction, None

    def decision_function(self, X):
        r"""Raw scores of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            :math:`z_{ik} = w_k^\top x_i + b_k`. For two classes, the 1-D margin
            :math:`z_{i1} - z_{i0}` of ``classes_[1]`` over ``classes_[0]``:
            positive means ``classes_[1]`` is predicted.
        """
        if _any_dask(X):
            return self._predict_dask(X, "decision_function")
        raw_prediction, _ = self._raw_prediction(X, "decision_function")
        if raw_prediction.shape[1] == 2:
            return raw_prediction[:, 1] - raw_prediction[:, 0]
        return raw_prediction

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``; ties go to the first class.
        """
        if _any_dask(X):
            return self._predict_dask(X, "predict")
        raw_prediction, xp = self._raw_prediction(X, "predict")
        if xp is None:
            return self.classes_[np.argmax(raw_prediction, axis=1)]
        from ._array_api import take_classes

        return take_classes(
            self.classes_,
            xp.argmax(raw_prediction, axis=1),
            xp,
            get_namespace_and_device(raw_prediction)[2],
        )

    def predict_proba(self, X):
        """Probability of each class: the softmax of the scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; each row sums to one.
        """
        if _any_dask(X):
            return self._predict_dask(X, "predict_proba")
        raw_prediction, xp = self._raw_prediction(X, "predict_proba")
        _softmax_inplace(raw_prediction, axis=1, xp=xp)
        return raw_prediction

    def score(self, X, y, sample_weight=None):
        r"""Mean accuracy of :meth:`predict` on ``X`` against ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            True labels, or class probabilities (one column per class of
            ``classes_``, in its order).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the mean.

        Returns
        -------
        score : float
            The (weighted) fraction of samples whose predicted label is ``y``.
            For class probabilities :math:`q_i`, the expected accuracy
            :math:`\sum_i s_i q_{i, \hat y_i} / \sum_i s_i`: the chance that
            the prediction matches a label drawn from :math:`q_i` (for one-hot
            rows, the accuracy).
        """
        if _any_dask(X, y, sample_weight):
            from ._dask import score

            check_is_fitted(self)
            return score(self, X, y, sample_weight)
        if _target_columns(y) is not None:
            check_is_fitted(self)
            raw_prediction, xp = self._raw_prediction(X, "score")
            if xp is not None:
                from ._array_api import expected_accuracy

                return expected_accuracy(raw_prediction, y, sample_weight, xp)
            targets = _check_targets(
                _numeric_table(y), self.classes_.shape[0], name="y"
            )
            check_consistent_length(raw_prediction, targets, sample_weight)
            predicted = np.argmax(raw_prediction, axis=1)
            hits = targets[np.arange(predicted.size), predicted]
            return float(np.average(hits, weights=sample_weight))
        return super().score(X, y, sample_weight=sample_weight)

    def predict_log_proba(self, X):
        """Logarithm of the probability of each class, through log-sum-exp.

        Finite even where :meth:`predict_proba` underflows to zero.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        if _any_dask(X):
            return self._predict_dask(X, "predict_log_proba")
        raw_prediction, xp = self._raw_prediction(X, "predict_log_proba")
        return _log_softmax(raw_prediction, axis=1, xp=np if xp is None else xp)

    def _predict_dask(self, X, method: str):
        """Return ``method`` on a Dask ``X``: a lazy Dask array, chunk for chunk."""
        from ._dask import predict

        check_is_fitted(self)
        return predict(self, X, method)
