"""Tests of SoftmaxRegressionCV against fits done by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris, load_wine
from sklearn.metrics import get_scorer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_scores_match_independent_fits(scoring):
    X, y = standardised(load_wine)
    Cs = [0.01, 0.1, 1.0]
    model = SoftmaxRegressionCV(Cs=Cs, cv=CV, scoring=scoring, tol=1e-8).fit(X, y)
    scorer = get_scorer(scoring or "accuracy")
    assert model.scores_.shape == (3, 1, 3)
    assert model.coefs_paths_.shape == (3, 1, 3, 3, X.shape[1] + 1)
    for fold, (train, test) in enumerate(CV.split(X, y)):
        for index, C in enumerate(Cs):
            cold = SoftmaxRegression(C=C, tol=1e-8).fit(X[train], y[train])
            assert_allclose(
                model.scores_[fold, 0, index], scorer(cold, X[test], y[test]), rtol=1e-6
            )
            path_coef = model.coefs_paths_[fold, 0, index]
            assert_allclose(path_coef[:, :-1], cold.coef_, atol=1e-5)
    best = np.argmax(model.scores_.mean(axis=0)[0])
    assert model.C_ == Cs[best]
    refit = SoftmaxRegression(C=model.C_, tol=1e-8).fit(X, y)
    assert_allclose(model.coef_, refit.coef_, atol=1e-5)
    assert_allclose(model.predict_proba(X), refit.predict_proba(X), atol=1e-6)


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
        SoftmaxRegression(C=C, tol=1e-6).fit(X[train], y[train]).n_iter_
        for train, _ in CV.split(X, y)
        for C in Cs
    )
    assert model.n_iter_.sum() < 0.8 * cold


def test_parallel_paths_equal_serial():
    X, y = standardised(load_iris)
    serial = SoftmaxRegressionCV(Cs=3, cv=CV, n_jobs=1).fit(X, y)
    parallel = SoftmaxRegressionCV(Cs=3, cv=CV, n_jobs=2).fit(X, y)
    assert_allclose(parallel.scores_, serial.scores_)
    assert_allclose(parallel.coef_, serial.coef_, atol=1e-10)


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
        ({"l1_ratios": [0.5], "solver": "trust-ncg"}, "needs solver='lbfgs'"),
        ({"Cs": 0}, "'Cs' parameter"),
    ],
)
def test_bad_parameters(params, match):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(**params).fit(X, y)
