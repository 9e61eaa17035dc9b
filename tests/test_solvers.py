"""Tests of the scipy.optimize drivers on problems with known solutions."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from softmax_regression._solvers import minimize_lbfgs, minimize_newton


def quadratic(center, scales):
    def loss_gradient(coef):
        diff = coef - center
        return 0.5 * float(np.sum(scales * diff**2)), scales * diff

    return loss_gradient


def rosenbrock(coef):
    x, y = coef
    loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
    gradient = np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
    return loss, gradient


def test_lbfgs_finds_known_minimum():
    center = np.array([1.0, -2.0, 3.0])
    result = minimize_lbfgs(
        quadratic(center, np.array([1.0, 10.0, 100.0])),
        np.zeros(3),
        tol=1e-10,
        max_iter=100,
        ftol=0.0,
    )
    assert result.converged
    assert_allclose(result.coef, center, atol=1e-9)
    assert result.max_abs_gradient <= 1e-10
    assert result.loss < 1e-18
    assert 0 < result.n_iter < 100


def test_lbfgs_reports_iteration_limit():
    result = minimize_lbfgs(
        rosenbrock, np.array([-1.2, 1.0]), tol=1e-12, max_iter=3, ftol=0.0
    )
    assert not result.converged
    assert result.n_iter == 3
    assert result.max_abs_gradient > 1e-12
    assert "ITERATIONS" in result.message.upper()


def test_flat_objective_is_not_converged():
    # A loss that cannot decrease: scipy reports success, the driver does not.
    def constant(coef):
        return 1.0, np.full_like(coef, 1e-3)

    result = minimize_lbfgs(constant, np.zeros(2), tol=1e-6, max_iter=10, ftol=0.0)
    assert not result.converged
    assert result.max_abs_gradient == 1e-3


def test_verbose_prints_one_line_per_iteration(capsys):
    result = minimize_lbfgs(
        rosenbrock, np.array([-1.2, 1.0]), tol=1e-8, max_iter=200, ftol=0.0, verbose=2
    )
    lines = capsys.readouterr().out.strip().splitlines()[:-1]  # less the summary
    assert lines[0].split() == [
        "[lbfgs]",
        "iter",
        "objective",
        "max|grad|",
        "time",
        "(s)",
    ]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == result.n_iter
    assert [int(row[1]) for row in rows] == list(range(1, result.n_iter + 1))
    objectives = [float(row[2]) for row in rows]
    assert objectives == sorted(objectives, reverse=True)  # L-BFGS descends
    assert_allclose(objectives[-1], result.loss)
    assert_allclose(float(rows[-1][3]), result.max_abs_gradient, rtol=1e-3)


@pytest.mark.parametrize("method", ["newton-cg", "trust-ncg", "trust-krylov"])
def test_newton_methods_find_known_minimum_and_stop_on_tol(method, capsys):
    scales = np.array([1.0, 10.0, 100.0])
    center = np.array([1.0, -2.0, 3.0])

    def hessp(coef, direction):
        return scales * direction

    result = minimize_newton(
        method,
        quadratic(center, scales),
        hessp,
        np.zeros(3),
        tol=1e-10,
        max_iter=50,
        verbose=2,
    )
    assert result.converged
    assert result.max_abs_gradient <= 1e-10
    assert_allclose(result.coef, center, atol=1e-10)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == [f"[{method}]", "iter", "objective"]
    assert len(lines) == result.n_iter + 2  # a header, the iterations, a summary
    assert lines[-1].startswith(f"[{method}] {result.n_iter} iterations")


@pytest.mark.parametrize("method", ["newton-cg", "trust-ncg", "trust-krylov"])
def test_newton_methods_on_rosenbrock(method):
    def hessp(coef, direction):
        x, y = coef
        hessian = np.array([[2 - 400 * (y - 3 * x**2), -400 * x], [-400 * x, 200]])
        return hessian @ direction

    result = minimize_newton(
        method, rosenbrock, hessp, np.array([-1.2, 1.0]), tol=1e-8, max_iter=500
    )
    assert result.converged
    assert_allclose(result.coef, [1.0, 1.0], atol=1e-6)


def test_newton_starting_at_the_optimum_does_nothing():
    result = minimize_newton(
        "trust-ncg",
        quadratic(np.zeros(2), np.ones(2)),
        lambda c, d: d,
        np.zeros(2),
        tol=1e-8,
        max_iter=10,
    )
    assert result.converged and result.n_iter == 0


def test_lbfgs_bounds_project_the_gradient():
    # min (x - 1)^2 + (y + 1)^2 with x, y >= 0: optimum (1, 0), where the
    # gradient in y is +2 but blocked by the bound.
    from scipy.optimize import Bounds

    result = minimize_lbfgs(
        quadratic(np.array([1.0, -1.0]), np.array([2.0, 2.0])),
        np.ones(2),
        tol=1e-10,
        max_iter=100,
        ftol=0.0,
        bounds=Bounds([0, 0], np.inf),
    )
    assert result.converged
    assert_allclose(result.coef, [1.0, 0.0], atol=1e-10)
    assert result.coef[1] == 0.0


@pytest.mark.parametrize("method", ["newton-cg", "trust-ncg", "trust-krylov"])
def test_newton_methods_stop_where_the_products_overflow(method):
    # A quadratic of curvature 1e200 from a point 1e50 away: the loss (1e300)
    # and gradient (1e250) are finite, their inner products are not. scipy's
    # trust-ncg would loop forever on the resulting nan; the driver stops first.
    scales = np.full(3, 1e200)
    center = np.full(3, 1e50)
    result = minimize_newton(
        method,
        quadratic(center, scales),
        lambda coef, direction: scales * direction,
        np.zeros(3),
        tol=1e-8,
        max_iter=50,
    )
    assert result.status == "overflow"
    assert not result.converged
    assert np.all(np.isfinite(result.coef))
    assert "overflow float64" in result.message


def test_statuses_say_why_the_solver_stopped():
    center = np.array([1.0, -2.0])
    scales = np.array([1.0, 100.0])
    limited = minimize_lbfgs(
        rosenbrock, np.array([-1.2, 1.0]), tol=1e-12, max_iter=3, ftol=0.0
    )
    assert limited.status == "max_iter"
    converged = minimize_lbfgs(
        quadratic(center, scales), np.zeros(2), tol=1e-8, max_iter=100, ftol=0.0
    )
    assert converged.status == "converged"

    def flat(coef):
        return 1.0, np.full_like(coef, 1e-3)

    stalled = minimize_lbfgs(flat, np.zeros(2), tol=1e-6, max_iter=10, ftol=0.0)
    assert stalled.status == "stalled"


@pytest.mark.parametrize("method", ["lbfgs", "newton-cg", "trust-ncg", "trust-krylov"])
def test_callback_sees_each_iterate_and_can_stop(method):
    seen = []

    def callback(coef):
        seen.append(coef.copy())
        return len(seen) == 2

    center = np.array([1.0, -2.0, 3.0])
    scales = np.array([1.0, 10.0, 100.0])
    common = {"tol": 1e-12, "max_iter": 100, "callback": callback}
    if method == "lbfgs":
        result = minimize_lbfgs(
            quadratic(center, scales), np.zeros(3), ftol=0.0, **common
        )
    else:
        result = minimize_newton(
            method,
            quadratic(center, scales),
            lambda coef, direction: scales * direction,
            np.zeros(3),
            **common,
        )
    assert len(seen) == 2
    assert result.status == "stopped" and not result.converged
    assert result.n_iter == 2
    assert_allclose(result.coef, seen[-1])


def _float32_softmax_data(n_samples=100_000, n_features=20, n_classes=5):
    from scipy.special import softmax

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    scores = X @ (0.3 * rng.standard_normal((n_features, n_classes)))
    cumulative = softmax(scores, axis=1).cumsum(axis=1)
    return X, (cumulative > rng.random((n_samples, 1))).argmax(axis=1)


def test_float32_lbfgs_ends_where_its_line_search_finds_no_decrease(capsys):
    # Issue 29: on float32 data L-BFGS-B's line searches near the optimum
    # find no decrease the arithmetic resolves and ran to 50 steps each
    # (here 109 evaluations for 15 iterations; 2,000,000 x 100 x 10: 82 for
    # 22). The fit now ends at the last accepted iterate, whose estimates
    # hold; the promise is checked in float64 against a float64 fit.
    from optimum import assert_same_fit

    from softmax_regression import SoftmaxRegression

    X, y = _float32_softmax_data()
    model = SoftmaxRegression(C=10.0, verbose=1).fit(X, y)
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("[lbfgs]"), summary  # rescaled dense data
    counts = re.search(r"(\d+) iterations, (\d+) evaluations", summary)
    iterations, evaluations = (int(n) for n in counts.groups())
    assert evaluations <= 2 * iterations + 10, summary
    reference = SoftmaxRegression(C=10.0, solver="newton-cg", tol=1e-9).fit(
        X.astype(np.float64), y
    )
    assert_same_fit(model, reference, X.astype(np.float64), y, relative_gap=1e-6)
