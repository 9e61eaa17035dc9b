"""Past one machine: a fit on a LocalCluster against the same fit in memory.

Run from the repository root (needs the ``[dask]`` extra):

    python benchmarks/bench_scale.py                      # 20,000,000 x 100 float32
    python benchmarks/bench_scale.py --rows 5000000 --json scale.json
    python benchmarks/bench_scale.py --quick              # seconds, for the smoke test

X (float32, standard normal) and labels planted by a softmax model (10
classes) are generated on the workers of a ``LocalCluster`` (``--workers``
processes of one thread each, a memory limit per worker that holds its share
of X without spilling) and never exist on the client. Then, on the same
machine, the same data computed in this process (one thread per core). For
each of ``tol=1e-4``, the default (``tol="auto"``) and ``tol=1e-8`` it
prints, for the cluster and in memory: the fit's seconds, iterations and
evaluations (from ``verbose=1``'s summary) and the seconds per evaluation.
Also the bytes an evaluation moves (the coefficients to each worker and one
gradient back, float64), each worker's peak memory, managed (the chunks in
Dask's store) and unmanaged (the rest of the process: the shards' per-row
state, Python, libraries), the ratio of an evaluation on the cluster to one
in memory, each timed alone, and the largest relative coefficient
difference between the two fits at ``tol=1e-8``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import dask
import numpy as np
from _cases import run_environment
from bench_dask import (
    N_CLASSES,
    local_cluster,
    make_data,
    planted_coef,
    planted_labels,
    time_evaluations,
)
from distributed import Client, wait
from sklearn.exceptions import ConvergenceWarning

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.dask import DaskData
from softmax_regression._backends.memory import InMemoryData
from softmax_regression._parallel import available_cpus

SETTINGS = {"tol=1e-4": {"tol": 1e-4}, "default": {}, "tol=1e-8": {"tol": 1e-8}}


def counted_fit(X, y, params: dict) -> dict:
    """Fit with ``verbose=1``; seconds, iterations and evaluations, and the model."""
    summary = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(summary), warnings.catch_warnings():
        # tol=1e-8 is below what float32 data resolves: its warning says so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(verbose=1, **params).fit(X, y)
    seconds = time.perf_counter() - start
    counts = re.search(r"(\d+) iterations, (\d+) evaluations", summary.getvalue())
    iterations, evaluations = (int(n) for n in counts.groups())
    return {
        "fit_s": seconds,
        "iterations": iterations,
        "evaluations": evaluations,
        "seconds_per_evaluation": seconds / max(evaluations, 1),
        "model": model,
    }


def worker_memory(dask_worker) -> dict:
    """Peak resident memory of this worker's process and the bytes it manages."""
    import resource

    managed = sum(getattr(value, "nbytes", 0) for value in dask_worker.data.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "peak_rss_mib": peak,
        "managed_mib": managed / 2**20,
        "unmanaged_mib": peak - managed / 2**20,
    }


def relative_difference(coef, reference) -> float:
    """Largest coefficient difference over the largest ``|reference|``."""
    return float(np.abs(coef - reference).max() / np.abs(reference).max())


def cluster_fits(args, X, y) -> dict:
    """Evaluations and fits on a LocalCluster; the data generated on it."""
    with (
        local_cluster(args.workers, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        X, y = dask.persist(X, y)
        wait([X, y])
        generate_s = time.perf_counter() - start
        with DaskData(X, y, None, None, True, "bench") as data:
            evaluation_s = time_evaluations(data, args.repeats)
        fits = {name: counted_fit(X, y, params) for name, params in SETTINGS.items()}
        memory = client.run(worker_memory)
    return {
        "generate_s": generate_s,
        "evaluation_s": evaluation_s,
        "fits": fits,
        "workers": list(memory.values()),
    }


def memory_fits(args, X, y) -> dict:
    """The same data in this process, on one thread per core (the fit's own)."""
    with dask.config.set(scheduler="synchronous"):
        X, y = dask.compute(X, y)
    evaluation_s = time_evaluations(InMemoryData(X, y, N_CLASSES, None), args.repeats)
    fits = {name: counted_fit(X, y, params) for name, params in SETTINGS.items()}
    return {"evaluation_s": evaluation_s, "fits": fits}


# -- A worker killed during a fit ---------------------------------------------------


def killed_fits(args, X, y) -> dict:
    """A fit, then the same fit with one worker's process killed halfway.

    The worker is killed with SIGKILL, as a machine dies, after half the
    first fit's time; its nanny starts a new, empty one. Reports both times
    and the largest coefficient difference.
    """
    import signal
    import threading

    params = {"tol": 1e-4}
    with (
        local_cluster(args.workers, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        X, y = dask.persist(X, y)
        wait([X, y])
        first = counted_fit(X, y, params)
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        timer = threading.Timer(
            first["fit_s"] / 2, os.kill, (pids[victim], signal.SIGKILL)
        )
        timer.start()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            second = counted_fit(X, y, params)
        timer.cancel()
        recovered = [w for w in caught if "worker was lost" in str(w.message)]
    difference = relative_difference(second["model"].coef_, first["model"].coef_)
    for fit in (first, second):
        fit.pop("model")
    print(
        f"tol=1e-4: {first['fit_s']:.1f} s ({first['evaluations']} evaluations); "
        f"a worker killed at {first['fit_s'] / 2:.1f} s: {second['fit_s']:.1f} s "
        f"({second['evaluations']} evaluations, {len(recovered)} recoveries); "
        f"coefficients {difference:.1e} apart",
        flush=True,
    )
    return {
        "fit": first,
        "killed_fit": second,
        "recoveries": len(recovered),
        "relative_coefficient_difference": difference,
    }


# -- 100,000,000 rows streamed from Parquet ------------------------------------


def feature_names(n_features: int) -> list[str]:
    return [f"f{index:03d}" for index in range(n_features)]


def _write_part(directory: str, index: int, rows: int, n_features: int, coef):
    """Write rows ``index * rows ...`` of the streamed data set as one file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = np.random.default_rng([7, index]).standard_normal(
        (rows, n_features), dtype=np.float32
    )
    labels = planted_labels(X, coef, block_id=(index,))
    columns = {name: X[:, j] for j, name in enumerate(feature_names(n_features))}
    table = pa.table({**columns, "label": labels})
    # Plain and uncompressed: standard normal floats do not compress, and
    # pyarrow's default dictionary encoding (tried on every column until its
    # dictionary reaches 1 MiB) made the files 1.54x larger and took a core
    # 212 s to decode per pass over 100,000,000 rows. The pass's floor is then
    # the disk's bandwidth.
    pq.write_table(
        table,
        f"{directory}/part-{index:05d}.parquet",
        compression="none",
        use_dictionary=False,
    )
    return rows


def ensure_parquet(client, directory: Path, n_rows, n_features, chunk_rows) -> float:
    """Write the data set as Parquet files on the workers unless it is there.

    Returns the seconds spent writing (0 when the files were there already,
    as their manifest says).
    """
    manifest = {
        "rows": n_rows,
        "features": n_features,
        "chunk_rows": chunk_rows,
        "classes": N_CLASSES,
        "version": 2,
    }
    manifest_path = directory / "_manifest.json"  # "_": not data, to readers
    if manifest_path.exists() and json.loads(manifest_path.read_text()) == manifest:
        return 0.0
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    coef = planted_coef(n_features).astype(np.float32)
    start = time.perf_counter()
    counts = [min(chunk_rows, n_rows - first) for first in range(0, n_rows, chunk_rows)]
    futures = client.map(
        _write_part,
        [str(directory)] * len(counts),
        range(len(counts)),
        counts,
        [n_features] * len(counts),
        [coef] * len(counts),
        pure=False,
    )
    assert sum(client.gather(futures)) == n_rows
    manifest_path.write_text(json.dumps(manifest))
    return time.perf_counter() - start


def read_floor(directory: Path) -> dict:
    """The disk alone: every file's bytes read once, in order, into one buffer.

    Then the files decoded to NumPy by pyarrow in this process (the format's
    cost on one core, no model).
    """
    import pyarrow.parquet as pq

    files = sorted(directory.glob("part-*.parquet"))
    buffer = bytearray(64 << 20)
    view = memoryview(buffer)
    total, start = 0, time.perf_counter()
    for path in files:
        with open(path, "rb", buffering=0) as file:
            while (count := file.readinto(view)) > 0:
                total += count
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    for path in files[: max(1, len(files) // 10)]:
        table = pq.read_table(path)
        np.stack([column.to_numpy() for column in table.columns[:-1]], axis=1)
    decode_s = (time.perf_counter() - start) * len(files) / max(1, len(files) // 10)
    return {
        "bytes": total,
        "read_s": read_s,
        "read_gib_per_s": total / read_s / 2**30,
        "decode_one_core_s": decode_s,
    }


def stream_fits(args) -> dict:
    """The Parquet data set streamed by a LocalCluster: a pass, then fits.

    The workers' peak memory is over the whole run, the writing of the files
    included when this run wrote them (at most a few chunks, well under a
    streamed fit's per-row state).
    """
    import dask.dataframe as dd

    directory = args.data
    names = feature_names(args.features)
    with (
        local_cluster(args.workers, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        write_s = ensure_parquet(
            client, directory, args.rows, args.features, args.chunk_rows
        )
        print(f"Parquet files in {directory}: written in {write_s:.1f} s", flush=True)
        floor = read_floor(directory)  # the workers idle meanwhile
        print(
            f"disk alone: {floor['bytes'] / 2**30:.2f} GiB read in "
            f"{floor['read_s']:.1f} s ({floor['read_gib_per_s']:.2f} GiB/s); "
            f"decoded on one core: {floor['decode_one_core_s']:.1f} s",
            flush=True,
        )
        results = {"write_s": write_s, "floor": floor, "fits": {}}
        X = dd.read_parquet(directory, columns=names)
        y = dd.read_parquet(directory, columns=["label"])["label"]
        start = time.perf_counter()
        with DaskData(X, y, None, None, True, "bench") as data:
            setup_s = time.perf_counter() - start
            assert data.streamed, "X was not streamed: raise --rows"
            pass_s = time_evaluations(data, args.repeats)
        print(
            f"set-up (lengths, labels, one pass) {setup_s:.1f} s; one pass (an "
            f"evaluation) {pass_s:.1f} s = {floor['read_s'] / pass_s:.2f} of the "
            "disk's speed",
            flush=True,
        )
        results.update(setup_s=setup_s, pass_s=pass_s)
        for name in args.stream_settings:
            fit = counted_fit(X, y, SETTINGS[name])
            fit.pop("model")
            results["fits"][name] = fit
            print(
                f"{name}: {fit['fit_s']:.1f} s, {fit['iterations']} iterations, "
                f"{fit['evaluations']} evaluations, "
                f"{fit['seconds_per_evaluation']:.1f} s each",
                flush=True,
            )
        results["workers"] = list(client.run(worker_memory).values())
    for index, usage in enumerate(results["workers"]):
        print(
            f"worker {index}: peak RSS {usage['peak_rss_mib']:.0f} MiB, managed "
            f"{usage['managed_mib']:.0f} MiB"
        )
    return results


# -- Spark MLlib side by side ----------------------------------------------------


def relative_objective(X, y, coef, intercept, C: float) -> float:
    """Our (scikit-learn's) objective divided by ``C * n``, in float64.

    ``mean_i loss_i + ||coef||^2 / (2 C n)``, which is Spark's with
    ``regParam = 1 / (C n)``; row blocks in float64, scipy's logsumexp: a
    reference independent of the fits' own code.
    """
    from scipy.special import logsumexp

    total = 0.0
    for start in range(0, X.shape[0], 1_000_000):
        block = X[start : start + 1_000_000].astype(np.float64)
        scores = block @ coef.T + intercept
        labels = y[start : start + 1_000_000]
        true = scores[np.arange(labels.size), labels]
        total += float((logsumexp(scores, axis=1) - true).sum())
    n_rows = X.shape[0]
    return total / n_rows + float((coef**2).sum()) / (2 * C * n_rows)


def objective_from_files(directory: Path, n_features: int, coef, intercept, C):
    """:func:`relative_objective` over the Parquet files, one at a time."""
    import pyarrow.parquet as pq

    total, n_rows = 0.0, 0
    for path in sorted(directory.glob("part-*.parquet")):
        table = pq.read_table(path)
        X = np.stack([table[name].to_numpy() for name in feature_names(n_features)], 1)
        y = table["label"].to_numpy()
        # relative_objective's mean, weighted back to a sum; the penalty once.
        part = relative_objective(X, y, coef, intercept, np.inf)
        total += part * y.size
        n_rows += y.size
    return total / n_rows + float((coef**2).sum()) / (2 * C * n_rows)


def read_parquet_in_memory(directory: Path, n_features: int) -> tuple:
    """The Parquet data set as one float32 array and its labels, in this process."""
    import pyarrow.parquet as pq

    parts = [pq.read_table(path) for path in sorted(directory.glob("part-*.parquet"))]
    X = np.concatenate(
        [
            np.stack([table[name].to_numpy() for name in feature_names(n_features)], 1)
            for table in parts
        ]
    )
    y = np.concatenate([table["label"].to_numpy() for table in parts])
    return X, y


def spark_session(cores: int, memory: str):
    """A local Spark session (``local[cores]``) and the seconds it took to start."""
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    # One BLAS thread per Spark core, as our workers run (the JVM reads the
    # environment when it starts; this process's is restored after).
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        spark = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("softmax-regression bench_scale")
            .config("spark.driver.memory", memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(cores))
            .getOrCreate()
        )
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    spark.sparkContext.setLogLevel("ERROR")
    return spark, time.perf_counter() - start


def spark_blas(spark) -> str:
    """The BLAS Spark's linear algebra uses: native (JNI) or Java."""
    try:
        blas = spark.sparkContext._jvm.dev.ludovic.netlib.blas.BLAS.getInstance()
        return str(blas.getClass().getName())
    except Exception as error:  # a Spark without netlib's loader
        return f"unknown ({type(error).__name__})"


def spark_fit(frame, C: float, n_rows: int, tol: float):
    """Spark MLlib's multinomial LogisticRegression with our objective."""
    from pyspark.ml.classification import LogisticRegression

    estimator = LogisticRegression(
        family="multinomial",
        regParam=1.0 / (C * n_rows),
        elasticNetParam=0.0,
        standardization=False,
        fitIntercept=True,
        tol=tol,
        maxIter=10_000,
    )
    start = time.perf_counter()
    model = estimator.fit(frame)
    seconds = time.perf_counter() - start
    return (
        model.coefficientMatrix.toArray(),
        model.interceptVector.toArray(),
        model.summary.totalIterations,
        seconds,
    )


def spark_matches_our_objective(spark) -> dict:
    """Coefficient for coefficient on a small case, both fits at tight tolerance."""
    from pyspark.ml.linalg import Vectors

    X, y = dask.compute(*make_data(2_000, 10, 2_000, 3), scheduler="synchronous")
    X = X.astype(np.float64)
    rows = [(Vectors.dense(x), int(label)) for x, label in zip(X, y, strict=True)]
    frame = spark.createDataFrame(rows, ["features", "label"])
    coef, intercept, _, _ = spark_fit(frame, 1.0, X.shape[0], 1e-12)
    ours = SoftmaxRegression(C=1.0, solver="newton-cg", tol=1e-12).fit(X, y)
    scale = np.abs(ours.coef_).max()
    # The intercepts are defined up to a common shift: compared centred.
    centred = (intercept - intercept.mean()) - (
        ours.intercept_ - ours.intercept_.mean()
    )
    difference = max(np.abs(coef - ours.coef_).max(), np.abs(centred).max()) / scale
    return {
        "rows": 2_000,
        "features": 10,
        "classes": 3,
        "relative_difference": float(difference),
    }


def spark_fits(args) -> dict:
    """Spark MLlib and our Dask fit on the same Parquet files, same cores."""
    import dask.dataframe as dd

    directory = args.data.with_name(f"{args.data.name}-{args.rows}")
    C = 1.0
    results = {"spark": [], "ours": {}}
    names = feature_names(args.features)
    with (
        local_cluster(args.workers, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        ensure_parquet(client, directory, args.rows, args.features, args.chunk_rows)
        # Objectives in float64 (scipy's logsumexp), from memory where the
        # data fits beside a float64 copy, else from the files one at a time;
        # gaps relative to the lowest objective found (a float64 newton-cg fit
        # at tol=1e-10 where the data fits in memory). The workers idle.
        if args.rows <= 10_000_000:
            X, y = read_parquet_in_memory(directory, args.features)

            def objective(coef, intercept) -> float:
                return relative_objective(X, y, coef, intercept, C)

            start = time.perf_counter()
            reference = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10).fit(
                X.astype(np.float64), y
            )
            results["reference_s"] = time.perf_counter() - start
            results["reference_objective"] = objective(
                reference.coef_, reference.intercept_
            )
        else:
            X = y = None

            def objective(coef, intercept) -> float:
                return objective_from_files(
                    directory, args.features, coef, intercept, C
                )

        def record(fit: dict) -> dict:
            model = fit.pop("model")
            coef = model.coef_.astype(np.float64)
            fit["objective"] = objective(coef, model.intercept_)
            return fit

        frame = dd.read_parquet(directory, columns=names)
        labels = dd.read_parquet(directory, columns=["label"])["label"]
        results["ours"]["dask default"] = record(counted_fit(frame, labels, {"C": C}))
    if X is not None:
        results["ours"]["memory default"] = record(counted_fit(X, y, {"C": C}))

    def lowest() -> float:
        found = [fit["objective"] for fit in results["ours"].values()]
        found += [row["objective"] for row in results["spark"]]
        return min([*found, results.get("reference_objective", np.inf)])

    def gap(value: float) -> float:
        return (value - lowest()) / abs(lowest())

    for name, fit in results["ours"].items():
        print(
            f"ours, {name}: {fit['fit_s']:.1f} s, {fit['iterations']} iterations, "
            f"gap {gap(fit['objective']):.1e}",
            flush=True,
        )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark is not installed: no Spark rows")
    else:
        spark_rows(args, results, directory, objective, gap)
    for fit in [*results["ours"].values(), *results["spark"]]:
        fit["gap"] = gap(fit["objective"])
    return results


def spark_rows(args, results: dict, directory: Path, objective, gap) -> None:
    """Spark's start, its objective check, caching and fits, into ``results``."""
    C = 1.0
    names = feature_names(args.features)
    spark, start_s = spark_session(args.workers, args.spark_memory)
    results["spark_start_s"] = start_s
    results["spark_blas"] = spark_blas(spark)
    print(f"Spark started in {start_s:.1f} s; its BLAS: {results['spark_blas']}")
    try:
        results["objective_check"] = spark_matches_our_objective(spark)
        print(
            "Spark's objective is ours: coefficients on 2,000 x 10 x 3 agree to "
            f"{results['objective_check']['relative_difference']:.1e}",
            flush=True,
        )
        from pyspark.ml.feature import VectorAssembler

        start = time.perf_counter()
        frame = VectorAssembler(inputCols=names, outputCol="features").transform(
            spark.read.parquet(str(directory))
        )
        frame = frame.select("features", "label").cache()
        frame.count()
        results["spark_load_s"] = time.perf_counter() - start
        for tol in args.spark_tols:
            coef, intercept, iterations, seconds = spark_fit(frame, C, args.rows, tol)
            row = {
                "tol": tol,
                "fit_s": seconds,
                "iterations": iterations,
                "objective": objective(coef, intercept),
            }
            results["spark"].append(row)
            print(
                f"Spark tol={tol:g}: {seconds:.1f} s, {iterations} iterations, gap "
                f"{gap(row['objective']):.1e}",
                flush=True,
            )
            if gap(row["objective"]) <= 1e-6:
                break
    finally:
        spark.stop()


def finish(args, **measured) -> dict:
    """The run's set-up and ``measured``, written to ``--json`` if given."""
    results = {
        "environment": run_environment(),
        "rows": args.rows,
        "features": args.features,
        "classes": N_CLASSES,
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        **measured,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--stream",
        action="store_true",
        help="Parquet files larger than memory, streamed (default 100,000,000 rows)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "softmax-regression-scale",
        help="where --stream writes and reads its Parquet files",
    )
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument(
        "--stream-settings", nargs="+", default=["tol=1e-4"], choices=list(SETTINGS)
    )
    parser.add_argument(
        "--spark",
        action="store_true",
        help="Spark MLlib against our Dask fit on Parquet files (default 5,000,000 "
        "rows; Spark rows only where pyspark is installed)",
    )
    parser.add_argument("--spark-memory", default="8g", help="Spark's driver memory")
    parser.add_argument(
        "--spark-tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4, 1e-6]
    )
    parser.add_argument(
        "--kill", action="store_true", help="a worker killed during a fit, only"
    )
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv
    if (args.spark or args.stream) and args.quick:
        # Both modes' quick runs: 20,000 x 20 in 8 files, 2 small workers.
        args.rows, args.features, args.chunk_rows = 20_000, 20, 2_500
        args.workers, args.memory_limit, args.repeats = 2, "1GiB", 1
        args.data = args.data.with_name(args.data.name + "-quick")
    if args.spark:
        if args.quick:
            args.spark_memory, args.spark_tols = "1g", [1e-4]
        elif "--rows" not in given:
            args.rows = 5_000_000
        if "--workers" not in given and not args.quick:
            args.workers, args.memory_limit = 2, "4GiB"
        return finish(args, spark_memory=args.spark_memory, spark=spark_fits(args))
    if args.stream:
        if "--rows" not in given and not args.quick:
            args.rows = 100_000_000
        # The quick run's data set is small: streamed only because it is told.
        setting = True if args.quick else "auto"
        with dask.config.set({"softmax-regression.stream": setting}):
            stream = stream_fits(args)
        return finish(args, chunk_rows=args.chunk_rows, stream=stream)
    if args.quick:
        args.rows, args.features, args.workers = 20_000, 20, 2
        args.memory_limit, args.repeats = "1GiB", 2
    chunk_rows = max(1, min(args.rows, (64 << 20) // (4 * args.features)))  # 64 MiB
    if args.quick:
        chunk_rows = args.rows // 8
    X, y = make_data(args.rows, args.features, chunk_rows, N_CLASSES)
    n_coef = N_CLASSES * (args.features + 1)
    # Out: the coefficients to each worker; back: a loss and a gradient each.
    wire_bytes = 2 * args.workers * len(pickle.dumps(np.zeros(n_coef)))
    print(
        f"X: {args.rows:,} x {args.features} float32 = {X.nbytes / 2**30:.2f} GiB "
        f"in {X.numblocks[0]} chunks; {N_CLASSES} classes; {args.workers} workers "
        f"x 1 thread, {args.memory_limit} each; in memory: one thread per core "
        f"({available_cpus()})",
        flush=True,
    )
    if args.kill:
        return finish(args, kill=killed_fits(args, X, y))
    cluster = cluster_fits(args, X, y)
    memory = memory_fits(args, X, y)
    print(
        f"generated on the workers in {cluster['generate_s']:.1f} s; one "
        f"evaluation: cluster {cluster['evaluation_s']:.3f} s, in memory "
        f"{memory['evaluation_s']:.3f} s, ratio "
        f"{cluster['evaluation_s'] / memory['evaluation_s']:.2f}; "
        f"{wire_bytes:,} bytes on the wire per evaluation"
    )
    print(
        f"\n{'fit':<10} {'where':<8} {'s':>8} {'iters':>6} {'evals':>6} {'s/eval':>8}"
    )
    for name in SETTINGS:
        for where, run in (("cluster", cluster), ("memory", memory)):
            fit = run["fits"][name]
            print(
                f"{name:<10} {where:<8} {fit['fit_s']:>8.2f} {fit['iterations']:>6} "
                f"{fit['evaluations']:>6} {fit['seconds_per_evaluation']:>8.3f}"
            )
    tight_cluster = cluster["fits"]["tol=1e-8"]["model"]
    tight_memory = memory["fits"]["tol=1e-8"]["model"]
    difference = relative_difference(tight_cluster.coef_, tight_memory.coef_)
    print(
        f"\ntol=1e-8: largest coefficient difference / largest |coef|: {difference:.1e}"
    )
    header = f"{'worker':>6} {'peak RSS MiB':>12} {'managed MiB':>11}"
    print(f"\n{header} {'unmanaged MiB':>13}")
    for index, usage in enumerate(cluster["workers"]):
        print(
            f"{index:>6} {usage['peak_rss_mib']:>12.0f} {usage['managed_mib']:>11.0f} "
            f"{usage['unmanaged_mib']:>13.0f}"
        )
    for run in (cluster, memory):
        for fit in run["fits"].values():
            fit.pop("model")
    return finish(
        args,
        bytes_per_evaluation=wire_bytes,
        cluster=cluster,
        memory=memory,
        **{"relative_coefficient_difference_tol_1e-8": difference},
    )


if __name__ == "__main__":
    main()
