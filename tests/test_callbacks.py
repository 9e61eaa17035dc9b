"""scikit-learn's callback API on every solver and on SoftmaxRegressionCV."""

import re
import warnings

import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

callback_api = pytest.importorskip("sklearn.callback")

SOLVERS = [
    {"solver": "lbfgs"},
    {"solver": "newton-cg"},
    {"solver": "trust-ncg"},
    {"solver": "trust-krylov"},
    {"solver": "lbfgs", "l1_ratio": 0.5},
    {"solver": "newton-cd", "l1_ratio": 0.5},  # a subtask per working-set round
    {"solver": "saga", "random_state": 0},  # epochs, then scipy's iterations
]


class Recording:
    """Records every hook call, in order (for fits in this process)."""

    def __init__(self, stop_after=None):
        self.record = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.record.append(("setup", context, {}))

    def teardown(self, estimator, context):
        self.record.append(("teardown", context, {}))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.record.append(("begin", context, {"fitted": fitted_estimator}))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, X=None):
        self.record.append(("end", context, {"fitted": fitted_estimator, "X": X}))
        return (
            self.stop_after is not None
            and "iter" in context.task_name
            and context.task_id + 1 == self.stop_after
        )

    def calls(self, name, task_name=None):
        return [
            (context, data)
            for hook, context, data in self.record
            if hook == name and (task_name is None or task_name in context.task_name)
        ]


def standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "params", SOLVERS, ids=lambda p: "-".join(map(str, p.values()))
)
def test_every_solver_reports_each_iteration(params):
    X, y = standardised(load_digits)
    callback = Recording()
    model = SoftmaxRegression(**params).set_callbacks(callback).fit(X, y)
    n_iter = model.n_iter_[0]
    assert len(callback.calls("setup")) == len(callback.calls("teardown")) == 1
    # the fit, each iteration, and the task begun after the last one (as in
    # LogisticRegression's lbfgs)
    assert len(callback.calls("begin")) == len(callback.calls("end")) == n_iter + 2
    iterations = callback.calls("begin", "-iter")
    assert [context.task_id for context, _ in iterations] == list(range(n_iter + 1))
    expected_name = f"{params['solver']}-iter"
    assert {context.task_name for context, _ in iterations} == {expected_name}
    root = callback.calls("begin")[0][0]
    assert root.task_name == "fit" and root.max_subtasks == model.max_iter + 1


@pytest.mark.parametrize(
    "params", SOLVERS, ids=lambda p: "-".join(map(str, p.values()))
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fitted_estimator_is_the_fit_stopped_there(params, n_classes):
    # scikit-learn's test_logistic_regression_callback_fitted_estimator, for
    # every solver: the model a hook sees after iteration i is the model that
    # max_iter=i gives.
    X, y = make_classification(
        n_features=4, n_informative=4, n_redundant=0, n_classes=n_classes,
        random_state=0,
    )  # fmt: skip
    callback = Recording()
    model = SoftmaxRegression(**params).set_callbacks(callback).fit(X, y)
    n_iter = model.n_iter_[0]
    ends = callback.calls("end", "-iter")
    assert len(ends) == n_iter + 1
    for i, (context, data) in enumerate(ends[:-1]):
        assert context.task_id == i
        with warnings.catch_warnings():
            # Stopped at iteration i + 1 on purpose: it says so.
            warnings.simplefilter("ignore", ConvergenceWarning)
            expected = SoftmaxRegression(**params, max_iter=i + 1).fit(X, y)
        fitted = data["fitted"]
        # Equal by construction: the same iterations in the same arithmetic
        # (same data, blocks and threads), stopped one at a time.
        assert_array_equal(fitted.coef_, expected.coef_)
        assert_array_equal(fitted.intercept_, expected.intercept_)
        assert_array_equal(fitted.predict(X), expected.predict(X))
    assert ends[-1][1]["fitted"] is None  # the task begun after the last iteration
    final = callback.calls("end")[-1][1]["fitted"]
    assert_array_equal(final.coef_, model.coef_)


@pytest.mark.parametrize(
    "params", SOLVERS, ids=lambda p: "-".join(map(str, p.values()))
)
def test_a_callback_stops_the_solver_without_a_warning(params):
    X, y = standardised(load_digits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = (
            SoftmaxRegression(tol=1e-10, **params)
            .set_callbacks(Recording(stop_after=3))
            .fit(X, y)
        )
    assert model.n_iter_[0] == 3


def test_progress_bar_completes(capsys):
    pytest.importorskip("rich")
    X, y = standardised(load_iris)
    SoftmaxRegression(solver="newton-cg").set_callbacks(callback_api.ProgressBar()).fit(
        X, y
    )
    out = capsys.readouterr().out
    assert re.search(r"SoftmaxRegression - fit .* 100%", out)
    assert not re.search(r"\b[0-9]{1,2}%", out)


def test_progress_bar_inside_grid_search(capsys):
    pytest.importorskip("rich")
    X, y = standardised(load_iris)
    search = GridSearchCV(SoftmaxRegression(), {"C": [0.1, 1.0]}, cv=2)
    search.set_callbacks(callback_api.ProgressBar(max_propagation_depth=None))
    search.fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"candidate-split-evaluation \| SoftmaxRegression - fit", out)
    assert re.search(r"refit-with-best-params \| SoftmaxRegression - fit", out)
    assert not re.search(r"\b[0-9]{1,2}%", out)


def test_progress_bar_on_a_pipeline(capsys):
    """scikit-learn's rule: an auto-propagated callback (ProgressBar) goes on
    the outer estimator, which hands it to its steps; on a step it is refused
    (TypeError), as the README says."""
    pytest.importorskip("rich")
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SoftmaxRegression())
    pipeline.set_callbacks(callback_api.ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"fit-final-estimator \| SoftmaxRegression - fit", out)
    step = SoftmaxRegression().set_callbacks(callback_api.ProgressBar())
    with pytest.raises(TypeError, match="can't have auto-propagated callbacks"):
        make_pipeline(StandardScaler(), step).fit(X, y)


def test_scoring_monitor_follows_the_iterations():
    X, y = standardised(load_iris)
    monitor = callback_api.ScoringMonitor(scoring="neg_log_loss")
    model = SoftmaxRegression(solver="trust-ncg").set_callbacks(monitor).fit(X, y)
    rows = [row for row in monitor.get_logs().data if "iter" in row["task_name"]]
    assert len(rows) == model.n_iter_[0]
    losses = [-row["neg_log_loss"] for row in rows]
    assert losses[0] > losses[-1]
    assert losses[-1] == pytest.approx(-monitor.get_logs().data[-1]["neg_log_loss"])


def test_cv_nests_paths_cs_and_iterations():
    X, y = standardised(load_iris)
    callback = Recording()
    Cs, l1_ratios = [0.1, 1.0, 10.0], [0.0, 0.5]
    model = SoftmaxRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=3, tol=1e-6)
    model.set_callbacks(callback).fit(X, y)
    root = callback.calls("begin")[0][0]
    assert root.max_subtasks == 3 * 2 + 1
    children = list(root._children_map.values())
    assert [child.task_name for child in children] == [
        f"fold {fold} l1_ratio={l1:g}" for fold in (1, 2, 3) for l1 in l1_ratios
    ] + ["refit"]
    for path_index, path in enumerate(children[:-1]):
        C_tasks = list(path._children_map.values())
        assert [task.task_name for task in C_tasks] == ["C=0.1", "C=1", "C=10"]
        fold, l1 = divmod(path_index, 2)
        for C_index, C_task in enumerate(C_tasks):
            n_iter = model.n_iter_[fold, l1, C_index]
            assert len(C_task._children_map) == n_iter + 1
    # The model a C task's end shows is the one on the path.
    C_ends = [
        data for context, data in callback.calls("end") if "C=" in context.task_name
    ]
    assert len(C_ends) == 3 * 2 * 3
    first = C_ends[0]["fitted"]
    assert_allclose(first.coef_, model.coefs_paths_[0, 0, 0, :, :-1])
    assert C_ends[0]["X"].shape[0] == 100  # the training fold
    refit = children[-1]
    assert len(refit._children_map) >= 1
    assert len(callback.calls("setup")) == len(callback.calls("teardown")) == 1


def test_cv_progress_bar_with_parallel_paths(capsys):
    pytest.importorskip("rich")
    X, y = standardised(load_iris)
    model = SoftmaxRegressionCV(Cs=2, cv=2, n_jobs=2)
    model.set_callbacks(callback_api.ProgressBar(max_propagation_depth=None)).fit(X, y)
    out = capsys.readouterr().out
    for fold in (1, 2):
        assert f"SoftmaxRegressionCV - fold {fold} l1_ratio=0" in out
    assert "SoftmaxRegressionCV - refit" in out
    assert not re.search(r"\b[0-9]{1,2}%", out)


def test_no_callbacks_no_iteration_tasks(monkeypatch):
    import softmax_regression._callbacks as callbacks_module

    def fail(*args, **kwargs):
        raise AssertionError("iteration tasks made without callbacks")

    monkeypatch.setattr(callbacks_module.IterationTasks, "__init__", fail)
    X, y = standardised(load_iris)
    SoftmaxRegression().fit(X, y)
    SoftmaxRegressionCV(Cs=2, cv=2).fit(X, y)
