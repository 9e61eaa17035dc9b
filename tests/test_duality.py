"""The duality gap bounds the objective gap, and tol="auto" keeps its promise."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import optimize
from sklearn.datasets import load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import in_memory_loss
from softmax_regression._duality import DualityGap
from softmax_regression._linear_loss import SplitL1Loss

N_CLASSES = 3


def _problem(kind, rng):
    X, y = make_classification(
        n_samples=120,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=N_CLASSES,
        random_state=0,
    )
    n = y.size
    settings = {
        "weight": None,
        "offset": None,
        "smoothing": 0.0,
        "targets": y,
        "factors": None,
        "l1": 0.0,
        "bounds": None,
        "intercept": True,
    }
    if kind == "weights":
        settings["weight"] = rng.uniform(0.1, 3.0, n)
    elif kind == "offset":
        settings["offset"] = rng.normal(size=(n, N_CLASSES))
    elif kind == "soft and smoothing":
        settings["targets"] = rng.dirichlet(np.ones(N_CLASSES), n)
        settings["smoothing"] = 0.2
    elif kind == "factors":
        settings["factors"] = np.array([0.5, 2.0, 1.0, 3.0, 0.1])
    elif kind == "elastic net":
        settings["l1"] = 0.02
    elif kind == "lasso":
        settings["l1"] = 0.05
    elif kind == "bounds":
        settings["bounds"] = (
            np.full((N_CLASSES, 5), -0.3),
            np.full((N_CLASSES, 5), 0.4),
        )
    elif kind == "no intercept":
        settings["intercept"] = False
    elif kind == "sparse":
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
    return X, settings


KINDS = [
    "plain",
    "weights",
    "offset",
    "soft and smoothing",
    "factors",
    "elastic net",
    "lasso",
    "bounds",
    "no intercept",
    "sparse",
]


@pytest.mark.parametrize("kind", KINDS)
def test_duality_gap_bounds_the_gap(kind):
    """At the optimum, near it and far from it, the duality gap is at least the
    objective's gap (against scipy's minimum of the written-out objective) and
    it vanishes at the optimum."""
    rng = np.random.default_rng(0)
    X, s = _problem(kind, rng)
    l2 = (
        1.0
        / (0.5 * X.shape[0])
        * (1.0 if s["l1"] == 0.0 else 0.0 if kind == "lasso" else 0.5)
    )
    if s["factors"] is not None:
        l2 = l2 * s["factors"]
    loss = in_memory_loss(
        X,
        s["targets"],
        N_CLASSES,
        s["weight"],
        l2,
        s["intercept"],
        label_smoothing=s["smoothing"],
        offset=s["offset"],
    )
    l1 = s["l1"] / X.shape[0]
    n_weights = N_CLASSES * X.shape[1]
    # The reference minimum: L-BFGS-B on the split (L1) or on [W, b] with
    # the box, tightly.
    split = SplitL1Loss(loss, l1, s["bounds"])
    start = np.zeros(loss.n_coef)
    result = optimize.minimize(
        split.loss_gradient,
        split.from_coef(start),
        jac=True,
        method="L-BFGS-B",
        bounds=split.bounds,
        options={"gtol": 1e-13, "ftol": 0, "maxiter": 20000},
    )
    optimum = split.to_coef(result.x)
    f_star = split.loss_gradient(result.x)[0]
    duality = DualityGap(loss, _priors(s, X.shape[0]), l1, s["bounds"])
    assert duality.available
    objective, gap = duality.gap(optimum)
    assert objective == pytest.approx(f_star, rel=1e-12)
    # The reference is a stopped fit too; without an L2 term the gap is first
    # order in its KKT residuals (the dual point is scaled into the L1 ball),
    # with one second order.
    assert -1e-12 <= gap <= (1e-5 if kind == "lasso" else 1e-7) * f_star
    for scale in (1e-4, 1e-2, 1.0):
        coef = optimum + scale * rng.normal(size=optimum.size)
        if s["bounds"] is not None:
            coef[:n_weights] = np.clip(coef[:n_weights], -0.3, 0.4)
        objective, gap = duality.gap(coef)
        assert objective - f_star <= gap * (1 + 1e-9) + 1e-13


def _priors(s, n):
    weight = np.ones(n) if s["weight"] is None else s["weight"]
    targets = s["targets"]
    if targets.ndim == 1:
        targets = np.eye(N_CLASSES)[targets]
    targets = (1 - s["smoothing"]) * targets + s["smoothing"] / N_CLASSES
    return weight @ targets / weight.sum()


def test_no_certificate_without_a_penalty():
    """C=inf or a zero penalty factor leaves coefficients unpenalised: no
    finite duality gap, and the fit says it stopped on the estimate."""
    X, y = load_iris(return_X_y=True)
    loss = in_memory_loss(X, y, 3, None, np.r_[0.0, 1.0, 1.0, 1.0] / 150, True)
    assert not DualityGap(loss, np.full(3, 1 / 3)).available


def _flat_valleys():
    """Problems where the trajectory slows down before the optimum."""
    many, many_y = make_classification(
        n_samples=3000,
        n_features=60,
        n_informative=40,
        n_classes=30,
        n_clusters_per_class=1,
        random_state=0,
    )
    collinear, collinear_y = make_classification(
        n_samples=2000,
        n_features=40,
        n_informative=8,
        n_redundant=30,
        n_classes=5,
        random_state=1,
    )
    wine, wine_y = load_wine(return_X_y=True)
    iris, iris_y = load_iris(return_X_y=True)
    separable, separable_y = make_classification(
        n_samples=1000,
        n_features=10,
        n_informative=8,
        n_classes=4,
        class_sep=3,
        random_state=2,
    )
    return {
        "30 classes": (many, many_y, 1.0),
        "collinear, weak penalty": (collinear, collinear_y, 100.0),
        "unscaled wine, C=100": (wine, wine_y, 100.0),
        "unscaled iris, C=1e4": (iris, iris_y, 1e4),
        "unscaled, nearly separable, C=1e3": (
            separable * np.logspace(-2, 2, 10),
            separable_y,
            1e3,
        ),
    }


@pytest.mark.parametrize("name", list(_flat_valleys()))
@pytest.mark.parametrize("solver", ["auto", "newton-cg", "lbfgs"])
def test_default_stop_keeps_its_promise(name, solver):
    """tol="auto" ends at a relative gap of at most 1e-6 against a tight
    reference, or says it did not converge (lbfgs on unscaled data runs out of
    iterations: a ConvergenceWarning, never a silent early stop)."""
    X, y, C = _flat_valleys()[name]
    n = y.size
    loss = in_memory_loss(X, y, len(np.unique(y)), None, 1.0 / (C * n), True)
    with warnings.catch_warnings():
        # The reference is compared by its objective only: where newton-cg
        # stalls at machine precision before tol=1e-10 it is at least as close.
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = SoftmaxRegression(
            C=C, solver="newton-cg", tol=1e-10, max_iter=3000
        ).fit(X, y)
    f_star = loss.loss(np.r_[reference.coef_.ravel(), reference.intercept_])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = SoftmaxRegression(C=C, solver=solver).fit(X, y)
    f = loss.loss(np.r_[model.coef_.ravel(), model.intercept_])
    if caught:
        assert model.n_iter_[0] == model.max_iter
        return
    assert (f - f_star) / f_star <= 1e-6
