"""The Dask backend: the same model as in memory, from chunks on a cluster."""

import os
import re
import time
import warnings

import dask
import numpy as np
import pytest
import scipy.sparse as sp
from bad_input import spoil
from fresh_process import run_source
from numpy.testing import assert_allclose, assert_array_equal
from optimum import assert_same_fit
from sklearn.datasets import load_iris, make_classification

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

CHUNK = 150


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, as the issue asks."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit="1GiB",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Under load the workers may register after the client connects.
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=1000,
        n_features=12,
        n_informative=6,
        n_classes=4,
        random_state=0,
    )
    weights = np.random.default_rng(0).uniform(0.0, 3.0, size=y.size)
    return X, y, weights


def chunked(array, rows=CHUNK):
    return da.from_array(array, chunks=(rows, *array.shape[1:]))


def assert_same_model(
    dask_model,
    memory_model,
    X,
    y,
    sample_weight=None,
    offset=None,
    needed=1e-2,
    relative_gap=None,
):
    """The cluster's fit and memory's: the same optimum, as far as their stops say.

    The cluster sums its chunks in the order their workers hold them, so the
    two stop at different points of their stopping regions: compared by
    what their gradients imply (tests/optimum.py), not by a fixed rtol; with
    ``relative_gap`` (tol="auto", pure L1), by their objectives.
    """
    assert_array_equal(dask_model.classes_, memory_model.classes_)
    assert dask_model.coef_.dtype == memory_model.coef_.dtype
    return assert_same_fit(
        dask_model,
        memory_model,
        X,
        y,
        sample_weight=sample_weight,
        offset=offset,
        needed=needed,
        relative_gap=relative_gap,
    )


def test_no_client_gets_a_clear_error():
    # In a fresh interpreter: in this one, whether a default client exists
    # depends on which tests ran before.
    output = run_source(
        """
        import dask.array as da
        import numpy as np
        from softmax_regression import SoftmaxRegression

        X = da.from_array(np.random.default_rng(0).normal(size=(40, 3)), chunks=10)
        y = da.from_array(np.arange(40) % 2, chunks=10)
        try:
            SoftmaxRegression().fit(X, y)
        except ValueError as error:
            print(error)
        """
    )
    assert re.search(r"dask\.distributed Client", output), output


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "lbfgs"},
        {"solver": "newton-cg"},
        {"solver": "trust-ncg"},
        {"solver": "trust-krylov"},
        {"solver": "auto", "tol": "auto"},
        {"l1_ratio": 0.5, "C": 0.1},
        {"l1_ratio": 1.0, "C": 0.1},
        {"fit_intercept": False},
    ],
    ids=lambda params: "-".join(f"{k}={v}" for k, v in params.items()),
)
def test_same_model_as_in_memory(client, problem, params):
    X, y, _ = problem
    params = {"tol": 1e-8, **params}
    if params.get("l1_ratio", 0) > 0:
        # The same solver on both backends: in memory "auto" is newton-cd,
        # and pure L1 optima are not unique (the zeros may differ).
        params["solver"] = "lbfgs"
    memory = SoftmaxRegression(**params).fit(X, y)
    distributed_fit = SoftmaxRegression(**params).fit(chunked(X), chunked(y))
    # tol="auto" promises a gap, not a gradient, and without an L2 term the
    # objective is not strongly convex: those are compared by the objective
    # (at tol=1e-8 the gradient's 1e-8 times the coefficients' size bounds
    # the gap).
    relative_gap = None
    if params["tol"] == "auto":
        relative_gap = 1e-6
    elif params.get("l1_ratio") == 1.0:
        relative_gap = 1e-7
    assert_same_model(distributed_fit, memory, X, y, relative_gap=relative_gap)
    if params.get("l1_ratio", 0) > 0:
        # Exact zeros where the penalty removes a coefficient; one fit may
        # keep it by no more than the distance between the fits.
        distance = np.abs(distributed_fit.coef_ - memory.coef_)
        differ = (distributed_fit.coef_ == 0) != (memory.coef_ == 0)
        assert np.any(memory.coef_ == 0)
        assert np.all(distance[differ] <= 1e-4)


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 2.0, 3: 0.5}])
def test_sample_and_class_weights(client, problem, class_weight):
    X, y, weights = problem
    memory = SoftmaxRegression(tol=1e-8, class_weight=class_weight).fit(
        X, y, sample_weight=weights
    )
    distributed_fit = SoftmaxRegression(tol=1e-8, class_weight=class_weight).fit(
        chunked(X), chunked(y), sample_weight=chunked(weights, rows=CHUNK // 2)
    )
    assert_same_model(distributed_fit, memory, X, y, weights)


def test_weights_in_memory_with_dask_x(client, problem):
    X, y, weights = problem
    memory = SoftmaxRegression(tol=1e-8).fit(X, y, sample_weight=weights)
    distributed_fit = SoftmaxRegression(tol=1e-8).fit(
        chunked(X), y, sample_weight=weights
    )
    assert_same_model(distributed_fit, memory, X, y, weights)


def test_float32_chunks_stay_float32(client, problem):
    X, y, _ = problem
    X32 = X.astype(np.float32)
    memory = SoftmaxRegression(tol=1e-5).fit(X32, y)
    distributed_fit = SoftmaxRegression(tol=1e-5).fit(chunked(X32), chunked(y))
    assert distributed_fit.coef_.dtype == np.float32
    # float32 arithmetic, tol=1e-5: the gradients bound the distance by a few
    # hundredths only (the fits round at about 1e-7 of their scale).
    assert_same_model(distributed_fit, memory, X32, y, needed=1.0)


def test_sparse_csr_chunks(client, problem):
    X, y, _ = problem
    X = np.where(np.abs(X) > 1.0, X, 0.0)
    memory = SoftmaxRegression(tol=1e-8).fit(sp.csr_matrix(X), y)
    X_sparse = chunked(X).map_blocks(sp.csr_matrix, dtype=X.dtype)
    distributed_fit = SoftmaxRegression(tol=1e-8).fit(X_sparse, chunked(y))
    tolerance = assert_same_model(distributed_fit, memory, X, y).probability
    proba = distributed_fit.predict_proba(X_sparse)
    assert_allclose(proba.compute(), memory.predict_proba(X), rtol=0, atol=tolerance)


@pytest.mark.filterwarnings("ignore:Dask currently has limited support:UserWarning")
def test_dataframe_input_with_string_labels(client):
    X, y = load_iris(return_X_y=True, as_frame=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y.to_numpy()]
    y = pd.Series(labels, index=X.index, name="species")
    memory = SoftmaxRegression(tol=1e-9).fit(X, y)
    X_frame = dd.from_pandas(X, npartitions=3)
    y_frame = dd.from_pandas(y, npartitions=3)
    distributed_fit = SoftmaxRegression(tol=1e-9).fit(X_frame, y_frame)
    assert_same_model(distributed_fit, memory, X, y)
    assert_array_equal(distributed_fit.feature_names_in_, X.columns)
    assert distributed_fit.n_features_in_ == 4
    predicted = distributed_fit.predict(X_frame)
    assert isinstance(predicted, da.Array)
    assert_array_equal(predicted.compute(), memory.predict(X))
    assert distributed_fit.score(X_frame, y_frame) == memory.score(X, y)


def test_predictions_are_lazy_chunk_for_chunk(client, problem):
    X, y, weights = problem
    model = SoftmaxRegression().fit(X, y)
    X_chunked = chunked(X)
    methods = ["predict", "predict_proba", "predict_log_proba", "decision_function"]
    for method in methods:
        result = getattr(model, method)(X_chunked)
        assert isinstance(result, da.Array), method
        assert result.chunks[0] == X_chunked.chunks[0]
        assert_allclose(result.compute(), getattr(model, method)(X), rtol=1e-12)
    assert model.score(X_chunked, chunked(y)) == pytest.approx(model.score(X, y))
    assert model.score(
        X_chunked, chunked(y), sample_weight=chunked(weights)
    ) == pytest.approx(model.score(X, y, sample_weight=weights))


def test_binary_decision_function_is_one_column(client, problem):
    X, y, _ = problem
    y = y % 2
    model = SoftmaxRegression().fit(chunked(X), chunked(y))
    margin = model.decision_function(chunked(X))
    assert margin.ndim == 1
    assert_allclose(margin.compute(), model.decision_function(X), rtol=1e-12)


def test_warm_start_and_n_iter(client, problem):
    X, y, _ = problem
    model = SoftmaxRegression(warm_start=True, tol=1e-8)
    model.fit(chunked(X), chunked(y))
    first = model.n_iter_[0]
    model.fit(chunked(X), chunked(y))
    assert model.n_iter_[0] < first


def recorded(X_chunked, log):
    """``X_chunked`` that appends a line to ``log`` each time a chunk is computed."""

    def record(block):  # local: pickled by value for the worker processes
        with open(log, "a") as file:
            file.write("chunk\n")
        return block

    return X_chunked.map_blocks(record, meta=np.empty((0, 0)))


def test_x_is_computed_once_and_inputs_are_left_alone(
    client, problem, tmp_path, capsys
):
    X, y, weights = problem
    log = tmp_path / "computed"

    X_lazy = recorded(chunked(X), log)
    weights_before = weights.copy()
    SoftmaxRegression(tol=1e-6, verbose=1).fit(
        X_lazy, chunked(y), sample_weight=weights
    )
    # Where persisted chunks land is the scheduler's choice: a worker busy at
    # that moment may get none (seen once in CI, the machine loaded).
    assert re.search(
        r"in 7 chunks on (1 worker|2 workers), persisted on the workers",
        capsys.readouterr().out,
    )
    assert log.read_text().count("chunk") == X_lazy.numblocks[0]
    assert_array_equal(weights, weights_before)


def test_worker_blas_and_environment_unchanged(client, problem):
    X, y, _ = problem

    def state():
        from threadpoolctl import threadpool_info

        return (
            {info["filepath"]: info["num_threads"] for info in threadpool_info()},
            dict(os.environ),
        )

    def unchanged(before, after):
        # A worker's first fit may load libraries (scipy's BLAS, OpenMP) it
        # had not loaded: those are new entries, not changed ones.
        threads_before, environment_before = before
        threads_after, environment_after = after
        common = threads_before.keys() & threads_after.keys()
        return environment_after == environment_before and all(
            threads_after[path] == threads_before[path] for path in common
        )

    before = client.run(state)
    SoftmaxRegression().fit(chunked(X), chunked(y))
    after_first = client.run(state)
    SoftmaxRegression().fit(chunked(X), chunked(y))
    after_second = client.run(state)
    for worker in before:
        assert unchanged(before[worker], after_first[worker])
        assert after_second[worker] == after_first[worker]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan", "NaN or infinity"),
        ("negative_weight", "non-negative"),
        ("one_class", "at least 2 classes"),
        ("short_y", "shape"),
        ("continuous_y", "continuous"),
    ],
)
def test_bad_input_gets_a_clear_error(client, problem, change, message):
    X, y, weights = spoil(change, *problem)
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression().fit(chunked(X), chunked(y), sample_weight=chunked(weights))


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [({0: -1.0}, "finite, non-negative"), ({7: 1.0}, "not in class")],
)
def test_bad_class_weight_gets_the_in_memory_error(
    client, problem, class_weight, message
):
    X, y, _ = problem
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(class_weight=class_weight).fit(X, y)
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(class_weight=class_weight).fit(chunked(X), chunked(y))


def test_unknown_chunk_lengths_cost_one_pass(client, problem, tmp_path):
    X, y, _ = problem
    keep = y != 3
    log = tmp_path / "computed"

    X_lazy = recorded(chunked(X), log)
    X_unknown = X_lazy[chunked(keep)]
    y_unknown = chunked(y)[chunked(keep)]
    assert np.isnan(X_unknown.chunks[0][0])
    memory = SoftmaxRegression(tol=1e-8).fit(X[keep], y[keep])
    model = SoftmaxRegression(tol=1e-8).fit(X_unknown, y_unknown)
    assert_same_model(model, memory, X[keep], y[keep])
    # One pass for the lengths (whether X fits in memory is not known before),
    # one to persist it.
    assert log.read_text().count("chunk") == 2 * X_lazy.numblocks[0]
    # Rows that do not match get the shape error, not a chunking error.
    with pytest.raises(ValueError, match="y must have shape"):
        SoftmaxRegression().fit(X_unknown, chunked(y))


@pytest.mark.parametrize("label_dtype", ["str", "category"])
def test_parquet_frames_with_string_labels_end_to_end(client, tmp_path, label_dtype):
    # The way such data is held: Parquet files read by dd.read_parquet
    # (partitions of unknown length, fused by Dask's optimiser when a few
    # columns are read), float32 features, an encoded categorical column and
    # a string label column; the probabilities written back lazily.
    rng = np.random.default_rng(0)
    n_rows = 3000
    features = rng.normal(size=(n_rows, 4)).astype(np.float32)
    region = rng.integers(0, 5, n_rows).astype(np.int8)
    scores = features[:, :3] + 0.3 * region[:, None] + rng.gumbel(size=(n_rows, 3))
    labels = np.array(["low", "mid", "high"])[np.argmax(scores, axis=1)]
    table = pd.DataFrame(features, columns=["a", "b", "c", "d"])
    table["region"] = region
    table["label"] = pd.Series(labels, dtype=label_dtype)
    dd.from_pandas(table, npartitions=7).to_parquet(tmp_path / "train")
    columns = ["a", "b", "c", "d", "region"]

    frame = dd.read_parquet(tmp_path / "train")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no conversion warnings from Dask
        model = SoftmaxRegression(tol=1e-5).fit(frame[columns], frame["label"])
    memory = SoftmaxRegression(tol=1e-5).fit(table[columns], labels)
    assert_array_equal(model.classes_, ["high", "low", "mid"])
    assert_array_equal(model.feature_names_in_, columns)
    assert model.coef_.dtype == np.float32  # float32 and int8 columns
    # float32 arithmetic at tol=1e-5, as test_float32_chunks_stay_float32.
    X_host = table[columns].to_numpy(np.float32)
    assert_same_model(model, memory, X_host, labels, needed=1.0)
    assert model.score(frame[columns], frame["label"]) == pytest.approx(
        memory.score(table[columns], labels)
    )

    proba = model.predict_proba(frame[columns])
    assert isinstance(proba, da.Array)
    written = dd.from_dask_array(
        proba, columns=[f"proba_{label}" for label in model.classes_]
    ).to_parquet(tmp_path / "proba", compute=False)
    assert not (tmp_path / "proba").exists() or not any(
        (tmp_path / "proba").glob("*.parquet")
    )
    dask.compute(written)
    back = pd.read_parquet(tmp_path / "proba")
    assert_allclose(back.to_numpy(), model.predict_proba(table[columns]), atol=1e-6)


def test_streamed_x_gives_the_same_model_and_is_read_at_every_pass(
    client, problem, tmp_path
):
    X, y, sample_weight = problem
    log = tmp_path / "computed"

    X_lazy = recorded(chunked(X), log)
    memory = SoftmaxRegression(tol=1e-8).fit(X, y, sample_weight=sample_weight)
    with dask.config.set({"softmax-regression.stream": True}):
        model = SoftmaxRegression(tol=1e-8).fit(
            X_lazy, chunked(y), sample_weight=sample_weight
        )
    assert_same_model(model, memory, X, y, sample_weight=sample_weight)
    # Every pass reads every chunk again (set-up, then each evaluation),
    # where a persisted X is read once (test_x_is_computed_once...).
    reads = log.read_text().count("chunk")
    assert reads % X_lazy.numblocks[0] == 0
    assert reads >= (1 + model.n_iter_[0]) * X_lazy.numblocks[0]


def test_verbose_reports_the_set_up_and_every_iteration(client, problem, capsys):
    # A long cluster fit is not silent: where X is, then each iteration with
    # the seconds since the start (the driver runs on the client). Persisted:
    # test_x_is_computed_once_and_inputs_are_left_alone.
    X, y, _ = problem
    with dask.config.set({"softmax-regression.stream": True}):
        model = SoftmaxRegression(solver="lbfgs", tol=1e-6, verbose=2).fit(
            chunked(X), chunked(y)
        )
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        r"Dask: X 1,000 x 12 float64 in 7 chunks on 2 workers, streamed\b.*"
        r"set-up \d+\.\d s \(labels, weights and one pass over X\)",
        lines[0],
    ), lines[0]
    assert lines[1].split()[:2] == ["[lbfgs]", "iter"]
    rows = [line.split() for line in lines[2:-1]]
    assert [int(row[1]) for row in rows] == list(range(1, model.n_iter_[0] + 1))
    times = [float(row[-1]) for row in rows]
    assert times == sorted(times)


def test_x_larger_than_half_the_workers_memory_is_streamed(client):
    # The module's cluster: 2 workers with 1 GiB each. Nothing is computed.
    from softmax_regression._backends.dask import _place_x

    large = da.zeros((180_000, 1_000), chunks=(10_000, 1_000))  # 1.34 GiB
    small = da.zeros((100_000, 1_000), chunks=(10_000, 1_000))  # 0.75 GiB
    assert _place_x(large, client)[1]
    assert not _place_x(small, client)[1]
    with dask.config.set({"softmax-regression.stream": False}):
        assert not _place_x(large, client)[1]
    with dask.config.set({"softmax-regression.stream": True}):
        assert _place_x(small[:10], client)[1]


def test_stream_setting_is_checked(client, problem):
    X, y, _ = problem
    with dask.config.set({"softmax-regression.stream": "yes"}):
        with pytest.raises(ValueError, match=r"softmax-regression\.stream"):
            SoftmaxRegression().fit(chunked(X), chunked(y))


def test_cv_says_what_to_do(client, problem):
    X, y, _ = problem
    with pytest.raises(TypeError, match="does not fit Dask collections"):
        SoftmaxRegressionCV().fit(chunked(X), chunked(y))


@pytest.fixture
def own_cluster():
    """A cluster of four worker processes that a test may damage."""
    with (
        distributed.LocalCluster(
            n_workers=4,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        # The tests place data on the workers by name: wait until all are
        # registered (under load they may not be when the client connects).
        client.wait_for_workers(4, timeout=60)
        with client.as_current():
            yield client


def kill_one_worker(client):
    # Under load a worker can miss heartbeats and be briefly unregistered
    # (a reverse-order run found none registered here): wait for one.
    client.wait_for_workers(1, timeout=60)
    workers = list(client.scheduler_info()["workers"])
    client.submit(os._exit, 1, workers=[workers[0]], pure=False)
    deadline = time.monotonic() + 30
    while workers[0] in client.scheduler_info()["workers"]:
        assert time.monotonic() < deadline, "the worker did not die"
        time.sleep(0.05)


def kill_one_worker_at_evaluation(number, client, monkeypatch):
    """Kill a worker just before the ``number``-th evaluation; return the calls."""
    from softmax_regression._backends import dask as _dask

    calls = []
    loss_gradient = _dask._DaskDataTerm.loss_gradient

    def killing(self, coef):
        calls.append(None)
        if len(calls) == number:
            kill_one_worker(client)
        return loss_gradient(self, coef)

    monkeypatch.setattr(_dask._DaskDataTerm, "loss_gradient", killing)
    return calls


@pytest.mark.parametrize("streamed", [False, True], ids=["persisted", "streamed"])
def test_fit_survives_a_killed_worker(own_cluster, problem, monkeypatch, streamed):
    X, y, weights = problem
    memory = SoftmaxRegression(tol=1e-6, solver="lbfgs").fit(X, y)
    if not streamed:
        # First, whole: four workers give the in-memory model (weighted, in
        # chunks of 100 rows over the four).
        weighted = SoftmaxRegression(tol=1e-6).fit(X, y, sample_weight=weights)
        model = SoftmaxRegression(tol=1e-6).fit(
            chunked(X, 100), chunked(y, 100), sample_weight=chunked(weights, 100)
        )
        assert_same_model(model, weighted, X, y, sample_weight=weights)
    calls = kill_one_worker_at_evaluation(3, own_cluster, monkeypatch)
    with (
        dask.config.set({"softmax-regression.stream": streamed}),
        pytest.warns(RuntimeWarning, match="worker was lost"),
    ):
        recovered = SoftmaxRegression(tol=1e-6, solver="lbfgs").fit(
            chunked(X), chunked(y)
        )
    assert len(calls) > 3
    assert_same_model(recovered, memory, X, y)


def test_fit_fails_clearly_when_lost_data_cannot_be_recomputed(
    own_cluster, problem, monkeypatch
):
    X, y, _ = problem
    # Scattered chunks have no graph to recompute them from.
    workers = list(own_cluster.scheduler_info()["workers"])
    blocks = np.array_split(np.arange(len(y)), 4)
    futures = [
        own_cluster.scatter(X[rows], workers=[workers[i % 2]])
        for i, rows in enumerate(blocks)
    ]
    X_scattered = da.concatenate(
        [
            da.from_delayed(future, shape=(rows.size, X.shape[1]), dtype=X.dtype)
            for future, rows in zip(futures, blocks, strict=True)
        ]
    )
    kill_one_worker_at_evaluation(2, own_cluster, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(RuntimeError, match="could not be restored"):
            SoftmaxRegression(solver="lbfgs").fit(X_scattered, chunked(y, 250))


@pytest.mark.parametrize(
    "params",
    [{}, {"label_smoothing": 0.2}, {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}],
    ids=str,
)
@pytest.mark.parametrize("weighted", [False, True])
def test_soft_targets_and_smoothing_on_the_cluster(client, params, weighted):
    X, y = make_classification(
        n_samples=1200, n_features=6, n_informative=4, n_classes=3, random_state=2
    )
    targets = np.random.default_rng(4).dirichlet(np.ones(3), size=X.shape[0])
    weight = np.random.default_rng(5).uniform(0, 2, X.shape[0]) if weighted else None
    settings = {"solver": "newton-cg", "tol": 1e-8, **params}
    for target in (targets, y):
        expected = SoftmaxRegression(**settings).fit(X, target, sample_weight=weight)
        model = SoftmaxRegression(**settings).fit(
            chunked(X),
            chunked(target),
            sample_weight=None if weight is None else chunked(weight),
        )
        tolerance = assert_same_model(model, expected, X, target, weight).probability
    # The expected accuracy moves by at most the probabilities' bound.
    score = model.score(chunked(X), chunked(targets), sample_weight=weight)
    expected_score = expected.score(X, targets, sample_weight=weight)
    assert score == pytest.approx(expected_score, rel=1e-12, abs=tolerance)


def test_bad_targets_on_the_cluster_name_the_row(client):
    X, _ = make_classification(n_samples=1000, n_features=4, random_state=0)
    targets = np.full((1000, 2), 0.5)
    targets[777] = [0.9, 0.3]
    with pytest.raises(ValueError, match=r"row 777 sums to 1\.2"):
        SoftmaxRegression().fit(chunked(X), chunked(targets))


def test_factors_bounds_and_offset_on_the_cluster(client, problem):
    X, y, weight = problem
    offset = np.random.default_rng(4).normal(size=(y.size, 4))
    settings = {
        "tol": 1e-8,
        "penalty_factor": np.r_[np.zeros(2), np.linspace(0.5, 3.0, 10)],
        "lower_bounds": -0.3,
        "upper_bounds": 1.0,
    }
    memory = SoftmaxRegression(**settings).fit(
        X, y, sample_weight=weight, offset=offset
    )
    distributed_fit = SoftmaxRegression(**settings).fit(
        chunked(X), chunked(y), sample_weight=chunked(weight), offset=chunked(offset)
    )
    proba = distributed_fit.predict_proba(chunked(X), offset=chunked(offset))
    assert isinstance(proba, da.Array)
    tolerance = assert_same_model(
        distributed_fit, memory, X, y, weight, offset=offset
    ).probability
    assert_allclose(
        proba.compute(), memory.predict_proba(X, offset=offset), atol=tolerance
    )
    assert distributed_fit.score(
        chunked(X), chunked(y), offset=chunked(offset)
    ) == pytest.approx(distributed_fit.score(X, y, offset=offset), abs=1e-12)
    # A NumPy offset with a Dask X is put in X's chunks.
    predicted = distributed_fit.predict(chunked(X), offset=offset).compute()
    assert_array_equal(predicted, distributed_fit.predict(X, offset=offset))
    with pytest.raises(ValueError, match="offset must have shape"):
        SoftmaxRegression().fit(chunked(X), chunked(y), offset=chunked(offset[:, :3]))
    bad = offset.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="offset must not contain"):
        SoftmaxRegression().fit(chunked(X), chunked(y), offset=chunked(bad))
