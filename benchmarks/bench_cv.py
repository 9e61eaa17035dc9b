"""SoftmaxRegressionCV vs LogisticRegressionCV on digits, same grid and folds.

Also shows what the warm-started regularisation path saves: the iterations of
all fits along the paths, against fitting every (fold, C) from zero.

    python benchmarks/bench_cv.py [--quick] [--json out.json]
    python benchmarks/bench_cv.py --sample [--quick]   # C chosen on a sample

``--sample`` answers the Dask user, whose ``SoftmaxRegressionCV`` must run
on an in-memory sample: C chosen by SoftmaxRegressionCV on samples of a
training set (and on all of it), each then fitted to the whole training set
and scored on held-out rows (log-loss and accuracy) against the best C of
the grid, refitted the same way.
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


def planted(n_rows: int, n_features: int, n_informative: int, seed: int):
    """float32 rows whose labels (10 classes) depend on a few features only."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    coef = np.random.default_rng(100).normal(size=(10, n_informative))
    scores = X[:, :n_informative] @ coef.T + rng.gumbel(size=(n_rows, 10))
    return X, np.argmax(scores, axis=1)


def choose_c_on_samples(quick: bool) -> dict:
    """C from a sample against C from all rows: what the held-out rows say."""
    from sklearn.metrics import log_loss

    n_train, n_test = (20_000, 10_000) if quick else (500_000, 200_000)
    n_features, n_informative = (50, 5) if quick else (300, 30)
    X, y = planted(n_train, n_features, n_informative, seed=0)
    X_test, y_test = planted(n_test, n_features, n_informative, seed=1)
    Cs = np.logspace(-5, 1, 7)

    def held_out(C: float) -> dict:
        model, seconds = timed(lambda: SoftmaxRegression(C=C).fit(X, y))
        proba = model.predict_proba(X_test)
        return {
            "log_loss": float(log_loss(y_test, proba, labels=model.classes_)),
            "accuracy": float(model.score(X_test, y_test)),
            "fit_s": seconds,
        }

    grid = {float(C): held_out(C) for C in Cs}
    best = min(grid, key=lambda C: grid[C]["log_loss"])
    rows = []
    sizes = [n_train // 100, n_train // 10, n_train]
    for size in sizes:
        search, seconds = timed(
            lambda size=size: SoftmaxRegressionCV(Cs=Cs, cv=5).fit(X[:size], y[:size])
        )
        chosen = float(search.C_)
        rows.append(
            {
                "sample_rows": size,
                "cv_s": seconds,
                "C": chosen,
                **grid[chosen],
                "log_loss_above_best": grid[chosen]["log_loss"]
                - grid[best]["log_loss"],
            }
        )
    print(
        f"{n_train:,} training rows x {n_features} float32 ({n_informative} "
        f"informative), 10 classes, {n_test:,} held out; Cs {Cs[0]:g}..{Cs[-1]:g}; "
        f"best C on the held-out rows: {best:g} (log-loss "
        f"{grid[best]['log_loss']:.5f})"
    )
    print(
        f"{'CV on rows':>12} {'CV s':>8} {'C_':>8} {'held-out log-loss':>18} "
        f"{'above best':>11} {'accuracy':>9}"
    )
    for row in rows:
        print(
            f"{row['sample_rows']:>12,} {row['cv_s']:>8.1f} {row['C']:>8.2g} "
            f"{row['log_loss']:>18.5f} {row['log_loss_above_best']:>11.1e} "
            f"{row['accuracy']:>9.4f}"
        )
    return {
        "train_rows": n_train,
        "test_rows": n_test,
        "features": n_features,
        "informative": n_informative,
        "grid": {f"{C:g}": value for C, value in grid.items()},
        "best_C": best,
        "samples": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--sample", action="store_true", help="C chosen on samples")
    args = parser.parse_args(argv)
    if args.sample:
        rows = choose_c_on_samples(args.quick)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(rows, handle, indent=2)
        return rows
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
