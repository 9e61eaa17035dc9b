"""Inference against Stata's published anes96 results, statsmodels' MNLogit,
finite differences and the repeated-row identity of frequency weights."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from softmax_regression import SeparationWarning, SoftmaxRegression

sm = pytest.importorskip("statsmodels.api")
results_discrete = pytest.importorskip(
    "statsmodels.discrete.tests.results.results_discrete"
)

UNPENALISED = {"C": np.inf, "solver": "newton-cg", "tol": 1e-12, "max_iter": 1000}
# tol=1e-12 is below what some of these objectives resolve: the fits stop,
# converged, with a ConvergenceWarning saying so.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*no longer decreases:sklearn.exceptions.ConvergenceWarning"
)


@pytest.fixture(scope="module")
def anes():
    data = sm.datasets.anes96.load()
    X, y = np.asarray(data.exog, dtype=float), np.asarray(data.endog)
    model = SoftmaxRegression(**UNPENALISED).fit(X, y)
    return X, y, model


def statsmodels_fit(X, y, **fit):
    exog = sm.add_constant(X, prepend=False)
    return sm.MNLogit(y, exog).fit(method="newton", disp=0, tol=1e-12, **fit)


def test_anes96_equals_statas_published_results(anes):
    X, y, model = anes
    stata = results_discrete.Anes.mnlogit_basezero
    result = model.inference(X, y)
    # Stata's table, one column per non-reference class: ours is its transpose.
    assert_allclose(result.params, stata.params.T, rtol=1e-6)
    assert_allclose(result.bse, stata.bse.T, rtol=1e-6)
    for name in ("llf", "llnull", "llr", "prsquared", "df_model", "df_resid"):
        assert getattr(result, name) == pytest.approx(getattr(stata, name), rel=1e-6)
    assert result.llr_pvalue == pytest.approx(stata.llr_pvalue, rel=1e-6)
    assert result.nobs == stata.nobs


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_anes96_equals_statsmodels(anes, cov_type):
    X, y, model = anes
    groups = np.arange(y.size) % 37
    kwds = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    reference = statsmodels_fit(X, y, cov_type=cov_type, **kwds)
    result = model.inference(
        X, y, cov_type=cov_type, groups=groups if cov_type == "cluster" else None
    )
    # statsmodels orders the parameters by feature, then class (params is
    # (n_exog, n_classes - 1)); ours by class, then feature.
    # Its cov_params runs over params.ravel(order="F"): class by class, as ours.
    assert_allclose(result.params, reference.params.T, rtol=1e-8)
    assert_allclose(result.bse, reference.bse.T, rtol=1e-8)
    assert_allclose(result.zvalues, reference.tvalues.T, rtol=1e-7)
    assert_allclose(result.pvalues, reference.pvalues.T, rtol=1e-6, atol=1e-300)
    assert_allclose(
        result.cov_params,
        np.asarray(reference.cov_params()),
        rtol=1e-7,
        atol=1e-14,
    )
    lower, upper = result.conf_int()
    interval = np.asarray(reference.conf_int())
    # statsmodels: (class, feature, [lower, upper]).
    assert_allclose(lower, interval[..., 0], rtol=1e-7)
    assert_allclose(upper, interval[..., 1], rtol=1e-7)
    assert result.aic == pytest.approx(reference.aic, rel=1e-10)
    assert result.bic == pytest.approx(reference.bic, rel=1e-10)


def test_reference_class_is_statsmodels_base_after_relabelling(anes):
    X, y, model = anes
    result = model.inference(X, y, reference_class=3.0)
    # statsmodels takes the smallest label as base: make 3 the smallest.
    relabelled = np.where(y == 3.0, -1.0, y)
    reference = statsmodels_fit(X, relabelled)
    assert_allclose(result.params, reference.params.T, rtol=1e-7)
    assert_allclose(result.bse, reference.bse.T, rtol=1e-7)
    assert result.reference_class == 3.0
    assert 3.0 not in [row[0] for row in result._rows()]


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_weight_two_equals_a_repeated_row(cov_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(120, 3)), axis=1)
    weight = rng.integers(1, 4, size=120).astype(float)
    groups = np.arange(120) % 10
    repeated = np.repeat(np.arange(120), weight.astype(int))
    weighted = SoftmaxRegression(**UNPENALISED).fit(X, y, sample_weight=weight)
    expanded = SoftmaxRegression(**UNPENALISED).fit(X[repeated], y[repeated])
    a = weighted.inference(X, y, sample_weight=weight, cov_type=cov_type, groups=groups)
    b = expanded.inference(
        X[repeated], y[repeated], cov_type=cov_type, groups=groups[repeated]
    )
    assert_allclose(a.params, b.params, rtol=1e-8)
    assert_allclose(a.bse, b.bse, rtol=1e-8)
    assert a.nobs == b.nobs == weight.sum()
    assert a.llf == pytest.approx(b.llf, rel=1e-12)


def test_sparse_x_gives_the_dense_result(anes):
    X, y, model = anes
    dense = model.inference(X, y, cov_type="HC0")
    sparse = model.inference(sp.csr_matrix(X), y, cov_type="HC0")
    assert_allclose(sparse.cov_params, dense.cov_params, rtol=1e-9, atol=1e-15)
    sparse_csc = model.inference(sp.csc_matrix(X), y, cov_type="cluster", groups=y)
    dense_cluster = model.inference(X, y, cov_type="cluster", groups=y)
    assert_allclose(sparse_csc.bse, dense_cluster.bse, rtol=1e-10)


def penalised_objective(beta, X, y, C, n_classes, reference):
    """The fit's objective times the weight sum, in the contrasts beta.

    NLL(W, b) + ||W||^2 / (2 C) with W the centred weights M beta (the
    penalised minimiser has sum_k w_k = 0) and b the intercept contrasts.
    """
    d = X.shape[1]
    beta = beta.reshape(n_classes - 1, d + 1)
    full = np.insert(beta, reference, 0.0, axis=0)
    weights, intercept = full[:, :d], full[:, d]
    weights = weights - weights.mean(axis=0)
    scores = X @ weights.T + intercept
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(y.size), y].sum()
    return nll, nll + np.sum(weights**2) / (2 * C)


def finite_difference_hessian(function, x, step=1e-4):
    size = x.size
    hessian = np.empty((size, size))
    for i in range(size):
        for j in range(i, size):
            e_i, e_j = np.eye(size)[i] * step, np.eye(size)[j] * step
            value = (
                function(x + e_i + e_j)
                - function(x + e_i - e_j)
                - function(x - e_i + e_j)
                + function(x - e_i - e_j)
            ) / (4 * step**2)
            hessian[i, j] = hessian[j, i] = value
    return hessian


@pytest.mark.parametrize("reference", [0, 2])
def test_penalised_sandwich_against_finite_differences(reference):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(150, 3)), axis=1)
    C = 0.05
    model = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-12).fit(X, y)
    result = model.inference(X, y, reference_class=reference)
    beta = result.params.ravel()
    h_nll = finite_difference_hessian(
        lambda b: penalised_objective(b, X, y, C, 3, reference)[0], beta
    )
    h_pen = finite_difference_hessian(
        lambda b: penalised_objective(b, X, y, C, 3, reference)[1], beta
    )
    inverse = np.linalg.inv(h_pen)
    expected = inverse @ h_nll @ inverse
    # The difference quotients carry rounding noise of about ulp(f) / (4
    # step**2) ~ 1e-6 on entries of order 10 (f ~ 140): entries of the
    # covariance far below its largest are checked to that absolute level.
    atol = 1e-6 * np.abs(expected).max()
    assert_allclose(result.cov_params, expected, rtol=1e-5, atol=atol)
    # The estimate is the minimum of that objective: its gradient vanishes.
    step = 1e-6
    gradient = [
        (
            penalised_objective(beta + step * e, X, y, C, 3, reference)[1]
            - penalised_objective(beta - step * e, X, y, C, 3, reference)[1]
        )
        / (2 * step)
        for e in np.eye(beta.size)
    ]
    assert np.max(np.abs(gradient)) < 1e-5
    assert result.penalised
    assert "classical z-tests" in result.summary()


def test_unpenalised_cov_is_the_inverse_finite_difference_hessian():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    y = np.argmax(X @ rng.normal(size=(2, 3)) + rng.gumbel(size=(200, 3)), axis=1)
    model = SoftmaxRegression(**UNPENALISED).fit(X, y)
    result = model.inference(X, y)

    def nll(beta):
        d = X.shape[1]
        full = np.insert(beta.reshape(2, d + 1), 0, 0.0, axis=0)
        scores = X @ full[:, :d].T + full[:, d]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_p[np.arange(y.size), y].sum()

    hessian = finite_difference_hessian(nll, result.params.ravel())
    assert_allclose(result.cov_params, np.linalg.inv(hessian), rtol=1e-5)


def test_separation_is_named_not_nan():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    y = rng.integers(0, 2, size=150)  # classes 0 and 1: noise
    y[X[:, 1] > 0.5] = 2  # feature x1 separates class 2 from the others
    with warnings.catch_warnings():
        # Separated classes: the unpenalised fit cannot converge (its
        # coefficients grow without bound), and that is what is tested.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(C=np.inf, max_iter=300).fit(X, y)
    with pytest.warns(SeparationWarning, match=r"class 2: .*x1"):
        result = model.inference(X, y)
    assert not np.isnan(result.bse).any()
    assert np.isinf(result.bse[1, 1])  # class 2, feature x1
    assert np.isfinite(result.bse[0]).all()  # class 1 against 0 is determined
    assert "separation" in result.summary()


def test_complete_separation_leaves_nothing_determined():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 3))
    y = np.zeros(90, dtype=int)
    y[X[:, 1] > 0.5] = 2
    y[(X[:, 1] <= 0.5) & (X[:, 0] > 0)] = 1  # every class a function of X
    with warnings.catch_warnings():
        # Completely separated: the unpenalised fit cannot converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(C=np.inf, max_iter=300).fit(X, y)
    with pytest.warns(SeparationWarning, match=r"class 1: .*class 2: .*% of the"):
        result = model.inference(X, y)
    assert not np.isnan(result.bse).any()
    assert np.isinf(result.bse).any()
    # A penalty identifies everything: no warning, finite errors.
    penalised = SoftmaxRegression(C=1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        assert np.isfinite(penalised.inference(X, y).bse).all()


def test_to_frame_and_summary(anes):
    pd = pytest.importorskip("pandas")
    X, y, model = anes
    result = model.inference(X, y, alpha=0.1)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "class",
        "feature",
        "coef",
        "std err",
        "z",
        "P>|z|",
        "[0.05",
        "0.95]",
    ]
    assert len(frame) == result.params.size
    assert_allclose(frame["coef"], result.params.ravel())
    text = result.summary()
    for label in (1.0, 2.0, 6.0):
        assert f"y={label}" in text
    assert "Pseudo R-squ." in text and "LLR p-value" in text
    assert "classical" not in text  # unpenalised


def test_feature_names_from_a_dataframe():
    pytest.importorskip("pandas")
    data = sm.datasets.anes96.load_pandas()
    X, y = data.exog, data.endog
    model = SoftmaxRegression(**UNPENALISED).fit(X, y)
    frame = model.inference(X, y).to_frame()
    assert list(frame["feature"][:6]) == [*X.columns, "intercept"]


def test_without_intercept_equals_statsmodels_without_constant(anes):
    X, y, _ = anes
    model = SoftmaxRegression(fit_intercept=False, **UNPENALISED).fit(X, y)
    result = model.inference(X, y)
    reference = sm.MNLogit(y, X).fit(method="newton", disp=0, tol=1e-12)
    assert_allclose(result.params, reference.params.T, rtol=1e-7)
    assert_allclose(result.bse, reference.bse.T, rtol=1e-7)


def test_size_bound_says_how_large(anes):
    X, y, model = anes
    with pytest.raises(ValueError, match=r"36 parameters .* GiB"):
        model.inference(X, y, max_bytes=1000)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("l1", "l1_ratio"),
        ("smoothing", "label_smoothing"),
        ("soft", "class labels"),
        ("unknown", "not fitted on"),
        ("cov", "cov_type"),
        ("cluster", "groups"),
        ("reference", "reference_class"),
        ("alpha", "alpha"),
    ],
)
def test_errors(anes, change, match):
    X, y, model = anes
    kwargs = {}
    if change == "l1":
        # Any L1 fit is refused; a few iterations make one (unscaled anes96
        # needs thousands to converge).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SoftmaxRegression(l1_ratio=0.5, solver="lbfgs", max_iter=5)
            model.fit(X, y)
    elif change == "smoothing":
        model = SoftmaxRegression(label_smoothing=0.1).fit(X, y)
    elif change == "soft":
        y = np.full((y.size, 7), 1 / 7)
    elif change == "unknown":
        y = y + 0.5
    elif change == "cov":
        kwargs["cov_type"] = "HC3"
    elif change == "cluster":
        kwargs["cov_type"] = "cluster"
    elif change == "reference":
        kwargs["reference_class"] = 42
    else:
        kwargs["alpha"] = 1.5
    with pytest.raises(ValueError, match=match):
        model.inference(X, y, **kwargs)


def test_inputs_unchanged_and_fit_unchanged(anes):
    X, y, model = anes
    X_copy, y_copy, coef = X.copy(), y.copy(), model.coef_.copy()
    model.inference(X, y, cov_type="HC0")
    assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)
    assert_array_equal(model.coef_, coef)


def test_device_arrays_are_brought_to_the_host(anes):
    xp = pytest.importorskip("array_api_strict")
    import sklearn

    X, y, model = anes
    expected = model.inference(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        device_model = SoftmaxRegression(**UNPENALISED).fit(
            xp.asarray(X), xp.asarray(y)
        )
        result = device_model.inference(xp.asarray(X), xp.asarray(y))
    assert_allclose(result.bse, expected.bse, rtol=1e-6)


def test_dask_input_is_refused(anes):
    da = pytest.importorskip("dask.array")
    X, y, model = anes
    with pytest.raises(TypeError, match="compute"):
        model.inference(da.from_array(X), y)


def test_cv_infers_at_its_chosen_c(anes):
    from softmax_regression import SoftmaxRegressionCV

    X, y, _ = anes
    cv = SoftmaxRegressionCV(Cs=[0.1, 10.0], cv=3, solver="newton-cg", tol=1e-10)
    cv.fit(X, y)
    single = SoftmaxRegression(C=cv.C_, solver="newton-cg", tol=1e-10).fit(X, y)
    assert_allclose(cv.inference(X, y).bse, single.inference(X, y).bse, rtol=1e-5)
    averaged = SoftmaxRegressionCV(Cs=[1.0], cv=3, refit=False, solver="newton-cg")
    averaged.fit(X, y)
    with pytest.raises(ValueError, match="refit"):
        averaged.inference(X, y)


def test_string_labels_and_reference(anes):
    X, y, _ = anes
    labels = np.array(list("abcdefg"))[y.astype(int)]
    model = SoftmaxRegression(**UNPENALISED).fit(X, labels)
    result = model.inference(X, labels, reference_class="d")
    numeric = (
        SoftmaxRegression(**UNPENALISED).fit(X, y).inference(X, y, reference_class=3.0)
    )
    assert_allclose(result.params, numeric.params, rtol=1e-7)
    assert "y=a" in result.summary() and "y=d" not in result.summary()
