"""solver="newton-cd" and l1_type="grouped": optimality, references, identities."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import logsumexp, softmax
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV, l1_min_c


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        160, 12, n_informative=5, n_redundant=2, n_classes=3, random_state=0
    )
    return X, y


def penalty_terms(model, factor=None):
    """The penalty's two norms of each feature, as written in the docs."""
    W = model.coef_.astype(float)
    factor = np.ones(W.shape[1]) if factor is None else factor
    if model.l1_type == "grouped":
        l1 = np.sqrt(np.square(W).sum(axis=0))
    else:
        l1 = np.abs(W).sum(axis=0)
    return factor * l1, factor * 0.5 * np.square(W).sum(axis=0)


def objective(model, X, y, sample_weight=None, factor=None, offset=None):
    """The objective written out: weighted mean cross-entropy plus penalty."""
    Y = np.eye(model.coef_.shape[0])[y] if y.ndim == 1 else y
    Z = np.asarray(X @ model.coef_.T, dtype=float) + model.intercept_
    if offset is not None:
        Z = Z + offset
    weight = np.ones(len(Z)) if sample_weight is None else sample_weight
    loss = weight @ (logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)) / weight.sum()
    l1, l2 = penalty_terms(model, factor)
    r = model.l1_ratio
    return loss + np.sum(r * l1 + (1 - r) * l2) / (model.C * weight.sum())


def kkt_violation(model, X, y, factor=None):
    """The largest violation of the optimality conditions, computed in NumPy."""
    n_samples = X.shape[0]
    W = model.coef_.astype(float)
    Y = np.eye(W.shape[0])[y]
    P = softmax(np.asarray(X @ W.T) + model.intercept_, axis=1)
    strength = 1.0 / (model.C * n_samples)
    factor = np.ones(W.shape[1]) if factor is None else factor
    alpha = model.l1_ratio * strength * factor
    grad = np.asarray((P - Y).T @ X) / n_samples + (1 - model.l1_ratio) * (
        strength * factor * W
    )
    worst = np.abs((P - Y).mean(axis=0)).max()  # the intercepts'
    for j in range(W.shape[1]):
        w, g = W[:, j], grad[:, j]
        if model.l1_type == "grouped":
            norm = np.linalg.norm(w)
            if norm > 0:
                worst = max(worst, np.abs(g + alpha[j] * w / norm).max())
            else:
                excess = max(np.linalg.norm(g) - alpha[j], 0.0)
                worst = max(worst, excess)
        else:
            at_zero = np.maximum(np.abs(g) - alpha[j], 0.0)
            off_zero = np.abs(g + alpha[j] * np.sign(w))
            worst = max(worst, np.where(w == 0, at_zero, off_zero).max())
    return worst


@pytest.mark.parametrize("l1_type", ["ungrouped", "grouped"])
@pytest.mark.parametrize(
    ("l1_ratio", "kind"),
    [(1.0, "dense"), (1.0, "fortran"), (1.0, "csr"), (1.0, "csc"), (0.5, "csr")],
)
def test_kkt_conditions_hold(problem, l1_type, l1_ratio, kind):
    X, y = problem
    data = {
        "dense": X,
        "fortran": np.asfortranarray(X),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
    }[kind]
    before = data.copy()
    model = SoftmaxRegression(
        C=0.05, l1_ratio=l1_ratio, l1_type=l1_type, solver="newton-cd", tol=1e-9
    ).fit(data, y)
    assert kkt_violation(model, X, y) <= 1e-8
    assert 0 < np.count_nonzero(model.coef_) < model.coef_.size  # sparse, not empty
    if l1_type == "grouped":  # whole features dropped, never single entries
        kept = np.any(model.coef_ != 0, axis=0)
        assert np.all(model.coef_[:, kept] != 0)
    if sp.issparse(data):
        assert (data != before).nnz == 0
    else:
        np.testing.assert_array_equal(data, before)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_same_optimum_as_lbfgs_on_the_split(problem, l1_ratio):
    X, y = problem
    settings_ = {"C": 0.1, "l1_ratio": l1_ratio, "tol": 1e-10, "max_iter": 5000}
    ours = SoftmaxRegression(solver="newton-cd", **settings_).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        split = SoftmaxRegression(solver="lbfgs", **settings_).fit(X, y)
    f_ours, f_split = objective(ours, X, y), objective(split, X, y)
    assert f_ours <= f_split * (1 + 1e-12)
    assert f_split - f_ours <= 1e-9 * f_split
    if l1_ratio < 1:  # strictly convex: the same coefficients
        np.testing.assert_allclose(ours.coef_, split.coef_, atol=1e-6)


def test_grouped_against_a_generic_minimiser():
    """The grouped objective written as a smooth constrained problem (each
    norm an epigraph variable, t_j >= |W_:j|), minimised by SLSQP."""
    X, y = make_classification(60, 5, n_informative=3, n_classes=3, random_state=3)
    C, r = 0.2, 0.8
    model = SoftmaxRegression(C=C, l1_ratio=r, l1_type="grouped", tol=1e-9).fit(X, y)
    n_samples = X.shape[0]
    Y = np.eye(3)[y]

    def split(v):
        return v[:15].reshape(3, 5), v[15:18], v[18:]

    def epigraph(v):
        W, b, t = split(v)
        Z = X @ W.T + b
        loss = np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))
        G = (softmax(Z, axis=1) - Y) / n_samples
        strength = 1.0 / (C * n_samples)
        value = loss + strength * (r * t.sum() + (1 - r) / 2 * np.sum(W**2))
        gradient = np.concatenate(
            [(G.T @ X + strength * (1 - r) * W).ravel(), G.sum(axis=0),
             np.full(5, strength * r)]
        )  # fmt: skip
        return value, gradient

    def cone_jacobian(v):
        W, _, t = split(v)
        jacobian = np.zeros((5, 23))
        for j in range(5):
            jacobian[j, [k * 5 + j for k in range(3)]] = -2 * W[:, j]
            jacobian[j, 18 + j] = 2 * t[j]
        return jacobian

    cones = {
        "type": "ineq",
        "fun": lambda v: split(v)[2] ** 2 - (split(v)[0] ** 2).sum(0),
        "jac": cone_jacobian,
    }
    start = np.concatenate([np.zeros(18), np.ones(5)])
    reference = optimize.minimize(
        epigraph, start, jac=True, method="SLSQP", constraints=[cones],
        bounds=[(None, None)] * 18 + [(0, None)] * 5,
        options={"ftol": 1e-14, "maxiter": 2000},
    )  # fmt: skip
    f_ours = objective(model, X, y)
    assert reference.success
    assert abs(reference.fun - f_ours) <= 1e-8 * f_ours
    # SLSQP's point may sit a hair outside its cones: its true objective.
    W, b, _ = split(reference.x)
    norms = np.sqrt(np.square(W).sum(axis=0))
    Z = X @ W.T + b
    f_reference = np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)) + (
        r * norms.sum() + (1 - r) / 2 * np.sum(W**2)
    ) / (C * n_samples)
    assert f_ours <= f_reference + 1e-12


def test_two_classes_grouped_is_ungrouped_at_sqrt2():
    """Only w1 - w0 matters: the cheapest split of c costs |c|/sqrt(2) grouped."""
    X, y = make_classification(120, 8, n_informative=4, random_state=1)
    grouped = SoftmaxRegression(C=0.1, l1_ratio=1, l1_type="grouped", tol=1e-9)
    ungrouped = SoftmaxRegression(C=0.1 * np.sqrt(2), l1_ratio=1, tol=1e-9)
    np.testing.assert_allclose(
        grouped.fit(X, y).predict_proba(X),
        ungrouped.fit(X, y).predict_proba(X),
        atol=1e-7,
    )
    assert 0 < np.count_nonzero(grouped.coef_[1]) < X.shape[1]


@pytest.mark.parametrize("l1_type", ["ungrouped", "grouped"])
def test_l1_min_c_is_where_the_path_starts(problem, l1_type):
    X, y = problem
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    factor = np.linspace(0.5, 2.0, X.shape[1])
    settings_ = {"l1_ratio": 0.7, "l1_type": l1_type, "penalty_factor": factor}
    C = l1_min_c(X, y, sample_weight=weight, **settings_)
    below = SoftmaxRegression(C=0.999 * C, **settings_).fit(X, y, sample_weight=weight)
    above = SoftmaxRegression(C=1.01 * C, **settings_).fit(X, y, sample_weight=weight)
    assert not below.coef_.any()
    assert above.coef_.any()
    # The intercepts alone: the weighted class shares.
    shares = np.bincount(y, weights=weight) / weight.sum()
    np.testing.assert_allclose(softmax(below.intercept_), shares, rtol=1e-9)


def test_zero_penalty_factor_keeps_its_feature(problem):
    X, y = problem
    factor = np.ones(X.shape[1])
    factor[3] = 0.0
    C = 0.5 * l1_min_c(X, y, l1_type="grouped")  # every other feature dropped
    model = SoftmaxRegression(
        C=C, l1_ratio=1, l1_type="grouped", penalty_factor=factor
    ).fit(X, y)
    assert np.all(model.coef_[:, 3] != 0)
    assert not np.delete(model.coef_, 3, axis=1).any()
    assert l1_min_c(X, y, penalty_factor=np.zeros(X.shape[1])) == np.inf


@pytest.mark.parametrize("l1_type", ["ungrouped", "grouped"])
def test_identities(problem, l1_type):
    X, y = problem
    # The L2 part makes the optimum unique: |dW| <= violation / (0.1 / (C n)).
    settings_ = {"C": 0.1, "l1_ratio": 0.9, "l1_type": l1_type, "tol": 1e-9}
    model = SoftmaxRegression(**settings_).fit(X, y)
    # Permuting the classes permutes the rows.
    relabelled = SoftmaxRegression(**settings_).fit(X, (y + 1) % 3)
    np.testing.assert_allclose(
        relabelled.coef_, np.roll(model.coef_, 1, axis=0), atol=1e-6
    )
    # A weight of 2 is a repeated row.
    weight = np.ones(len(y))
    weight[:20] = 2.0
    weighted = SoftmaxRegression(**settings_).fit(X, y, sample_weight=weight)
    repeated = SoftmaxRegression(**settings_).fit(
        np.vstack([X, X[:20]]), np.concatenate([y, y[:20]])
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)


@pytest.mark.parametrize("l1_type", ["ungrouped", "grouped"])
def test_every_input_kind_gives_the_model(problem, l1_type):
    """Soft targets, smoothing, weights and offsets; CSR and float32 alike."""
    X, y = problem
    rng = np.random.default_rng(1)
    weight = rng.uniform(0.5, 2.0, len(y))
    offset = rng.normal(scale=0.3, size=(len(y), 3))
    targets = rng.dirichlet(np.ones(3), len(y))
    smoothed = 0.9 * targets + 0.1 / 3
    settings_ = {"C": 0.1, "l1_ratio": 0.8, "l1_type": l1_type}  # tol="auto"
    fitted = {}
    for name, data in [
        ("dense", X),
        ("csr", sp.csr_matrix(X)),
        ("float32", X.astype(np.float32)),
    ]:
        model = SoftmaxRegression(label_smoothing=0.1, **settings_)
        model.fit(data, targets, sample_weight=weight, offset=offset)
        assert model.coef_.dtype == data.dtype
        fitted[name] = objective(model, X, smoothed, weight, offset=offset)
    # Each within its certified 1e-6 of the optimum.
    assert fitted["csr"] == pytest.approx(fitted["dense"], rel=1e-6)
    assert fitted["float32"] == pytest.approx(fitted["dense"], rel=2e-6)


def test_bounds_clip_the_coordinate_steps(problem):
    X, y = problem
    settings_ = {"C": 0.5, "l1_ratio": 0.5, "lower_bounds": -0.05, "upper_bounds": 0.1}
    ours = SoftmaxRegression(solver="newton-cd", tol=1e-9, **settings_).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        split = SoftmaxRegression(
            solver="lbfgs", tol=1e-9, max_iter=5000, **settings_
        ).fit(X, y)
    assert ours.coef_.min() == -0.05 and ours.coef_.max() == 0.1
    f_ours, f_split = objective(ours, X, y), objective(split, X, y)
    assert abs(f_ours - f_split) <= 1e-9 * f_split


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_classes=st.integers(2, 5),
    C=st.floats(0.01, 10.0),
    l1_ratio=st.floats(0.05, 1.0),
    grouped=st.booleans(),
)
def test_kkt_conditions_hold_property(seed, n_classes, C, l1_ratio, grouped):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 6)) * rng.uniform(0.1, 3.0, 6)
    y = rng.integers(0, n_classes, 40)
    y[:n_classes] = np.arange(n_classes)
    model = SoftmaxRegression(
        C=C,
        l1_ratio=l1_ratio,
        l1_type="grouped" if grouped else "ungrouped",
        solver="newton-cd",
        tol=1e-7,
        max_iter=2000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the stop held
        model.fit(X, y)
    assert kkt_violation(model, X, y) <= 1.01e-7


def test_auto_verbose_callback_and_errors(problem, capsys):
    X, y = problem
    model = SoftmaxRegression(C=0.1, l1_ratio=1, warm_start=True).fit(X, y)
    capsys.readouterr()
    model.set_params(C=0.2, verbose=2).fit(X, y)  # "auto" warm: newton-cd
    out = capsys.readouterr().out
    assert "[newton-cd]" in out and "duality gap certifies" in out
    with pytest.warns(ConvergenceWarning, match="newton-cd"):
        SoftmaxRegression(
            C=10, l1_ratio=1, solver="newton-cd", tol=1e-12, max_iter=1
        ).fit(X, y)
    with pytest.raises(ValueError, match=r"grouped.*bounds"):
        SoftmaxRegression(l1_ratio=1, l1_type="grouped", upper_bounds=1).fit(X, y)
    with pytest.raises(ValueError, match="needs solver='newton-cd'"):
        SoftmaxRegression(l1_ratio=1, l1_type="grouped", solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="l1_type"):
        SoftmaxRegression(l1_type="group").fit(X, y)
    assert model.n_iter_[0] >= 1


def test_cv_runs_the_grouped_path(problem):
    X, y = problem
    C = l1_min_c(X, y, l1_type="grouped")
    cv = SoftmaxRegressionCV(
        Cs=C * np.logspace(0, 2, 5),
        l1_ratios=[1.0],
        l1_type="grouped",
        solver="newton-cd",
        cv=3,
    ).fit(X, y)
    paths = cv.coefs_paths_[:, 0, :, :, :-1]
    kept = np.any(paths != 0, axis=2).sum(axis=-1)  # features kept per fold, C
    assert np.all(np.diff(kept, axis=1) >= 0)  # the path grows from the start
    assert cv.coef_.any() and np.all(cv.coef_[:, np.any(cv.coef_, axis=0)] != 0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_grouped_duality_gap_bounds_the_gap(problem, l1_ratio):
    """The grouped conjugate: the gap is at least f - f* near and far from
    the optimum, and vanishes there."""
    from softmax_regression._backends.memory import in_memory_loss
    from softmax_regression._duality import DualityGap

    X, y = problem
    C, n_samples = 0.2, X.shape[0]
    model = SoftmaxRegression(C=C, l1_ratio=l1_ratio, l1_type="grouped", tol=1e-9).fit(
        X, y
    )
    optimum = np.concatenate([model.coef_.ravel(), model.intercept_])
    f_star = objective(model, X, y)
    loss = in_memory_loss(X, y, 3, None, (1 - l1_ratio) / (C * n_samples), True)
    duality = DualityGap(
        loss, np.bincount(y) / n_samples, l1_ratio / (C * n_samples), grouped=True
    )
    value, gap = duality.gap(optimum)
    assert value == pytest.approx(f_star, rel=1e-12)
    assert -1e-12 <= gap <= 1e-8 * f_star
    rng = np.random.default_rng(0)
    for scale in (1e-4, 1e-2, 1.0):
        value, gap = duality.gap(optimum + scale * rng.normal(size=optimum.size))
        assert f_star < value <= f_star + gap * (1 + 1e-9) + 1e-13
