"""All solvers reach the same optimum; elastic net matches saga."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from optimum import assert_same_fit
from sklearn.datasets import load_digits, load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression
from softmax_regression._fit import _warn_about_trlib_memory

pytestmark = pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
SOLVERS = ["lbfgs", "newton-cg", "trust-ncg", "trust-krylov"]


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def penalised_objective(model, X, y, sample_weight):
    from scipy.special import logsumexp

    raw = X @ model.coef_.T + model.intercept_
    per_sample = logsumexp(raw, axis=1) - raw[np.arange(len(y)), y]
    weight_sum = len(y) if sample_weight is None else sample_weight.sum()
    return np.average(per_sample, weights=sample_weight) + np.sum(model.coef_**2) / (
        2 * model.C * weight_sum
    )


@pytest.mark.parametrize("load", [load_iris, load_wine, load_digits])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_solvers_reach_the_same_optimum(load, fit_intercept, weighted):
    X, y = standardised(load)
    sample_weight = (
        np.random.default_rng(0).uniform(0.2, 2, size=y.size) if weighted else None
    )

    def fit(solver, tol):
        return SoftmaxRegression(
            solver=solver, fit_intercept=fit_intercept, tol=tol, max_iter=2000
        ).fit(X, y, sample_weight=sample_weight)

    # Each solver against the trust-krylov fit, by what their gradients
    # imply (tests/optimum.py); L-BFGS's floor is near 1e-9 here.
    reference = fit("trust-krylov", 1e-9)
    for solver, tol in [("newton-cg", 1e-9), ("trust-ncg", 1e-9), ("lbfgs", 1e-8)]:
        model = fit(solver, tol)
        tolerance = assert_same_fit(
            model, reference, X, y, sample_weight=sample_weight, needed=1e-2
        ).probability
        assert_allclose(
            model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=tolerance
        )


def test_newton_solvers_on_sparse_float32_input():
    # float32 arithmetic: at tol="auto" the fits keep the promised relative
    # gap of 1e-6 on the float32 data's own problem (solved in float64 by
    # the reference), which is what is compared; a gradient tol reachable in
    # float32 (1e-5) would bound their distance only by tenths here.
    X, y = standardised(load_digits)
    X32 = sp.csr_matrix(X.astype(np.float32))
    dense = SoftmaxRegression(solver="newton-cg", tol=1e-8).fit(
        X32.toarray().astype(np.float64), y
    )
    for solver in ["newton-cg", "trust-ncg"]:
        model = SoftmaxRegression(solver=solver).fit(X32, y)
        assert model.coef_.dtype == np.float32
        assert_same_fit(model, dense, X32, y, relative_gap=1e-6)


@pytest.mark.parametrize("solver", SOLVERS[1:])
def test_newton_solvers_take_few_iterations(solver):
    X, y = standardised(load_digits)
    newton = SoftmaxRegression(solver=solver, tol=1e-8).fit(X, y)
    lbfgs = SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=2000).fit(X, y)
    assert newton.n_iter_ < lbfgs.n_iter_ / 3


def test_verbose_format_is_shared(capsys):
    X, y = standardised(load_iris)
    for solver in SOLVERS:
        SoftmaxRegression(solver=solver, verbose=2).fit(X, y)
        lines = capsys.readouterr().out.strip().splitlines()[:-1]  # less the summary
        assert lines[0].split() == [
            f"[{solver}]",
            "iter",
            "objective",
            "max|grad|",
            "time",
            "(s)",
        ]
        assert all(len(line.split()) == 5 for line in lines[1:])


def test_newton_max_iter_warns():
    X, y = standardised(load_digits)
    with pytest.warns(ConvergenceWarning, match="trust-ncg did not converge"):
        SoftmaxRegression(solver="trust-ncg", max_iter=1, tol=1e-12).fit(X, y)


# -- Extreme feature scales ----------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("scale", [1e13, 1e15, 1e20])
def test_float32_features_of_huge_magnitude_are_fitted_by_every_solver(solver, scale):
    # float32 features of 1e13-1e20: their Hessian (their square) is beyond
    # float32. Every solver must learn what lbfgs learns (not the zero model),
    # without a RuntimeWarning (an error in this suite).
    X, y = standardised(load_iris)
    X32 = (X * scale).astype(np.float32)
    # tol=1e-4 is out of reach with gradients of 1e13 and more: the warning
    # says so, and to standardise.
    with pytest.warns(ConvergenceWarning, match="standardis"):
        model = SoftmaxRegression(solver=solver, max_iter=100).fit(X32, y)
    assert np.all(np.isfinite(model.coef_))
    with pytest.warns(ConvergenceWarning):
        reference = SoftmaxRegression(solver=solver, max_iter=100).fit(X * scale, y)
    assert model.score(X32, y) >= reference.score(X * scale, y) - 0.02
    assert model.score(X32, y) > 0.8


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("scale", [1e80, 1e150, 1e300])
def test_float64_features_beyond_the_hessians_range_give_a_finite_model(solver, scale):
    # The Hessian, of the order of scale**2, is beyond float64: scipy's
    # trust-ncg used to crash (or loop forever on nan) there. Every solver
    # returns a finite model with a ConvergenceWarning saying to standardise.
    X, y = standardised(load_iris)
    with pytest.warns(ConvergenceWarning, match="standardise"):
        model = SoftmaxRegression(solver=solver, max_iter=50).fit(X * scale, y)
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.predict_proba(X * scale)))


# -- Elastic net ----------------------------------------------------------------


def saga_objective(model, X, y, C, l1_ratio):
    from scipy.special import logsumexp

    raw = X @ model.coef_.T + model.intercept_
    loss = np.mean(logsumexp(raw, axis=1) - raw[np.arange(len(y)), y])
    weights = model.coef_
    return loss + (
        l1_ratio * np.abs(weights).sum() + 0.5 * (1 - l1_ratio) * (weights**2).sum()
    ) / (C * len(y))


@pytest.mark.parametrize("load", [load_iris, load_wine])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_elastic_net_matches_saga(load, l1_ratio):
    X, y = standardised(load)
    C = 0.1
    ours = SoftmaxRegression(C=C, l1_ratio=l1_ratio, tol=1e-8, max_iter=10_000).fit(
        X, y
    )
    with np.errstate(all="ignore"):
        saga = LogisticRegression(
            C=C,
            l1_ratio=l1_ratio,
            solver="saga",
            tol=1e-12,
            max_iter=100_000,
            random_state=0,
        ).fit(X, y)
    # The same objective, ours no higher, and the same model.
    ours_value = saga_objective(ours, X, y, C, l1_ratio)
    saga_value = saga_objective(saga, X, y, C, l1_ratio)
    assert ours_value <= saga_value + 1e-10
    # saga's tol is on its steps, not its gradient: its model is compared by
    # what the two subgradients imply (tests/optimum.py).
    bound = assert_same_fit(ours, saga, X, y, needed=1e-2).distance
    # The same sparsity pattern, with exact zeros, up to coefficients within
    # the two fits' distance of zero.
    assert np.any(ours.coef_ == 0)
    differ = (ours.coef_ == 0) != (np.abs(saga.coef_) < 1e-8)
    assert np.all(np.abs(saga.coef_[differ]) <= bound)


def test_l1_ratio_zero_is_the_l2_fit():
    X, y = standardised(load_wine)
    assert_array_equal(
        SoftmaxRegression(l1_ratio=0.0).fit(X, y).coef_,
        SoftmaxRegression().fit(X, y).coef_,
    )


def test_stronger_l1_gives_sparser_models():
    X, y = standardised(load_digits)
    nonzeros = [
        np.count_nonzero(SoftmaxRegression(C=C, l1_ratio=1.0).fit(X, y).coef_)
        for C in (0.01, 0.1, 1.0)
    ]
    assert nonzeros[0] < nonzeros[1] < nonzeros[2]


def test_elastic_net_warm_start_and_sparse_input():
    X, y = standardised(load_iris)
    dense = SoftmaxRegression(l1_ratio=0.7, C=0.5, tol=1e-8).fit(X, y)
    sparse = SoftmaxRegression(l1_ratio=0.7, C=0.5, tol=1e-8).fit(sp.csr_matrix(X), y)
    assert_same_fit(sparse, dense, X, y, needed=1e-3)
    model = SoftmaxRegression(l1_ratio=0.7, C=0.5, tol=1e-8, warm_start=True)
    model.fit(X, y)
    assert model.fit(X, y).n_iter_ <= 2


@pytest.mark.parametrize("solver", SOLVERS[1:])
def test_newton_with_l1_is_an_error(solver):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match="needs solver='newton-cd'"):
        SoftmaxRegression(solver=solver, l1_ratio=0.5).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [-0.1, 1.5])
def test_l1_ratio_out_of_range(l1_ratio):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match="'l1_ratio' parameter"):
        SoftmaxRegression(l1_ratio=l1_ratio).fit(X, y)


def test_trust_krylov_warns_about_scipy_memory():
    # 20,100 coefficients (100 classes x 201): scipy would allocate
    # 8 * 20_100 * 40_200 bytes = 6.0 GiB per subproblem. Checked without fitting.
    with pytest.warns(ResourceWarning, match=r"6\.0 GiB of Lanczos vectors.*trust-ncg"):
        _warn_about_trlib_memory(20_100)


def test_trust_krylov_small_problem_does_not_warn():
    X, y = standardised(load_iris)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        SoftmaxRegression(solver="trust-krylov").fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_c_inf_no_warning(solver):
    """scikit-learn's test_c_inf_no_warning, and a 3-class case where scipy's
    TRLIB (trust-krylov) computed with uninitialised memory and warned
    "invalid value encountered in multiply" in about half the processes."""
    cases = [
        make_classification(n_samples=100, n_redundant=0, random_state=42),
        make_classification(
            n_samples=100, n_redundant=0, n_informative=3, n_classes=3, random_state=0
        ),
    ]
    for X, y in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # Unpenalised on separable data these fits need not converge;
            # what is tested is that no RuntimeWarning escapes scipy.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            for _ in range(3):  # fresh workspaces, other garbage in them
                SoftmaxRegression(C=np.inf, solver=solver).fit(X, y)
