"""Text classification: solver="saga" (compiled SAGA) against newton-cg and sag.

For each sparse TF-IDF case and ``C``, side by side in one run, at equal
accuracy (a relative objective gap of at most 1e-6 against a reference fit,
``newton-cg`` at ``tol=1e-10``): our default (``solver="auto"``, which is
``"saga"`` there), our ``newton-cg``, and scikit-learn's ``sag``, the fastest
scikit-learn solver on real text, at the fewest epochs (doubling, then
bisecting ``max_iter``) that reach the gap. Also prints the compiled
kernels' first-call cost in this environment (``import numba``, compile or
cache load) and writes JSON.

    python benchmarks/bench_text.py                  # docstrings, Debian, text-like
    python benchmarks/bench_text.py --quick          # a smoke test (seconds)
    python benchmarks/bench_text.py --only text-like --json out.json
    python benchmarks/bench_text.py --only none --dense --switch   # the rest
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))
import _cases

from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import in_memory_loss

GAP = 1e-6


def cases(quick: bool) -> dict:
    """``name -> (X, y)``."""
    if quick:
        return {"text-like 2,000 x 1,000 x 5": _cases.text_like(2_000, 1_000, 20, 5)}
    X, y, _ = _cases.docstrings()
    text = _cases.text_like(30_000, 20_000, 50, 20)
    found = {f"docstrings {X.shape[0]:,} x {X.shape[1]:,} x {y.max() + 1}": (X, y)}
    debian = _cases.debian_packages()
    if debian is not None:  # a machine with apt lists
        X, y, _ = debian
        found[f"debian packages {X.shape[0]:,} x {X.shape[1]:,} x {y.max() + 1}"] = (
            X,
            y,
        )
    return {
        **found,
        "text-like 30,000 x 20,000 x 20": text,
        "text-like, float32": (text[0].astype(np.float32), text[1]),
    }


def objective(X, y, C, coef, intercept) -> float:
    """The objective in float64 (float32 data converted: the same values)."""
    X = X.astype(np.float64)
    loss = in_memory_loss(X, y, int(y.max()) + 1, None, 1.0 / (C * X.shape[0]), True)
    # float64 coefficients too (a float32 model's, summed in float32, were
    # 2e-6 off).
    flat = np.r_[np.asarray(coef, np.float64).ravel(), np.asarray(intercept, float)]
    return loss.loss(flat)


def timed(make, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make().fit(X, y)
    return model, time.perf_counter() - start


def sag_to_gap(X, y, C, f_star, quick):
    """scikit-learn's sag at the fewest epochs reaching GAP: (seconds, epochs, gap)."""

    def run(epochs):
        model, seconds = timed(
            lambda: LogisticRegression(C=C, solver="sag", max_iter=epochs, tol=0.0),
            X,
            y,
        )
        gap = (objective(X, y, C, model.coef_, model.intercept_) - f_star) / f_star
        return seconds, epochs, gap

    low, high = 0, 8
    result = run(high)
    while result[2] > GAP and high < (16 if quick else 512):
        low, high = high, 2 * high
        result = run(high)
    while high - low > max(1, high // 16):  # bisect to within ~6%
        middle = (low + high) // 2
        trial = run(middle)
        if trial[2] <= GAP:
            high, result = middle, trial
        else:
            low = middle
    return result


def first_call_cost(quick: bool) -> dict:
    """Seconds of ``import numba`` and of a first saga fit, in fresh processes.

    The fits (iris dense, and a 200 x 50 CSR matrix, so the arithmetic is
    nothing) compile the kernels they use in a process whose numba cache is
    empty (``NUMBA_CACHE_DIR`` a new folder: the first fit in a fresh
    environment), then load them from that cache in a second process (every
    later one).
    """
    code = (
        "import time; t = time.perf_counter(); import numba; "
        "a = time.perf_counter() - t; "
        "import scipy.sparse as sp; from sklearn.datasets import load_iris; "
        "from softmax_regression import SoftmaxRegression; "
        "X, y = load_iris(return_X_y=True); "
        "S = sp.random(200, 50, density=0.1, format='csr', random_state=0); "
        "t = time.perf_counter(); "
        "SoftmaxRegression(solver='saga').fit(X, y); "
        "SoftmaxRegression(solver='saga').fit(S, [i % 3 for i in range(200)]); "
        "b = time.perf_counter() - t; print(a, b)"
    )
    with tempfile.TemporaryDirectory() as cache:
        # --quick: numba's own cache, as the test suite left it.
        environment = None if quick else {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [
            subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                env=environment,
            ).stdout.split()
            for _ in range(1 if quick else 2)
        ]
    return {
        "import_numba_s": float(runs[-1][0]),
        "first_fits_compile_s": float(runs[0][1]),
        "first_fits_cached_s": float(runs[-1][1]),
    }


def warm_kernels() -> None:
    """Compile (or load) every kernel this process's fits use, untimed.

    The first fit of each dtype and index type compiles its kernels (or loads
    them from numba's cache); ``first_call_cost`` reports that separately, so
    no timed fit below pays it.
    """
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    for dtype in (np.float64, np.float32):
        dense = rng.standard_normal((60, 4)).astype(dtype)
        sparse = sp.random(60, 20, density=0.2, format="csr", random_state=0)
        for X in (dense, sparse.astype(dtype)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                SoftmaxRegression(solver="saga", max_iter=2).fit(X, labels)


def dense_row(quick: bool) -> dict:
    """Tall dense data (1,000,000 x 100 x 10): our default against saga."""
    n_samples = 5_000 if quick else 1_000_000
    X, y = _cases.dense(n_samples, 100, 10)
    C = 1.0
    reference, _ = timed(
        partial(SoftmaxRegression, C=C, solver="newton-cg", tol=1e-10), X, y
    )
    f_star = objective(X, y, C, reference.coef_, reference.intercept_)
    row = {"case": f"dense {n_samples:,} x 100 x 10", "C": C}
    for solver in ("auto", "saga"):
        model, seconds = timed(
            partial(SoftmaxRegression, C=C, solver=solver, random_state=0), X, y
        )
        value = objective(X, y, C, model.coef_, model.intercept_)
        row[f"{solver}_s"] = seconds
        row[f"{solver}_gap"] = (value - f_star) / f_star
        row[f"{solver}_iterations"] = int(model.n_iter_[0])
    print(
        f"{row['case']:<38} {C:>4g} auto {row['auto_s']:.2f} s "
        f"({row['auto_gap']:.1e}, {row['auto_iterations']} iterations), saga "
        f"{row['saga_s']:.2f} s ({row['saga_gap']:.1e}, {row['saga_iterations']} "
        "epochs and iterations)"
    )
    return row


def switch_rows(quick: bool) -> list[dict]:
    """Where saga starts to beat newton-cg: text-like data of growing size.

    Best of 2 fits each, at our default stop; the work is stored entries
    times classes, what ``solver="auto"`` compares with its threshold.
    """
    sizes = [(3_000, 3_000, 5), (10_000, 5_000, 10), (15_000, 10_000, 20)]
    if quick:
        sizes = [(1_000, 500, 4)]
    rows = []
    for n_samples, n_features, n_classes in sizes:
        X, y = _cases.text_like(n_samples, n_features, 50, n_classes)
        for C in (1.0, 10.0):
            seconds = {}
            for solver in ("newton-cg", "saga"):
                seconds[solver] = min(
                    timed(
                        partial(SoftmaxRegression, C=C, solver=solver, random_state=0),
                        X,
                        y,
                    )[1]
                    for _ in range(2)
                )
            row = {
                "case": f"text-like {n_samples:,} x {n_features:,} x {n_classes}",
                "C": C,
                "work": X.nnz * n_classes,
                "newton_s": seconds["newton-cg"],
                "saga_s": seconds["saga"],
            }
            rows.append(row)
            print(
                f"{row['case']:<38} {C:>4g} work {row['work']:.1e}: newton-cg "
                f"{row['newton_s']:.2f} s, saga {row['saga_s']:.2f} s, ratio "
                f"{row['saga_s'] / row['newton_s']:.2f}"
            )
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", help="comma-separated substrings of case names")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--dense",
        action="store_true",
        help="also tall dense data: the default (lbfgs, rescaled) against saga",
    )
    parser.add_argument(
        "--switch",
        action="store_true",
        help="also where saga starts to beat newton-cg (text-like, growing)",
    )
    args = parser.parse_args(argv)
    cost = first_call_cost(args.quick)
    print(
        f"import numba: {cost['import_numba_s']:.2f} s; first saga fits of a "
        f"process (dense and CSR): {cost['first_fits_compile_s']:.1f} s compiling "
        f"(an empty cache), {cost['first_fits_cached_s']:.2f} s loading from "
        "numba's cache"
    )
    warm_kernels()
    rows = []
    header = (
        f"{'case':<38} {'C':>4} {'auto (s)':>9} {'gap':>8} {'newton (s)':>10} "
        f"{'gap':>8} {'sag (s)':>8} {'epochs':>6} {'gap':>8} {'auto/sag':>8}"
    )
    print(header)
    for name, (X, y) in cases(args.quick).items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        for C in (1.0,) if args.quick else (1.0, 10.0):
            # The reference in float64 arithmetic, also for float32 data.
            reference, _ = timed(
                partial(SoftmaxRegression, C=C, solver="newton-cg", tol=1e-10),
                X.astype(np.float64),
                y,
            )
            f_star = objective(X, y, C, reference.coef_, reference.intercept_)
            fits = {}
            for solver in ("auto", "newton-cg"):
                model, seconds = timed(
                    partial(SoftmaxRegression, C=C, solver=solver, random_state=0),
                    X,
                    y,
                )
                value = objective(X, y, C, model.coef_, model.intercept_)
                fits[solver] = (seconds, (value - f_star) / f_star)
            sag_seconds, sag_epochs, sag_gap = sag_to_gap(X, y, C, f_star, args.quick)
            row = {
                "case": name,
                "C": C,
                "auto_s": fits["auto"][0],
                "auto_gap": fits["auto"][1],
                "newton_s": fits["newton-cg"][0],
                "newton_gap": fits["newton-cg"][1],
                "sag_s": sag_seconds,
                "sag_epochs": sag_epochs,
                "sag_gap": sag_gap,
            }
            rows.append(row)
            print(
                f"{name:<38} {C:>4g} {row['auto_s']:>9.2f} {row['auto_gap']:>8.1e} "
                f"{row['newton_s']:>10.2f} {row['newton_gap']:>8.1e} "
                f"{sag_seconds:>8.2f} {sag_epochs:>6d} {sag_gap:>8.1e} "
                f"{row['auto_s'] / sag_seconds:>8.2f}",
                flush=True,
            )
    if args.dense:
        rows.append(dense_row(args.quick))
    if args.switch:
        rows.extend(switch_rows(args.quick))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"environment": _cases.run_environment(), **cost, "rows": rows},
                indent=2,
            )
        )
    return rows


if __name__ == "__main__":
    main()
