"""Penalty factors, bounds on the coefficients and offsets (issue 22).

Oracles: the objective written out here and minimised by scipy's L-BFGS-B at
a tight tolerance (with the bounds where given), identities that a rescaled
column or a shifted intercept must satisfy, and today's model where the new
parameters are neutral.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from optimum import (
    assert_same_objective,
    assert_same_optimum,
    flat_coef,
    objective_for,
)
from scipy import optimize
from scipy.special import logsumexp, softmax
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

N_CLASSES = 3


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=N_CLASSES,
        n_clusters_per_class=1,
        random_state=0,
    )
    rng = np.random.default_rng(0)
    weight = rng.uniform(0.2, 3.0, size=y.size)
    offset = rng.normal(scale=0.7, size=(y.size, N_CLASSES))
    factor = np.array([1.0, 0.0, 2.5, 0.3, 1.0, 4.0])
    return X, y, weight, offset, factor


def reference_fit(
    X,
    y,
    *,
    C=1.0,
    sample_weight=None,
    factor=None,
    l1_ratio=0.0,
    bounds=None,
    offset=None,
):
    """Minimise the objective written out here with scipy's L-BFGS-B.

    In ``[W, b]``, with the bounds on ``W``; with an L1 part, in
    ``[P, N, b]`` for ``W = P - N``, ``P, N >= 0`` (the bounds then on both).
    Returns the weights (n_classes, n_features) and the centred intercepts.
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = N_CLASSES
    s = np.ones(n) if sample_weight is None else sample_weight
    S = s.sum()
    f = np.ones(d) if factor is None else factor
    o = np.zeros((n, K)) if offset is None else offset
    Y = np.eye(K)[y] if np.ndim(y) == 1 else y  # labels, or class probabilities
    strength = 1.0 / (C * S)
    split = l1_ratio > 0

    def weights(theta):
        if not split:
            return theta[: K * d].reshape(K, d)
        return theta[: K * d].reshape(K, d) - theta[K * d : 2 * K * d].reshape(K, d)

    def value_gradient(theta):
        W = weights(theta)
        b = theta[-K:]
        Z = X @ W.T + b + o
        loss = s @ (logsumexp(Z, axis=1) - (Z * Y).sum(axis=1)) / S
        loss += strength * 0.5 * (1 - l1_ratio) * (f * W**2).sum()
        G = s[:, None] * (softmax(Z, axis=1) - Y) / S
        grad_W = G.T @ X + strength * (1 - l1_ratio) * f * W
        if not split:
            return loss, np.concatenate([grad_W.ravel(), G.sum(axis=0)])
        loss += (
            strength
            * l1_ratio
            * (f * np.abs(theta[: 2 * K * d]).reshape(2, K, d)).sum()
        )
        grad_l1 = strength * l1_ratio * np.broadcast_to(f, (K, d))
        gradient = np.concatenate(
            [(grad_W + grad_l1).ravel(), (grad_l1 - grad_W).ravel(), G.sum(axis=0)]
        )
        return loss, gradient

    low = np.full(K * d, -np.inf) if bounds is None else bounds[0].ravel()
    high = np.full(K * d, np.inf) if bounds is None else bounds[1].ravel()
    if split:
        low, high = (
            np.r_[np.maximum(low, 0), np.maximum(-high, 0)],
            np.r_[np.maximum(high, 0), np.maximum(-low, 0)],
        )
    box = [
        (None if lo == -np.inf else lo, None if hi == np.inf else hi)
        for lo, hi in zip(low, high, strict=True)
    ] + [(None, None)] * K
    result = optimize.minimize(
        value_gradient,
        np.clip(
            np.zeros(len(box)),
            np.r_[low, np.full(K, -np.inf)],
            np.r_[high, np.full(K, np.inf)],
        ),
        jac=True,
        method="L-BFGS-B",
        bounds=box,
        options={"maxiter": 50_000, "gtol": 1e-12, "ftol": 0.0, "maxls": 50},
    )
    b = result.x[-K:]
    return weights(result.x), b - b.mean()


def same_as_reference(
    model,
    W,
    b,
    X,
    y,
    *,
    C=1.0,
    sample_weight=None,
    factor=None,
    l1_ratio=0.0,
    bounds=None,
    offset=None,
    relative_gap=None,
    needed=1e-2,
):
    """Assert ``model`` is the reference's minimiser, as far as the stops imply.

    Both are stopped fits (tests/optimum.py): with a gradient ``tol``, their
    distance is bounded by their gradients over the objective's curvature,
    measured here in float64 on ``X`` (float32 data upcast exactly: their own
    problem); with ``tol="auto"`` (``relative_gap``), their objectives agree
    within the promised gap. Returns the probabilities' bound (or None).
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    factor = np.ones(X.shape[1]) if factor is None else factor
    S = X.shape[0] if sample_weight is None else sample_weight.sum()
    loss = objective_for(
        X,
        y,
        N_CLASSES,
        C=C / (1.0 - l1_ratio) if l1_ratio < 1 else np.inf,
        sample_weight=sample_weight,
        penalty_factor=factor,
        offset=offset,
    )
    l1 = l1_ratio / (C * S) * factor
    reference = np.r_[np.ravel(W), b]
    if relative_gap is not None:
        assert_same_objective(
            loss, flat_coef(model), reference, relative_gap=relative_gap, l1=l1
        )
        return None
    return assert_same_optimum(
        loss, flat_coef(model), reference, needed=needed, bounds=bounds, X=X, l1=l1
    ).probability


def probabilities(W, b, X, offset=None):
    X = X.toarray() if sp.issparse(X) else X
    Z = X @ W.T + b + (0 if offset is None else offset)
    return softmax(Z, axis=1)


@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_penalty_factor_matches_the_written_out_objective(problem, kind, solver):
    X, y, weight, _, factor = problem
    factor = np.where(factor == 0, 0.5, factor)  # unique optimum: all penalised
    if kind == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    if kind == "float32":
        X = X.astype(np.float32)
    W, b = reference_fit(X, y, C=0.5, sample_weight=weight, factor=factor)
    # float32 resolves the objective to ~1e-7: a gradient tol of 1e-8 is out
    # of its reach, the promise of tol="auto" is not.
    tol, gap = ("auto", 1e-6) if kind == "float32" else (1e-8, None)
    model = SoftmaxRegression(C=0.5, penalty_factor=factor, solver=solver, tol=tol).fit(
        X, y, sample_weight=weight
    )
    same_as_reference(
        model, W, b, X, y, C=0.5, sample_weight=weight, factor=factor, relative_gap=gap
    )


def test_elastic_net_factor_and_bounds_match_the_written_out_objective(problem):
    X, y, weight, _, factor = problem
    X = StandardScaler().fit_transform(X)
    factor = np.where(factor == 0, 0.5, factor)
    lower = np.full((N_CLASSES, X.shape[1]), -0.4)
    upper = np.full((N_CLASSES, X.shape[1]), 0.6)
    lower[1, 2] = 0.05  # a bound that excludes zero
    W, b = reference_fit(
        X,
        y,
        C=0.3,
        sample_weight=weight,
        factor=factor,
        l1_ratio=0.5,
        bounds=(lower, upper),
    )
    model = SoftmaxRegression(
        C=0.3,
        l1_ratio=0.5,
        penalty_factor=factor,
        lower_bounds=lower,
        upper_bounds=upper,
        tol=1e-8,
    ).fit(X, y, sample_weight=weight)
    same_as_reference(
        model,
        W,
        b,
        X,
        y,
        C=0.3,
        sample_weight=weight,
        factor=factor,
        l1_ratio=0.5,
        bounds=(lower, upper),
    )
    assert np.all(model.coef_ >= lower) and np.all(model.coef_ <= upper)
    assert model.coef_[1, 2] >= 0.05


@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
@pytest.mark.parametrize("bounds", ["scalar", "per feature", "per coefficient"])
def test_bounds_match_the_written_out_objective(problem, bounds, kind):
    X, y, weight, _, _ = problem
    if kind == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    d = X.shape[1]
    if bounds == "scalar":
        lower, upper = 0.0, np.inf  # non-negative coefficients
        full = (np.zeros((N_CLASSES, d)), np.full((N_CLASSES, d), np.inf))
    elif bounds == "per feature":
        lower, upper = np.r_[-0.2, -np.inf, 0.0, -1.0, -0.1, -0.3], 0.5
        full = (np.tile(lower, (N_CLASSES, 1)), np.full((N_CLASSES, d), 0.5))
    else:
        lower = np.random.default_rng(1).uniform(-0.5, 0.0, size=(N_CLASSES, d))
        upper = lower + 0.4
        full = (lower, upper)
    X = X.astype(np.float32) if kind == "float32" else X
    W, b = reference_fit(X, y, C=2.0, sample_weight=weight, bounds=full)
    tol, gap = ("auto", 1e-6) if kind == "float32" else (1e-8, None)
    model = SoftmaxRegression(
        C=2.0, lower_bounds=lower, upper_bounds=upper, tol=tol
    ).fit(X, y, sample_weight=weight)
    same_as_reference(
        model, W, b, X, y, C=2.0, sample_weight=weight, bounds=full, relative_gap=gap
    )
    # Within the bounds as coef_'s dtype represents them (float32 rounds them).
    low, high = (bound.astype(model.coef_.dtype) for bound in full)
    assert np.all(model.coef_ >= low) and np.all(model.coef_ <= high)
    # Some bound is active, or the test would not test them.
    assert (
        np.isclose(model.coef_, full[0]).any() or np.isclose(model.coef_, full[1]).any()
    )


@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
def test_offset_matches_the_written_out_objective(problem, kind):
    X, y, weight, offset, _ = problem
    if kind == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    if kind == "float32":
        X = X.astype(np.float32)
    W, b = reference_fit(X, y, C=1.0, sample_weight=weight, offset=offset)
    tol = "auto" if kind == "float32" else 1e-8
    model = SoftmaxRegression(tol=tol).fit(X, y, sample_weight=weight, offset=offset)
    if kind == "float32":
        same_as_reference(
            model, W, b, X, y, sample_weight=weight, offset=offset, relative_gap=1e-6
        )
        W, b = model.coef_, model.intercept_  # its predictions are its own
        atol = 1e-6  # float32 scores
    else:
        atol = same_as_reference(model, W, b, X, y, sample_weight=weight, offset=offset)
    expected = probabilities(W, b, X, offset)
    assert_allclose(model.predict_proba(X, offset=offset), expected, atol=atol)
    # log p moves by at most twice as much as the scores, which move by at
    # most twice the probabilities' bound.
    assert_allclose(
        model.predict_log_proba(X, offset=offset), np.log(expected), atol=4 * atol
    )
    scores = model.decision_function(X, offset=offset)
    assert_array_equal(model.predict(X, offset=offset), scores.argmax(axis=1))
    assert model.score(X, y, offset=offset) == np.mean(scores.argmax(axis=1) == y)


def test_zero_factor_leaves_a_feature_unpenalised(problem):
    X, y, _, _, factor = problem
    W, b = reference_fit(X, y, C=0.05, factor=factor)
    model = SoftmaxRegression(C=0.05, penalty_factor=factor, tol=1e-10).fit(X, y)
    # The unpenalised feature's coefficients are identified up to a shift
    # common to every class: compared in the directions the data determine
    # (tests/optimum.py), probabilities by the bound that gives.
    tolerance = same_as_reference(model, W, b, X, y, C=0.05, factor=factor)
    assert_allclose(model.predict_proba(X), probabilities(W, b, X), atol=tolerance)
    # A strong penalty shrinks the others, not this one.
    plain = SoftmaxRegression(C=0.05).fit(X, y)
    assert np.ptp(model.coef_[:, 1]) > 2 * np.ptp(plain.coef_[:, 1])


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_l2_factor_is_a_rescaled_column(problem, solver):
    X, y, weight, _, factor = problem
    factor = np.where(factor == 0, 0.5, factor)
    model = SoftmaxRegression(penalty_factor=factor, solver=solver, tol=1e-8)
    model.fit(X, y, sample_weight=weight)
    rescaled = SoftmaxRegression(solver=solver, tol=1e-8)
    rescaled.fit(X / np.sqrt(factor), y, sample_weight=weight)
    # The rescaled fit, mapped back, minimises the factors' objective.
    same_as_reference(
        model,
        rescaled.coef_ / np.sqrt(factor),
        rescaled.intercept_,
        X,
        y,
        sample_weight=weight,
        factor=factor,
    )


def test_l1_factor_is_a_rescaled_column(problem):
    X, y, _, _, factor = problem
    factor = np.where(factor == 0, 0.5, factor)
    params = {"C": 0.2, "l1_ratio": 1.0, "tol": 1e-8}
    model = SoftmaxRegression(penalty_factor=factor, **params).fit(X, y)
    rescaled = SoftmaxRegression(**params).fit(X / factor, y)
    # Pure L1 is not strongly convex: compared by the objective (at tol=1e-8
    # the subgradients bound both gaps far under 1e-7), and the same zeros,
    # up to coefficients within the fits' tolerance of zero.
    mapped = rescaled.coef_ / factor
    same_as_reference(
        model,
        mapped,
        rescaled.intercept_,
        X,
        y,
        C=0.2,
        factor=factor,
        l1_ratio=1.0,
        relative_gap=1e-7,
    )
    differ = (model.coef_ == 0) != (mapped == 0)
    assert np.all(np.abs(model.coef_[differ] - mapped[differ]) <= 1e-5)


def test_neutral_values_give_todays_model(problem):
    X, y, weight, _, _ = problem
    today = SoftmaxRegression().fit(X, y, sample_weight=weight)
    unbounded = SoftmaxRegression(lower_bounds=-np.inf, upper_bounds=np.inf)
    unbounded.fit(X, y, sample_weight=weight)
    assert_array_equal(unbounded.coef_, today.coef_)
    zero_offset = SoftmaxRegression().fit(
        X, y, sample_weight=weight, offset=np.zeros((y.size, N_CLASSES))
    )
    assert_array_equal(zero_offset.coef_, today.coef_)
    assert_array_equal(zero_offset.intercept_, today.intercept_)
    ones = SoftmaxRegression(penalty_factor=np.ones(X.shape[1]))
    ones.fit(X, y, sample_weight=weight)
    # Factors of one take the per-feature penalty's arithmetic: the same
    # promise at tol="auto".
    same_as_reference(
        ones,
        today.coef_,
        today.intercept_,
        X,
        y,
        sample_weight=weight,
        relative_gap=1e-6,
    )


def test_constant_offset_per_class_moves_only_the_intercepts(problem):
    X, y, weight, _, _ = problem
    shift = np.array([0.5, -1.0, 2.0])
    base = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=weight)
    moved = SoftmaxRegression(tol=1e-10).fit(
        X, y, sample_weight=weight, offset=np.tile(shift, (y.size, 1))
    )
    # Moved back by the shift, the offset's fit minimises the plain objective.
    same_as_reference(
        base,
        moved.coef_,
        moved.intercept_ + shift - shift.mean(),
        X,
        y,
        sample_weight=weight,
        needed=1e-3,
    )


def test_inputs_are_not_modified(problem):
    X, y, weight, offset, factor = problem
    before = [array.copy() for array in (X, weight, offset, factor)]
    lower = np.full((N_CLASSES, X.shape[1]), -1.0)
    model = SoftmaxRegression(penalty_factor=factor, lower_bounds=lower)
    model.fit(X, y, sample_weight=weight, offset=offset)
    assert_array_equal(lower, -1.0)
    model.predict_proba(X, offset=offset)
    for array, original in zip((X, weight, offset, factor), before, strict=True):
        assert_array_equal(array, original)


def test_cv_uses_factors_bounds_and_offsets(problem):
    X, y, weight, offset, factor = problem
    cv = SoftmaxRegressionCV(
        Cs=[0.1, 1.0],
        cv=3,
        penalty_factor=factor,
        lower_bounds=-1.0,
        tol=1e-8,
    ).fit(X, y, sample_weight=weight, offset=offset)
    single = SoftmaxRegression(
        C=cv.C_, penalty_factor=factor, lower_bounds=-1.0, tol=1e-8, solver="lbfgs"
    ).fit(X, y, sample_weight=weight, offset=offset)
    # Feature 1 is unpenalised (factor 0): its coefficients are identified up
    # to a shift common to the classes, within the bounds (tests/optimum.py
    # compares in the directions the data determine).
    tolerance = same_as_reference(
        cv,
        single.coef_,
        single.intercept_,
        X,
        y,
        C=cv.C_,
        sample_weight=weight,
        factor=factor,
        offset=offset,
        bounds=(np.full_like(single.coef_, -1.0), np.full_like(single.coef_, np.inf)),
    )
    assert_allclose(
        cv.predict_proba(X, offset=offset),
        single.predict_proba(X, offset=offset),
        atol=tolerance,
    )
    assert np.all(cv.coefs_paths_[..., :-1] >= -1.0 - 1e-12)
    # Its folds are scored with their offsets: accuracy on the test folds as
    # a model with the offset predicts them.
    assert abs(cv.score(X, y, offset=offset) - single.score(X, y, offset=offset)) <= (
        2 / y.size
    )


def test_metadata_routing_routes_the_offset(problem):
    X, y, _, offset, _ = problem
    with sklearn.config_context(enable_metadata_routing=True):
        model = (
            SoftmaxRegression(tol=1e-8)
            .set_fit_request(offset=True)
            .set_score_request(offset=True)
        )
        search = GridSearchCV(make_pipeline(model), {"softmaxregression__C": [1.0]})
        search.fit(X, y, offset=offset)
        direct = SoftmaxRegression(tol=1e-8).fit(X, y, offset=offset)
        # Equal by construction: the refit is this fit, on the same rows.
        assert_array_equal(search.best_estimator_[-1].coef_, direct.coef_)
        without = SoftmaxRegression(tol=1e-8).fit(X, y)
        assert not np.allclose(search.best_estimator_[-1].coef_, without.coef_)


def test_inference_with_factors_is_that_of_the_rescaled_columns(problem):
    X, y, _, _, factor = problem
    factor = np.where(factor == 0, 0.5, factor)
    model = SoftmaxRegression(C=5.0, penalty_factor=factor, tol=1e-10).fit(X, y)
    rescaled = SoftmaxRegression(C=5.0, tol=1e-10).fit(X / np.sqrt(factor), y)
    result = model.inference(X, y)
    expected = rescaled.inference(X / np.sqrt(factor), y)
    width = X.shape[1]
    assert_allclose(
        result.bse[:, :width], expected.bse[:, :width] / np.sqrt(factor), rtol=1e-5
    )


def test_inference_with_a_constant_offset_per_class(problem):
    X, y, _, _, _ = problem
    shift = np.tile([0.3, -0.2, 1.0], (y.size, 1))
    base = SoftmaxRegression(C=100.0, tol=1e-10).fit(X, y)
    moved = SoftmaxRegression(C=100.0, tol=1e-10).fit(X, y, offset=shift)
    assert_allclose(
        moved.inference(X, y, offset=shift).bse, base.inference(X, y).bse, rtol=1e-5
    )


def test_inference_refuses_an_active_bound(problem):
    X, y, _, _, _ = problem
    model = SoftmaxRegression(lower_bounds=0.0).fit(X, y)
    with pytest.raises(ValueError, match="at its bound"):
        model.inference(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"penalty_factor": [1.0, 2.0]},
            r"penalty_factor must have shape \(n_features",
        ),
        ({"penalty_factor": [1, -1, 1, 1, 1, 1]}, "must be non-negative; feature 1"),
        (
            {"penalty_factor": [1, np.nan, 1, 1, 1, 1]},
            "penalty_factor must not contain NaN",
        ),
        (
            {"penalty_factor": [1, np.inf, 1, 1, 1, 1]},
            "penalty_factor must not contain inf",
        ),
        ({"lower_bounds": 1.0, "upper_bounds": 0.0}, "must not exceed upper_bounds"),
        ({"lower_bounds": np.inf}, "lower_bounds must not contain inf"),
        ({"upper_bounds": -np.inf}, "upper_bounds must not contain -inf"),
        ({"lower_bounds": [0.0, 1.0]}, "lower_bounds must be a number, of shape"),
        ({"lower_bounds": np.nan}, "lower_bounds must not contain NaN"),
        ({"lower_bounds": 0.0, "solver": "newton-cg"}, "need solver='lbfgs'"),
    ],
)
def test_bad_parameters_get_clear_errors(problem, params, message):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(**params).fit(X, y)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (np.zeros((300, 2)), r"offset must have shape \(n_samples, n_classes\)"),
        (np.zeros(300), r"offset must have shape"),
        (np.full((300, 3), np.nan), "offset must not contain NaN"),
        (np.full((300, 3), np.inf), "offset must not contain inf"),
    ],
)
def test_bad_offsets_get_clear_errors(problem, offset, message):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression().fit(X, y, offset=offset)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match=message):
        model.predict(X, offset=offset)


def test_soft_targets_with_all_three(problem):
    X, y, weight, offset, factor = problem
    targets = 0.7 * np.eye(N_CLASSES)[y] + 0.1
    bounds = (
        np.full((N_CLASSES, X.shape[1]), -0.5),
        np.full((N_CLASSES, X.shape[1]), 1.0),
    )
    factor = np.where(factor == 0, 0.5, factor)
    W, b = reference_fit(
        X, targets, sample_weight=weight, factor=factor, bounds=bounds, offset=offset
    )
    model = SoftmaxRegression(
        penalty_factor=factor, lower_bounds=-0.5, upper_bounds=1.0, tol=1e-8
    ).fit(X, targets, sample_weight=weight, offset=offset)
    same_as_reference(
        model,
        W,
        b,
        X,
        targets,
        sample_weight=weight,
        factor=factor,
        bounds=bounds,
        offset=offset,
    )


def test_warm_start_into_bounds(problem):
    X, y, _, _, _ = problem
    model = SoftmaxRegression(warm_start=True, tol=1e-8).fit(X, y)
    assert model.coef_.min() < 0  # the warm start is outside the new bounds
    model.set_params(lower_bounds=0.0).fit(X, y)
    cold = SoftmaxRegression(lower_bounds=0.0, tol=1e-8).fit(X, y)
    assert model.coef_.min() >= 0
    zeros = np.zeros_like(cold.coef_)
    same_as_reference(
        model, cold.coef_, cold.intercept_, X, y, bounds=(zeros, zeros + np.inf)
    )


@pytest.mark.parametrize("tol", [1e-8, "auto"])
def test_bounds_in_rescaled_coefficients(problem, monkeypatch, tol):
    """Large dense data are solved in rescaled coefficients, bounds included."""
    import softmax_regression._fit as fit_module

    X, y, weight, _, _ = problem
    lower = np.full((N_CLASSES, X.shape[1]), -0.3)
    lower[0, 0] = 0.1  # excludes the start
    W, b = reference_fit(
        X, y, sample_weight=weight, bounds=(lower, np.full_like(lower, 0.8))
    )
    fits = {}
    for name, threshold in [("rescaled", 0), ("unscaled", 10**12)]:
        monkeypatch.setattr(fit_module, "_SCALING_MIN_ENTRIES", threshold)
        fits[name] = SoftmaxRegression(
            lower_bounds=lower, upper_bounds=0.8, tol=tol
        ).fit(X, y, sample_weight=weight)
    upper = np.full_like(lower, 0.8)
    for model in fits.values():
        assert np.all(model.coef_ >= lower) and np.all(model.coef_ <= 0.8)
        same_as_reference(
            model,
            W,
            b,
            X,
            y,
            sample_weight=weight,
            bounds=(lower, upper),
            relative_gap=1e-6 if tol == "auto" else None,
        )
