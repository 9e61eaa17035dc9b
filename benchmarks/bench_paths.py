"""L1, elastic-net and grouped paths: newton-cd against glmnet, L-BFGS-B and saga.

Every solver fits the same path: ``n_lambdas`` values from glmnet's
``lambda_max`` (our :func:`softmax_regression.l1_min_c`, as ``lambda = 1 /
(C n)``) down to ``ratio * lambda_max``, log-spaced, each fit warm-started
from the previous one. The objective is scikit-learn's,
``(1/n) sum CE + lambda (alpha ||W|| + (1 - alpha)/2 ||W||_F^2)``, with the
L1 norm or (``grouped``) the sum of each feature's Euclidean norm, which is
glmnet's multinomial objective with ``standardize=FALSE``. Each objective
is computed here in float64 from the returned coefficients; ``f*`` at each
lambda is the smallest any solver reached, and a solver's path counts at a
tolerance only if every lambda is within 1e-6 of it (relative). Each
solver's tolerance is loosened from the tightest until the next would miss:
glmnet's ``thresh`` (1e-7, its default, down to 1e-13), saga's ``tol``
(1e-2 down to 1e-6), ours at ``tol="auto"`` (which promises 1e-6). saga
and our L-BFGS-B run on the first path of each case (``--all-peers``: on
every one): they are tens to hundreds of times slower.

glmnet runs through ``Rscript`` (``apt-get install r-cran-glmnet``) when it is
installed, and is skipped otherwise; its time is measured inside R, around
``glmnet()`` alone.

    python benchmarks/bench_paths.py [--quick] [--only NAME] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.io
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.dirname(__file__))
import _cases

from softmax_regression import SoftmaxRegression, l1_min_c

GAP = 1e-6

R_SCRIPT = r"""
suppressMessages({library(glmnet); library(Matrix)})
args <- commandArgs(TRUE)
dir <- args[1]; alpha <- as.numeric(args[2]); type <- args[3]
shape <- scan(file.path(dir, "shape.txt"), quiet = TRUE)
n <- shape[1]; p <- shape[2]
if (file.exists(file.path(dir, "X.mtx"))) {
  X <- as(readMM(file.path(dir, "X.mtx")), "CsparseMatrix")
} else {
  X <- matrix(readBin(file.path(dir, "X.bin"), "double", n * p), n, p)
}
y <- factor(readBin(file.path(dir, "y.bin"), "integer", n, size = 4))
lambda <- scan(file.path(dir, "lambda.txt"), quiet = TRUE)
for (thresh in scan(file.path(dir, "thresh.txt"), quiet = TRUE)) {
  seconds <- system.time(fit <- glmnet(
    X, y, family = "multinomial", alpha = alpha, lambda = lambda,
    standardize = FALSE, thresh = thresh, type.multinomial = type,
    maxit = 1e7))[["elapsed"]]
  out <- file.path(dir, sprintf("fit_%g", thresh))
  dir.create(out, showWarnings = FALSE)
  write(c(seconds, length(fit$lambda)), file.path(out, "seconds.txt"))
  write.table(fit$a0, file.path(out, "a0.txt"), row.names = FALSE,
              col.names = FALSE)
  for (k in seq_along(fit$beta)) {
    s <- summary(fit$beta[[k]])
    write.table(s, file.path(out, sprintf("beta_%d.txt", k)),
                row.names = FALSE, col.names = FALSE)
  }
}
"""


def objective(X, y, lam, alpha, grouped, coef, intercept) -> float:
    """The objective in float64 (coef: n_classes x n_features)."""
    raw = np.asarray(X @ coef.T) + intercept
    loss = np.mean(logsumexp(raw, axis=1) - raw[np.arange(len(y)), y])
    norms = np.sqrt(np.square(coef).sum(axis=0)) if grouped else np.abs(coef).sum(0)
    penalty = alpha * norms.sum() + 0.5 * (1 - alpha) * np.sum(coef**2)
    return float(loss + lam * penalty)


def lambdas(X, y, alpha, grouped, n_lambdas, ratio) -> np.ndarray:
    l1_type = "grouped" if grouped else "ungrouped"
    C_min = l1_min_c(X, y, l1_ratio=alpha, l1_type=l1_type)
    lambda_max = 1.0 / (C_min * X.shape[0])
    return lambda_max * np.logspace(0, np.log10(ratio), n_lambdas)


def quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def ours_path(X, y, lams, alpha, grouped, solver="newton-cd", tol="auto"):
    model = SoftmaxRegression(
        l1_ratio=alpha,
        l1_type="grouped" if grouped else "ungrouped",
        solver=solver,
        tol=tol,
        warm_start=True,
        max_iter=100_000,
    )
    coefs = []
    start = time.perf_counter()
    for lam in lams:
        model.set_params(C=1.0 / (lam * X.shape[0]))
        quiet_fit(model, X, y)
        coefs.append((model.coef_.astype(float), model.intercept_.astype(float)))
    return time.perf_counter() - start, coefs


def saga_path(X, y, lams, alpha, tol):
    model = LogisticRegression(
        l1_ratio=alpha, solver="saga", tol=tol, warm_start=True, max_iter=100_000,
        random_state=0,
    )  # fmt: skip
    coefs = []
    start = time.perf_counter()
    for lam in lams:
        model.set_params(C=1.0 / (lam * X.shape[0]))
        quiet_fit(model, X, y)
        coefs.append((model.coef_.copy(), model.intercept_.copy()))
    return time.perf_counter() - start, coefs


def glmnet_paths(X, y, lams, alpha, grouped, threshes) -> dict:
    """``thresh -> (seconds, coefs)`` from glmnet; {} where R lacks it."""
    if shutil.which("Rscript") is None:
        return {}
    n_classes = int(y.max()) + 1
    with tempfile.TemporaryDirectory() as folder:
        np.savetxt(os.path.join(folder, "shape.txt"), X.shape, fmt="%d")
        if sp.issparse(X):
            scipy.io.mmwrite(os.path.join(folder, "X.mtx"), sp.csc_matrix(X))
        else:
            path = os.path.join(folder, "X.bin")
            np.asfortranarray(X, dtype=np.float64).T.tofile(path)
        y.astype(np.int32).tofile(os.path.join(folder, "y.bin"))
        np.savetxt(os.path.join(folder, "lambda.txt"), lams, fmt="%.17g")
        np.savetxt(os.path.join(folder, "thresh.txt"), threshes, fmt="%g")
        with open(os.path.join(folder, "fit.R"), "w") as handle:
            handle.write(R_SCRIPT)
        ran = subprocess.run(
            ["Rscript", os.path.join(folder, "fit.R"), folder, repr(alpha),
             "grouped" if grouped else "ungrouped"],
            capture_output=True, text=True,
        )  # fmt: skip
        if ran.returncode != 0:
            if "glmnet" in ran.stderr and "no package" in ran.stderr:
                return {}
            raise RuntimeError(ran.stderr)
        found = {}
        for thresh in threshes:
            out = os.path.join(folder, f"fit_{thresh:g}")
            seconds, n_fitted = np.loadtxt(os.path.join(out, "seconds.txt"))
            a0 = np.loadtxt(os.path.join(out, "a0.txt"), ndmin=2)
            coefs = []
            betas = [
                np.loadtxt(os.path.join(out, f"beta_{k + 1}.txt"), ndmin=2)
                for k in range(n_classes)
            ]
            for index in range(int(n_fitted)):
                coef = np.zeros((n_classes, X.shape[1]))
                for k, triplets in enumerate(betas):
                    keep = triplets[:, 1] == index + 1
                    coef[k, triplets[keep, 0].astype(int) - 1] = triplets[keep, 2]
                coefs.append((coef, a0[:, index]))
            found[thresh] = (float(seconds), coefs)
    return found


def cases(quick: bool) -> dict:
    if quick:
        X, y = _cases.dense(300, 100, 3)
        return {"dense 300 x 100 x 3": (X, y)}
    X_text, y_text, _ = _cases.docstrings()
    return {
        "dense 2,000 x 2,000 x 5": _cases.dense(2_000, 2_000, 5),
        "dense 20,000 x 500 x 10": _cases.dense(20_000, 500, 10),
        f"docstrings {X_text.shape[0]:,} x {X_text.shape[1]:,} x {y_text.max() + 1}": (
            X_text,
            y_text,
        ),
    }


def warm_kernels(X, y, alpha, grouped) -> None:
    """Load the compiled kernels for X's dtype and format before timing.

    numba compiles once per environment (``cache=True``) but loads the
    machine code from its cache once per process (a fraction of a second);
    glmnet's library is loaded before R times it, too.
    """
    rows = np.arange(0, X.shape[0], max(1, X.shape[0] // 200))  # every class
    lams = lambdas(X[rows], y[rows], alpha, grouped, 3, 0.5)
    ours_path(X[rows], y[rows], lams, alpha, grouped)


def run_case(name, X, y, alpha, grouped, n_lambdas, ratio, quick, peers=True) -> dict:
    if not quick:
        warm_kernels(X, y, alpha, grouped)
    lams = lambdas(X, y, alpha, grouped, n_lambdas, ratio)
    runs = {}  # label -> (seconds, coefs)
    runs["ours newton-cd"] = ours_path(X, y, lams, alpha, grouped)
    if not grouped and peers and not quick:  # (--quick: tested elsewhere)
        runs["ours lbfgs"] = ours_path(X, y, lams, alpha, grouped, solver="lbfgs")

    def values_of(coefs):
        return np.array(
            [
                objective(X, y, lam, alpha, grouped, coef, intercept)
                for lam, (coef, intercept) in zip(lams, coefs, strict=False)
            ]
        )

    reference = np.min([values_of(coefs) for _, coefs in runs.values()], axis=0)

    def close_enough(coefs):
        found = values_of(coefs)
        return len(coefs) == len(lams) and np.all(
            (found - reference) / np.abs(reference) <= GAP
        )

    # Each peer from its loosest tolerance, tightened until its path is within
    # the gap of ours (the final table measures every path against the best).
    threshes = [1e-7] if quick else [1e-7, 1e-9, 1e-11, 1e-13]
    for thresh in threshes:
        found = glmnet_paths(X, y, lams, alpha, grouped, [thresh])
        if not found:
            break
        runs[f"glmnet thresh={thresh:g}"] = found[thresh]
        if close_enough(found[thresh][1]):
            break
    if not grouped and peers:
        for tol in [1e-2] if quick else [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]:
            runs[f"saga tol={tol:g}"] = saga_path(X, y, lams, alpha, tol)
            if close_enough(runs[f"saga tol={tol:g}"][1]):
                break
    values = {label: values_of(coefs) for label, (_, coefs) in runs.items()}
    best = np.min([v for v in values.values() if len(v) == len(lams)], axis=0)
    rows = []
    for label, (seconds, coefs) in runs.items():
        gaps = (np.asarray(values[label]) - best[: len(values[label])]) / np.abs(
            best[: len(values[label])]
        )
        rows.append(
            {
                "case": name,
                "alpha": alpha,
                "grouped": grouped,
                "n_lambdas": n_lambdas,
                "ratio": ratio,
                "solver": label,
                "seconds": seconds,
                "lambdas_fitted": len(coefs),
                "worst_gap": float(gaps.max()),
                "meets": bool(gaps.max() <= GAP and len(coefs) == len(lams)),
                "nonzero_last": int(np.count_nonzero(np.abs(coefs[-1][0]).sum(0))),
            }
        )
    return rows


def best_meeting(rows, prefix):
    """The fastest row of a solver family that meets the gap at every lambda."""
    meeting = [r for r in rows if r["solver"].startswith(prefix) and r["meets"]]
    return min(meeting, key=lambda r: r["seconds"]) if meeting else None


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--json")
    parser.add_argument(
        "--all-peers",
        action="store_true",
        help="saga and our L-BFGS-B on every path (default: the first of each case)",
    )
    parser.add_argument(
        "--no-slow-peers",
        action="store_true",
        help="newton-cd and glmnet only (saga and L-BFGS-B take minutes)",
    )
    args = parser.parse_args(argv)
    settings = (
        [(1.0, False, 5, 0.1), (1.0, True, 5, 0.1)]
        if args.quick
        else [
            (1.0, False, 20, 0.05),
            (0.5, False, 20, 0.05),
            (1.0, False, 100, 0.01),
            (1.0, True, 20, 0.05),
        ]
    )
    all_rows = []
    print(
        f"{'case':<34} {'penalty':<14} {'path':>10} {'solver':<22} {'s':>8} "
        f"{'worst gap':>9} {'meets':>5} {'nnz':>5}",
        flush=True,
    )
    for name, (X, y) in cases(args.quick).items():
        if args.only and args.only not in name:
            continue
        for index, (alpha, grouped, n_lambdas, ratio) in enumerate(settings):
            rows = run_case(
                name, X, y, alpha, grouped, n_lambdas, ratio, args.quick,
                peers=not args.no_slow_peers and (args.all_peers or index == 0),
            )  # fmt: skip
            penalty = ("grouped " if grouped else "") + (
                "L1" if alpha == 1 else f"EN {alpha:g}"
            )
            for row in rows:
                print(
                    f"{name:<34} {penalty:<14} {f'{n_lambdas}, {ratio:g}':>10} "
                    f"{row['solver']:<22} {row['seconds']:>8.2f} "
                    f"{row['worst_gap']:>9.1e} {row['meets']!s:>5} "
                    f"{row['nonzero_last']:>5d}",
                    flush=True,
                )
            ours = best_meeting(rows, "ours newton-cd")
            for prefix in ("glmnet", "saga", "ours lbfgs"):
                peer = best_meeting(rows, prefix)
                if ours and peer:
                    print(
                        f"    newton-cd / best {prefix}: "
                        f"{ours['seconds'] / peer['seconds']:.2f}x",
                        flush=True,
                    )
            all_rows.extend(rows)
    print(
        "gap: (objective - best)/|best| at each lambda, worst over the path; "
        "meets: every lambda within 1e-6; nnz: features kept at the last lambda."
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": _cases.run_environment(), "rows": all_rows},
                      handle, indent=2)  # fmt: skip
    return all_rows


if __name__ == "__main__":
    main()
