"""The default start, the diagonal change of variables, and the defaults that use them.

Oracles: the Hessian's diagonal from Hessian-vector products with unit
vectors, the gradient at the start (zero in the intercepts), numpy's weighted
average, and a tight fit's objective for the accuracy ``tol="auto"`` buys.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from numpy.testing import assert_allclose, assert_array_equal
from optimum import assert_same_fit
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import softmax_regression._fit as fit_module
import softmax_regression._scaling as scaling_module
from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import in_memory_loss
from softmax_regression._coef import initial_coef, prior_intercepts
from softmax_regression._duality import DualityGap
from softmax_regression._fit import resolve_solver
from softmax_regression._linear_loss import LinearSoftmaxLoss
from softmax_regression._scaling import DiagonalScaling, weighted_column_square_means
from softmax_regression._weights import class_priors


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(model, X, y, C=1.0):
    raw = X @ model.coef_.T + model.intercept_
    encoded = np.searchsorted(model.classes_, y)
    per_sample = scipy.special.logsumexp(raw, axis=1) - raw[np.arange(len(y)), encoded]
    return per_sample.mean() + (model.coef_**2).sum() / (2 * C * len(y))


def test_prior_intercepts_softmax_to_the_priors():
    priors = np.array([0.5, 0.3, 0.2])
    intercepts = prior_intercepts(priors)
    assert_allclose(scipy.special.softmax(intercepts), priors, rtol=1e-15)
    assert abs(intercepts.sum()) < 1e-15
    # A class of zero weight is floored, not minus infinity.
    floored = prior_intercepts(np.array([0.5, 0.5, 0.0]))
    assert np.all(np.isfinite(floored))


def test_class_priors_are_weighted_shares():
    y = np.array([0, 0, 1, 2, 2, 2])
    weights = np.array([1.0, 3.0, 2.0, 0.0, 1.0, 1.0])
    assert_allclose(class_priors(y, 3, weights), [4 / 8, 2 / 8, 2 / 8])
    assert_allclose(class_priors(y, 4, None), [2 / 6, 1 / 6, 3 / 6, 0.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_initial_coef_zeroes_the_intercept_gradient(weighted):
    X, y = standardised(load_wine)
    weights = np.random.default_rng(0).uniform(0.1, 3, len(y)) if weighted else None
    coef0 = initial_coef(class_priors(y, 3, weights), X.shape[1], True)
    assert_array_equal(coef0[: 3 * X.shape[1]], 0.0)
    with in_memory_loss(X, y, 3, weights, 1.0 / len(y), True) as loss:
        _, gradient = loss.loss_gradient(coef0)
    # The best constant model: the intercepts' gradient, mean(p - y), is zero.
    assert_allclose(gradient[3 * X.shape[1] :], 0.0, atol=1e-15)
    priors = class_priors(y, 3, weights)
    assert_array_equal(initial_coef(priors, X.shape[1], False), 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_matrix])
def test_weighted_column_square_means_in_blocks(monkeypatch, dtype, container):
    monkeypatch.setattr(scaling_module, "_BLOCK_ELEMENTS", 7)  # many blocks
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)).astype(dtype)
    X[rng.uniform(size=X.shape) < 0.3] = 0
    X_dense = X
    X = container(X)
    weights = rng.uniform(0, 2, 50)
    X_before = X.copy()
    assert_allclose(
        weighted_column_square_means(X, weights),
        np.average(X_dense.astype(np.float64) ** 2, axis=0, weights=weights),
        rtol=1e-12,
    )
    assert_allclose(
        weighted_column_square_means(X, None),
        (X_dense.astype(np.float64) ** 2).mean(axis=0),
        rtol=1e-12,
    )
    after = X.toarray() if sp.issparse(X) else X
    assert_array_equal(after, X_before.toarray() if sp.issparse(X) else X_before)


@pytest.mark.parametrize("order", ["C", "F"])
def test_dense_column_squares_allocate_no_blocks(order):
    # Dask's worker processes set MALLOC_TRIM_THRESHOLD_, under which every
    # large temporary is mapped anew: float64 copies of row blocks made the
    # column squares 10x slower there (issue 29). The dense sums cast
    # through einsum's own small buffers instead, in float64.
    import tracemalloc

    rng = np.random.default_rng(0)
    X = np.asarray(rng.normal(size=(20_000, 40)), dtype=np.float32, order=order)
    tracemalloc.start()
    try:
        means = weighted_column_square_means(X, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # einsum's buffers, about 140 KiB; the blocks' float64 copies and their
    # squares took 780 KiB (X itself is 3.2 MB).
    assert peak < 400 * 1024, peak
    assert_allclose(means, (X.astype(np.float64) ** 2).mean(axis=0), rtol=1e-12)
    weights = rng.uniform(0, 2, X.shape[0])
    expected = np.average(X.astype(np.float64) ** 2, axis=0, weights=weights)
    assert_allclose(weighted_column_square_means(X, weights), expected, rtol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_diagonal_scaling_is_the_hessian_diagonal_at_the_start(fit_intercept):
    X, y = standardised(load_iris)
    X = X * np.array([1.0, 10.0, 0.1, 3.0])  # columns of different scales
    weights = np.random.default_rng(1).uniform(0.5, 2, len(y))
    n_classes, l2 = 3, 0.01
    coef0 = initial_coef(class_priors(y, n_classes, weights), X.shape[1], fit_intercept)
    with in_memory_loss(X, y, n_classes, weights, l2, fit_intercept) as loss:
        loss.loss_gradient(coef0)
        unit = np.eye(coef0.size)
        diagonal = np.array([loss.hessp(coef0, e) @ e for e in unit])
        scaling = DiagonalScaling(
            weighted_column_square_means(X, weights / weights.max()),
            class_priors(y, n_classes, weights),
            l2,
            fit_intercept,
        )
        assert_array_equal(scaling.scale, np.exp2(np.round(-0.5 * np.log2(diagonal))))
        # The wrapped objective: f(scale * u), gradient and Hessian products
        # scaled on both sides; exact, as the scales are powers of two.
        loss_gradient, hessp = scaling.wrap(loss.loss_gradient, loss.hessp)
        u = scaling.from_coef(coef0 + 0.1)
        assert_array_equal(scaling.to_coef(u), coef0 + 0.1)
        value, gradient = loss_gradient(u)
        expected_value, expected_gradient = loss.loss_gradient(coef0 + 0.1)
        assert value == expected_value
        assert_array_equal(gradient, expected_gradient * scaling.scale)
        direction = np.linspace(-1, 1, coef0.size)
        assert_allclose(
            hessp(u, direction),
            scaling.scale * loss.hessp(coef0 + 0.1, scaling.scale * direction),
            rtol=1e-14,
        )
        assert_array_equal(scaling.gradient_in_coef(u, gradient), expected_gradient)


def test_resolve_solver_rule():
    from softmax_regression._backends.memory import InMemoryData

    def data(X):
        return InMemoryData(X, np.arange(X.shape[0]) % 2, 2, None)

    small = data(np.ones((10, 3)))
    large = data(np.lib.stride_tricks.as_strided(np.ones(1), (1_000, 1_000), (0, 0)))
    text = data(sp.csr_matrix((10**6, 10)))  # no stored entry: no work for saga
    assert resolve_solver("auto", small, 0.0) == "newton-cg"
    assert resolve_solver("auto", text, 0.0) == "newton-cg"
    assert resolve_solver("auto", large, 0.0) == "lbfgs"  # 1e6 dense entries
    assert resolve_solver("auto", small, 0.5) == "lbfgs"
    assert resolve_solver("auto", small, 0.5, warm=True) == "newton-cd"
    assert resolve_solver("auto", small, 0.5, grouped=True) == "newton-cd"
    assert resolve_solver("trust-ncg", large, 0.0) == "trust-ncg"


def test_small_problems_form_the_hessian(monkeypatch):
    from softmax_regression._backends.memory import InMemoryData
    from softmax_regression._fit import forms_hessian

    iris, digits = standardised(load_iris), standardised(load_digits)
    small = InMemoryData(*iris, 3, None)
    assert forms_hessian(small, "newton-cg", 0.0)
    assert forms_hessian(small, "trust-krylov", 0.0)
    assert not forms_hessian(small, "lbfgs", 0.0)
    assert not forms_hessian(small, "newton-cg", 0.5)
    assert not forms_hessian(InMemoryData(*digits, 10, None), "newton-cg", 0.0)
    calls = []
    original = LinearSoftmaxLoss.dense_hessp

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(LinearSoftmaxLoss, "dense_hessp", counted)
    for solver in ["newton-cg", "trust-ncg", "trust-krylov"]:
        formed = SoftmaxRegression(solver=solver, tol=1e-10).fit(*iris)
        assert len(calls) == 1
        monkeypatch.setattr(fit_module, "_DENSE_HESSIAN_MAX_WORK", 0)
        products = SoftmaxRegression(solver=solver, tol=1e-10).fit(*iris)
        monkeypatch.undo()
        monkeypatch.setattr(LinearSoftmaxLoss, "dense_hessp", counted)
        calls.clear()
        # The same products, rounded differently (tests/optimum.py).
        assert_same_fit(formed, products, *iris, needed=1e-3)


def test_default_fit_on_large_dense_data_runs_lbfgs_in_rescaled_variables(capsys):
    X, y = make_classification(
        n_samples=10_000, n_features=100, n_informative=20, n_classes=3,
        random_state=0,
    )  # fmt: skip
    X[:, 0] *= 1000.0  # badly scaled: the change of variables matters
    model = SoftmaxRegression(verbose=1)
    exact = SoftmaxRegression(solver="newton-cg", tol=1e-10, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert capsys.readouterr().out.startswith("[lbfgs]")
    with warnings.catch_warnings():
        # The reference is compared by its objective alone: where it stalls
        # short of tol=1e-10 it is at the float64 floor (and says so).
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact.fit(X, y)
    f_star = min(objective(exact, X, y), objective(model, X, y))
    assert objective(model, X, y) - f_star <= 1e-6 * f_star


def _cases():
    text_rng = np.random.default_rng(0)
    X_text = sp.random(600, 300, density=0.03, format="csr", random_state=0)
    X_text.data = np.log1p(text_rng.poisson(2.0, X_text.nnz) + 1.0)
    y_text = np.asarray(X_text @ text_rng.normal(size=(300, 4)) * 3).argmax(axis=1)
    digits = standardised(load_digits)
    return {
        "iris": (*standardised(load_iris), 1.0),
        # Nearly unpenalised: the L-BFGS decrease test alone stopped at 1.4e-5.
        "iris C=1e4": (*standardised(load_iris), 1e4),
        "wine": (*standardised(load_wine), 1.0),
        "breast_cancer": (*standardised(load_breast_cancer), 0.1),
        "digits": (*digits, 1.0),
        # The same problem as "digits" in coefficients divided by 1000.
        "digits x 1000": (digits[0] * 1000, digits[1], 1e-6),
        "digits raw": (*load_digits(return_X_y=True), 1.0),
        "sparse": (X_text, y_text, 10.0),
    }


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cg", "trust-ncg"])
def test_tol_auto_reaches_a_relative_gap_of_1e_6(name, solver):
    # The accuracy tol="auto" buys does not depend on the features' scale:
    # standardised, multiplied by 1000, raw pixel counts.
    if (solver, name) in [
        ("lbfgs", "digits raw"),  # a gap of 3e-4
        ("lbfgs", "digits x 1000"),  # does not converge in 5000 iterations
        ("trust-ncg", "digits x 1000"),  # a gap of 1.2e-5
    ]:
        pytest.skip("documented: these crawl on ill-conditioned digits")
    X, y, C = _cases()[name]
    exact = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol="auto" converges without a warning
        model = SoftmaxRegression(C=C, solver=solver, max_iter=5000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=1e-10 may be below float64's reach
        exact.fit(X, y)
    X_dense = X.toarray() if sp.issparse(X) else X
    f_star = min(objective(exact, X_dense, y, C), objective(model, X_dense, y, C))
    gap = (objective(model, X_dense, y, C) - f_star) / f_star
    assert gap <= 1e-6, gap


@pytest.mark.parametrize("name", ["iris", "digits", "sparse"])
@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg"])
def test_tol_auto_stops_newton_soon_after_the_gap_is_certified(name, solver):
    # The Newton methods stop at the first iteration whose duality gap
    # certifies a relative gap of 1e-6 (once the estimate is under 1e-7), or
    # the next: they do not wait for the estimate's window. Every iterate
    # there is within the promise.
    X, y, C = _cases()[name]
    n_iter = SoftmaxRegression(C=C, solver=solver).fit(X, y).n_iter_[0]
    exact = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=1000)
    n_samples, n_classes = X.shape[0], len(np.unique(y))
    loss = in_memory_loss(X, y, n_classes, None, 1.0 / (C * n_samples), True)
    duality = DualityGap(loss, np.bincount(y) / n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the truncated fits, and tol=1e-10
        X_dense = X.toarray() if sp.issparse(X) else X
        f_star = objective(exact.fit(X, y), X_dense, y, C)
        gaps, certified = [], []
        for max_iter in range(n_iter + 1):  # the objective after each iteration
            step = SoftmaxRegression(C=C, solver=solver, max_iter=max_iter).fit(X, y)
            gaps.append(objective(step, X_dense, y, C) / f_star - 1)
            f, gap = duality.gap(np.r_[step.coef_.ravel(), step.intercept_])
            certified.append(gap / (f - gap) if f - gap > 0 else np.inf)
    assert all(
        gap <= certificate * (1 + 1e-9)
        for gap, certificate in zip(gaps, certified, strict=True)
    )
    first = next(k for k, certificate in enumerate(certified) if certificate <= 1e-6)
    assert gaps[-1] <= 1e-6
    assert n_iter <= first + 1, (n_iter, certified)


def test_gap_estimate_follows_the_decrease_and_the_gradient():
    # d r / (1 - r) from the decrease d over the window and the ratio r of
    # the squared gradients, for a quadratic whose gap halves each step.
    from softmax_regression._solvers import IterationLog

    def loss_gradient(coef):  # f = 1 + |x|^2 / 2, f* = 1
        return 1.0 + 0.5 * float(coef @ coef), coef.copy()

    log = IterationLog(loss_gradient, np.ones(2), 0, "test", window=1)
    log(np.ones(2))
    for k in range(1, 4):
        log.iteration_done(np.ones(2) * 0.5 ** (k / 2))
        gap = 0.5 * float(log.accepted @ log.accepted)  # f - f*
        assert log.gap_estimate() == pytest.approx(gap / (1 + gap), rel=1e-12)


def test_scaled_and_unscaled_fits_agree(monkeypatch):
    X, y = standardised(load_digits)
    X = X * np.linspace(0.1, 10, X.shape[1])
    weights = np.random.default_rng(0).uniform(0.5, 2, len(y))
    tol = 1e-9
    monkeypatch.setattr(fit_module, "_SCALING_MIN_ENTRIES", 10**12)
    plain = SoftmaxRegression(solver="newton-cg", tol=tol).fit(X, y, weights)
    monkeypatch.setattr(fit_module, "_SCALING_MIN_ENTRIES", 0)
    for solver in ["lbfgs", "newton-cg", "trust-ncg"]:
        scaled = SoftmaxRegression(solver=solver, tol=tol, max_iter=2000)
        scaled.fit(X, y, weights)
        # Within what both fits' gradients allow (tests/optimum.py).
        assert_same_fit(scaled, plain, X, y, sample_weight=weights, needed=0.1)
        # tol refers to the original gradient.
        with in_memory_loss(
            X, np.searchsorted(scaled.classes_, y), 10, weights, 1 / weights.sum(), True
        ) as loss:
            _, gradient = loss.loss_gradient(
                np.concatenate([scaled.coef_.ravel(), scaled.intercept_])
            )
        assert np.max(np.abs(gradient)) <= tol


def test_newton_falls_back_to_the_summed_objective_when_scipy_stalls():
    from softmax_regression._solvers import STALLED, minimize_newton

    X, y = standardised(load_digits)
    with in_memory_loss(X, y, 10, None, 1.0 / len(y), True) as loss:
        coef0 = initial_coef(class_priors(y, 10, None), X.shape[1], True)
        # On the mean loss scipy's absolute curvature test ends the inner CG
        # with a zero step far above tol=1e-12 ...
        stalled = minimize_newton(
            "newton-cg", loss.loss_gradient, loss.hessp, coef0, tol=1e-12,
            max_iter=200, objective_scales=(1e-3,),
        )  # fmt: skip
        assert stalled.status == STALLED
        # ... from where the summed loss goes on.
        result = minimize_newton(
            "newton-cg", loss.loss_gradient, loss.hessp, coef0, tol=1e-12,
            max_iter=200, objective_scales=(1e-3, float(len(y))),
        )  # fmt: skip
        assert result.max_abs_gradient < stalled.max_abs_gradient
