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
import pickle
import re
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import dask
import numpy as np
from _cases import run_environment
from bench_dask import N_CLASSES, local_cluster, make_data, time_evaluations
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
    return {
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "managed_mib": managed / 2**20,
    }


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
        "workers": [
            {
                **usage,
                "unmanaged_mib": usage["peak_rss_mib"] - usage["managed_mib"],
            }
            for usage in memory.values()
        ],
    }


def memory_fits(args, X, y) -> dict:
    """The same data in this process, on one thread per core (the fit's own)."""
    with dask.config.set(scheduler="synchronous"):
        X, y = dask.compute(X, y)
    evaluation_s = time_evaluations(InMemoryData(X, y, N_CLASSES, None), args.repeats)
    fits = {name: counted_fit(X, y, params) for name, params in SETTINGS.items()}
    return {"evaluation_s": evaluation_s, "fits": fits}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
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
    difference = float(
        np.abs(tight_cluster.coef_ - tight_memory.coef_).max()
        / np.abs(tight_memory.coef_).max()
    )
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
    results = {
        "environment": run_environment(),
        "rows": args.rows,
        "features": args.features,
        "classes": N_CLASSES,
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        "bytes_per_evaluation": wire_bytes,
        "cluster": cluster,
        "memory": memory,
        "relative_coefficient_difference_tol_1e-8": difference,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
