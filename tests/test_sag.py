"""solver="saga": the compiled SAGA phase (_sag_kernels) and its driver (_sag)."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from optimum import assert_same_fit, flat_coef, objective_for
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import InMemoryData
from softmax_regression._fit import resolve_solver

pytest.importorskip("numba")


def _sparse_problem(n_samples=300, n_features=40, n_classes=4, seed=0):
    """CSR rows with a few entries each, rare and common columns, planted labels."""
    rng = np.random.default_rng(seed)
    X = sp.random(n_samples, n_features, density=0.15, format="csr", random_state=seed)
    X.data = rng.uniform(0.2, 1.5, size=X.nnz)
    scores = X @ rng.normal(size=(n_features, n_classes)) * 2
    y = (scores + rng.gumbel(size=scores.shape)).argmax(axis=1)
    return X, y


def _eager_saga(X, targets, weights, intercept, order, step, l2, relative_weight):
    """SAGA updating every feature at every step: what the lazy kernel equals."""
    X = X.toarray()
    n_samples = X.shape[0]
    n_classes = weights.shape[1]
    onehot = np.eye(n_classes)[targets]
    table = relative_weight[:, None] * (
        softmax(X @ weights + intercept, axis=1) - onehot
    )
    gradient_sum, intercept_sum = X.T @ table, table.sum(axis=0)
    decay = 1.0 - step * l2
    for i in order:
        row = X[i]
        p = softmax(row @ weights + intercept)
        change = relative_weight[i] * (p - onehot[i]) - table[i]
        table[i] += change
        weights = decay[:, None] * weights - step * (
            gradient_sum / n_samples + np.outer(row, change)
        )
        gradient_sum += np.outer(row, change)
        intercept = intercept - step * (intercept_sum / n_samples + change)
        intercept_sum += change
    return weights, intercept


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(2, 30),
    n_features=st.integers(1, 12),
    n_classes=st.integers(2, 5),
    density=st.floats(0.05, 1.0),
    factors=st.booleans(),
    step=st.floats(0.01, 0.5),
)
def test_lazy_updates_equal_eager_updates(
    seed, n_samples, n_features, n_classes, density, factors, step
):
    """The catch-up's closed form is the skipped steps, to rounding.

    With one L2 strength the skipped steps' powers are looked up in tables
    (as the driver builds them); with penalty factors they are computed.
    The dense kernel takes every step eagerly: it equals them too.
    """
    from softmax_regression import _sag_kernels as kernels

    rng = np.random.default_rng(seed)
    X = sp.random(
        n_samples, n_features, density=density, format="csr", random_state=rng
    )
    X.data = rng.uniform(-1.5, 1.5, size=X.nnz)
    y = rng.integers(0, n_classes, size=n_samples)
    weights0 = rng.normal(size=(n_features, n_classes)) * 0.3
    intercept0 = rng.normal(size=n_classes) * 0.3
    relative_weight = rng.uniform(0.0, 2.0, size=n_samples)
    relative_weight *= n_samples / max(relative_weight.sum(), 1e-300)
    l2 = (
        rng.uniform(0.01, 0.5, size=n_features) if factors else np.full(n_features, 0.1)
    )
    order = rng.integers(0, n_samples, 3 * n_samples)
    expected = _eager_saga(X, y, weights0, intercept0, order, step, l2, relative_weight)

    rows = (
        y.astype(np.int64), np.zeros((1, 1)), False, 0.0, np.zeros((1, 1)),
        False, relative_weight,
    )  # fmt: skip
    log_decay = np.log1p(-step * l2)
    powers = geometric_sums = np.empty(0)
    if not factors:
        skipped = np.arange(order.size + 1)
        powers = np.exp(skipped * log_decay[0])
        geometric_sums = -np.expm1(skipped * log_decay[0]) / (step * l2[0])
    for sparse in (True, False):
        weights, intercept = weights0.copy(), intercept0.copy()
        table = np.empty((n_samples, n_classes))
        gradient_sum = np.empty((n_features, n_classes))
        intercept_sum = np.empty(n_classes)
        if sparse:
            kernels.sparse_tables(
                X.data, X.indices, X.indptr, weights, intercept, table,
                gradient_sum, intercept_sum, *rows,
            )  # fmt: skip
            kernels.sparse_epochs(
                X.data, X.indices, X.indptr, order, weights, intercept, table,
                gradient_sum, intercept_sum, np.zeros(n_features, np.int64), 0,
                *rows, log_decay, 1.0 / (step * l2), powers, geometric_sums,
                1.0 - step * l2, step, step,
            )  # fmt: skip
        else:
            dense = X.toarray()
            kernels.dense_tables(
                dense, weights, intercept, table, gradient_sum, intercept_sum, *rows
            )
            kernels.dense_epochs(
                dense, order, weights, intercept, table, gradient_sum,
                intercept_sum, *rows, 1.0 - step * l2, step, step,
            )  # fmt: skip
        # Equal up to rounding: the closed form sums the skipped steps'
        # geometric series in another order.
        np.testing.assert_allclose(weights, expected[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(intercept, expected[1], rtol=1e-9, atol=1e-12)


def _problem(kind):
    X, y = _sparse_problem()
    rng = np.random.default_rng(2)
    fit = {}
    params = {}
    if kind == "dense":
        X = X.toarray()
    elif kind == "float32":
        X = X.astype(np.float32)
    elif kind == "sample_weight":
        fit["sample_weight"] = rng.uniform(0, 3, size=X.shape[0])
    elif kind == "class_weight":
        params["class_weight"] = "balanced"
    elif kind == "soft_targets":
        y = softmax(rng.normal(size=(X.shape[0], 4)) * 2, axis=1)
        params["label_smoothing"] = 0.1
    elif kind == "offset":
        fit["offset"] = rng.normal(size=(X.shape[0], 4))
    elif kind == "penalty_factor":
        params["penalty_factor"] = rng.uniform(0.2, 3.0, size=X.shape[1])
    elif kind == "no_intercept":
        params["fit_intercept"] = False
    return X, y, params, fit


KINDS = [
    "plain",
    "dense",
    "float32",
    "sample_weight",
    "class_weight",
    "soft_targets",
    "offset",
    "penalty_factor",
    "no_intercept",
]


@pytest.mark.parametrize("kind", KINDS)
def test_saga_reaches_the_newton_optimum(kind):
    X, y, params, fit = _problem(kind)
    saga = SoftmaxRegression(C=10.0, solver="saga", random_state=0, **params)
    newton = SoftmaxRegression(C=10.0, solver="newton-cg", **params)
    saga.fit(X, y, **fit)
    newton.fit(X, y, **fit)
    # float32 data too: the epochs' certificate is computed in float64 (the
    # float32 newton-cg fit's own objective is resolved to about 1e-7).
    assert_same_fit(saga, newton, X, y, relative_gap=1e-6, **fit)


def test_saga_with_a_gradient_tol_meets_it():
    X, y = _sparse_problem()
    saga = SoftmaxRegression(C=10.0, solver="saga", tol=1e-9, random_state=0)
    newton = SoftmaxRegression(C=10.0, solver="newton-cg", tol=1e-9)
    saga.fit(X, y)
    newton.fit(X, y)
    assert_same_fit(saga, newton, X, y, needed=3e-4)


def test_same_seed_same_model_other_seed_same_optimum():
    X, y = _sparse_problem()
    fits = [
        SoftmaxRegression(C=10.0, solver="saga", random_state=seed).fit(X, y)
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(flat_coef(fits[0]), flat_coef(fits[1]))
    assert fits[0].n_iter_[0] == fits[1].n_iter_[0]
    assert not np.array_equal(flat_coef(fits[0]), flat_coef(fits[2]))
    assert_same_fit(fits[0], fits[2], X, y, relative_gap=1e-6)


def test_seeds_leave_global_random_state_alone():
    X, y = _sparse_problem()
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state)
    SoftmaxRegression(solver="saga").fit(X, y)
    SoftmaxRegression(solver="saga", random_state=3).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    state = np.random.RandomState(5)
    first = SoftmaxRegression(solver="saga", random_state=state).fit(X, y)
    again = SoftmaxRegression(solver="saga", random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(flat_coef(first), flat_coef(again.fit(X, y)))


def test_kernels_read_x_in_place_and_inputs_stay(monkeypatch):
    from softmax_regression import _sag_kernels as kernels

    X, y = _sparse_problem()
    weight = np.linspace(0.5, 2, X.shape[0])
    copies = X.copy(), y.copy(), weight.copy()
    seen = []
    epochs = kernels.sparse_epochs

    def spy(data, indices, indptr, *args):
        seen.append(data is X.data and indices is X.indices and indptr is X.indptr)
        return epochs(data, indices, indptr, *args)

    monkeypatch.setattr(kernels, "sparse_epochs", spy)
    SoftmaxRegression(solver="saga", random_state=0).fit(X, y, sample_weight=weight)
    assert seen and all(seen)
    for original, copy in zip((X, y, weight), copies, strict=True):
        if sp.issparse(original):
            assert (original != copy).nnz == 0
        else:
            np.testing.assert_array_equal(original, copy)


def test_epochs_count_as_iterations_and_max_iter_warns():
    X, y = _sparse_problem()
    with pytest.warns(Warning, match="saga"):
        model = SoftmaxRegression(C=1e4, solver="saga", max_iter=2, random_state=0).fit(
            X, y
        )
    assert model.n_iter_[0] == 2


def test_verbose_prints_a_line_per_epoch(capsys):
    X, y = _sparse_problem()
    model = SoftmaxRegression(solver="saga", verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "[saga] epoch" in out
    epochs = [
        line
        for line in out.splitlines()
        if re.match(r"\[saga\] +\d+ ", line) and "epochs (step" not in line
    ]
    assert len(epochs) == model.n_iter_[0]
    assert "duality gap certifies" in out


def test_saga_refuses_l1_and_bounds():
    X, y = _sparse_problem()
    with pytest.raises(ValueError, match="saga"):
        SoftmaxRegression(solver="saga", l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="saga"):
        SoftmaxRegression(solver="saga", lower_bounds=0.0).fit(X, y)


def test_csc_and_fortran_data_are_solved_without_the_phase(capsys):
    X, y = _sparse_problem()
    reference = SoftmaxRegression(solver="saga", random_state=0).fit(X, y)
    for other in (X.tocsc(), np.asfortranarray(X.toarray())):
        model = SoftmaxRegression(solver="saga", verbose=1).fit(other, y)
        assert "no stochastic phase" in capsys.readouterr().out
        assert_same_fit(model, reference, X, y, relative_gap=1e-6)


class _Data:
    """What resolve_solver reads of a fit's data."""

    def __init__(self, X, n_classes, entries):
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.n_classes = n_classes
        self._entries = entries

    def entries(self):
        return self._entries

    sample_rows = InMemoryData.sample_rows


@pytest.mark.parametrize(
    ("X", "entries", "penalised", "expected"),
    [
        (sp.random(100, 10, format="csr"), 10**7, True, "saga"),
        (sp.random(100, 10, format="csr"), 10**5, True, "newton-cg"),
        (sp.random(100, 10, format="csr"), 10**7, False, "newton-cg"),
        (sp.random(100, 10, format="csc"), 10**7, True, "newton-cg"),
        (sp.random(100, 10, format="csr", dtype=np.float32), 10**7, True, "saga"),
        (np.zeros((100, 10)), 10**7, True, "newton-cg"),
    ],
)
def test_auto_takes_saga_on_large_sparse_penalised_data(
    X, entries, penalised, expected
):
    data = _Data(X, n_classes=5, entries=entries)
    assert resolve_solver("auto", data, 0.0, penalised=penalised) == expected


def test_import_and_other_solvers_never_load_numba():
    code = (
        "import sys; from sklearn.datasets import load_iris; "
        "from softmax_regression import SoftmaxRegression; "
        "X, y = load_iris(return_X_y=True); SoftmaxRegression().fit(X, y); "
        "print('numba' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


@pytest.mark.parametrize("kind", ["plain", "sample_weight", "soft_targets", "offset"])
def test_the_tables_dual_point_bounds_the_gap(kind):
    """The gap to the table's probabilities is an upper bound on f - f*.

    After 1, 2 and 4 epochs (far from, and nearer to, the optimum).
    """
    from softmax_regression._coef import initial_coef
    from softmax_regression._duality import DualityGap
    from softmax_regression._sag import stochastic_phase

    X, y, params, fit = _problem(kind)
    weight, offset = fit.get("sample_weight"), fit.get("offset")
    smoothing = params.get("label_smoothing", 0.0)
    optimum = SoftmaxRegression(C=10.0, solver="newton-cg", tol=1e-10, **params)
    optimum.fit(X, y, **fit)
    reference = objective_for(
        X, y, 4, C=10.0, sample_weight=weight, offset=offset,
        label_smoothing=smoothing,
    )  # fmt: skip
    f_star = reference.loss(flat_coef(optimum))
    data = InMemoryData(X, y, 4, weight, smoothing, offset)
    strength = 1.0 / (10.0 * (X.shape[0] if weight is None else weight.sum()))
    for epochs in (1, 2, 4):
        with data.objective(strength, True, None) as loss:
            result = stochastic_phase(
                data, loss, initial_coef(data.class_priors(), X.shape[1], True),
                duality=DualityGap(loss, data.class_priors()), tol=None,
                max_epochs=epochs, random_state=0,
            )  # fmt: skip
        value = reference.loss(result.coef)
        relative = result.certified_gap
        assert np.isfinite(relative)
        gap = relative * value / (1.0 + relative)
        assert value - f_star <= gap * (1 + 1e-9) + 1e-14, (epochs, value - f_star, gap)


@pytest.mark.parametrize(
    "params",
    [{"C": 1e12}, {"C": 1e-8}, {"C": np.inf}, {"max_iter": 0}, {"tol": 1e-3}],
)
def test_extreme_settings_fit(params):
    """Gaps from 1e300 down to underflow, no penalty, no iteration: finite fits."""
    X, y = _sparse_problem(n_samples=50, n_features=10, n_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(solver="saga", random_state=0, **params).fit(X, y)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))


def test_extreme_data_fit():
    """All-zero rows, squares beyond float64, weights mostly zero."""
    X, y = _sparse_problem(n_samples=50, n_features=10, n_classes=3)
    huge = X.copy()
    huge.data *= 1e200
    weight = np.zeros(50)
    weight[:6] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for data, fit, intercept in [
            (sp.csr_matrix(X.shape), {}, True),
            (sp.csr_matrix(X.shape), {}, False),
            (huge, {}, True),
            (X, {"sample_weight": weight}, True),
        ]:
            model = SoftmaxRegression(
                solver="saga", fit_intercept=intercept, random_state=0
            ).fit(data, y, **fit)
            assert np.all(np.isfinite(model.coef_))


def test_float32_data_is_certified_in_float64(capsys):
    """The phase's objective and gap are float64 sums: float32 X meets 1e-6."""
    X, y = _sparse_problem()
    X32 = X.astype(np.float32)
    model = SoftmaxRegression(C=10.0, solver="saga", verbose=1, random_state=0)
    model.fit(X32, y)
    assert "duality gap certifies" in capsys.readouterr().out
    assert model.coef_.dtype == np.float32
    optimum = SoftmaxRegression(C=10.0, solver="newton-cg", tol=1e-10)
    optimum.fit(X32.astype(np.float64), y)
    loss = objective_for(X32, y, 4, C=10.0)
    f_star = loss.loss(flat_coef(optimum))
    # coef_ rounded to float32 moves the objective by ~1e-8 relative.
    assert loss.loss(flat_coef(model)) - f_star <= 1e-6 * f_star


def test_the_hand_over_is_to_a_scipy_solver_when_auto_means_saga(monkeypatch):
    """Where "auto" is saga and the epochs end uncertified, scipy finishes."""
    import softmax_regression._fit as fit_module

    monkeypatch.setattr(fit_module, "_SAGA_MIN_WORK", 0)
    X, y = _sparse_problem()
    assert resolve_solver("auto", InMemoryData(X, y, 4, None), 0.0) == "saga"
    factor = np.r_[0.0, np.ones(X.shape[1] - 1)]  # no certificate: hands over
    model = SoftmaxRegression(solver="saga", penalty_factor=factor, random_state=0)
    reference = SoftmaxRegression(solver="newton-cg", penalty_factor=factor)
    assert_same_fit(model.fit(X, y), reference.fit(X, y), X, y, relative_gap=1e-6)


def test_checks_double_the_epochs_while_the_gap_says_nothing_of_the_rate():
    from softmax_regression._sag import _MAX_CHECK_SPACING, _epochs_to_next_check

    def checks(*gaps):  # one check per epoch, in the phase's tuple layout
        return [(epoch, 1.0, gap, gap) for epoch, gap in enumerate(gaps, start=1)]

    # A relative gap of 1 or more (the dual bound below zero): 2 -> 4 -> 8.
    uninformative = checks(1e300, 2.0)
    assert _epochs_to_next_check(uninformative, 1e-6, 1.0) == 2
    assert _epochs_to_next_check(checks(*[5.0] * 8), 1e-6, 1.0) == 8
    assert _epochs_to_next_check(checks(*[5.0] * 40), 1e-6, 1.0) == _MAX_CHECK_SPACING
    # The first informative gap: one more epoch, to measure the rate.
    assert _epochs_to_next_check(checks(3.0, 1e-2), 1e-6, 1.0) == 1
    # Then the rate: 1e-2 -> 1e-3 per epoch reaches 5e-7 in 3.3 more epochs.
    assert _epochs_to_next_check(checks(1e-2, 1e-3), 5e-7, 1.0) == 3
    # A gradient measure (no bound on what is informative) keeps the rate.
    assert _epochs_to_next_check(checks(40.0, 4.0), 3e-3) == 3
