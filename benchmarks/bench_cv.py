"""SoftmaxRegressionCV vs LogisticRegressionCV on digits, same grid and folds.

Also shows what the warm-started regularisation path saves: the iterations of
all fits along the paths, against fitting every (fold, C) from zero.

    python benchmarks/bench_cv.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV


def timed(function):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning))
        start = time.perf_counter()
        result = function()
        return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    if args.quick:
        X, y = X[:400], y[:400]
    X = StandardScaler().fit_transform(X)
    Cs = np.logspace(-4, 4, 5 if args.quick else 10)
    cv = StratifiedKFold(3 if args.quick else 5, shuffle=True, random_state=0)
    params = {"Cs": Cs, "cv": cv, "tol": 1e-4, "max_iter": 1000}

    ours, ours_s = timed(lambda: SoftmaxRegressionCV(**params).fit(X, y))
    extra = {}
    if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters:
        extra["use_legacy_attributes"] = False
    theirs, theirs_s = timed(lambda: LogisticRegressionCV(**params, **extra).fit(X, y))
    cold_iterations = sum(
        timed(
            lambda C=C, train=train: SoftmaxRegression(
                C=C, tol=1e-4, max_iter=1000
            ).fit(X[train], y[train])
        )[0].n_iter_[0]
        for train, _ in cv.split(X, y)
        for C in Cs
    )
    rows = {
        "ours_s": ours_s,
        "theirs_s": theirs_s,
        "ratio": ours_s / theirs_s,
        "ours_C": ours.C_,
        "theirs_C": float(np.ravel(theirs.C_)[0]),
        "ours_train_accuracy": ours.score(X, y),
        "theirs_train_accuracy": theirs.score(X, y),
        "path_iterations_warm": int(ours.n_iter_.sum()),
        "path_iterations_cold": int(cold_iterations),
    }
    print(f"digits {X.shape[0]} x {X.shape[1]}, {Cs.size} Cs, {cv.n_splits} folds")
    print(f"{'':<22} {'fit s':>8} {'C_':>10} {'accuracy':>9}")
    print(
        f"{'SoftmaxRegressionCV':<22} {ours_s:>8.3f} {rows['ours_C']:>10.4g} "
        f"{rows['ours_train_accuracy']:>9.4f}"
    )
    print(
        f"{'LogisticRegressionCV':<22} {theirs_s:>8.3f} {rows['theirs_C']:>10.4g} "
        f"{rows['theirs_train_accuracy']:>9.4f}"
    )
    print(
        f"ratio {rows['ratio']:.2f}; iterations along all paths: "
        f"{rows['path_iterations_warm']} warm-started vs "
        f"{rows['path_iterations_cold']} from zero"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
