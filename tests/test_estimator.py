"""Tests of SoftmaxRegression against LogisticRegression, statsmodels and itself."""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from fresh_process import peak_bytes
from numpy.testing import assert_allclose, assert_array_equal
from optimum import (
    ambiguous_rows,
    assert_same_fit,
    assert_same_optimum,
    flat_coef,
    objective_for,
)
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, log_softmax
from softmax_regression._weights import fit_weights

# Tight, yet reachable by L-BFGS in float64 on every problem here: at 1e-9 the
# objective of digits at C=20 is already flat to machine precision. The
# ConvergenceWarning is an error in this module, so every fit proves it got there.
TIGHT = {"tol": 1e-8, "max_iter": 10_000}
pytestmark = pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")


def fit_exact(X, y, sample_weight=None, **params):
    """LogisticRegression's Newton solver run to float64's floor, fitted.

    At tol=1e-12 its line search can give up, under some machines' rounding,
    and fall back to lbfgs, saying so in a ConvergenceWarning (an error in
    this module): the reference may; what the comparisons rely on, its
    gradient, they measure themselves (tests/optimum.py).
    """
    model = LogisticRegression(
        solver="newton-cholesky", tol=1e-12, max_iter=1000, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, sample_weight=sample_weight)


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(model, X, y, C, sample_weight=None):
    """The penalised objective of a fitted model, written out with scipy."""
    coef, intercept = model.coef_, model.intercept_
    if coef.shape[0] == 1:  # LogisticRegression's binary model: margins only
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.r_[0.0, intercept]
    raw = X @ coef.T + intercept
    encoded = np.searchsorted(model.classes_, y)
    per_sample = scipy.special.logsumexp(raw, axis=1) - raw[np.arange(len(y)), encoded]
    weight_sum = len(y) if sample_weight is None else np.sum(sample_weight)
    return np.average(per_sample, weights=sample_weight) + (coef**2).sum() / (
        2 * C * weight_sum
    )


def assert_near_optimum(ours, exact, X, y, C, sample_weight=None):
    """``ours`` and the exact reference minimise the same objective, as far as
    their stops imply (tests/optimum.py): the distance their gradients allow
    (at TIGHT, under 1e-2 on digits), probabilities within the bound that gives, the
    same predicted class wherever that bound cannot change it.

    ``exact`` is a LogisticRegression; its binary model (the margin, at 2 C)
    is our model at C with rows -w/2 and w/2.
    """
    coef = np.asarray(exact.coef_, dtype=np.float64)
    intercept = np.asarray(exact.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.r_[-intercept, intercept] / 2,
        )
    n_classes = coef.shape[0]
    weight = sample_weight
    if ours.class_weight is not None:
        weight = fit_weights(
            ours.class_weight, sample_weight, X, np.searchsorted(ours.classes_, y),
            np.arange(n_classes), "fit",
        )  # fmt: skip
    loss = objective_for(
        X, np.searchsorted(ours.classes_, y), n_classes, C=C,
        sample_weight=weight, fit_intercept=ours.fit_intercept,
    )  # fmt: skip
    reference = np.r_[coef.ravel(), intercept] if ours.fit_intercept else coef.ravel()
    tolerance = assert_same_optimum(
        loss, flat_coef(ours), reference, needed=0.1, X=X
    ).probability
    assert_allclose(ours.predict_proba(X), exact.predict_proba(X), atol=tolerance)
    clear = ~ambiguous_rows(exact.predict_proba(X), tolerance)
    assert_array_equal(ours.predict(X)[clear], exact.predict(X)[clear])


# -- Same C, same model -------------------------------------------------------


@pytest.mark.parametrize("load", [load_iris, load_digits, load_wine])
@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_logistic_regression(load, C, fit_intercept):
    X, y = standardised(load)
    ours = SoftmaxRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    exact = fit_exact(X, y, C=C, fit_intercept=fit_intercept)
    assert_near_optimum(ours, exact, X, y, C)


def test_defaults_are_closer_to_the_optimum_than_logistic_regression():
    # Same objective: our defaults (tol="auto") end nearer its minimum than
    # LogisticRegression's (tol=1e-4), within a relative gap of 1e-6, and
    # with probabilities nearer the exact optimum's.
    X, y = standardised(load_digits)
    ours = SoftmaxRegression().fit(X, y)
    theirs = LogisticRegression(max_iter=500).fit(X, y)
    exact = fit_exact(X, y)
    f_star = objective(exact, X, y, 1.0)
    assert objective(ours, X, y, 1.0) <= objective(theirs, X, y, 1.0)
    assert objective(ours, X, y, 1.0) - f_star <= 1e-6 * f_star
    exact_proba = exact.predict_proba(X)
    our_error = np.max(np.abs(ours.predict_proba(X) - exact_proba))
    assert our_error <= 1e-4
    assert our_error < np.max(np.abs(theirs.predict_proba(X) - exact_proba))


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 3.0, 1: 0.5, 2: 1.0}])
def test_sample_and_class_weights_match_logistic_regression(class_weight):
    X, y = standardised(load_wine)
    sample_weight = np.random.default_rng(0).uniform(0, 3, size=y.size)
    sample_weight[::7] = 0
    params = {"C": 0.5, "class_weight": class_weight, **TIGHT}
    ours = SoftmaxRegression(**params).fit(X, y, sample_weight=sample_weight)
    theirs = fit_exact(X, y, sample_weight, C=0.5, class_weight=class_weight)
    assert_near_optimum(ours, theirs, X, y, 0.5, sample_weight=sample_weight)


def test_class_weight_is_sample_weight():
    X, y = standardised(load_iris)
    class_weight = {0: 0.5, 1: 2.0, 2: 4.0}
    weighted = SoftmaxRegression(class_weight=class_weight, **TIGHT).fit(X, y)
    sample_weight = np.array([class_weight[label] for label in y])
    reweighted = SoftmaxRegression(**TIGHT).fit(X, y, sample_weight=sample_weight)
    # Equal by construction: the folded weights are these, bit for bit.
    assert_array_equal(weighted.coef_, reweighted.coef_)
    assert_array_equal(weighted.intercept_, reweighted.intercept_)


def test_integer_weights_are_repetitions():
    X, y = standardised(load_iris)
    sample_weight = np.random.default_rng(1).integers(0, 4, size=y.size)
    weighted = SoftmaxRegression(**TIGHT).fit(X, y, sample_weight=sample_weight)
    repeated = SoftmaxRegression(**TIGHT).fit(
        np.repeat(X, sample_weight, axis=0), np.repeat(y, sample_weight)
    )
    assert_same_fit(weighted, repeated, X, y, sample_weight=sample_weight, needed=1e-3)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_binary_is_logistic_regression_with_twice_c(fit_intercept):
    X, y = standardised(load_breast_cancer)
    C = 0.3
    ours = SoftmaxRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    exact = fit_exact(X, y, C=2 * C, fit_intercept=fit_intercept)
    assert ours.coef_.shape == (2, X.shape[1])
    assert_allclose(ours.coef_[0], -ours.coef_[1], rtol=1e-8, atol=1e-10)
    # The same objective: LogisticRegression at 2C on the margin, ours at C.
    assert_near_optimum(ours, exact, X, y, C)


def test_unpenalised_matches_statsmodels_mnlogit():
    statsmodels = pytest.importorskip("statsmodels.api")
    X, y = make_classification(
        n_samples=600,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        flip_y=0.2,
        random_state=0,
    )
    ours = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, y)
    reference = statsmodels.MNLogit(y, statsmodels.add_constant(X)).fit(
        method="newton", tol=1e-12, maxiter=100, disp=False
    )
    # MNLogit fixes class 0 at zero; its params are (1 + n_features, n_classes - 1).
    # Unpenalised, the classes' common shift is not determined: compared in
    # the directions the data fix (tests/optimum.py).
    params = np.c_[np.zeros(X.shape[1] + 1), reference.params]
    loss = objective_for(X, y, 3, C=np.inf)
    tolerance = assert_same_optimum(
        loss, flat_coef(ours), np.r_[params[1:].T.ravel(), params[0]], needed=1e-3, X=X
    ).probability
    assert_allclose(ours.predict_proba(X), reference.predict(), atol=tolerance)


# -- Inputs -------------------------------------------------------------------


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
def test_sparse_equals_dense(sparse_format):
    X, y = load_digits(return_X_y=True)
    X = X / 16
    X_sparse = sp.csr_matrix(X).asformat(sparse_format)
    dense = SoftmaxRegression(**TIGHT).fit(X, y)
    sparse = SoftmaxRegression(**TIGHT).fit(X_sparse, y)
    tolerance = assert_same_fit(sparse, dense, X, y, needed=1e-2).probability
    assert_allclose(
        sparse.predict_proba(X_sparse), dense.predict_proba(X), atol=tolerance
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_close_to_float64_and_stays_float32(sparse):
    X, y = standardised(load_digits)
    X32 = X.astype(np.float32)
    if sparse:
        X32 = sp.csr_matrix(X32)
    model32 = SoftmaxRegression().fit(X32, y)
    model64 = SoftmaxRegression(tol=1e-8).fit(X32.astype(np.float64), y)
    assert model32.coef_.dtype == model32.intercept_.dtype == np.float32
    assert model32.predict_proba(X32).dtype == np.float32
    assert model32.decision_function(X32).dtype == np.float32
    # In float32 arithmetic, the promised gap of tol="auto" on the float32
    # data's own problem (solved in float64 by the reference).
    assert_same_fit(model32, model64, X32, y, relative_gap=1e-6)
    assert np.mean(model32.predict(X32) == model64.predict(X32)) > 0.995


def test_string_and_float_labels():
    X, y = standardised(load_iris)
    class_names = np.array(["setosa", "versicolor", "virginica"])
    names = class_names[y]
    by_name = SoftmaxRegression().fit(X, names)
    by_index = SoftmaxRegression().fit(X, y)
    by_float = SoftmaxRegression().fit(X, y.astype(float))
    assert_array_equal(by_name.classes_, ["setosa", "versicolor", "virginica"])
    assert_array_equal(by_name.predict(X), class_names[by_index.predict(X)])
    assert_array_equal(by_float.classes_, [0.0, 1.0, 2.0])
    # Equal by construction: the same encoded labels.
    assert_array_equal(by_float.coef_, by_index.coef_)
    assert_array_equal(by_name.coef_, by_index.coef_)


def test_pandas_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = SoftmaxRegression().fit(X, y)
    assert_array_equal(model.feature_names_in_, X.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = model.predict_proba(X.to_numpy())
    assert_allclose(model.predict_proba(X), from_array)
    renamed = X.rename(columns={X.columns[0]: "something else"})
    with pytest.raises(ValueError, match="feature names"):
        model.predict(renamed)
    weight = np.linspace(0.5, 1.5, len(y))
    assert_array_equal(
        SoftmaxRegression().fit(X, y, sample_weight=pd.Series(weight)).coef_,
        SoftmaxRegression().fit(X, y, sample_weight=weight).coef_,
    )


def test_inputs_not_modified_and_read_only_inputs_work():
    X, y = standardised(load_wine)
    sample_weight = np.linspace(0.5, 2, y.size)
    copies = X.copy(), y.copy(), sample_weight.copy()
    for array in (X, y, sample_weight):
        array.flags.writeable = False
    model = SoftmaxRegression(class_weight="balanced").fit(X, y, sample_weight)
    model.predict_proba(X)
    for array, original in zip((X, y, sample_weight), copies, strict=True):
        assert_array_equal(array, original)


def test_memmapped_input(tmp_path):
    X, y = standardised(load_iris)
    path = tmp_path / "X.dat"
    memmap = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    memmap[:] = X
    memmap.flush()
    read_only = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    model = SoftmaxRegression().fit(read_only, y)
    # Equal by construction: the same values, only read from a file.
    assert_array_equal(model.coef_, SoftmaxRegression().fit(X, y).coef_)


LAYOUTS = ["float64-C", "float64-F", "float32-C", "csr", "csc"]


@pytest.fixture(scope="module")
def fit_peaks():
    """Peak bytes of a fit of 20,000 x 100 data in each layout, and X's bytes."""
    return peak_bytes(
        f"""
        import numpy as np
        import scipy.sparse as sp
        from sklearn.datasets import make_classification
        from softmax_regression import SoftmaxRegression

        X, y = make_classification(n_samples=20_000, n_features=100,
                                   n_informative=20, n_classes=3, random_state=0)
        sparse = np.where(np.abs(X) < 1.0, 0.0, X)
        data = {{
            "float64-C": X,
            "float64-F": np.asfortranarray(X),
            "float32-C": X.astype(np.float32),
            "csr": sp.csr_matrix(sparse),
            "csc": sp.csc_matrix(sparse),
        }}
        calls, sizes = {{}}, {{}}
        for layout in {LAYOUTS!r}:
            X_layout = data[layout]
            sizes[layout] = (
                X_layout.data.nbytes if sp.issparse(X_layout) else X_layout.nbytes
            )
            calls[layout] = (
                lambda X=X_layout: SoftmaxRegression(max_iter=5).fit(X, y)
            )
        """
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fit_never_copies_x(layout, fit_peaks):
    peaks, x_bytes = fit_peaks
    peak, x_bytes = peaks[layout], x_bytes[layout]
    assert x_bytes > 1_000_000  # X's own bytes: what the fit must not copy
    # Scores buffer n_classes x n_samples plus O(n_samples) vectors, well under X.
    itemsize = 4 if layout == "float32-C" else 8
    n_scores = 20_000 * 3 * itemsize
    assert peak < 0.5 * x_bytes + 8 * n_scores, (peak, x_bytes)


# -- Behaviour ----------------------------------------------------------------


def test_decision_function_shapes_and_intercept_centred():
    X, y = standardised(load_iris)
    model = SoftmaxRegression().fit(X, y)
    scores = model.decision_function(X)
    assert scores.shape == (len(y), 3)
    assert_allclose(scores, X @ model.coef_.T + model.intercept_)
    assert abs(model.intercept_.sum()) < 1e-12
    binary = SoftmaxRegression().fit(X[y < 2], y[y < 2])
    margin = binary.decision_function(X)
    scores = X @ binary.coef_.T + binary.intercept_
    assert_allclose(margin, scores[:, 1] - scores[:, 0])
    assert_array_equal(binary.predict(X), np.where(margin > 0, 1, 0))


def test_predict_log_proba_finite_where_proba_underflows():
    X, y = standardised(load_iris)
    model = SoftmaxRegression(C=100).fit(X, y)
    far = 100 * X[:5]
    assert np.any(model.predict_proba(far) == 0)
    log_proba = model.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    scores = far @ model.coef_.T + model.intercept_
    assert_allclose(log_proba, scipy.special.log_softmax(scores, axis=1), rtol=1e-12)
    assert_allclose(log_proba, log_softmax(scores, axis=1))


def test_warm_start_continues_from_previous_solution():
    X, y = standardised(load_digits)
    model = SoftmaxRegression(warm_start=True, tol=1e-6).fit(X, y)
    cold_iterations = model.n_iter_
    first = copy.deepcopy(model)
    model.fit(X, y)
    assert model.n_iter_ <= 2 < cold_iterations
    # Both stops meet tol=1e-6: within what their gradients allow.
    assert_same_fit(model, first, X, y, needed=1.0)
    # A new C starts from the old solution: fewer iterations than from zero.
    warm = model.set_params(C=2.0).fit(X, y).n_iter_
    cold = SoftmaxRegression(C=2.0, tol=1e-6).fit(X, y).n_iter_
    assert warm < cold
    with pytest.raises(ValueError, match="same classes and number of features"):
        model.fit(X[:, :10], y)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-ncg", "trust-krylov"])
def test_zero_max_iter_returns_the_starting_point(solver):
    # As LogisticRegression allows (scikit-learn's test_zero_max_iter): the
    # state right after initialisation can be inspected.
    X, y = standardised(load_iris)
    with pytest.warns(ConvergenceWarning, match="after 0 iterations"):
        model = SoftmaxRegression(solver=solver, max_iter=0).fit(X, y)
    assert model.n_iter_[0] == 0
    assert_array_equal(model.coef_, 0.0)
    assert_allclose(model.predict_proba(X), 1 / 3)
    warm = SoftmaxRegression(solver=solver, warm_start=True).fit(X, y)
    coef = warm.coef_.copy()
    with pytest.warns(ConvergenceWarning):
        warm.set_params(max_iter=0, tol=1e-12).fit(X, y)
    assert_array_equal(warm.coef_, coef)


SUMMARY = (
    r"\[(lbfgs|newton-cg|trust-ncg|trust-krylov)\] \d+ iterations, \d+ evaluations, "
    r"\d+ Hessian products in \S+ s: objective \S+, max\|grad\| \S+; stopped: .+"
)


def test_verbose_levels(capsys):
    """1: one summary line per fit; 2: also a line per iteration; 3: also the inner
    solver's work per iteration."""
    X, y = standardised(load_iris)
    SoftmaxRegression(solver="lbfgs", verbose=1).fit(X, y)
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(SUMMARY, line)
    assert "stopped: converged: duality gap certifies a relative gap" in line
    assert "tol='auto'" in line

    model = SoftmaxRegression(solver="lbfgs", verbose=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "objective" in lines[0] and "max|grad|" in lines[0]
    assert len(lines) == model.n_iter_[0] + 2
    assert all(
        re.match(r"\[lbfgs\]\s+\d+\s+\S+\s+\S+\s+\S+$", line) for line in lines[1:-1]
    )
    assert re.fullmatch(SUMMARY, lines[-1])

    model = SoftmaxRegression(solver="newton-cg", tol=1e-8, verbose=3).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[-3:] == ["evals", "Hv", "max|step|"]
    rows = [line.split() for line in lines[1:-1]]
    assert len(rows) == model.n_iter_[0]
    hessian_products = [int(row[-2]) for row in rows]
    assert all(count >= 1 for count in hessian_products)  # inner CG steps
    assert f"{sum(hessian_products)} Hessian products" in lines[-1]
    assert "stopped: converged: max|grad| <= tol=1e-08" in lines[-1]


def test_verbose_says_why_the_fit_stopped(capsys):
    X, y = load_wine(return_X_y=True)  # unscaled: slow to converge
    with pytest.warns(ConvergenceWarning):
        SoftmaxRegression(solver="lbfgs", max_iter=3, verbose=1).fit(X, y)
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(SUMMARY, line) and line.endswith("stopped: reached max_iter")


def test_convergence_warning_says_what_to_do():
    X, y = load_wine(return_X_y=True)  # unscaled: slow to converge
    with pytest.warns(
        ConvergenceWarning,
        match=r"after 3 iterations.*max_iter.*"
        r"standardise",
    ):
        model = SoftmaxRegression(max_iter=3).fit(X, y)
    assert model.n_iter_ == 3


def test_convergence_warning_points_at_the_callers_line():
    X, y = load_wine(return_X_y=True)
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegression(max_iter=3).fit(X, y)
    assert record[0].filename == __file__
    with pytest.warns(ConvergenceWarning) as record:
        make_pipeline(StandardScaler(), SoftmaxRegression(max_iter=1)).fit(X, y)
    assert record[0].filename == __file__


def test_flat_objective_warning_says_what_happened():
    # Standardised digits at C=20: the float64 objective stops decreasing with
    # the gradient near 5e-11, so tol=1e-12 cannot be met. Raising max_iter or
    # standardising would not help, and the warning must not say they would.
    X, y = standardised(load_digits)
    with pytest.warns(ConvergenceWarning) as record:
        model = SoftmaxRegression(C=20, tol=1e-12, max_iter=10_000).fit(X, y)
    message = str(record[0].message)
    assert model.n_iter_ < 10_000
    assert "no longer decreases in float64" in message
    assert "tol is below what the floating-point objective resolves" in message
    assert re.search(r"largest gradient entry reached \d\.\d+e-1\d", message)
    assert "max_iter=10000" in message and "Increase max_iter" not in message
    assert "standardis" not in message
    assert record[0].filename == __file__


def test_pipeline_and_grid_search():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SoftmaxRegression()),
        {"softmaxregression__C": [0.01, 0.1, 1.0]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.9
    assert search.best_estimator_[-1].coef_.shape == (10, 64)


def test_n_iter_is_an_array_like_logistic_regressions():
    X, y = standardised(load_iris)
    model = SoftmaxRegression().fit(X, y)
    reference = LogisticRegression().fit(X, y)
    assert model.n_iter_.shape == reference.n_iter_.shape == (1,)
    assert model.n_iter_.dtype == reference.n_iter_.dtype
    assert model.n_iter_[0] > 0


@pytest.mark.parametrize("sparse_input", [False, True])
def test_sparsify_and_densify(sparse_input):
    X, y = standardised(load_digits)
    X_fit = sp.csr_matrix(X) if sparse_input else X
    model = SoftmaxRegression(C=0.05, l1_ratio=1.0).fit(X_fit, y)
    dense_coef = model.coef_.copy()
    proba, scores = model.predict_proba(X_fit), model.decision_function(X_fit)
    assert model.sparsify() is model
    assert sp.issparse(model.coef_)
    assert model.coef_.nnz == np.count_nonzero(dense_coef) < dense_coef.size
    assert_allclose(model.predict_proba(X_fit), proba, rtol=1e-12)
    assert_allclose(model.decision_function(X_fit), scores, rtol=1e-12, atol=1e-12)
    assert_array_equal(model.predict(X_fit), np.argmax(proba, axis=1))
    assert model.densify() is model
    assert isinstance(model.coef_, np.ndarray)
    assert_array_equal(model.coef_, dense_coef)
    # warm start from a sparsified model, and fit stores dense coefficients
    model.sparsify().set_params(warm_start=True).fit(X_fit, y)
    assert isinstance(model.coef_, np.ndarray)
    assert model.n_iter_[0] <= 2
    with pytest.raises(NotFittedError):
        SoftmaxRegression().sparsify()


def test_html_repr_links_to_our_documentation():
    from softmax_regression import SoftmaxRegressionCV
    from softmax_regression._version import DOCS_URL

    for estimator in (SoftmaxRegression(), SoftmaxRegressionCV()):
        name = type(estimator).__name__
        link = f"{DOCS_URL}generated/softmax_regression.{name}.html"
        assert estimator._get_doc_link() == link
        assert f'href="{link}"' in estimator._repr_html_()
    assert (
        "scikit-learn.org"
        not in SoftmaxRegression()
        ._repr_html_()
        .split("sk-estimator-doc-link")[1]
        .split(">")[0]
    )


def test_pickle_round_trip():
    X, y = standardised(load_iris)
    model = SoftmaxRegression().fit(X, y)
    data = pickle.dumps(model)
    assert b"softmax_regression._estimator" not in data  # the public path
    restored = pickle.loads(data)
    assert_array_equal(restored.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("cv", [False, True])
def test_skops_trusts_nothing_but_our_class(cv):
    sio = pytest.importorskip("skops.io")
    from softmax_regression import SoftmaxRegressionCV

    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    labels = pd.Series(np.array(["setosa", "versicolor", "virginica"])[y])
    estimator = SoftmaxRegressionCV(Cs=2, cv=3) if cv else SoftmaxRegression()
    model = estimator.fit(X, labels)
    data = sio.dumps(model)
    name = f"softmax_regression.{type(model).__name__}"
    assert sio.get_untrusted_types(data=data) == [name]
    restored = sio.loads(data, trusted=[name])
    assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert_array_equal(restored.predict(X), model.predict(X))
    assert_array_equal(restored.feature_names_in_, model.feature_names_in_)


# -- Errors -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_x_is_rejected(bad):
    X, y = standardised(load_iris)
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        SoftmaxRegression().fit(X, y)


def test_single_class_is_rejected():
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match=r"at least 2 classes.*only one class: 0"):
        SoftmaxRegression().fit(X[:10], y[:10])


def test_weights_leaving_one_class_are_rejected():
    X, y = standardised(load_iris)
    sample_weight = (y == 2).astype(float)
    with pytest.raises(ValueError, match=r"positive weight.*only class\(es\) \[2\]"):
        SoftmaxRegression().fit(X, y, sample_weight=sample_weight)


def test_balanced_with_a_zero_weight_class_is_finite():
    X, y = standardised(load_iris)
    sample_weight = (y != 2).astype(float)
    model = SoftmaxRegression(class_weight="balanced").fit(X, y, sample_weight)
    assert np.all(np.isfinite(model.coef_))
    assert_array_equal(model.classes_, [0, 1, 2])


@pytest.mark.parametrize("bad", [np.inf, np.nan, -1.0, "heavy", None])
def test_bad_class_weight_values_name_the_class(bad):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match=r"class_weight for class 1 must be a finite"):
        SoftmaxRegression(class_weight={0: 1.0, 1: bad, 2: 1.0}).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_whose_sum_overflows_are_repetitions(dtype):
    # n weights of 1e307 sum beyond float64: the same model as 1e307 copies of
    # each sample, that is the unweighted fit with C 1e307 times larger. The
    # classes overlap, so that the (nearly unpenalised) optimum is finite.
    X, y = make_classification(
        n_samples=200, n_features=4, n_informative=3, n_redundant=0,
        n_classes=3, flip_y=0.2, random_state=0,
    )  # fmt: skip
    X = X.astype(dtype)
    params = TIGHT if dtype == np.float64 else {"tol": 1e-5}
    huge = SoftmaxRegression(**params).fit(X, y, sample_weight=np.full(y.size, 1e307))
    repeated = SoftmaxRegression(C=1e307, **params).fit(X, y)
    assert np.any(huge.coef_ != 0)
    assert_allclose(huge.coef_, repeated.coef_, rtol=1e-4, atol=1e-4)


def test_negative_sample_weight_is_rejected():
    X, y = standardised(load_iris)
    sample_weight = np.ones(y.size)
    sample_weight[0] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        SoftmaxRegression().fit(X, y, sample_weight=sample_weight)


def test_wrong_number_of_features_at_predict():
    X, y = standardised(load_iris)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        model.predict(X[:, :3])


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        SoftmaxRegression().predict(np.ones((2, 2)))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"C": -1.0}, "'C' parameter"),
        ({"C": 0.0}, "'C' parameter"),
        ({"solver": "sag"}, "'solver' parameter"),
        ({"max_iter": -1}, "'max_iter' parameter"),
        ({"tol": -1e-3}, "'tol' parameter"),
        ({"class_weight": "auto"}, "'class_weight' parameter"),
        ({"fit_intercept": "yes"}, "'fit_intercept' parameter"),
    ],
)
def test_bad_parameters(params, match):
    X, y = standardised(load_iris)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**params).fit(X, y)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.linspace(0, 1, 150), "Unknown label type"),
        # 2-D: read as class probabilities (issue 11), not summing to one.
        (np.ones((150, 2)), r"not a table of class probabilities: row 0 sums to 2\.0"),
        (np.arange(149), "inconsistent numbers of samples"),
    ],
)
def test_bad_targets(y, match):
    X, _ = standardised(load_iris)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X, y)
