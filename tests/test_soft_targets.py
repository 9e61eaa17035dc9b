"""Class-probability targets and label smoothing, against independent oracles.

- the loss and gradient against scipy.special and finite differences, and
  label smoothing against PyTorch's CrossEntropyLoss formula written out;
- a soft-target fit against the hard-label fit of the data repeated once per
  class with weights s_i q_ik (the same objective, term for term);
- counts against rows repeated as many times as counted;
- one-hot targets and label_smoothing=0 against today's fit, bit for bit.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from fresh_process import peak_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from optimum import assert_same_fit
from scipy.special import log_softmax as scipy_log_softmax
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.preprocessing import StandardScaler

from softmax_regression import (
    SoftmaxRegression,
    SoftmaxRegressionCV,
    cross_entropy,
    cross_entropy_grad,
)
from softmax_regression._backends.memory import in_memory_loss

TIGHT = {"solver": "newton-cg", "tol": 1e-10}


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    rng = np.random.default_rng(0)
    targets = rng.dirichlet(np.full(3, 0.7), size=X.shape[0])
    weight = rng.uniform(0.1, 2.0, size=X.shape[0])
    return X, y, targets, weight


def repeated(X, targets, weight):
    """Each row once per class, labelled with it, weighted s_i q_ik."""
    n_samples, n_classes = targets.shape
    sample_weight = targets * (1.0 if weight is None else weight[:, None])
    return (
        np.repeat(X, n_classes, axis=0),
        np.tile(np.arange(n_classes), n_samples),
        sample_weight.ravel(),
    )


def pytorch_cross_entropy(raw, y, label_smoothing, sample_weight=None):
    """PyTorch's CrossEntropyLoss(label_smoothing=eps) for class indices.

    From its documentation: the target is (1 - eps) one_hot(y) + eps / K, so
    each sample's loss is (1 - eps) * nll + eps * mean_k(-log p_k); a
    weighted mean over the samples.
    """
    log_p = scipy_log_softmax(raw, axis=1)
    nll = -log_p[np.arange(len(y)), y]
    smooth = -log_p.mean(axis=1)
    per_sample = (1 - label_smoothing) * nll + label_smoothing * smooth
    return np.average(per_sample, weights=sample_weight)


# -- the maths --------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    raw=arrays(
        np.float64,
        (5, 4),
        elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False),
    ),
    concentration=st.floats(0.05, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_soft_cross_entropy_is_minus_expected_log_probability(raw, concentration, seed):
    targets = np.random.default_rng(seed).dirichlet(np.full(4, concentration), 5)
    expected = -np.mean(np.sum(targets * scipy_log_softmax(raw, axis=1), axis=1))
    assert_allclose(cross_entropy(raw, targets), expected, rtol=1e-12, atol=1e-12)
    probabilities = np.exp(scipy_log_softmax(raw, axis=1))
    assert_allclose(
        cross_entropy_grad(raw, targets), (probabilities - targets) / 5, atol=1e-15
    )


@settings(max_examples=60, deadline=None)
@given(
    raw=arrays(
        np.float64,
        (6, 3),
        elements=st.floats(-20, 20, allow_nan=False, allow_infinity=False),
    ),
    labels=arrays(np.int64, 6, elements=st.integers(0, 2)),
    label_smoothing=st.floats(0.0, 0.99),
    weighted=st.booleans(),
)
def test_label_smoothing_is_pytorchs_formula(raw, labels, label_smoothing, weighted):
    weight = np.linspace(0.5, 2.0, 6) if weighted else None
    assert_allclose(
        cross_entropy(raw, labels, weight, label_smoothing=label_smoothing),
        pytorch_cross_entropy(raw, labels, label_smoothing, weight),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("soft", [False, True])
def test_gradient_matches_finite_differences(label_smoothing, soft):
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(4, 3))
    y = rng.dirichlet(np.ones(3), 4) if soft else np.array([0, 2, 1, 2])
    weight = rng.uniform(0.5, 2.0, 4)
    gradient = cross_entropy_grad(raw, y, weight, label_smoothing=label_smoothing)
    numerical = np.zeros_like(raw)
    step = 1e-6
    for index in np.ndindex(raw.shape):
        shifted = raw.copy()
        shifted[index] += step
        up = cross_entropy(shifted, y, weight, label_smoothing=label_smoothing)
        shifted[index] -= 2 * step
        down = cross_entropy(shifted, y, weight, label_smoothing=label_smoothing)
        numerical[index] = (up - down) / (2 * step)
    assert_allclose(gradient, numerical, rtol=1e-6, atol=1e-9)


def test_one_hot_and_hard_labels_give_the_same_loss():
    raw = np.random.default_rng(2).normal(size=(5, 3))
    y = np.array([0, 1, 2, 2, 0])
    one_hot = np.eye(3)[y]
    assert cross_entropy(raw, one_hot) == pytest.approx(cross_entropy(raw, y), 1e-15)
    assert_allclose(cross_entropy_grad(raw, one_hot), cross_entropy_grad(raw, y))
    single = cross_entropy([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])
    expected = -np.dot([0.2, 0.3, 0.5], scipy_log_softmax([0.0, 1.0, 2.0]))
    assert single == pytest.approx(expected, rel=1e-14)


def test_minus_infinity_with_zero_target_adds_nothing():
    raw = np.array([[0.0, -np.inf, 1.0]])
    targets = np.array([[0.5, 0.0, 0.5]])
    expected = -(0.5 * scipy_log_softmax([0.0, -np.inf, 1.0])[[0, 2]]).sum()
    assert cross_entropy(raw, targets) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        ([[0.5, 0.6]], "row 0 sums to 1.1"),
        ([[0.5, 0.5], [1.5, -0.5]], "row 1 has a negative entry"),
        ([[0.5, 0.5], [np.nan, 1.0]], "row 1 is not finite"),
        ([[0.2, 0.3, 0.5]], r"y has shape \(1, 3\)"),
    ],
)
def test_bad_probability_tables_name_the_row(y, match):
    raw = np.zeros((len(y), 2))
    with pytest.raises(ValueError, match=match):
        cross_entropy(raw, y)
    with pytest.raises(ValueError, match=match):
        cross_entropy_grad(raw, y)


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.0, "0.1", True, np.nan])
def test_label_smoothing_out_of_range(label_smoothing):
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy([0.0, 1.0], 1, label_smoothing=label_smoothing)


# -- the data term ------------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("layout", ["dense", "csr", "float32"])
def test_objective_gradient_and_hessian_with_soft_targets(
    problem, label_smoothing, layout
):
    X, _, targets, weight = problem
    X_layout = {
        "dense": X,
        "csr": sp.csr_matrix(np.where(np.abs(X) > 1, X, 0)),
        "float32": X.astype(np.float32),
    }[layout]
    X_dense = X_layout.toarray() if sp.issparse(X_layout) else X_layout
    rng = np.random.default_rng(3)
    with in_memory_loss(
        X_layout, targets, 3, weight, 0.1, True, label_smoothing=label_smoothing
    ) as loss:
        coef = rng.normal(size=loss.n_coef) * 0.3
        value, gradient = loss.loss_gradient(coef)
        weights, intercept = loss.unpack(coef)
        raw = X_dense.astype(np.float64) @ weights.T + intercept
        smoothed = (1 - label_smoothing) * targets + label_smoothing / 3
        expected = cross_entropy(raw, smoothed, weight) + 0.05 * np.sum(weights**2)
        rtol = 1e-5 if layout == "float32" else 1e-12
        assert value == pytest.approx(expected, rel=rtol)
        step = 1e-6
        numerical = np.array(
            [
                (
                    loss.loss_gradient(coef + step * unit)[0]
                    - loss.loss_gradient(coef - step * unit)[0]
                )
                / (2 * step)
                for unit in np.eye(loss.n_coef)
            ]
        )
        if layout != "float32":
            assert_allclose(gradient, numerical, rtol=1e-6, atol=1e-8)
            direction = rng.normal(size=loss.n_coef)
            finite = (
                loss.loss_gradient(coef + step * direction)[1]
                - loss.loss_gradient(coef - step * direction)[1]
            ) / (2 * step)
            assert_allclose(loss.hessp(coef, direction), finite, rtol=1e-5, atol=1e-7)


# -- fits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "newton-cg"},
        {"solver": "lbfgs", "tol": 1e-9},
        {"solver": "trust-ncg"},
        {"solver": "lbfgs", "l1_ratio": 0.5, "C": 0.5, "tol": 1e-9},
        {"fit_intercept": False},
    ],
    ids=str,
)
@pytest.mark.parametrize("weighted", [False, True])
def test_soft_fit_equals_repeated_hard_fit(problem, params, weighted):
    X, _, targets, weight = problem
    weight = weight if weighted else None
    settings_ = {**TIGHT, **params}
    with warnings.catch_warnings():
        # lbfgs at tol=1e-9 can stop where the float64 objective is flat, just
        # short of tol (a ConvergenceWarning): the comparison measures the
        # gradients it relies on itself.
        warnings.simplefilter("ignore", ConvergenceWarning)
        soft = SoftmaxRegression(**settings_).fit(X, targets, sample_weight=weight)
        hard = SoftmaxRegression(**settings_).fit(*repeated(X, targets, weight))
    # The same objective summed in another order: the same optimum as far as
    # the two stops imply (tests/optimum.py).
    assert_same_fit(soft, hard, X, targets, sample_weight=weight, needed=1e-3)
    assert_array_equal(soft.classes_, [0, 1, 2])


def test_soft_fit_with_class_weight_is_expected_class_weight(problem):
    """Rule: sample i weighs s_i * sum_k q_ik w_k, the target unchanged."""
    X, _, targets, weight = problem
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    soft = SoftmaxRegression(class_weight=class_weight, **TIGHT).fit(
        X, targets, sample_weight=weight
    )
    expected_weight = weight * (targets @ np.array([1.0, 3.0, 0.5]))
    plain = SoftmaxRegression(**TIGHT).fit(X, targets, sample_weight=expected_weight)
    assert_allclose(soft.coef_, plain.coef_, rtol=1e-12, atol=1e-12)
    # "balanced" counts class k as sum_i s_i q_ik.
    balanced = SoftmaxRegression(class_weight="balanced", **TIGHT).fit(
        X, targets, sample_weight=weight
    )
    counts = weight @ targets
    balanced_weight = counts.sum() / (3 * counts)
    reference = SoftmaxRegression(**TIGHT).fit(
        X, targets, sample_weight=weight * (targets @ balanced_weight)
    )
    assert_allclose(balanced.coef_, reference.coef_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "params",
    [{}, {"class_weight": "balanced"}, {"class_weight": {0: 2.0, 1: 1.0, 2: 0.5}}],
    ids=str,
)
@pytest.mark.parametrize("layout", ["dense", "csr", "float32"])
def test_one_hot_targets_give_todays_model_bit_for_bit(problem, params, layout):
    X, y, _, weight = problem
    X_layout = {
        "dense": X,
        "csr": sp.csr_matrix(np.where(np.abs(X) > 1, X, 0)),
        "float32": X.astype(np.float32),
    }[layout]
    hard = SoftmaxRegression(**params).fit(X_layout, y, sample_weight=weight)
    one_hot = SoftmaxRegression(**params).fit(
        X_layout, np.eye(3)[y], sample_weight=weight
    )
    assert_array_equal(one_hot.coef_, hard.coef_)
    assert_array_equal(one_hot.intercept_, hard.intercept_)


def test_zero_label_smoothing_is_todays_model_bit_for_bit(problem):
    X, y, _, weight = problem
    default = SoftmaxRegression().fit(X, y, sample_weight=weight)
    zero = SoftmaxRegression(label_smoothing=0.0).fit(X, y, sample_weight=weight)
    assert_array_equal(zero.coef_, default.coef_)
    assert_array_equal(zero.intercept_, default.intercept_)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.1, 0.6])
def test_label_smoothing_equals_smoothed_targets(problem, soft, label_smoothing):
    X, y, targets, weight = problem
    given_targets = targets if soft else np.eye(3)[y]
    smoothed = (1 - label_smoothing) * given_targets + label_smoothing / 3
    model = SoftmaxRegression(label_smoothing=label_smoothing, **TIGHT).fit(
        X, targets if soft else y, sample_weight=weight
    )
    reference = SoftmaxRegression(**TIGHT).fit(X, smoothed, sample_weight=weight)
    # Smoothing is applied inside the data term, the table here: two
    # arithmetics, compared as far as their stops imply (tests/optimum.py).
    assert_same_fit(reference, model, X, smoothed, sample_weight=weight, needed=1e-3)
    # Its objective is PyTorch's loss plus scikit-learn's penalty, and it is
    # the minimum: the gradient of that written-out objective vanishes.
    if not soft:
        raw = X @ model.coef_.T + model.intercept_
        penalty = 0.5 / weight.sum() * np.sum(model.coef_**2)
        with in_memory_loss(
            X, y, 3, weight, 1.0 / weight.sum(), True, label_smoothing=label_smoothing
        ) as loss:
            coef = np.r_[model.coef_.ravel(), model.intercept_]
            value, gradient = loss.loss_gradient(coef)
        assert value == pytest.approx(
            pytorch_cross_entropy(raw, y, label_smoothing, weight) + penalty, rel=1e-12
        )
        assert np.max(np.abs(gradient)) < 1e-8


def test_counts_are_targets_with_their_totals_as_weights(problem):
    """Counts n_ik: targets n_ik / n_i and weight n_i = rows repeated n_ik times."""
    X, _, _, _ = problem
    counts = np.random.default_rng(4).integers(0, 4, size=(X.shape[0], 3))
    counts[counts.sum(axis=1) == 0, 0] = 1
    totals = counts.sum(axis=1)
    model = SoftmaxRegression(**TIGHT).fit(
        X, counts / totals[:, None], sample_weight=totals
    )
    rows = np.repeat(np.arange(X.shape[0]), totals)
    labels = np.concatenate([np.repeat(np.arange(3), c) for c in counts])
    reference = SoftmaxRegression(**TIGHT).fit(X[rows], labels)
    assert_same_fit(reference, model, X[rows], labels, needed=1e-3)


def test_counts_passed_as_targets_say_what_to_do(problem):
    X, _, _, _ = problem
    counts = np.ones((X.shape[0], 3))
    with pytest.raises(ValueError, match=r"row 0 sums to 3\.0.*sample_weight=counts"):
        SoftmaxRegression().fit(X, counts)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("negative", "row 7 has a negative entry"),
        ("nan", "row 7 is not finite"),
        ("sum", "row 7 sums to"),
        ("strings", "not numeric"),
        ("labels", "row 0 sums to"),
    ],
)
def test_bad_targets_are_rejected_naming_the_row(problem, change, match):
    X, y, targets, _ = problem
    bad = targets.copy()
    if change == "negative":
        bad[7] = [1.2, -0.2, 0.0]
    elif change == "nan":
        bad[7, 1] = np.nan
    elif change == "sum":
        bad[7] *= 1.01
    elif change == "strings":
        bad = np.array([["a", "b"]] * X.shape[0])
    else:  # two columns of labels: a multi-output y, not probabilities
        bad = np.c_[y, y]
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X, bad)


def test_float32_targets_have_a_float32_tolerance(problem):
    X, _, targets, _ = problem
    rounded = targets.astype(np.float32)  # rows sum to 1 within ~1e-7
    assert np.abs(rounded.sum(axis=1, dtype=np.float64) - 1).max() > 1e-8
    SoftmaxRegression().fit(X, rounded)
    with pytest.raises(ValueError, match=r"within 1\.5e-08 for float64"):
        SoftmaxRegression().fit(X, np.round(targets, 3))


def test_single_column_is_still_a_label_column(problem):
    X, y, _, _ = problem
    with pytest.warns(DataConversionWarning):
        model = SoftmaxRegression().fit(X, y[:, None])
    assert_array_equal(model.classes_, [0, 1, 2])


def test_dataframe_columns_are_the_classes(problem):
    pd = pytest.importorskip("pandas")
    X, _, targets, _ = problem
    frame = pd.DataFrame(targets, columns=["cat", "dog", "eel"])
    model = SoftmaxRegression(**TIGHT).fit(X, frame)
    assert_array_equal(model.classes_, ["cat", "dog", "eel"])
    indices = SoftmaxRegression(**TIGHT).fit(X, targets)
    assert_array_equal(model.coef_, indices.coef_)
    assert set(model.predict(X)) <= {"cat", "dog", "eel"}


def test_score_is_the_expected_accuracy(problem):
    X, y, targets, weight = problem
    model = SoftmaxRegression().fit(X, targets)
    predicted = np.argmax(model.predict_proba(X), axis=1)
    expected = np.average(targets[np.arange(len(y)), predicted], weights=weight)
    assert model.score(X, targets, sample_weight=weight) == pytest.approx(expected)
    assert model.score(X, np.eye(3)[y]) == pytest.approx(model.score(X, y))


def test_warm_start_with_soft_targets(problem):
    X, _, targets, _ = problem
    model = SoftmaxRegression(warm_start=True, **TIGHT).fit(X, targets)
    first = model.n_iter_[0]
    model.fit(X, targets)
    assert model.n_iter_[0] < first


def test_cv_scores_soft_targets_by_their_cross_entropy(problem):
    X, _, targets, weight = problem
    model = SoftmaxRegressionCV(Cs=[0.01, 1.0, 100.0], cv=3).fit(X, targets)
    expected = -cross_entropy(model.decision_function(X), targets)
    assert model.score(X, targets) == pytest.approx(expected, rel=1e-12)
    assert np.all(model.scores_ < 0)
    assert model.C_ in (0.01, 1.0, 100.0)
    smoothing = SoftmaxRegressionCV(Cs=[1.0], cv=3, label_smoothing=0.2, **TIGHT).fit(
        X, targets, sample_weight=weight
    )
    reference = SoftmaxRegression(C=1.0, label_smoothing=0.2, **TIGHT)
    reference.fit(X, targets, sample_weight=weight)
    # The refit starts from the folds' mean, the reference from the priors.
    assert_same_fit(reference, smoothing, X, targets, sample_weight=weight, needed=1e-3)


def test_label_smoothing_is_validated(problem):
    X, y, _, _ = problem
    for value in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            SoftmaxRegression(label_smoothing=value).fit(X, y)


def test_smoothing_and_soft_targets_allocate_nothing_of_n_by_k():
    """Beyond the user's own table: only per-block temporaries."""
    peaks, _ = peak_bytes(
        """
        import numpy as np
        from sklearn.datasets import make_classification
        from softmax_regression import SoftmaxRegression

        X, y = make_classification(n_samples=40_000, n_features=20,
                                   n_informative=10, n_classes=8, random_state=0)
        targets = np.random.default_rng(5).dirichlet(np.ones(8), size=X.shape[0])
        model = SoftmaxRegression(max_iter=5, tol=1e-12)
        smoothed = SoftmaxRegression(max_iter=5, tol=1e-12, label_smoothing=0.1)
        calls = {
            "hard": lambda: model.fit(X, y),
            "smoothed": lambda: smoothed.fit(X, y),
            "soft": lambda: model.fit(X, targets),
        }
        """
    )
    table_bytes = 40_000 * 8 * 8  # the n x K float64 targets: 2.56 MB
    assert peaks["smoothed"] - peaks["hard"] < table_bytes / 4, peaks
    assert peaks["soft"] - peaks["hard"] < table_bytes / 2, peaks


def test_iris_soft_labels_from_a_model_distil_it():
    """Targets from a model's predict_proba: the student recovers it."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    teacher = SoftmaxRegression(C=0.5).fit(X, y)
    student = SoftmaxRegression(C=0.5, **TIGHT).fit(X, teacher.predict_proba(X))
    # The teacher's probabilities are the student's optimum only up to the
    # penalty; the predictions agree.
    assert (student.predict(X) == teacher.predict(X)).mean() > 0.97
