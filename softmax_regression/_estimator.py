"""The scikit-learn estimator: its parameters and fitted state.

Every public method makes one call to the backend that holds the data
(:func:`~._backends.backend_for`): validation, fitting data, predictions and
scores are the backend's; the fit itself is :func:`~._fit.fit_coef`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._backends import backend_for
from ._callbacks import CallbackSupportMixin
from ._checks import (
    check_solver,
    has_finite_bounds,
)
from ._coef import fitted_attributes, previous_coef
from ._fit import solve_with_settings
from ._solvers import NEWTON_METHODS
from ._version import DOCS_URL

SOLVERS = ("auto", "lbfgs", *NEWTON_METHODS, "saga", "newton-cd")


class SoftmaxRegression(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic (softmax) regression with an L2 or elastic-net penalty.

    Fits one weight vector and one intercept per class by minimising the
    weighted mean cross-entropy of the softmax of the linear scores plus a
    penalty on the weights:

    .. math::

        \min_{W, b} \; \frac{1}{S} \sum_{i=1}^{n} s_i
            \left(\log \sum_{k} e^{w_k^\top x_i + b_k}
                  - w_{y_i}^\top x_i - b_{y_i}\right)
            + \frac{1}{C S} \sum_{j} f_j \left(r \sum_k \lvert W_{kj} \rvert
            + \frac{1 - r}{2} \sum_k W_{kj}^2\right)
        \quad \text{subject to} \quad L \le W \le U,

    where :math:`s_i` is the sample weight of sample :math:`i` times the class
    weight of its class, :math:`S = \sum_i s_i`, :math:`r` is ``l1_ratio``,
    :math:`f_j` the ``penalty_factor`` of feature :math:`j` (1 by default) and
    :math:`L, U` the ``lower_bounds`` and ``upper_bounds`` (none by default).
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
        1 pure L1 (lasso). The coefficients the penalty removes come out
        exactly zero. Solved by ``"newton-cd"`` or by L-BFGS-B on the split
        :math:`W = W^+ - W^-`, :math:`W^\pm \ge 0` (``"lbfgs"``);
        ``"auto"`` picks newton-cd from a warm start (a path) and lbfgs from
        the default start (see ``solver``).
    l1_type : {"ungrouped", "grouped"}, default="ungrouped"
        The L1 part of the penalty. ``"ungrouped"``: :math:`\sum_{kj} f_j
        \lvert W_{kj} \rvert`, each coefficient on its own. ``"grouped"``
        (glmnet's ``type.multinomial = "grouped"``): :math:`\sum_j f_j
        \lVert W_{:j} \rVert_2`, the Euclidean norm of each feature's
        coefficients over the classes, so that a feature is kept or dropped
        for all classes at once. Same ``C`` and ``l1_ratio`` mapping (glmnet's
        ``lambda = 1 / (C n)``, ``alpha = l1_ratio``). Needs ``solver="auto"``
        or ``"newton-cd"``, data in memory, and no bounds. With two classes
        it gives the probabilities of the ungrouped model at
        ``C * sqrt(2)``.
    solver : str, default="auto"
        One of ``"auto"``, ``"lbfgs"``, ``"newton-cg"``, ``"trust-ncg"``,
        ``"trust-krylov"``, ``"saga"``, ``"newton-cd"``. ``"auto"`` is
        ``"newton-cd"`` for ``l1_type="grouped"``, and with ``l1_ratio > 0``
        on NumPy and SciPy data in memory from a warm start (``warm_start``
        or a path of SoftmaxRegressionCV: 3-20x faster than lbfgs down the
        benchmarks' paths; from the default start lbfgs was faster on 3 of
        4 single fits, benchmarks/README.md, "Issue 30"); ``"saga"`` on sparse
        CSR data with at least 10,000,000 stored entries times
        classes, an L2 penalty on every coefficient and a per-sample table
        (``n_samples * n_classes * 8`` bytes) of at most 1 GiB (text: on
        real TF-IDF it reached a relative gap of 1e-6 several times sooner
        than newton-cg); ``"lbfgs"`` with bounds (without L1), ``l1_ratio > 0``
        on Dask or array API data, or on
        dense data of at least 1,000,000 entries (solved in rescaled
        coefficients, below); and ``"newton-cg"`` otherwise (smaller sparse
        data, smaller dense data): the fastest to a relative objective gap
        of 1e-6 on each benchmark case (benchmarks/README.md), and
        newton-cg's ``tol="auto"`` stop is the reliable one on
        ill-conditioned data.
        ``"saga"``: epochs of SAGA (Defazio, Bach and Lacoste-Julien, 2014)
        compiled with numba, with exact lazy updates on sparse rows, from
        the usual start; after the epochs the fit's own stopping test is
        asked (with ``tol="auto"``, the duality gap to the probabilities
        SAGA's table holds must certify the promised gap, computed in
        float64 also for float32 data), and where it does not hold (the
        epoch limit of 200, an objective that stops decreasing, a
        coefficient without an L2 penalty, which has no certificate) the
        scipy solver
        ``"auto"`` would otherwise pick finishes from there under the same
        test. Each epoch counts as an iteration in ``n_iter_``, ``max_iter``
        and the callbacks; ``random_state`` seeds the sampling order. numba
        is imported only then; the first fit in a fresh environment compiles
        the kernels (seconds, once: they are cached). L2 only: L1, elastic
        net and bounds are an error with ``"saga"``. It needs the rows of
        ``X`` in memory: CSC, Fortran-ordered arrays, Dask and array API
        inputs are solved by the scipy solver alone.
        ``"newton-cd"``: proximal Newton (the exact second-order model of the
        cross-entropy, each feature's ``n_classes x n_classes`` Hessian
        block) with coordinate descent on the model, compiled with numba,
        and a backtracking line search, on working sets: each round solves
        the problem over the non-zero features and the worst violators of
        the optimality (KKT) conditions, then checks every feature in one
        pass over ``X`` (glmnet's, newGLMNET's and skglm's ideas). For the
        L1, elastic-net and grouped penalties, with penalty factors and
        bounds (coordinate steps are clipped to them). ``tol`` bounds the
        largest KKT violation (``max|grad|`` in ``verbose``'s lines), and
        ``n_iter_`` counts Newton iterations. Dense ``X`` is read in place
        when Fortran-ordered and CSC in place; C-ordered and CSR ``X`` have
        the columns of the working set copied (those of the non-zero
        features and as many again), never all of ``X``. Its extra memory is
        six ``n_samples x n_classes`` float64 arrays.
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
        4e-2). ``"auto"``: when a duality gap certifies a relative objective
        gap ``(f - f*) / f*`` of at most 1e-6, whatever the scaling: the
        probabilities at the current point, mixed with a constant row so
        that their weighted mean is the class shares, are a point of the dual
        problem, whose value bounds ``f*`` from below (docs/maths.rst). It is
        asked once an estimate read from the trajectory is under 1e-7 (the
        last iteration's decrease, the last 10 for lbfgs, times ``r / (1 -
        r)`` with ``r`` the shrinkage of the preconditioned gradient; lbfgs
        also needs a decrease under 1e-6 over its last 10 iterations), and
        costs one pass over ``X`` per fit. The estimate alone stopped early
        where the solver slows in a flat valley (50 classes: 3e-6); the
        certificate costs iterations where it is loose, with weak
        regularisation. Without an L2 penalty on every coefficient (``C=inf``,
        a zero ``penalty_factor``) there is no finite certificate, and in
        float32 arithmetic (which resolves the objective to about 1e-7) none
        within reach: the estimate decides; where the objective stops
        decreasing in floating point (nearly separable data at large ``C``,
        pure L1), a small estimate is accepted, and ``verbose=1`` prints the
        duality gap reached. If the test cannot be met (``max_iter`` is hit, or the line
        search fails far from the optimum), a
        :class:`~sklearn.exceptions.ConvergenceWarning` says what was
        reached. ``LogisticRegression`` also stops, silently, when
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
    penalty_factor : array-like of shape (n_features,), default=None
        :math:`f_j \ge 0`, finite: multiplies both parts of feature
        :math:`j`'s penalty, for every class (glmnet's ``penalty.factor``,
        glum's ``P1`` and ``P2`` together). 0 leaves a feature unpenalised (a
        control variable that is always kept). Used as given: glmnet rescales
        its factors to sum to ``n_features``; for glmnet's model pass
        ``f * n_features / f.sum()``. None: every factor 1.
    lower_bounds, upper_bounds : float or array-like, default=None
        Bounds on ``coef_`` (rows in the order of ``classes_``), as glmnet's
        ``lower.limits``/``upper.limits`` and Spark's
        ``lowerBoundsOnCoefficients``: a number for every coefficient, one per
        feature (shape (n_features,), for every class), or one per
        coefficient (shape (n_classes, n_features)); ``-np.inf`` and
        ``np.inf`` mean no bound; ``lower_bounds <= upper_bounds``. The
        intercepts are free. Bounds need ``"lbfgs"`` (L-BFGS-B) or
        ``"newton-cd"`` (with ``l1_ratio > 0``, which ``"auto"`` then picks);
        ``"auto"`` picks ``"lbfgs"`` for bounds without L1, and the other
        solvers are an error, as is ``l1_type="grouped"``. Infinite bounds
        (or None) fit the unbounded model. On float32 data ``coef_`` holds
        the bounds as float32 rounds them. With bounds the model is no longer
        invariant to adding a constant to every class's coefficients, so the
        fitted ``coef_`` is the bounded optimum, not a centred one.
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
        Lanczos steps) and the largest change of a coefficient. With
        ``solver="saga"``, 1 also prints a line for the epochs and 2 a line
        per epoch (the objective, the largest gradient entry and the
        certified gap on the epochs after which the stop is checked).
    random_state : int, RandomState instance or None, default=None
        The order in which ``solver="saga"`` samples rows (no other solver
        is random). An int gives the same model bit for bit on every fit;
        None draws fresh entropy from the operating system, leaving NumPy's
        global random state as it was.

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
    dtype plus small vectors; ``solver="newton-cd"`` needs six float64
    arrays of that shape and, for C-ordered dense or CSR ``X``, a copy of
    its working set's columns (see ``solver``).

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
        "penalty_factor": ["array-like", None],
        "lower_bounds": [Real, "array-like", None],
        "upper_bounds": [Real, "array-like", None],
        "random_state": ["random_state"],
        "l1_type": [StrOptions({"ungrouped", "grouped"})],
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
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
        random_state=None,
        l1_type="ungrouped",
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
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.random_state = random_state
        self.l1_type = l1_type

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
    def fit(self, X, y, sample_weight=None, offset=None):
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
        offset : array-like or dask Array of shape (n_samples, n_classes), \
                default=None
            A known part of each sample's scores, added to the linear ones
            (``X @ coef_.T + intercept_ + offset``), columns in the order of
            ``classes_`` (sorted labels), finite (glmnet's, H2O's and glum's
            ``offset``: the log of an exposure, a baseline model's scores).
            Not fitted, not penalised; pass the same kind of offset to the
            prediction methods. On Dask, a Dask array in ``X``'s row chunks;
            under array API dispatch, moved to ``X``'s device. With metadata
            routing, ``set_fit_request(offset=True)`` routes it through a
            Pipeline or GridSearchCV.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        check_solver(
            self.solver,
            self.l1_ratio,
            has_finite_bounds(self.lower_bounds, self.upper_bounds),
            self.l1_type,
        )
        with backend_for(X, y, sample_weight, offset).fit_data(
            self, X, y, sample_weight, offset
        ) as fit_input:
            return self._fit_data(*fit_input)

    def _fit_data(self, data, X, y, classes, sample_weight):
        """Fit on validated ``data``; ``X``, ``y`` as the callbacks see them.

        ``classes`` are stored as they are (NumPy, or ``y``'s namespace on the
        array API path); the coefficients go where ``data.from_host`` puts
        them (``X``'s namespace and device on the array API path).
        """
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task = self._init_callback_context(max_subtasks=self.max_iter + 1)
        task.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        coef, result = solve_with_settings(
            self,
            task,
            data,
            X,
            y,
            classes,
            C=self.C,
            l1_ratio=self.l1_ratio,
            coef0=(
                previous_coef(self, classes, data.shape[1])
                if self.warm_start and hasattr(self, "coef_")
                else None
            ),
            metadata=metadata,
        )
        self._set_coef(coef, classes, data.shape[1], data.dtype, data.from_host)
        self.n_iter_ = data.from_host(np.array([result.n_iter], dtype=np.int32))
        task.call_on_fit_task_end(
            estimator=self, X=X, y=y, metadata=metadata, reconstruction_attributes={}
        )
        return self

    def _fitted_attributes(
        self, coef, classes, n_features: int, dtype, from_host=None
    ) -> dict:
        """Return the fitted attributes that a flat ``[W, b]`` solution makes."""
        return fitted_attributes(
            coef, classes, n_features, self.fit_intercept, dtype, from_host
        )

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
        offset=None,
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
        offset : array-like of shape (n_samples, n_classes), default=None
            The offset the model was fitted with (see :meth:`fit`): the
            fitted probabilities include it.

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
        from ._inference import infer

        return infer(
            self,
            X,
            y,
            sample_weight,
            cov_type=cov_type,
            groups=groups,
            reference_class=reference_class,
            alpha=alpha,
            max_bytes=max_bytes,
            offset=offset,
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

    def decision_function(self, X, offset=None):
        r"""Raw scores of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores (``X @ coef_.T + intercept_ + offset``;
            columns in the order of ``classes_``), as the offset it was
            fitted with. On Dask, a Dask array in ``X``'s row chunks.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            :math:`z_{ik} = w_k^\top x_i + b_k` (plus the offset). For two
            classes, the 1-D margin
            :math:`z_{i1} - z_{i0}` of ``classes_[1]`` over ``classes_[0]``:
            positive means ``classes_[1]`` is predicted.
        """
        return backend_for(X, offset).predict(self, X, "decision_function", offset)

    def predict(self, X, offset=None):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores (``X @ coef_.T + intercept_ + offset``;
            columns in the order of ``classes_``), as the offset it was
            fitted with. On Dask, a Dask array in ``X``'s row chunks.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``; ties go to the first class.
        """
        return backend_for(X, offset).predict(self, X, "predict", offset)

    def predict_proba(self, X, offset=None):
        """Probability of each class: the softmax of the scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores (``X @ coef_.T + intercept_ + offset``;
            columns in the order of ``classes_``), as the offset it was
            fitted with. On Dask, a Dask array in ``X``'s row chunks.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; each row sums to one.
        """
        return backend_for(X, offset).predict(self, X, "predict_proba", offset)

    def score(self, X, y, sample_weight=None, offset=None):
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
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores (``X @ coef_.T + intercept_ + offset``;
            columns in the order of ``classes_``), as the offset it was
            fitted with. On Dask, a Dask array in ``X``'s row chunks.

        Returns
        -------
        score : float
            The (weighted) fraction of samples whose predicted label is ``y``.
            For class probabilities :math:`q_i`, the expected accuracy
            :math:`\sum_i s_i q_{i, \hat y_i} / \sum_i s_i`: the chance that
            the prediction matches a label drawn from :math:`q_i` (for one-hot
            rows, the accuracy).
        """
        backend = backend_for(X, y, sample_weight, offset)
        return backend.score(self, X, y, sample_weight, offset)

    def predict_log_proba(self, X, offset=None):
        """Logarithm of the probability of each class, through log-sum-exp.

        Finite even where :meth:`predict_proba` underflows to zero.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores (``X @ coef_.T + intercept_ + offset``;
            columns in the order of ``classes_``), as the offset it was
            fitted with. On Dask, a Dask array in ``X``'s row chunks.

        Returns
        -------
        log_probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return backend_for(X, offset).predict(self, X, "predict_log_proba", offset)
