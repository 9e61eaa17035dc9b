"""Fit time, iterations, objective and memory: SoftmaxRegression vs LogisticRegression.

Both estimators fit the same data with the same C, tol and max_iter, in
alternating runs on the same machine; the table reports the median fit time of
each, their ratio, iterations, the objective each reached (computed by one
shared function, in float64) and the peak memory each allocated during fit
(tracemalloc, in a separate untimed fit). A second table times one
objective+gradient evaluation against its floor: the two matrix products it
cannot avoid, X @ W.T and G.T @ X, on the same arrays.

    python benchmarks/bench_fit.py                  # the full run (minutes)
    python benchmarks/bench_fit.py --quick          # tiny sizes, a smoke test
    python benchmarks/bench_fit.py --json out.json  # also write the results
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import _cases

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import in_memory_loss
from softmax_regression._parallel import evaluation_threads, threads_for_work

C, TOL, MAX_ITER = 1.0, 1e-4, 1000


@dataclass
class Case:
    """A dataset to fit, and how to run the fits."""

    name: str
    make: Callable[[], tuple]
    blas_threads: int | None = None  # None: the machine's default
    solver: str = "lbfgs"  # ours; LogisticRegression always runs lbfgs


@dataclass
class FitRow:
    """One line of the fit table."""

    case: str
    shape: str
    dtype: str
    ours_s: float
    theirs_s: float
    ratio: float
    ours_iter: int
    theirs_iter: int
    ours_objective: float
    theirs_objective: float
    relative_objective_difference: float
    ours_peak_mb: float
    theirs_peak_mb: float


def cases(quick: bool) -> list[Case]:
    if quick:
        return [
            Case("iris", _cases.iris),
            Case("dense", partial(_cases.dense, 2_000, 20, 5)),
            Case("dense float32", partial(_cases.dense, 2_000, 20, 5, np.float32)),
            Case("sparse text-like", partial(_cases.text_like, 1_000, 2_000, 20, 4)),
            Case(
                "dense, trust-ncg",
                partial(_cases.dense, 2_000, 20, 5),
                solver="trust-ncg",
            ),
        ]
    return [
        Case("iris", _cases.iris),
        Case("digits", _cases.digits),
        Case("digits, BLAS 1 thread", _cases.digits, 1),
        Case("dense", partial(_cases.dense, 200_000, 100, 10)),
        Case("dense float32", partial(_cases.dense, 200_000, 100, 10, np.float32)),
        Case("many classes", partial(_cases.dense, 20_000, 200, 100)),
        Case("sparse text-like", partial(_cases.text_like, 100_000, 50_000, 50, 20)),
        Case("wide", partial(_cases.dense, 2_000, 5_000, 5)),
        *(
            Case(f"{name}, {solver}", make, solver=solver)
            for solver in ("newton-cg", "trust-ncg", "trust-krylov")
            for name, make in (
                ("digits", _cases.digits),
                ("dense", partial(_cases.dense, 200_000, 100, 10)),
                ("many classes", partial(_cases.dense, 20_000, 200, 100)),
            )
        ),
    ]


def objective(estimator, X, y) -> float:
    """The penalised objective at a fitted estimator's coefficients, in float64."""
    classes = estimator.classes_
    X = X.astype(np.float64)
    y_encoded = np.searchsorted(classes, y)
    loss = in_memory_loss(
        X, y_encoded, classes.size, None, 1.0 / (C * X.shape[0]), True
    )
    coef = np.concatenate(
        [np.asarray(estimator.coef_, np.float64).ravel(), estimator.intercept_]
    )
    return loss.loss(coef)


def fit_seconds(estimator, X, y, blas_threads) -> float:
    with threadpool_limits(blas_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


def peak_megabytes(estimator, X, y, blas_threads) -> float:
    tracemalloc.start()
    try:
        fit_seconds(estimator, X, y, blas_threads)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run_case(case: Case, repeats: int) -> FitRow:
    X, y = case.make()
    models = {
        "ours": SoftmaxRegression(C=C, tol=TOL, max_iter=MAX_ITER, solver=case.solver),
        "theirs": LogisticRegression(C=C, tol=TOL, max_iter=MAX_ITER),
    }
    times = {name: [] for name in models}
    for repeat in range(repeats):
        # Alternate who goes first, so neither always runs on a warm cache.
        order = list(models) if repeat % 2 == 0 else list(models)[::-1]
        for name in order:
            times[name].append(fit_seconds(models[name], X, y, case.blas_threads))
    peaks = {
        name: peak_megabytes(model, X, y, case.blas_threads)
        for name, model in models.items()
    }
    ours_s = statistics.median(times["ours"])
    theirs_s = statistics.median(times["theirs"])
    ours_objective = objective(models["ours"], X, y)
    theirs_objective = objective(models["theirs"], X, y)
    n_classes = np.unique(y).size
    return FitRow(
        case=case.name,
        shape=f"{X.shape[0]} x {X.shape[1]} x {n_classes}",
        dtype=("sparse " if sp.issparse(X) else "") + X.dtype.name,
        ours_s=ours_s,
        theirs_s=theirs_s,
        ratio=ours_s / theirs_s,
        ours_iter=int(models["ours"].n_iter_[0]),
        theirs_iter=int(np.max(models["theirs"].n_iter_)),
        ours_objective=ours_objective,
        theirs_objective=theirs_objective,
        relative_objective_difference=(ours_objective - theirs_objective)
        / abs(theirs_objective),
        ours_peak_mb=peaks["ours"],
        theirs_peak_mb=peaks["theirs"],
    )


def median_ms(function: Callable[[], object], repeats: int) -> float:
    function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return 1e3 * statistics.median(samples)


def evaluation_row(n_samples: int, dtype, repeats: int) -> dict:
    """Time one objective+gradient evaluation against the two bare products."""
    n_classes = 10
    X, y = _cases.dense(n_samples, 100, n_classes, dtype)
    rng = np.random.default_rng(0)
    coef = rng.normal(scale=0.01, size=n_classes * 101)
    weights = coef[: n_classes * 100].reshape(n_classes, 100).astype(dtype)
    scores = np.empty((n_classes, n_samples), dtype=dtype)
    floors = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            floors[threads] = median_ms(
                lambda: np.matmul(weights, X.T, out=scores), repeats
            ) + median_ms(lambda: scores @ X, repeats)
    with (
        evaluation_threads(threads_for_work(X.size * n_classes)) as n_threads,
        in_memory_loss(X, y, n_classes, None, 1.0 / n_samples, True, n_threads) as loss,
    ):
        evaluation = median_ms(lambda: loss.loss_gradient(coef), repeats)
    return {
        "case": f"{n_samples} x 100 x {n_classes}",
        "dtype": np.dtype(dtype).name,
        "evaluation_ms": evaluation,
        "floor_1_thread_ms": floors[1],
        "floor_2_threads_ms": floors[2],
        "evaluation_over_floor": evaluation / min(floors.values()),
        "threads": n_threads,
    }


def print_fit_table(rows: list[FitRow]) -> None:
    header = (
        f"{'case':<22} {'n x d x K':>22} {'dtype':>14} {'ours s':>8} {'LR s':>8} "
        f"{'ratio':>6} {'iter':>9} {'objective (ours)':>17} {'rel. diff':>10} "
        f"{'peak MB':>15}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.case:<22} {row.shape:>22} {row.dtype:>14} {row.ours_s:>8.3f} "
            f"{row.theirs_s:>8.3f} {row.ratio:>6.2f} "
            f"{f'{row.ours_iter}/{row.theirs_iter}':>9} "
            f"{row.ours_objective:>17.10g} {row.relative_objective_difference:>10.1e} "
            f"{f'{row.ours_peak_mb:.1f}/{row.theirs_peak_mb:.1f}':>15}"
        )
    print(
        "ratio = ours/LR median fit time; iter and peak MB are ours/LR; rel. diff "
        "= (ours - LR)/|LR| objective (negative: ours is lower)."
    )


def print_evaluation_table(rows: list[dict]) -> None:
    print(
        f"\n{'one evaluation':<22} {'dtype':>8} {'eval ms':>8} {'floor ms':>9} "
        f"{'eval/floor':>10} {'threads':>8}"
    )
    for row in rows:
        floor = min(row["floor_1_thread_ms"], row["floor_2_threads_ms"])
        print(
            f"{row['case']:<22} {row['dtype']:>8} {row['evaluation_ms']:>8.1f} "
            f"{floor:>9.1f} {row['evaluation_over_floor']:>10.2f} "
            f"{row['threads']:>8}"
        )
    print(
        "floor = X @ W.T plus G @ X (the two bare products), best of 1 and 2 "
        "BLAS threads."
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes")
    parser.add_argument("--repeats", type=int, default=None, help="fits per model")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", help="run only cases whose name contains this")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)

    selected = [
        case for case in cases(args.quick) if not args.only or args.only in case.name
    ]
    fit_rows = []
    for case in selected:
        fit_rows.append(run_case(case, repeats))
    print_fit_table(fit_rows)
    evaluation_rows = [
        evaluation_row(2_000 if args.quick else 200_000, dtype, max(repeats, 5))
        for dtype in (np.float64, np.float32)
    ]
    print_evaluation_table(evaluation_rows)

    results = {
        **_cases.run_environment(),
        "settings": {"C": C, "tol": TOL, "max_iter": MAX_ITER, "repeats": repeats},
        "fits": [asdict(row) for row in fit_rows],
        "evaluations": evaluation_rows,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
