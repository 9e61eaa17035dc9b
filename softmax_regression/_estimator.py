"""The scikit-learn estimator: input validation and fitted state."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._linear_loss import LinearSoftmaxLoss
from ._loss import _softmax_inplace, log_softmax
from ._parallel import effective_n_threads, single_threaded_blas
from ._solvers import minimize_lbfgs

_ACCEPTED_SPARSE = ["csr", "csc"]
_ACCEPTED_DTYPES = [np.float64, np.float32]


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic (softmax) regression with an L2 penalty.

    Fits one weight vector and one intercept per class by minimising the
    weighted mean cross-entropy of the softmax of the linear scores, plus an
    L2 penalty on the weights:

    .. math::

        \min_{W, b} \; \frac{1}{S} \sum_{i=1}^{n} s_i
            \left(\log \sum_{k} e^{w_k^\top x_i + b_k}
                  - w_{y_i}^\top x_i - b_{y_i}\right)
            + \frac{1}{2 C S} \lVert W \rVert_F^2,

    where :math:`s_i` is the sample weight of sample :math:`i` times the class
    weight of its class and :math:`S = \sum_i s_i`. This is exactly the
    objective of :class:`sklearn.linear_model.LogisticRegression` with
    ``solver="lbfgs"`` for three or more classes: the same ``C`` gives the
    same model.

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
        weighted counts), as in scikit-learn.
    solver : {"lbfgs"}, default="lbfgs"
        ``"lbfgs"``: :func:`scipy.optimize.minimize` with ``L-BFGS-B`` and the
        analytic gradient, with scikit-learn's settings (up to 50 line-search
        steps), except that it does not stop on a small relative decrease of
        the objective: see ``tol``.
    tol : float, default=1e-4
        Stop when the largest absolute entry of the objective's gradient is at
        most ``tol``. If that cannot be reached (``max_iter`` is hit, or the
        line search fails because the objective is flat to machine precision),
        a :class:`~sklearn.exceptions.ConvergenceWarning` gives the gradient
        reached. ``LogisticRegression`` also stops, silently, when the
        objective decreases by less than 64 machine epsilons relatively, which
        at ``tol=1e-10`` can leave its gradient near 1e-7.
    max_iter : int, default=500
        Maximum number of solver iterations. On standardised iris, wine, digits
        and breast_cancer, lbfgs needs at most 203 iterations for any ``C``
        from 1e-3 to 1e4 (32 for digits at ``C=1``), so 500 converges on
        standardised real data with room to spare; the same data unscaled can
        need over 10,000, and then the ConvergenceWarning says to standardise.
        scikit-learn's default of 100 stops some of these fits early.
    warm_start : bool, default=False
        Start from the solution of the previous call to :meth:`fit` instead of
        from zero. The classes and the number of features must not change.
    verbose : int, default=0
        If positive, print one line per iteration: objective, largest absolute
        gradient entry and elapsed seconds.

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
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, defined only when ``X`` has string column
        names (a pandas DataFrame, say).
    n_iter_ : int
        Number of solver iterations of the last :meth:`fit`.

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

    _parameter_constraints: ClassVar[dict] = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions({"lbfgs"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        C=1.0,
        *,
        fit_intercept=True,
        class_weight=None,
        solver="lbfgs",
        tol=1e-4,
        max_iter=500,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
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
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to training data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 and float64 arrays (any memory order) and
            CSR/CSC matrices are used as they are, without a copy; anything
            else is converted to float64 first.
        y : array-like of shape (n_samples,)
            Class labels of any type, at least two distinct ones.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` means all ones. A weight of 2 is the
            same as repeating the sample, a weight of 0 as leaving it out.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
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
        if classes.size < 2:
            raise ValueError(
                "SoftmaxRegression needs samples of at least 2 classes in y; got "
                f"only one class: {classes.tolist()[0]!r}."
            )
        if sample_weight is not None or self.class_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        if self.class_weight is not None:
            # "balanced" divides by each class's total weight: a class whose
            # samples all weigh zero gets class weight 0, not inf (0 * inf = nan).
            with np.errstate(divide="ignore"):
                class_weight = compute_class_weight(
                    self.class_weight, classes=classes, y=y, sample_weight=sample_weight
                )
            class_weight[~np.isfinite(class_weight)] = 0.0
            # A new array: the caller's sample_weight is never modified.
            sample_weight = sample_weight * class_weight[y_encoded].astype(X.dtype)
        if sample_weight is not None:
            weight_per_class = np.bincount(
                y_encoded, weights=sample_weight, minlength=classes.size
            )
            if np.count_nonzero(weight_per_class > 0) < 2:
                raise ValueError(
                    "SoftmaxRegression needs samples of at least 2 classes with "
                    "positive weight; after sample_weight and class_weight, only "
                    f"class(es) {classes[weight_per_class > 0].tolist()} remain."
                )

        weight_sum = (
            X.shape[0]
            if sample_weight is None
            else float(np.sum(sample_weight, dtype=np.float64))
        )
        n_classes = classes.size
        work = (X.nnz if sp.issparse(X) else X.shape[0] * X.shape[1]) * n_classes
        with (
            LinearSoftmaxLoss(
                X,
                y_encoded,
                n_classes=n_classes,
                sample_weight=sample_weight,
                # scikit-learn's scaling: C multiplies the summed, not mean, loss.
                l2_reg_strength=1.0 / (self.C * weight_sum),
                fit_intercept=self.fit_intercept,
                n_threads=effective_n_threads(work),
            ) as loss,
            single_threaded_blas(),
        ):
            result = minimize_lbfgs(
                loss.loss_gradient,
                self._initial_coef(loss, classes),
                tol=self.tol,
                max_iter=self.max_iter,
                # Stop on the gradient alone, so that tol means what it says.
                # scikit-learn also stops when the objective's relative decrease
                # is under 64 * eps, which at small tol can leave the gradient
                # 1000x above it while reporting success.
                ftol=0.0,
                verbose=self.verbose,
            )
        if not result.converged:
            warnings.warn(
                f"SoftmaxRegression (solver={self.solver!r}) did not converge: it "
                f"stopped after {result.n_iter} iterations (max_iter="
                f"{self.max_iter}) with the largest gradient entry at "
                f"{result.max_abs_gradient:.3g} > tol={self.tol:g} (scipy: "
                f"{result.message}). Increase max_iter, standardise the features "
                "(e.g. with sklearn.preprocessing.StandardScaler), or decrease C.",
                ConvergenceWarning,
                stacklevel=2,
            )

        weights, intercept = loss.unpack(result.coef)
        self.classes_ = classes
        self.coef_ = weights.astype(X.dtype)
        self.intercept_ = (intercept - intercept.mean()).astype(X.dtype)
        self.n_iter_ = result.n_iter
        return self

    def _initial_coef(self, loss: LinearSoftmaxLoss, classes: np.ndarray):
        """Zeros, or the previous solution if ``warm_start``."""
        coef0 = np.zeros(loss.n_coef, dtype=np.float64)
        if not (self.warm_start and hasattr(self, "coef_")):
            return coef0
        if not np.array_equal(classes, self.classes_) or (
            self.coef_.shape[1] != loss.n_features
        ):
            raise ValueError(
                "warm_start=True needs the same classes and number of features "
                f"as the previous fit: it had classes {self.classes_.tolist()} and "
                f"{self.coef_.shape[1]} features, this data has "
                f"{classes.tolist()} and {loss.n_features}. Set warm_start=False "
                "to start afresh."
            )
        weights, intercept = loss.unpack(coef0)
        weights[...] = self.coef_
        if self.fit_intercept:
            intercept[...] = self.intercept_
        return coef0

    def _raw_prediction(self, X) -> np.ndarray:
        """Validate ``X`` and return the scores, of shape (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=_ACCEPTED_SPARSE, dtype=_ACCEPTED_DTYPES, reset=False
        )
        raw_prediction = safe_sparse_dot(X, self.coef_.T, dense_output=True)
        raw_prediction += self.intercept_
        return raw_prediction

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
        raw_prediction = self._raw_prediction(X)
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
        raw_prediction = self._raw_prediction(X)
        return self.classes_[np.argmax(raw_prediction, axis=1)]

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
        raw_prediction = self._raw_prediction(X)
        _softmax_inplace(raw_prediction, axis=1)
        return raw_prediction

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
        return log_softmax(self._raw_prediction(X), axis=1)
