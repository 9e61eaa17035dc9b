"""SoftmaxRegression on a Dask cluster: data larger than a worker's memory.

Run from the repository root (needs the ``[dask]`` extra; dask-ml for its row):

    python benchmarks/bench_dask.py                 # 20,000,000 x 100 float32
    python benchmarks/bench_dask.py --quick         # seconds, for the smoke test

On a ``LocalCluster`` of 1 and then 2 worker processes (one thread each, a
memory limit per worker well below X's size: what does not fit is spilled to
disk by Dask and read back at each evaluation), X is generated lazily with
``dask.array.random`` and never exists on the client. For each cluster size
it reports the time of one evaluation (loss and gradient), the fit, the bytes
an evaluation sends and receives, and the client's peak memory; then the
constants of the cost model (round-trip latency, coefficient transfer); the
in-memory fit of the largest size that fits here, for comparison; and
dask-ml's LogisticRegression on a two-class version of the same data.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import dask
import dask.array as da
import numpy as np
from _cases import run_environment
from distributed import Client, LocalCluster, wait

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.dask import DaskData

N_CLASSES = 10


def planted_labels(block, coef, block_id=None):
    """Labels of a row block from the softmax model itself (Gumbel trick)."""
    rng = np.random.default_rng(block_id[0] + 1)
    scores = block @ coef.T
    scores += rng.gumbel(size=scores.shape).astype(scores.dtype)
    return np.argmax(scores, axis=1).astype(np.int32)


def planted_coef(n_features: int, n_classes: int = N_CLASSES) -> np.ndarray:
    """The softmax model that plants the labels (float64)."""
    return np.random.default_rng(1).normal(
        scale=2.0 / np.sqrt(n_features), size=(n_classes, n_features)
    )


def make_data(n_rows: int, n_features: int, chunk_rows: int, n_classes: int):
    """Lazy X (float32, standard normal) and planted labels: nothing computed."""
    X = da.random.default_rng(0).standard_normal(
        (n_rows, n_features), dtype=np.float32, chunks=(chunk_rows, n_features)
    )
    coef = planted_coef(n_features, n_classes)
    y = X.map_blocks(
        planted_labels,
        coef.astype(np.float32),
        drop_axis=1,
        dtype=np.int32,
        meta=np.empty((0,), dtype=np.int32),
    )
    return X, y


def peak_rss_mib() -> float:
    """Peak resident memory of this (the client's) process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_evaluations(data, repeats: int) -> float:
    """Median seconds of one loss-and-gradient evaluation of ``data``'s objective.

    ``data`` is a DaskData or an InMemoryData; one evaluation first, untimed
    (on a cluster it also reads spilled chunks back).
    """
    with data.objective(1e-6, True, None) as loss:
        coef = np.random.default_rng(2).normal(scale=0.01, size=loss.n_coef)
        loss.loss_gradient(coef)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            loss.loss_gradient(coef)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def local_cluster(n_workers: int, memory_limit="auto") -> LocalCluster:
    """Worker processes of one thread each, no dashboard, quiet logs."""
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        memory_limit=memory_limit,
        dashboard_address=":0",
        silence_logs=40,
    )


def cluster_run(n_workers, X, y, memory_limit, repeats, fit_params) -> dict:
    """Evaluations and a fit on a fresh cluster of ``n_workers``."""
    with local_cluster(n_workers, memory_limit) as cluster, Client(cluster):
        rss_before = peak_rss_mib()
        start = time.perf_counter()
        X_persisted, y_persisted = dask.persist(X, y)
        wait([X_persisted, y_persisted])
        generate_s = time.perf_counter() - start
        with DaskData(X_persisted, y_persisted, None, None, True, "bench") as data:
            evaluation_s = time_evaluations(data, repeats)
            n_coef = data.n_classes * (data.shape[1] + 1)
        start = time.perf_counter()
        model = SoftmaxRegression(**fit_params).fit(X_persisted, y_persisted)
        fit_s = time.perf_counter() - start
        coef_bytes = len(pickle.dumps(np.zeros(n_coef)))
        return {
            "workers": n_workers,
            "generate_s": generate_s,
            "evaluation_s": evaluation_s,
            "fit_s": fit_s,
            "n_iter": int(model.n_iter_[0]),
            # Out: the coefficients to each worker; back: (loss, gradient).
            "bytes_per_evaluation": 2 * n_workers * coef_bytes,
            "client_peak_rss_mib": peak_rss_mib(),
            "client_peak_growth_mib": peak_rss_mib() - rss_before,
            "model": model,
        }


def latency_constants(repeats: int) -> dict:
    """Round trip of an evaluation with no data, and the cost per coefficient."""
    results = {}
    with local_cluster(2) as cluster, Client(cluster):
        for n_features in (4, 20_000):
            X = da.random.default_rng(0).standard_normal(
                (20, n_features), chunks=(10, n_features)
            )
            y = da.from_array(np.arange(20) % N_CLASSES, chunks=10)
            with DaskData(X, y, None, None, True, "bench") as data:
                results[n_features] = (
                    time_evaluations(data, repeats),
                    data.n_classes * (n_features + 1),
                )
    (tiny_s, tiny_coef), (wide_s, wide_coef) = results[4], results[20_000]
    return {
        "round_trip_s": tiny_s,
        "seconds_per_coefficient": (wide_s - tiny_s) / (wide_coef - tiny_coef),
        "wide_evaluation_s": wide_s,
        "wide_n_coef": wide_coef,
    }


def in_memory_run(n_rows, n_features, repeats, fit_params) -> dict:
    """The in-memory fit on ``n_rows`` of the same generator."""
    X, y = make_data(n_rows, n_features, n_rows, N_CLASSES)
    with dask.config.set(scheduler="synchronous"):
        X, y = dask.compute(X, y)
    from softmax_regression._backends.memory import InMemoryData

    evaluation_s = time_evaluations(InMemoryData(X, y, N_CLASSES, None), repeats)
    start = time.perf_counter()
    model = SoftmaxRegression(**fit_params).fit(X, y)
    return {
        "rows": n_rows,
        "evaluation_s": evaluation_s,
        "fit_s": time.perf_counter() - start,
        "n_iter": int(model.n_iter_[0]),
        "model": model,
    }


def dask_ml_run(X, y, memory_limit, max_iter) -> dict | None:
    """dask-ml's LogisticRegression (two classes only) on y % 2, 2 workers."""
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError:
        return None
    with local_cluster(2, memory_limit) as cluster, Client(cluster):
        X_persisted, y_persisted = dask.persist(X, (y % 2).astype(np.float64))
        wait([X_persisted, y_persisted])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(
                solver="lbfgs", C=1.0, max_iter=max_iter, tol=1e-4
            ).fit(X_persisted, y_persisted)
        fit_s = time.perf_counter() - start
        ours_start = time.perf_counter()
        ours = SoftmaxRegression(solver="lbfgs", tol=1e-4, max_iter=max_iter).fit(
            X_persisted, (y_persisted % 2)
        )
        return {
            "dask_ml_fit_s": fit_s,
            "dask_ml_n_iter": int(np.ravel(getattr(model, "n_iter_", [-1]))[0]),
            "ours_binary_fit_s": time.perf_counter() - ours_start,
            "ours_binary_n_iter": int(ours.n_iter_[0]),
        }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--memory-limit", default="2GiB", help="per worker")
    parser.add_argument("--in-memory-rows", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-dask-ml", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.features, args.memory_limit = 40_000, 20, "1GiB"
        args.in_memory_rows, args.repeats = 20_000, 2
    chunk_rows = max(1, min(args.rows, (64 << 20) // (4 * args.features)))  # 64 MiB
    if args.quick:
        chunk_rows = args.rows // 8
    X, y = make_data(args.rows, args.features, chunk_rows, N_CLASSES)
    x_gib = X.nbytes / 2**30
    fit_params = {"tol": 1e-4, "solver": "lbfgs"}
    print(
        f"X: {args.rows:,} x {args.features} float32 = {x_gib:.2f} GiB in "
        f"{X.numblocks[0]} chunks; {N_CLASSES} classes; worker memory limit "
        f"{args.memory_limit}; fit: SoftmaxRegression({fit_params})"
    )
    runs = [
        cluster_run(n, X, y, args.memory_limit, args.repeats, fit_params)
        for n in (1, 2)
    ]
    print(
        f"\n{'workers':>7} {'generate s':>10} {'eval s':>8} {'fit s':>8} "
        f"{'iters':>5} {'bytes/eval':>10} {'client peak MiB':>15}"
    )
    for run in runs:
        print(
            f"{run['workers']:>7} {run['generate_s']:>10.1f} "
            f"{run['evaluation_s']:>8.3f} {run['fit_s']:>8.1f} {run['n_iter']:>5} "
            f"{run['bytes_per_evaluation']:>10,} {run['client_peak_rss_mib']:>15.0f}"
        )
    difference = np.abs(runs[0]["model"].coef_ - runs[1]["model"].coef_).max()
    print(f"1 vs 2 workers: largest coefficient difference {difference:.2e}")

    constants = latency_constants(args.repeats * 4)
    n_coef = N_CLASSES * (args.features + 1)
    transfer_s = n_coef * constants["seconds_per_coefficient"]
    per_row_s = (
        max(0.0, runs[0]["evaluation_s"] - constants["round_trip_s"] - transfer_s)
        / args.rows
    )
    print(
        f"\ncost model: round trip {constants['round_trip_s'] * 1e3:.2f} ms; "
        f"{constants['seconds_per_coefficient'] * 1e9:.1f} ns per coefficient "
        f"({constants['wide_n_coef']:,} coefficients: "
        f"{constants['wide_evaluation_s'] * 1e3:.1f} ms); compute "
        f"{per_row_s * 1e9:.0f} ns per row ({args.features} features, "
        f"{N_CLASSES} classes, one worker thread)"
    )
    predictions = []
    for n_workers in (10, 100):
        rows_per_worker = 1e9 / n_workers
        seconds = rows_per_worker * per_row_s + constants["round_trip_s"] + transfer_s
        predictions.append({"workers": n_workers, "evaluation_s": seconds})
        print(
            f"  predicted, 1e9 rows on {n_workers} one-thread workers: "
            f"{seconds:.2f} s per evaluation"
        )

    memory = in_memory_run(args.in_memory_rows, args.features, args.repeats, fit_params)
    print(
        f"\nin memory, {memory['rows']:,} rows: evaluation {memory['evaluation_s']:.3f}"
        f" s ({memory['evaluation_s'] / memory['rows'] * 1e9:.0f} ns per row), fit "
        f"{memory['fit_s']:.1f} s, {memory['n_iter']} iterations"
    )
    reference = None
    if not args.no_dask_ml:
        reference = dask_ml_run(X, y, args.memory_limit, max_iter=100)
        if reference is None:
            print("dask-ml is not installed: no reference row")
        else:
            print(
                f"two classes (y % 2), 2 workers: dask-ml LogisticRegression(lbfgs) "
                f"{reference['dask_ml_fit_s']:.1f} s; ours "
                f"{reference['ours_binary_fit_s']:.1f} s "
                f"({reference['ours_binary_n_iter']} iterations)"
            )
    for run in [*runs, memory]:
        run.pop("model")
    results = {
        "environment": run_environment(),
        "rows": args.rows,
        "features": args.features,
        "classes": N_CLASSES,
        "x_gib": x_gib,
        "memory_limit": args.memory_limit,
        "runs": runs,
        "coefficient_difference_1_vs_2_workers": float(difference),
        "cost_model": {**constants, "seconds_per_row": per_row_s},
        "predicted": predictions,
        "in_memory": memory,
        "dask_ml": reference,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
