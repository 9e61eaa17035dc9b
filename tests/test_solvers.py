"""Tests of the scipy.optimize drivers on problems with known solutions."""

import numpy as np
from numpy.testing import assert_allclose

from softmax_regression._solvers import minimize_lbfgs


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
        rosenbrock, np.array([-1.2, 1.0]), tol=1e-8, max_iter=200, ftol=0.0, verbose=1
    )
    lines = capsys.readouterr().out.strip().splitlines()
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
