"""SoftmaxRegressionCV: choose C and l1_ratio by cross-validation along paths."""

from __future__ import annotations

import copy
import inspect
import sys
from numbers import Integral
from typing import ClassVar

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import _fit_context
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, metadata_routing
from sklearn.utils._param_validation import Interval
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    check_is_fitted,
)

from ._backends import backend_for
from ._backends.memory import InMemoryData, validate_fit_data
from ._checks import (
    check_offset,
    check_solver,
    has_finite_bounds,
    numeric_table,
    target_columns,
)
from ._coef import as_rows
from ._estimator import SoftmaxRegression
from ._fit import solve_with_settings
from ._loss import _check_targets, cross_entropy


def _soft_target_score(estimator, X, y, sample_weight=None) -> float:
    """Minus the cross-entropy of the predicted probabilities against ``y``.

    The default score for a 2-D ``y`` of class probabilities: the soft-target
    log-loss, negated so that greater is better (as ``"neg_log_loss"``).
    """
    offset = getattr(estimator, "fold_offset", None)
    raw_prediction = backend_for(X).raw_prediction(estimator, X, "score", offset)
    targets = _check_targets(numeric_table(y), raw_prediction.shape[1], name="y")
    return -float(cross_entropy(raw_prediction, targets, sample_weight))


def _labelled_scorer(scoring, classes: np.ndarray, soft: bool = False):
    """Return the scorer for ``scoring``, told the classes the model was fitted on.

    A test fold may lack some classes (or hold only one), and metrics that infer
    the labels from ``y_true`` (``log_loss``, ``brier_score_loss``, ...) then
    misread the columns of ``predict_proba``. Scorers whose metric takes
    ``labels`` get ``labels=classes``, and for two classes those that take
    ``pos_label`` get ``pos_label=classes[1]``, the class whose probability is
    the second column, as ``LogisticRegressionCV`` does. Arguments the user gave
    the scorer win; callables that are not scikit-learn scorers are unchanged.
    With ``soft`` (targets of class probabilities), None is
    :func:`_soft_target_score`.
    """
    if scoring is None and soft:
        return _soft_target_score
    scorer = get_scorer("accuracy" if scoring is None else scoring)
    score_func = getattr(scorer, "_score_func", None)
    if score_func is None:
        return scorer
    parameters = inspect.signature(score_func).parameters
    known = {}
    if "labels" in parameters:
        known["labels"] = classes
    if classes.size == 2 and "pos_label" in parameters:
        known["pos_label"] = classes[-1]
    if not known:
        return scorer
    # A copy keeps the scorer's metadata requests (set_score_request).
    labelled = copy.copy(scorer)
    labelled._kwargs = {**known, **scorer._kwargs}
    return labelled


class _OffsetModel(SoftmaxRegression):
    """A fitted model whose predictions add a fixed offset (``fold_offset``).

    What a scorer is given where the data have an offset: scorers call the
    prediction methods with ``X`` alone.
    """

    fold_offset = None

    def decision_function(self, X, offset=None):
        return super().decision_function(X, self._offset(offset))

    def predict(self, X, offset=None):
        return super().predict(X, self._offset(offset))

    def predict_proba(self, X, offset=None):
        return super().predict_proba(X, self._offset(offset))

    def predict_log_proba(self, X, offset=None):
        return super().predict_log_proba(X, self._offset(offset))

    def _offset(self, offset):
        return self.fold_offset if offset is None else offset


def _with_offset(model, offset) -> _OffsetModel:
    """Return a copy of fitted ``model``'s state whose predictions add ``offset``."""
    bound = _OffsetModel(fit_intercept=model.fit_intercept)
    for name in ("classes_", "coef_", "intercept_", "n_features_in_"):
        setattr(bound, name, getattr(model, name))
    if hasattr(model, "feature_names_in_"):
        bound.feature_names_in_ = model.feature_names_in_
    bound.fold_offset = offset
    return bound


def _fold_path(
    estimator,
    task,
    X,
    y,
    y_encoded,
    classes,
    sample_weight,
    offset,
    train,
    test,
    Cs,
    l1_ratio,
    scorer,
    score_params: dict,
    n_threads,
    label: str,
):
    """Fit one training fold along ``Cs`` (ascending), warm-starting each C.

    ``estimator`` is the SoftmaxRegressionCV whose settings the fits use and
    whose hooks are called; ``task`` is the path's callback task, with one
    subtask per ``C`` (and per iteration under it). ``sample_weight`` (class
    weights included) weighs the fits; ``offset`` (or None) is added to the
    scores of the fits and of the test fold's predictions; ``score_params``
    are the test fold's arguments to ``scorer``. Returns the flat
    coefficients (n_Cs, n_coef), the test scores (n_Cs,) and the iterations
    (n_Cs,).
    """
    X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    y_train, y_test = _safe_indexing(y, train), _safe_indexing(y, test)
    weight_train = None if sample_weight is None else sample_weight[train]
    data = InMemoryData(
        X_train,
        y_encoded[train],
        classes.size,
        weight_train,
        float(estimator.label_smoothing),
        None if offset is None else offset[train],
    )
    hook_data = {"estimator": estimator, "X": X_train, "y": y_train}
    task.call_on_fit_task_begin(**hook_data)
    n_features = X.shape[1]
    scoring_model = (
        SoftmaxRegression(fit_intercept=estimator.fit_intercept)
        if offset is None
        else _OffsetModel(fit_intercept=estimator.fit_intercept)
    )
    scoring_model.n_features_in_ = n_features
    if offset is not None:
        scoring_model.fold_offset = offset[test]
    coefs, scores, n_iters = [], [], []
    coef = None
    for C in Cs:
        C_task = task.subcontext(
            task_name=f"C={C:.4g}", max_subtasks=estimator.max_iter + 1
        )
        C_task.call_on_fit_task_begin(**hook_data)
        coef, result = solve_with_settings(
            estimator,
            C_task,
            data,
            X_train,
            y_train,
            classes,
            C=C,
            l1_ratio=l1_ratio,
            coef0=coef,
            n_threads=n_threads,
            # The previous C's solution may already meet tol (nearly separable
            # data at large C): still take a step, so that each point of the
            # path is fitted at its own C and n_iter_ counts at least one.
            min_iter=1,
        )
        scoring_model._set_coef(coef, classes, n_features, X.dtype)
        score = scorer(scoring_model, X_test, y_test, **score_params)
        coefs.append(coef)
        scores.append(score)
        n_iters.append(result.n_iter)
        C_task.call_on_fit_task_end(
            reconstruction_attributes=lambda coef=coef: (
                scoring_model._fitted_attributes(coef, classes, n_features, X.dtype)
            ),
            **hook_data,
        )
        if estimator.verbose:
            print(
                f"[cv] {label} l1_ratio={l1_ratio:g} C={C:.4g}: "
                f"{result.n_iter} iterations, score {score:.6g}",
                file=sys.stdout,
            )
    task.call_on_fit_task_end(**hook_data)
    return np.array(coefs), np.array(scores), np.array(n_iters)


class SoftmaxRegressionCV(SoftmaxRegression):
    r"""Softmax regression with ``C`` and ``l1_ratio`` chosen by cross-validation.

    For every fold and every ``l1_ratio``, the model is fitted along the
    regularisation path, from the strongest penalty (smallest ``C``) to the
    weakest, each fit starting from the previous solution: neighbouring
    solutions are close, so each warm-started fit needs a fraction of the
    iterations of a fit from zero. The ``(C, l1_ratio)`` with the best mean
    score over the folds is kept; with ``refit=True`` the model is then
    refitted on all the data, starting from the folds' mean solution.

    The objective for each ``(C, l1_ratio)`` is that of
    :class:`SoftmaxRegression`.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The values of ``C`` to try; an int ``n`` means ``n`` values on a log
        scale from 1e-4 to 1e4, as in ``LogisticRegressionCV``.
    l1_ratios : array-like of float in [0, 1], default=None
        The values of ``l1_ratio`` to try; None means ``[0.0]`` (pure L2).
    cv : int, cross-validation generator or iterable, default=None
        As in :func:`sklearn.model_selection.check_cv`: None is 5-fold
        stratified, or as many folds as the least populated class has
        members when that is fewer (at least 2), where
        ``LogisticRegressionCV`` raises an error.
    scoring : str or callable, default=None
        A scikit-learn scorer name or callable, used to choose ``C`` and
        ``l1_ratio`` and by :meth:`score`; None means accuracy, and for a 2-D
        ``y`` of class probabilities minus the cross-entropy of the predicted
        probabilities against those targets (the soft-target log-loss, as
        given: without label smoothing; greater is better). Metrics that take
        ``labels`` are given the classes of the whole training set, so test
        folds that lack a class are scored correctly (and, for two classes,
        ``pos_label`` is ``classes_[1]``). Without metadata routing, the test
        fold's sample weights are passed to the scorer; with it, whatever the
        scorer requests.
    refit : bool, default=True
        Refit on all data with the best ``(C, l1_ratio)``; if False, average
        the folds' coefficients at the best values instead.
    n_jobs : int, default=None
        Parallel jobs over the (fold, l1_ratio) paths, through joblib. With
        more than one job, each fit runs single-threaded.
    solver : str, default="lbfgs"
        As in :class:`SoftmaxRegression`. For L1 and elastic-net paths, and
        for ``l1_type="grouped"`` (which needs it), pass ``"newton-cd"`` (or
        ``"auto"``, which picks it there): its working sets carry each fit's
        support to the next down the path (on the paths of
        benchmarks/README.md, "Issue 30", 3-20x faster than ``"lbfgs"``).
        The default stays ``"lbfgs"`` for the L2 grid, where
        scikit-learn's sample-weight checks hold at ``tol=1e-4``.
    tol : float or "auto", default=1e-4
        As in :class:`SoftmaxRegression`. The defaults differ from
        :class:`SoftmaxRegression`'s (``"auto"``, ``"auto"``) because a grid
        of scores needs less accuracy than a final model, and the paths run
        up to ``C=1e4``, nearly unpenalised, where converging to a relative
        gap of 1e-9 is slow: on standardised digits, 10 ``C`` x 5 folds took
        0.27 s with these defaults, 1.74 s with ``"auto"``, against 0.35 s
        for ``LogisticRegressionCV`` (lbfgs or newton-cg), all choosing the
        same ``C_``. Pass ``tol="auto"`` for a refit as accurate as
        :class:`SoftmaxRegression`'s.
    fit_intercept, class_weight, label_smoothing, max_iter, verbose
        As in :class:`SoftmaxRegression`. ``verbose`` also reports, per fold,
        ``l1_ratio`` and ``C``, the iterations and the score.
    penalty_factor, lower_bounds, upper_bounds, l1_type
        As in :class:`SoftmaxRegression`, for every fit of the paths and the
        refit. For an L1 path that starts where the penalty first keeps a
        coefficient, pass ``Cs=l1_min_c(X, y) * np.logspace(0, 3, 20)``
        (:func:`~softmax_regression.l1_min_c`).
    random_state : int, RandomState instance or None, default=None
        As in :class:`SoftmaxRegression`: the sampling order of
        ``solver="saga"``, the same seed for every fit.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_Cs,)
        The values of ``C`` tried, ascending.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The values of ``l1_ratio`` tried.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Test score of each fold, ``l1_ratio`` and ``C``.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_classes, n_columns)
        The fitted coefficients along each path: ``n_columns`` is
        ``n_features + 1`` with ``fit_intercept``, the last column holding the
        intercepts, and ``n_features`` without.
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Iterations of each fit along the paths.
    C_ : float
        The chosen ``C``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    classes_, coef_, intercept_, n_features_in_, feature_names_in_
        As in :class:`SoftmaxRegression`, for the final model (``coef_`` and
        ``intercept_`` are the folds' mean solution if ``refit=False``).

    Notes
    -----
    With scikit-learn 1.9 or later, ``set_callbacks`` takes the callbacks of
    :mod:`sklearn.callback`. The fit is a task with one subtask per
    (fold, ``l1_ratio``) path (named ``"fold 1 l1_ratio=0"``, ...) and a last
    one, ``"refit"``; each path has one subtask per ``C`` (``"C=0.0001"``,
    ...), and each ``C`` and the refit one per solver iteration. Their hooks
    see the model fitted so far on the path's training fold. A stop requested
    at the end of an iteration stops that solver; requests at the other levels
    are not acted on, since every score of the grid is needed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmax_regression import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegressionCV(Cs=5, cv=3).fit(X, y)
    >>> model.scores_.shape
    (3, 1, 5)
    >>> float(model.C_) in model.Cs_
    True
    """

    # score's sample_weight goes to the scorer, if it requests it.
    __metadata_request__score: ClassVar[dict] = {
        "sample_weight": metadata_routing.UNUSED
    }

    _parameter_constraints: ClassVar[dict] = {
        **{
            name: constraint
            for name, constraint in SoftmaxRegression._parameter_constraints.items()
            if name not in ("C", "l1_ratio", "warm_start")
        },
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=None,
        cv=None,
        scoring=None,
        refit=True,
        n_jobs=None,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        solver="lbfgs",
        tol=1e-4,
        max_iter=500,
        verbose=0,
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
        random_state=None,
        l1_type="ungrouped",
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.random_state = random_state
        self.l1_type = l1_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NumPy only: its folds, scoring and refit run on NumPy data (fit
        # says so for device arrays).
        tags.array_api_support = False
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, offset=None, **params):
        """Cross-validate ``C`` and ``l1_ratio``, then fit the final model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or a table of class probabilities (one column per
            class, rows non-negative and summing to one), as in
            :meth:`SoftmaxRegression.fit`; with a table, the default
            ``scoring`` is minus the cross-entropy against it.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, used in the fits and passed to the scorer
            (see ``scoring``).
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores, as in :meth:`SoftmaxRegression.fit`: split
            with the folds, in every fit and in the test folds' predictions
            that are scored.
        **params : dict
            Metadata for the splitter and the scorer. ``groups`` always reaches
            the splitter (as with :class:`~sklearn.model_selection.GridSearchCV`);
            anything else needs ``sklearn.set_config(enable_metadata_routing=True)``
            and is routed as the splitter and scorer request it.

        Returns
        -------
        self : SoftmaxRegressionCV
            The fitted estimator.
        """
        X, y, sample_weight, offset = backend_for(
            X, y, sample_weight, offset
        ).memory_input(self, X, y, sample_weight, "cross-validation", offset)
        _raise_for_params(params, self, "fit", allow={"groups"})
        Cs, l1_ratios = self._check_grid()
        check_solver(
            self.solver,
            float(l1_ratios.max()),
            has_finite_bounds(self.lower_bounds, self.upper_bounds),
            self.l1_type,
        )
        X, y, classes, y_encoded, fit_weight = validate_fit_data(
            self, X, y, sample_weight
        )
        offset = check_offset(offset, X.shape[0], classes.size)
        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
            split_params, score_params = routed.splitter.split, routed.scorer.score
        else:
            split_params = dict(params)  # groups, at most
            score_params = {}
            if sample_weight is not None:
                score_params["sample_weight"] = _check_sample_weight(
                    sample_weight, X, dtype=np.float64
                )
        cv = self.cv
        if cv is None and y_encoded.ndim == 1:
            # 5 stratified folds, or as many as the least populated class
            # fills (at least 2): tiny data get a smaller CV, not an error.
            smallest_class = int(np.bincount(y_encoded).min())
            cv = min(5, max(2, smallest_class))
        folds = list(check_cv(cv, y, classifier=True).split(X, y, **split_params))
        scorer = _labelled_scorer(self.scoring, classes, soft=y_encoded.ndim == 2)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task = self._init_callback_context(
            max_subtasks=len(folds) * l1_ratios.size + self.refit
        )
        task.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        # The paths' tasks are made here, in order, before the jobs start.
        grid = [
            (fold, train, test, l1_ratio)
            for fold, (train, test) in enumerate(folds)
            for l1_ratio in l1_ratios
        ]
        path_tasks = [
            task.subcontext(
                task_name=f"fold {fold + 1} l1_ratio={l1_ratio:g}",
                max_subtasks=Cs.size,
            )
            for fold, _, _, l1_ratio in grid
        ]
        n_threads = None if effective_n_jobs(self.n_jobs) == 1 else 1
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_path)(
                self,
                path_task,
                X,
                y,
                y_encoded,
                classes,
                fit_weight,
                offset,
                train,
                test,
                Cs,
                l1_ratio,
                scorer,
                _check_method_params(X, params=score_params, indices=test),
                n_threads,
                f"fold {fold + 1}/{len(folds)}",
            )
            for (fold, train, test, l1_ratio), path_task in zip(
                grid, path_tasks, strict=True
            )
        )
        shape = (len(folds), l1_ratios.size, Cs.size)
        n_features = X.shape[1]
        coefs = np.array([path[0] for path in paths]).reshape(*shape, -1)
        self.Cs_ = Cs
        self.l1_ratios_ = l1_ratios
        self.scores_ = np.array([path[1] for path in paths]).reshape(shape)
        self.n_iter_ = np.array([path[2] for path in paths]).reshape(shape)
        self.coefs_paths_ = as_rows(coefs, classes.size, n_features)
        best_l1, best_C = np.unravel_index(
            np.argmax(self.scores_.mean(axis=0)), shape[1:]
        )
        self.C_ = float(Cs[best_C])
        self.l1_ratio_ = float(l1_ratios[best_l1])
        mean_coef = coefs[:, best_l1, best_C].mean(axis=0)
        if self.refit:
            refit_task = task.subcontext(
                task_name="refit", max_subtasks=self.max_iter + 1
            )
            refit_task.call_on_fit_task_begin(
                estimator=self, X=X, y=y, metadata=metadata
            )
            mean_coef, _ = solve_with_settings(
                self,
                refit_task,
                InMemoryData(
                    X,
                    y_encoded,
                    classes.size,
                    fit_weight,
                    float(self.label_smoothing),
                    offset,
                ),
                X,
                y,
                classes,
                C=self.C_,
                l1_ratio=self.l1_ratio_,
                coef0=mean_coef,
                metadata=metadata,
            )
            refit_task.call_on_fit_task_end(
                estimator=self,
                X=X,
                y=y,
                metadata=metadata,
                reconstruction_attributes=lambda: self._fitted_attributes(
                    mean_coef, classes, n_features, X.dtype
                ),
            )
        self._set_coef(mean_coef, classes, n_features, X.dtype)
        task.call_on_fit_task_end(
            estimator=self, X=X, y=y, metadata=metadata, reconstruction_attributes={}
        )
        return self

    def _check_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the values of ``C`` (ascending) and ``l1_ratio`` to try."""
        if isinstance(self.Cs, Integral):
            Cs = np.logspace(-4, 4, self.Cs)
        else:
            Cs = np.sort(np.asarray(self.Cs, dtype=np.float64).ravel())
            if Cs.size == 0 or not np.all(Cs > 0):  # NaN fails Cs > 0
                raise ValueError(
                    f"Cs must be positive numbers (np.inf for no penalty); got "
                    f"{self.Cs!r}."
                )
        l1_ratios = np.asarray(
            [0.0] if self.l1_ratios is None else self.l1_ratios, dtype=np.float64
        ).ravel()
        if l1_ratios.size == 0 or not np.all((l1_ratios >= 0) & (l1_ratios <= 1)):
            raise ValueError(
                f"l1_ratios must be numbers in [0, 1]; got {self.l1_ratios!r}."
            )
        return Cs, l1_ratios

    def score(self, X, y, sample_weight=None, offset=None, **score_params):
        """Score the model with ``scoring`` (accuracy if None) on test data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            True labels for ``X``, or class probabilities (one column per
            class of ``classes_``, in its order).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the scorer (with metadata routing, if it
            requests them).
        offset : array-like of shape (n_samples, n_classes), default=None
            Added to the scores of every prediction the scorer asks for (see
            :meth:`SoftmaxRegression.fit`).
        **score_params : dict
            Further arguments for the scorer; only with metadata routing.

        Returns
        -------
        score : float
            The scorer's value: greater is better (losses are negated, as in
            ``"neg_log_loss"``).
        """
        _raise_for_params(score_params, self, "score")
        check_is_fitted(self)
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        if _routing_enabled():
            score_params = process_routing(self, "score", **score_params).scorer.score
        scorer = _labelled_scorer(
            self.scoring, self.classes_, soft=target_columns(y) is not None
        )
        model = self if offset is None else _with_offset(self, offset)
        return scorer(model, X, y, **score_params)

    def get_metadata_routing(self):
        """Get the metadata routing of this object: to the splitter and scorer.

        See scikit-learn's `metadata routing guide
        <https://scikit-learn.org/stable/metadata_routing.html>`__.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            ``fit``'s metadata goes to the splitter's ``split`` and to the
            scorer; ``score``'s to the scorer.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=get_scorer("accuracy" if self.scoring is None else self.scoring),
                method_mapping=MethodMapping()
                .add(caller="score", callee="score")
                .add(caller="fit", callee="score"),
            )
        )
