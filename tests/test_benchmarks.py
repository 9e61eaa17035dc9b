"""Smoke test of the benchmark script: it runs, prints and writes JSON. No timing."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "bench_fit.py"


@pytest.fixture(scope="module")
def bench_fit():
    spec = importlib.util.spec_from_file_location("bench_fit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_fit"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_fit"]


def test_quick_benchmark(bench_fit, tmp_path, capsys):
    output = tmp_path / "results.json"
    results = bench_fit.main(["--quick", "--json", str(output)])
    printed = capsys.readouterr().out
    assert "ratio" in printed and "eval/floor" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    assert {row["case"] for row in results["fits"]} >= {"iris", "sparse text-like"}
    for row in results["fits"]:
        assert row["ours_s"] > 0 and row["theirs_s"] > 0
        # Same objective; lbfgs from different starts (ours: the class priors)
        # stops at tol=1e-4 near the same optimum, not at the same point.
        assert abs(row["relative_objective_difference"]) < 1e-3
    assert len(results["evaluations"]) == 2


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_quick_penalty_benchmark(capsys):
    rows = load_script("bench_penalties").main(["--quick"])
    assert "speedup" in capsys.readouterr().out
    assert rows[0]["ours_s"] > 0 and rows[0]["ours_nonzero"] > 0


def test_quick_paths_benchmark(capsys):
    """newton-cd down an L1 and a grouped path, glmnet where R has it."""
    rows = load_script("bench_paths").main(["--quick"])
    out = capsys.readouterr().out
    assert "ours newton-cd" in out
    ours = [row for row in rows if row["solver"] == "ours newton-cd"]
    assert len(ours) == 2 and all(row["meets"] for row in ours)


def test_quick_cv_benchmark(capsys):
    rows = load_script("bench_cv").main(["--quick"])
    assert "warm-started" in capsys.readouterr().out
    assert rows["path_iterations_warm"] > 0 and rows["path_iterations_cold"] > 0


def test_quick_peer_benchmark(tmp_path, capsys):
    output = tmp_path / "peers.json"
    results = load_script("bench_peers").main(
        ["--quick", "--budget", "20", "--json", str(output)]
    )
    printed = capsys.readouterr().out
    assert "ours / best" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    assert "docstrings" in {row["case"] for row in results["cases"]}
    for row in results["cases"]:  # every default fit reached the promised gap
        assert row["default_gap"] <= 1e-6, row["case"]


def test_quick_stop_benchmark(tmp_path, capsys):
    output = tmp_path / "stop.json"
    rows = load_script("bench_stop").main(["--quick", "--json", str(output)])
    assert "with the certificate" in capsys.readouterr().out
    assert json.loads(output.read_text())["rows"] == json.loads(json.dumps(rows))
    for row in rows:  # the promise, or a warning saying it was not reached
        certified = row["certified"]
        assert certified["gap"] <= 1e-6 or certified["convergence_warning"], row


def test_docstring_corpus_is_labelled_real_text():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        cases = load_script("_cases")
    finally:
        sys.path.remove(str(SCRIPT.parent))
    X, y, labels = cases.docstrings(
        min_per_class=30, max_per_class=60, max_files=2,
        installed_packages=False, max_features=1_000,
    )  # fmt: skip
    counts = np.bincount(y)
    assert len(labels) == len(set(labels)) == counts.size >= 20
    assert counts.min() >= 30 and counts.max() <= 60
    assert set(labels) <= sys.stdlib_module_names  # the standard library's text
    assert X.shape == (y.size, 1_000)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms[norms > 0], 1.0)  # tf-idf rows, L2-normalised


def test_quick_dask_benchmark(tmp_path, capsys):
    pytest.importorskip("distributed")
    output = tmp_path / "dask.json"
    results = load_script("bench_dask").main(
        ["--quick", "--no-dask-ml", "--json", str(output)]
    )
    printed = capsys.readouterr().out
    assert "bytes/eval" in printed and "predicted, 1e9 rows" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    assert [run["workers"] for run in results["runs"]] == [1, 2]
    for run in results["runs"]:
        assert run["evaluation_s"] > 0 and run["n_iter"] > 0
    # The same chunks summed in another grouping: the same model.
    assert results["coefficient_difference_1_vs_2_workers"] < 1e-6


def test_quick_array_api_benchmark(tmp_path, capsys):
    pytest.importorskip("array_api_strict")
    output = tmp_path / "array_api.json"
    # array-api-strict: the namespace every test machine has.
    results = load_script("bench_array_api").main(
        ["--quick", "--namespace", "array_api_strict", "--json", str(output)]
    )
    printed = capsys.readouterr().out
    assert "eval/floor" in printed and "ours (device)" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    for case in results["cases"]:
        assert case["loss_gradient_s"] > 0 and case["floor_s"] > 0
        # The device fit and the NumPy fit reach the same objective.
        gaps = [fit["relative_gap"] for fit in case["fits"]]
        assert max(gaps) < 1e-4


def test_quick_text_benchmark(tmp_path, capsys):
    pytest.importorskip("numba")
    output = tmp_path / "text.json"
    rows = load_script("bench_text").main(
        ["--quick", "--dense", "--switch", "--json", str(output)]
    )
    printed = capsys.readouterr().out
    assert "auto/sag" in printed and "import numba" in printed
    assert json.loads(output.read_text())["rows"] == json.loads(json.dumps(rows))
    text, dense, switch = rows[0], rows[1], rows[2:]
    assert text["auto_gap"] <= 1e-6 and text["sag_epochs"] > 0
    assert dense["saga_gap"] <= 1e-6
    assert all(row["saga_s"] > 0 and row["newton_s"] > 0 for row in switch)


def test_quick_scale_benchmark(tmp_path, capsys):
    pytest.importorskip("distributed")
    output = tmp_path / "scale.json"
    results = load_script("bench_scale").main(["--quick", "--json", str(output)])
    printed = capsys.readouterr().out
    assert "generated on the workers" in printed and "unmanaged MiB" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    for run in (results["cluster"], results["memory"]):
        assert run["evaluation_s"] > 0
        for fit in run["fits"].values():
            assert fit["evaluations"] >= fit["iterations"] > 0
    assert len(results["cluster"]["workers"]) == results["workers"] == 2
    # The same chunks, summed on the workers or here: the same model.
    assert results["relative_coefficient_difference_tol_1e-8"] < 1e-5


def test_quick_streamed_scale_benchmark(tmp_path, capsys):
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    output = tmp_path / "stream.json"
    results = load_script("bench_scale").main(
        ["--stream", "--quick", "--data", str(tmp_path / "data"), "--json", str(output)]
    )
    printed = capsys.readouterr().out
    assert "disk alone" in printed and "one pass" in printed
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    stream = results["stream"]
    assert stream["floor"]["bytes"] > 20_000 * 20 * 4  # the features, at least
    assert stream["pass_s"] > 0 and stream["setup_s"] > 0
    fit = stream["fits"]["tol=1e-4"]
    assert fit["evaluations"] >= fit["iterations"] > 0
    assert len(stream["workers"]) == results["workers"] == 2


def quick_spark_run(tmp_path) -> dict:
    output = tmp_path / "spark.json"
    results = load_script("bench_scale").main(
        ["--spark", "--quick", "--data", str(tmp_path / "data"), "--json", str(output)]
    )
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    for fit in results["spark"]["ours"].values():
        assert fit["evaluations"] >= fit["iterations"] > 0
        # Relative to a float64 newton-cg fit at tol=1e-10, evaluated in float64.
        assert -1e-9 < fit["gap"] < 1e-3
    return results["spark"]


def test_quick_spark_benchmark_without_pyspark(tmp_path, capsys, monkeypatch):
    # pyspark is a benchmark-only peer: without it, our rows and no Spark's.
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import fails
    assert quick_spark_run(tmp_path)["spark"] == []
    assert "no Spark rows" in capsys.readouterr().out


def test_quick_spark_benchmark_with_pyspark(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    pytest.importorskip("pyspark")
    spark = quick_spark_run(tmp_path)
    assert spark["objective_check"]["relative_difference"] < 1e-4
    assert spark["spark"][0]["iterations"] > 0


def test_quick_c_on_a_sample_benchmark(tmp_path, capsys):
    output = tmp_path / "sample.json"
    results = load_script("bench_cv").main(
        ["--sample", "--quick", "--json", str(output)]
    )
    assert "held-out log-loss" in capsys.readouterr().out
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    assert [row["sample_rows"] for row in results["samples"]] == [200, 2_000, 20_000]
    for row in results["samples"]:
        assert f"{row['C']:g}" in results["grid"]
        assert row["log_loss_above_best"] >= 0  # the best is the grid's minimum
