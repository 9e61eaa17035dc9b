"""Where ``tol="auto"`` stops: the gap it promises, with and without its certificate.

For problems whose trajectories slow down in flat valleys (many classes,
nearly collinear features, weak regularisation, unscaled columns, nearly
separable classes) and for the benchmark cases, fits ``SoftmaxRegression``
at its default ``tol="auto"`` with each solver twice in one run: as it
stops (the trajectory's estimate and the duality gap's certificate), and
with the certificate switched off (the estimate alone, the stop before issue
27). Prints, side by side, the relative gap each reached against a tight
reference (``newton-cg`` at ``tol=1e-10``, or whichever fit is lower), the
iterations and the seconds, and writes JSON.

    python benchmarks/bench_stop.py               # the enumeration and cases
    python benchmarks/bench_stop.py --quick       # a smoke test (seconds)
    python benchmarks/bench_stop.py --only "50 classes,wine" --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).parent))
import _cases

import softmax_regression._fit as fit_module
from softmax_regression import SoftmaxRegression
from softmax_regression._backends.memory import in_memory_loss


def flat_valleys(quick: bool) -> dict:
    """The problems, by name: ``(X, y, C, l1_ratio)``."""
    if quick:
        X, y = make_classification(
            n_samples=600, n_features=20, n_informative=12, n_classes=10,
            n_clusters_per_class=1, random_state=0,
        )  # fmt: skip
        wine = load_wine(return_X_y=True)
        return {
            "10 classes": (X, y, 1.0, 0.0),
            "unscaled wine, C=100": (*wine, 100.0, 0.0),
        }
    many = make_classification(
        n_samples=10_000, n_features=100, n_informative=60, n_classes=50,
        n_clusters_per_class=1, random_state=0,
    )  # fmt: skip
    collinear = make_classification(
        n_samples=5_000, n_features=50, n_informative=10, n_redundant=30,
        n_classes=5, random_state=1,
    )  # fmt: skip
    separable, separable_y = make_classification(
        n_samples=3_000, n_features=20, n_informative=15, n_classes=4,
        class_sep=3, random_state=2,
    )  # fmt: skip
    imbalanced = make_classification(
        n_samples=5_000, n_features=30, n_informative=20, n_classes=6,
        weights=[0.6, 0.2, 0.1, 0.05, 0.03, 0.02], random_state=3,
    )  # fmt: skip
    digits = load_digits(return_X_y=True)
    return {
        "50 classes (issue 27)": (*many, 1.0, 0.0),
        "collinear, C=100": (*collinear, 100.0, 0.0),
        "unscaled, nearly separable, C=1e3": (
            separable * np.logspace(-2, 3, 20),
            separable_y,
            1e3,
            0.0,
        ),
        "imbalanced, C=10": (*imbalanced, 10.0, 0.0),
        "unscaled wine, C=100": (*load_wine(return_X_y=True), 100.0, 0.0),
        "unscaled iris, C=1e4": (*load_iris(return_X_y=True), 1e4, 0.0),
        "standardised iris": (*_cases.iris(), 1.0, 0.0),
        "raw digits": (*digits, 1.0, 0.0),
        "standardised digits": (*_cases.digits(), 1.0, 0.0),
        "dense 200,000 x 100 x 10": (*_cases.dense(200_000, 100, 10), 1.0, 0.0),
        "dense float32": (*_cases.dense(200_000, 100, 10, np.float32), 1.0, 0.0),
        "20,000 x 200, 100 classes": (*_cases.dense(20_000, 200, 100), 1.0, 0.0),
        "wide 2,000 x 5,000 x 5": (*_cases.dense(2_000, 5_000, 5), 1.0, 0.0),
        "text-like 30k, C=10": (*_cases.text_like(30_000, 20_000, 50, 20), 10.0, 0.0),
        "text-like 30k, C=1": (*_cases.text_like(30_000, 20_000, 50, 20), 1.0, 0.0),
        "digits elastic net, C=0.1": (*_cases.digits(), 0.1, 0.5),
        "digits lasso, C=1": (*_cases.digits(), 1.0, 1.0),
    }


def objective(model, X, y, C, l1_ratio) -> float:
    """The penalised objective in float64, with our loss code."""
    X = X.astype(np.float64) if X.dtype != np.float64 else X
    n_classes = len(model.classes_)
    coef = model.coef_.toarray() if sp.issparse(model.coef_) else model.coef_
    coef = np.asarray(coef, dtype=np.float64)
    flat = np.r_[coef.ravel(), np.asarray(model.intercept_, dtype=np.float64)]
    labels = np.searchsorted(model.classes_, y)
    penalty = 1.0 / (C * X.shape[0])
    with in_memory_loss(
        X, labels, n_classes, None, (1 - l1_ratio) * penalty, True
    ) as loss:
        value = loss.loss(flat)
    return value + l1_ratio * penalty * float(np.abs(coef).sum())


class _NoCertificate(fit_module.DualityGap):
    """The duality gap switched off: the stop of the estimate alone."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.available = False


@contextlib.contextmanager
def certificate(on: bool):
    original = fit_module.DualityGap
    if not on:
        fit_module.DualityGap = _NoCertificate
    try:
        yield
    finally:
        fit_module.DualityGap = original


def fit(X, y, C, l1_ratio, solver, with_certificate) -> dict:
    model = SoftmaxRegression(C=C, l1_ratio=l1_ratio, solver=solver)
    with warnings.catch_warnings(record=True) as caught, certificate(with_certificate):
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        # Fits under half a second: the fastest of up to 10 within a second.
        repeats = []
        while seconds < 0.5 and len(repeats) < 10 and sum(repeats) < 1.0:
            start = time.perf_counter()
            model.fit(X, y)
            repeats.append(time.perf_counter() - start)
        seconds = min([seconds, *repeats])
    return {
        "model": model,
        "seconds": seconds,
        "n_iter": int(model.n_iter_[0]),
        "warned": any(issubclass(w.category, ConvergenceWarning) for w in caught),
    }


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", help="cases whose name contains one of a, b, ...")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    problems = flat_valleys(args.quick)
    if args.only:
        wanted = [part.strip() for part in args.only.split(",")]
        problems = {k: v for k, v in problems.items() if any(w in k for w in wanted)}
    rows = []
    header = (
        f"{'case':36s} {'solver':9s} | {'estimate alone':>26s} | "
        f"{'with the certificate':>26s}"
    )
    print(header)
    print(f"{'':36s} {'':9s} | {'gap':>8s} {'iter':>5s} {'s':>8s}   | "
          f"{'gap':>8s} {'iter':>5s} {'s':>8s}  ")  # fmt: skip
    for name, (X, y, C, l1_ratio) in problems.items():
        solvers = ["auto"] if l1_ratio > 0 else ["auto", "newton-cg", "lbfgs"]
        with warnings.catch_warnings():
            # The reference: compared by its objective alone (min with the
            # fits'), so a stop short of 1e-10 at float64's floor is fine.
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference = SoftmaxRegression(
                C=C,
                l1_ratio=l1_ratio,
                solver="newton-cg" if l1_ratio == 0 else "lbfgs",
                tol=1e-10,
                max_iter=5000,
            ).fit(X.astype(np.float64) if X.dtype != np.float64 else X, y)
        f_reference = objective(reference, X, y, C, l1_ratio)
        for solver in solvers:
            fits = {on: fit(X, y, C, l1_ratio, solver, on) for on in (False, True)}
            values = {
                on: objective(result["model"], X, y, C, l1_ratio)
                for on, result in fits.items()
            }
            f_star = min(f_reference, *values.values())
            row = {"case": name, "solver": solver}
            line = f"{name:36s} {solver:9s} |"
            for on, label in ((False, "estimate"), (True, "certified")):
                gap = (values[on] - f_star) / f_star
                result = fits[on]
                row[label] = {
                    "gap": gap,
                    "n_iter": result["n_iter"],
                    "seconds": result["seconds"],
                    "convergence_warning": result["warned"],
                }
                mark = "w" if result["warned"] else (" " if gap <= 1e-6 else "!")
                line += (
                    f" {gap:8.1e} {result['n_iter']:5d} "
                    f"{result['seconds']:8.3f} {mark} |"
                )
            print(line, flush=True)
            rows.append(row)
    print("!: a gap over the promised 1e-6 with no warning; w: a ConvergenceWarning")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"environment": _cases.run_environment(), "rows": rows}, indent=1
            )
        )
    return rows


if __name__ == "__main__":
    main()
