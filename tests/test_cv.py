"""Tests of SoftmaxRegressionCV against fits done by hand."""

import re

import numpy as np
import pytest
import scipy.special
from numpy.testing import assert_allclose, assert_array_equal
from optimum import (
    assert_same_accuracy,
    assert_same_fit,
    assert_same_optimum,
    flat_coef,
    objective_for,
    path_coef_flat,
)
from sklearn import config_context
from sklearn.datasets import load_iris, load_wine
from sklearn.metrics import accuracy_score, brier_score_loss, get_scorer, log_loss
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def assert_path_is_the_fold_fit(
    model,
    fold,
    index,
    fold_model,
    X,
    y,
    train,
    test,
    fit_weight=None,
    score_weight=None,
):
    """The path's fit at (fold, C index) is ``fold_model``, fitted on the fold's
    training rows, as far as their stops imply (tests/optimum.py); its
    accuracy score is the fold model's up to the test rows that bound leaves
    ambiguous. Returns the probabilities' bound."""
    loss = objective_for(
        X[train], y[train], 3, C=fold_model.C, sample_weight=fit_weight
    )
    path = model.coefs_paths_[fold, 0, index]
    tolerance = assert_same_optimum(
        loss, path_coef_flat(path), flat_coef(fold_model), needed=1e-3, X=X
    ).probability
    assert_same_accuracy(
        model.scores_[fold, 0, index],
        fold_model.predict_proba(X[test]),
        y[test],
        tolerance,
        sample_weight=score_weight,
    )
    return tolerance


def path_proba(coef, X):
    """Probabilities of a ``coefs_paths_`` entry (intercepts in the last column)."""
    return scipy.special.softmax(X @ coef[:, :-1].T + coef[:, -1], axis=1)


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_scores_match_independent_fits(scoring):
    """Each point of a fold's warm-started path is the cold fit on that fold,
    and so are its scores, as far as the two stops imply (tests/optimum.py):
    probabilities within the bound, accuracies up to rows that bound leaves
    ambiguous."""
    X, y = standardised(load_wine)
    Cs = [0.01, 0.1, 1.0]
    model = SoftmaxRegressionCV(Cs=Cs, cv=CV, scoring=scoring, tol=1e-8).fit(X, y)
    assert model.scores_.shape == (3, 1, 3)
    assert model.coefs_paths_.shape == (3, 1, 3, 3, X.shape[1] + 1)
    for fold, (train, test) in enumerate(CV.split(X, y)):
        for index, C in enumerate(Cs):
            cold = SoftmaxRegression(C=C, tol=1e-8).fit(X[train], y[train])
            path_coef = model.coefs_paths_[fold, 0, index]
            loss = objective_for(X[train], y[train], 3, C=C)
            tolerance = assert_same_optimum(
                loss, path_coef_flat(path_coef), flat_coef(cold), needed=1e-3, X=X
            ).probability
            cold_proba = cold.predict_proba(X[test])
            assert_allclose(path_proba(path_coef, X[test]), cold_proba, atol=tolerance)
            score = model.scores_[fold, 0, index]
            if scoring is None:
                assert_same_accuracy(score, cold_proba, y[test], tolerance)
            else:
                # |log p - log p'| <= 2 max|z - z'|: twice the scores' bound,
                # which is twice the probabilities'.
                expected = -log_loss(y[test], cold_proba)
                assert abs(score - expected) <= 4 * tolerance
    best = np.argmax(model.scores_.mean(axis=0)[0])
    assert model.C_ == Cs[best]
    refit = SoftmaxRegression(C=model.C_, tol=1e-8).fit(X, y)
    tolerance = assert_same_fit(refit, model, X, y, needed=1e-3).probability
    assert_allclose(model.predict_proba(X), refit.predict_proba(X), atol=tolerance)


def test_integer_cs_and_no_refit_average_the_folds():
    X, y = standardised(load_iris)
    model = SoftmaxRegressionCV(Cs=4, cv=CV, refit=False).fit(X, y)
    assert_allclose(model.Cs_, np.logspace(-4, 4, 4))
    best_C = list(model.Cs_).index(model.C_)
    mean = model.coefs_paths_[:, 0, best_C].mean(axis=0)
    assert_allclose(model.coef_, mean[:, :-1])
    assert_allclose(model.intercept_, mean[:, -1] - mean[:, -1].mean())


def test_l1_ratios_grid():
    X, y = standardised(load_wine)
    model = SoftmaxRegressionCV(
        Cs=[0.05, 0.5], l1_ratios=[0.0, 0.5, 1.0], cv=CV, scoring="neg_log_loss"
    ).fit(X, y)
    assert model.scores_.shape == (3, 3, 2)
    assert model.l1_ratio_ in (0.0, 0.5, 1.0)
    assert_array_equal(model.l1_ratios_, [0.0, 0.5, 1.0])
    # The L1 paths hold exact zeros at the strongest penalty.
    assert np.any(model.coefs_paths_[:, 2, 0, :, :-1] == 0)


def test_warm_started_path_needs_fewer_iterations():
    X, y = standardised(load_wine)
    Cs = np.logspace(-2, 2, 9)
    model = SoftmaxRegressionCV(Cs=Cs, cv=CV, tol=1e-6).fit(X, y)
    cold = sum(
        SoftmaxRegression(C=C, solver="lbfgs", tol=1e-6).fit(X[train], y[train]).n_iter_
        for train, _ in CV.split(X, y)
        for C in Cs
    )
    assert model.n_iter_.sum() < 0.8 * cold


def test_parallel_paths_equal_serial():
    X, y = standardised(load_iris)
    serial = SoftmaxRegressionCV(Cs=3, cv=CV, n_jobs=1).fit(X, y)
    parallel = SoftmaxRegressionCV(Cs=3, cv=CV, n_jobs=2).fit(X, y)
    # Equal by construction: each fold's path is the same code on the same
    # blocks (iris is evaluated in one thread whatever n_jobs), in another
    # worker.
    assert_array_equal(parallel.scores_, serial.scores_)
    assert_array_equal(parallel.coefs_paths_, serial.coefs_paths_)
    assert_array_equal(parallel.coef_, serial.coef_)


def test_sample_weights_in_fits_and_scores():
    X, y = standardised(load_iris)
    weight = np.random.default_rng(0).integers(0, 3, size=y.size)
    weighted = SoftmaxRegressionCV(Cs=3, cv=CV).fit(X, y, sample_weight=weight)
    assert np.all(np.isfinite(weighted.scores_))
    assert weighted.coef_.shape == (3, 4)


def test_verbose_reports_fold_and_c(capsys):
    X, y = standardised(load_iris)
    SoftmaxRegressionCV(Cs=2, cv=CV, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "[cv] fold 1/3 l1_ratio=0 C=0.0001" in out
    assert "[lbfgs]" in out


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"Cs": [0.1, -1.0]}, "Cs must be positive"),
        ({"l1_ratios": [0.5, 2.0]}, r"l1_ratios must be numbers in \[0, 1\]"),
        ({"l1_ratios": [0.5], "solver": "trust-ncg"}, "needs solver='newton-cd'"),
        ({"Cs": 0}, "'Cs' parameter"),
        ({"Cs": [0.1, np.nan]}, "Cs must be positive"),
        ({"l1_ratios": [np.nan]}, r"l1_ratios must be numbers in \[0, 1\]"),
    ],
)
def test_bad_parameters(params, match):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(**params).fit(X, y)


# -- Scoring ------------------------------------------------------------------


def test_score_uses_scoring():
    X, y = standardised(load_iris)
    model = SoftmaxRegressionCV(Cs=3, scoring="neg_log_loss").fit(X, y)
    expected = -log_loss(y, model.predict_proba(X))
    assert model.score(X, y) == pytest.approx(expected, rel=1e-12)
    assert model.score(X, y) < 0  # a negated loss, not an accuracy
    default = SoftmaxRegressionCV(Cs=3).fit(X, y)
    assert default.score(X, y) == accuracy_score(y, default.predict(X))


def test_callable_scoring_is_called_once_per_fit_and_by_score():
    calls = []

    def scorer(model, X, y, sample_weight=None):
        calls.append(len(y))
        return [0.1, 0.4, 0.8, 0.5][(len(calls) - 1) % 4]

    X, y = standardised(load_iris)
    model = SoftmaxRegressionCV(Cs=[1, 2, 3, 4], cv=2, scoring=scorer).fit(X, y)
    assert model.C_ == 3  # the best score, 0.8, is the third C on each fold
    assert len(calls) == 2 * 4
    calls.clear()
    assert model.score(X, y) == 0.1
    assert calls == [len(y)]


@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")
def test_stratified_folds_lacking_a_class_are_scored_with_all_labels():
    X, y = standardised(load_iris)
    keep = np.r_[np.arange(100), 100, 101, 102]  # 3 samples of class 2
    X, y = X[keep], y[keep]
    cv = StratifiedKFold(5)
    model = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=cv, scoring="neg_log_loss")
    model.fit(X, y)
    for fold, (_, test) in enumerate(cv.split(X, y)):
        proba = path_proba(model.coefs_paths_[fold, 0, 1], X[test])
        expected = -log_loss(y[test], proba, labels=[0, 1, 2])
        assert_allclose(model.scores_[fold, 0, 1], expected, rtol=1e-10)


@pytest.mark.parametrize("routing", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_folds_with_one_class_each(routing, n_classes):
    # scikit-learn's test_logistic_cv_folds_with_classes_missing, on our API.
    y = np.array(["a", "a", "b", "b", "c", "c"])[: 2 * n_classes]
    X = np.arange(2.0 * n_classes)[:, None]
    cv = KFold(n_splits=n_classes)
    with config_context(enable_metadata_routing=routing):
        model = SoftmaxRegressionCV(
            cv=cv, scoring="neg_brier_score", Cs=np.logspace(-6, 6, 5)
        ).fit(X, y)
    assert model.C_ == 1e-6
    labels = ["a", "b", "c"][:n_classes]
    for fold, (_, test) in enumerate(cv.split(X, y)):
        proba = path_proba(model.coefs_paths_[fold, 0, 0], X[test])
        if n_classes == 2:
            expected = brier_score_loss(y[test], proba, pos_label="b", labels=labels)
        else:
            expected = brier_score_loss(y[test], proba, labels=labels)
        assert_allclose(-model.scores_[fold, 0, 0], expected)


def test_scores_use_the_sample_weights_not_the_class_weights():
    X, y = standardised(load_iris)
    weight = np.random.default_rng(0).integers(1, 4, size=y.size).astype(float)
    class_weight = {0: 10, 1: 1, 2: 1}
    model = SoftmaxRegressionCV(Cs=[0.01], cv=CV, class_weight=class_weight, tol=1e-8)
    model.fit(X, y, sample_weight=weight)
    for fold, (train, test) in enumerate(CV.split(X, y)):
        fold_model = SoftmaxRegression(C=0.01, class_weight=class_weight, tol=1e-8)
        fold_model.fit(X[train], y[train], sample_weight=weight[train])
        # Its score weighs the test rows by their sample weights alone.
        folded = weight[train] * np.array([10.0, 1.0, 1.0])[y[train]]
        assert_path_is_the_fold_fit(
            model, fold, 0, fold_model, X, y, train, test, folded, weight[test]
        )


# -- Metadata routing ---------------------------------------------------------


@pytest.mark.parametrize("routing", [False, True])
def test_groups_reach_the_splitter(routing):
    X, y = standardised(load_iris)
    groups = np.arange(y.size) % 5
    with config_context(enable_metadata_routing=routing):
        model = SoftmaxRegressionCV(Cs=[0.01, 1.0], cv=GroupKFold(5), tol=1e-8)
        model.fit(X, y, groups=groups)
    assert model.scores_.shape == (5, 1, 2)
    for fold, (train, test) in enumerate(GroupKFold(5).split(X, y, groups)):
        # The path's fit is the fit on the group fold's rows.
        fold_model = SoftmaxRegression(C=model.Cs_[0], tol=1e-8)
        fold_model.fit(X[train], y[train])
        assert_path_is_the_fold_fit(model, fold, 0, fold_model, X, y, train, test)


def test_other_metadata_needs_routing():
    X, y = standardised(load_iris)
    model = SoftmaxRegressionCV(Cs=2, scoring="neg_log_loss")
    msg = "is only supported if enable_metadata_routing=True"
    with pytest.raises(ValueError, match=msg):
        model.fit(X, y, extra_param=1.0)
    model.fit(X, y)
    with pytest.raises(ValueError, match=msg):
        model.score(X, y, extra_param=1.0)


@config_context(enable_metadata_routing=True)
def test_sample_weight_reaches_the_scorer_only_when_requested():
    X, y = standardised(load_wine)
    weight = np.where(np.arange(y.size) % 2 == 0, 5.0, 1.0)
    unweighted = get_scorer("accuracy").set_score_request(sample_weight=False)
    weighted = get_scorer("accuracy").set_score_request(sample_weight=True)
    model_1 = SoftmaxRegressionCV(Cs=[0.001], cv=CV, scoring=unweighted)
    model_2 = SoftmaxRegressionCV(Cs=[0.001], cv=CV, scoring=weighted)
    model_1.fit(X, y, sample_weight=weight)
    model_2.fit(X, y, sample_weight=weight)
    for fold, (_, test) in enumerate(CV.split(X, y)):
        labels = np.argmax(path_proba(model_1.coefs_paths_[fold, 0, 0], X[test]), 1)
        assert model_1.scores_[fold, 0, 0] == pytest.approx(
            accuracy_score(y[test], labels)
        )
        assert model_2.scores_[fold, 0, 0] == pytest.approx(
            accuracy_score(y[test], labels, sample_weight=weight[test])
        )
    message = (
        "SoftmaxRegressionCV.score got unexpected argument(s) {'sample_weight'}, "
        "which are not routed to any object."
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        model_1.score(X, y, sample_weight=weight)
    assert model_2.score(X, y, sample_weight=weight) == pytest.approx(
        accuracy_score(y, model_2.predict(X), sample_weight=weight)
    )


def test_sample_weight_reaches_the_scorer_without_routing():
    X, y = standardised(load_wine)
    weight = np.where(np.arange(y.size) % 2 == 0, 5.0, 1.0)
    with config_context(enable_metadata_routing=False):
        plain = SoftmaxRegressionCV(Cs=[0.001], cv=CV).fit(X, y, sample_weight=weight)
        plain_score = plain.score(X, y, sample_weight=weight)
    with config_context(enable_metadata_routing=True):
        scorer = get_scorer("accuracy").set_score_request(sample_weight=True)
        routed = SoftmaxRegressionCV(Cs=[0.001], cv=CV, scoring=scorer)
        routed.fit(X, y, sample_weight=weight)
        routed_score = routed.score(X, y, sample_weight=weight)
    assert_allclose(plain.scores_, routed.scores_)
    assert plain_score == pytest.approx(routed_score)


def test_default_cv_fits_data_with_few_members_per_class():
    """cv=None is 5 stratified folds, fewer where a class has fewer members
    (LogisticRegressionCV raises; check_sparsify_coefficients' data has 3)."""
    X = np.array(
        [
            [-2, -1],
            [-1, -1],
            [-1, -2],
            [1, 1],
            [1, 2],
            [2, 1],
            [-1, -2],
            [2, 2],
            [-2, -2],
        ]
    )
    y = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3])
    model = SoftmaxRegressionCV().fit(X, y)
    assert model.scores_.shape[0] == 3  # three folds
    X_iris, y_iris = standardised(load_iris)
    assert SoftmaxRegressionCV(Cs=2).fit(X_iris, y_iris).scores_.shape[0] == 5


def test_every_point_of_the_path_takes_an_iteration():
    """On separable data the previous C's solution can already meet tol at the
    next C; each point is still fitted at its own C (n_iter_ >= 1)."""
    X, y = standardised(load_iris)
    y = (y == 0).astype(int)  # setosa: linearly separable
    model = SoftmaxRegressionCV().fit(X, y)
    assert model.n_iter_.min() >= 1


# The path also runs C up to 1e4 on unscaled iris, where trust-krylov's float64
# objective can stop decreasing at a gradient just over 1e-8 (and says so).
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg", "trust-krylov"])
def test_path_coefficients_equal_a_fit_on_the_fold(solver):
    """scikit-learn's test_LogisticRegressionCV_on_folds: unscaled iris,
    tol=1e-8, the path's warm-started fit at C_i against a cold fit on the
    same training fold, as far as their gradients imply (tests/optimum.py;
    scikit-learn asks 1e-5 relative). (lbfgs's float64 objective stops
    decreasing at gradients of 1e-8 to 6e-8 on unscaled iris, and it says so
    in a ConvergenceWarning; the gradients checked here are measured anew.)"""
    X, y = load_iris(return_X_y=True)
    search = SoftmaxRegressionCV(solver=solver, tol=1e-8, max_iter=2000).fit(X, y)
    folds = list(StratifiedKFold(5).split(X, y))
    for fold, index in [(0, 0), (0, 1), (3, 6)]:
        train = folds[fold][0]
        single = SoftmaxRegression(
            C=search.Cs_[index], solver=solver, tol=1e-8, max_iter=2000
        ).fit(X[train], y[train])
        path = search.coefs_paths_[fold, 0, index]
        loss = objective_for(X[train], y[train], 3, C=search.Cs_[index])
        assert_same_optimum(loss, path_coef_flat(path), flat_coef(single), needed=1e-2)
