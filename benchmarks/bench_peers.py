"""Time to a given accuracy: SoftmaxRegression against every scikit-learn solver.

For each case, f* is the penalised objective at a tight fit. Every solver, ours
and scikit-learn's (lbfgs, newton-cg, newton-cholesky, sag, saga), is run at
``tol`` = 1e-1, 1e-2, ..., 1e-10, loosest first; its time to reach a relative
objective gap ``(f - f*) / f*`` of 1e-4, 1e-6 and 1e-8 is the time of its
loosest ``tol`` that gets there. Each fit runs in a forked child process, so a
fit over the time budget is stopped and its solver's remaining gaps are
reported as not reached ("> budget"). ``SoftmaxRegression()`` with its defaults
is timed on its own (median of ``--repeats``); the summary compares that time
with the fastest scikit-learn solver at a gap of 1e-6 (``ours / best``). The
same for ``l1_ratio > 0`` against saga, and for ``SoftmaxRegressionCV``
against ``LogisticRegressionCV`` with each solver.

The growth law (``--growth``) times our default and the best peer of the dense
case against ``n_samples`` (1e4 to 1e6) and ``n_classes`` (2 to 1000), each at
a gap of 1e-6, and saves a log-log plot.

    python benchmarks/bench_peers.py                  # every case (hours)
    python benchmarks/bench_peers.py --only dense     # cases whose name has "dense"
    python benchmarks/bench_peers.py --growth --plot growth.png
    python benchmarks/bench_peers.py --quick          # tiny, 2 tols: a smoke test
    python benchmarks/bench_peers.py --json out.json  # also write the results
    python benchmarks/bench_peers.py --only docstrings --budget 240 --repeats 1 \
        --tols 1e-2,1e-3,1e-4,1e-5,1e-6 --optimum-tol 1e-9   # the real corpus

The data sets are in ``benchmarks/_cases.py`` (the sparse text-like generator
is documented there).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
import _cases

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV
from softmax_regression._backends.memory import in_memory_loss

GAPS = (1e-4, 1e-6, 1e-8)
TOLS = tuple(10.0**-k for k in range(1, 11))
QUICK_TOLS = (1e-2, 1e-6)  # --quick: a smoke test of every path, not a sweep
# A fit shorter than this is timed again (see _child); --quick sets 0.
retime_under_s = 1.0
PEER_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")
OUR_SOLVERS = ("auto", "lbfgs", "newton-cg", "trust-ncg")


@dataclass
class Case:
    """A data set, its C and l1_ratio, and the goal for our default."""

    name: str
    make: object
    C: float = 1.0
    l1_ratio: float = 0.0
    goal: float = 0.5  # ours / best peer at a gap of 1e-6
    peers: tuple = PEER_SOLVERS
    ours: tuple = OUR_SOLVERS


@dataclass
class Sweep:
    """One solver's fits along the tol grid."""

    solver: str
    fits: list = field(default_factory=list)  # (tol, seconds, gap)
    stopped: str = ""  # why the sweep ended early, if it did

    def time_to(self, gap: float) -> float | None:
        for _, seconds, reached in self.fits:  # loosest tol first
            if reached <= gap:
                return seconds
        return None


def _docstrings(quick: bool):
    X, y, _ = _cases.docstrings(
        **({"min_per_class": 30, "max_per_class": 60, "max_files": 2,
            "installed_packages": False, "max_features": 1_000} if quick else {})
    )  # fmt: skip
    return X, y


# Peers that can run on a case: newton-cholesky forms the (n_coef x n_coef)
# Hessian, 80 GB for 100,000 coefficients.
NO_CHOLESKY = ("lbfgs", "newton-cg", "sag", "saga")


def cases(quick: bool) -> list[Case]:
    if quick:
        return [
            Case("iris", _cases.iris, goal=1.0),
            Case("dense", lambda: _cases.dense(2_000, 20, 5)),
            # 500 features: newton-cholesky forms the (n_coef x n_coef) Hessian.
            Case("sparse text-like", lambda: _cases.text_like(1_000, 500, 20, 4),
                 10.0),
            Case("docstrings", lambda: _docstrings(True), 10.0,
                 peers=("sag",), ours=("auto",)),
            Case("dense l1_ratio=0.5", lambda: _cases.dense(500, 20, 5),
                 l1_ratio=0.5, peers=("saga",), ours=("lbfgs",)),
        ]  # fmt: skip
    return [
        Case("iris", _cases.iris, goal=1.0),
        Case("digits", _cases.digits, goal=1.0),
        Case("dense", lambda: _cases.dense(200_000, 100, 10)),
        Case("dense float32", lambda: _cases.dense(200_000, 100, 10, np.float32)),
        Case("50 classes", lambda: _cases.dense(10_000, 100, 50)),
        Case("100 classes", lambda: _cases.dense(20_000, 200, 100),
             peers=NO_CHOLESKY),
        Case("1000 classes", lambda: _cases.dense(20_000, 100, 1000),
             peers=NO_CHOLESKY, ours=("auto",)),
        Case("wide", lambda: _cases.dense(2_000, 5_000, 5), peers=NO_CHOLESKY),
        Case("text-like 30k C=10", lambda: _cases.text_like(30_000, 20_000, 50, 20),
             10.0, peers=NO_CHOLESKY, ours=("auto",)),
        Case("text-like 30k C=1", lambda: _cases.text_like(30_000, 20_000, 50, 20),
             1.0, peers=NO_CHOLESKY, ours=("auto",)),
        Case("text-like 100k C=10",
             lambda: _cases.text_like(100_000, 50_000, 50, 20), 10.0,
             peers=NO_CHOLESKY, ours=("auto",)),
        Case("text-like 100k C=1",
             lambda: _cases.text_like(100_000, 50_000, 50, 20), 1.0,
             peers=NO_CHOLESKY, ours=("auto",)),
        # lbfgs: over 4 minutes per fit on such a corpus (issue 20: 259 s).
        Case("docstrings C=10", lambda: _docstrings(False), 10.0,
             peers=("sag", "saga", "newton-cg"), ours=("auto",)),
        Case("digits l1_ratio=0.5", _cases.digits, C=0.1, l1_ratio=0.5,
             goal=1.0, peers=("saga",), ours=("lbfgs",)),
        Case("dense l1_ratio=0.5", lambda: _cases.dense(200_000, 100, 10),
             C=0.1, l1_ratio=0.5, peers=("saga",), ours=("lbfgs",)),
        Case("text-like l1", lambda: _cases.text_like(30_000, 20_000, 50, 20),
             C=10.0, l1_ratio=1.0, peers=("saga",), ours=("lbfgs",)),
    ]  # fmt: skip


# -- Objective and fits --------------------------------------------------------


def as_ours(estimator, n_classes):
    """(coef, intercept) in our parametrisation, one row per class.

    scikit-learn's binary model is the margin; at ``C`` it is our model at
    ``C / 2`` (see the SoftmaxRegression docstring), with rows -w/2 and w/2.
    """
    coef = np.asarray(
        estimator.coef_.toarray() if sp.issparse(estimator.coef_) else estimator.coef_,
        dtype=np.float64,
    )
    intercept = np.asarray(estimator.intercept_, dtype=np.float64)
    if n_classes == 2 and coef.shape[0] == 1:
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.r_[-intercept / 2, intercept / 2]
    return coef, intercept


def objective(coef, intercept, X, y, C, l1_ratio) -> float:
    """The penalised objective, in float64, with our (shared) loss code."""
    n_classes = coef.shape[0]
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    penalty = 1.0 / (C * X.shape[0])
    with in_memory_loss(X, y, n_classes, None, (1 - l1_ratio) * penalty, True) as loss:
        value = loss.loss(np.concatenate([coef.ravel(), intercept]))
    return value + l1_ratio * penalty * float(np.abs(coef).sum())


def _child(connection, estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning))
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
        # The first fit of a forked child pays for the process's first calls
        # (OpenBLAS starts its threads again after a fork, first writes to
        # copied pages): a fit under a second is timed again, the fastest of
        # up to 20 fits within a second, as a user timing a call would.
        repeats = []
        while seconds < retime_under_s and len(repeats) < 20 and sum(repeats) < 1.0:
            start = time.perf_counter()
            estimator.fit(X, y)
            repeats.append(time.perf_counter() - start)
    connection.send((min(repeats) if repeats else seconds, estimator))
    connection.close()


def timed_fit(estimator, X, y, budget: float):
    """Fit in a forked child; return (seconds, fitted estimator) or None.

    The child is killed at the budget (then None). See ``_child`` for how fits
    under a second are timed.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, estimator, X, y))
    process.start()
    sender.close()
    if not receiver.poll(budget):
        process.kill()
        process.join()
        return None
    try:
        result = receiver.recv()
    except EOFError:  # the child died (out of memory, say)
        result = None
    process.join()
    return result


def peer_estimator(solver, C, l1_ratio, tol, n_classes):
    if n_classes == 2:
        C = 2 * C  # the same model as ours at C
    params = {"C": C, "solver": solver, "tol": tol, "max_iter": 100_000}
    if l1_ratio > 0:
        params["l1_ratio"] = l1_ratio
        params["random_state"] = 0
    return LogisticRegression(**params)


def our_estimator(solver, C, l1_ratio, tol):
    return SoftmaxRegression(
        C=C, l1_ratio=l1_ratio, solver=solver, tol=tol, max_iter=100_000
    )


def sweep(name, make, X, y, C, l1_ratio, f_star, budget, n_classes, tols=TOLS) -> Sweep:
    """Fit at each of ``tols``, loosest first, until a gap of 1e-8 or the budget."""
    result = Sweep(name)
    for tol in tols:
        fitted = timed_fit(make(tol), X, y, budget)
        if fitted is None:
            result.stopped = f"tol={tol:g} over {budget:g} s"
            break
        seconds, estimator = fitted
        coef, intercept = as_ours(estimator, n_classes)
        gap = (objective(coef, intercept, X, y, C, l1_ratio) - f_star) / abs(f_star)
        result.fits.append((tol, seconds, gap))
        if gap <= min(GAPS):
            break
    return result


def optimum(X, y, C, l1_ratio, n_classes, tol: float = 1e-11) -> float:
    """f* from our tightest fit: Newton-CG, or L-BFGS-B on the L1 split."""
    solver = "lbfgs" if l1_ratio > 0 else "newton-cg"
    model = our_estimator(solver, C, l1_ratio, tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return objective(*as_ours(model, n_classes), X, y, C, l1_ratio)


# -- One case -------------------------------------------------------------------


def run_case(
    case: Case, budget: float, repeats: int, tols=TOLS, optimum_tol: float = 1e-11
) -> dict:
    X, y = case.make()
    classes, y = np.unique(y, return_inverse=True)
    n_classes = classes.size
    f_star = optimum(X, y, case.C, case.l1_ratio, n_classes, optimum_tol)
    sweeps = []
    for solver in case.ours:
        sweeps.append(
            sweep(
                f"ours {solver}",
                lambda tol, s=solver: our_estimator(s, case.C, case.l1_ratio, tol),
                X, y, case.C, case.l1_ratio, f_star, budget, n_classes, tols,
            )
        )  # fmt: skip
    for solver in case.peers:
        sweeps.append(
            sweep(
                f"sklearn {solver}",
                lambda tol, s=solver: peer_estimator(
                    s, case.C, case.l1_ratio, tol, n_classes
                ),
                X, y, case.C, case.l1_ratio, f_star, budget, n_classes, tols,
            )
        )  # fmt: skip
    # f* is the lowest objective anyone reached, should a sweep beat our fit.
    lowest = min(
        [f_star]
        + [f_star * (1 + gap) for s in sweeps for _, _, gap in s.fits if gap < 0]
    )
    if lowest < f_star:
        for s in sweeps:
            s.fits = [
                (tol, sec, (f_star * (1 + gap) - lowest) / abs(lowest))
                for tol, sec, gap in s.fits
            ]
        f_star = lowest
    default_times, default_gap = [], None
    for _ in range(repeats):
        fitted = timed_fit(SoftmaxRegression(C=case.C, l1_ratio=case.l1_ratio), X, y,
                           budget)  # fmt: skip
        if fitted is None:
            break
        seconds, estimator = fitted
        default_times.append(seconds)
        coef, intercept = as_ours(estimator, n_classes)
        default_gap = (
            objective(coef, intercept, X, y, case.C, case.l1_ratio) - f_star
        ) / abs(f_star)
    peers_at = [
        (s.time_to(1e-6), s.solver) for s in sweeps if s.solver.startswith("sklearn")
    ]
    reached = [(t, solver) for t, solver in peers_at if t is not None]
    best_time, best_solver = min(reached) if reached else (None, None)
    default_s = statistics.median(default_times) if default_times else None
    return {
        "case": case.name,
        "shape": f"{X.shape[0]} x {X.shape[1]} x {n_classes}"
        + (" sparse" if sp.issparse(X) else ""),
        "dtype": np.dtype(X.dtype).name,
        "C": case.C,
        "l1_ratio": case.l1_ratio,
        "f_star": f_star,
        "goal": case.goal,
        "default_s": default_s,
        "default_gap": default_gap,
        "best_peer": best_solver,
        "best_peer_s": best_time,
        "ratio": default_s / best_time if default_s and best_time else None,
        "sweeps": [
            {
                "solver": s.solver,
                "fits": [{"tol": t, "seconds": sec, "gap": g} for t, sec, g in s.fits],
                "stopped": s.stopped,
                **{f"t_{gap:.0e}": s.time_to(gap) for gap in GAPS},
            }
            for s in sweeps
        ],
    }


def print_case(row: dict, budget: float) -> None:
    print(
        f"\n{row['case']}: {row['shape']} {row['dtype']}, C={row['C']:g}, "
        f"l1_ratio={row['l1_ratio']:g}, f*={row['f_star']:.12g}"
    )
    header = f"{'solver':<24}" + "".join(f"{f't({g:.0e}) s':>12}" for g in GAPS)
    print(header + "  tol reaching 1e-6")
    for s in row["sweeps"]:
        cells = []
        for gap in GAPS:
            value = s[f"t_{gap:.0e}"]
            cells.append(f"{value:>12.3f}" if value is not None else f"{'-':>12}")
        tol = next((f["tol"] for f in s["fits"] if f["gap"] <= 1e-6), None)
        note = f"{tol:g}" if tol is not None else s["stopped"] or "not reached"
        print(f"{s['solver']:<24}" + "".join(cells) + f"  {note}")
    if row["default_s"] is None:
        print(f"ours default: over the budget of {budget:g} s")
        return
    print(
        f"ours default: {row['default_s']:.3f} s at gap {row['default_gap']:.1e}; "
        f"best peer at 1e-6: {row['best_peer']} "
        + (
            f"{row['best_peer_s']:.3f} s; ours / best = {row['ratio']:.2f}"
            if row["ratio"] is not None
            else "none reached it"
        )
    )


def print_summary(rows: list[dict]) -> None:
    print(
        f"\n{'case':<22} {'n x d x K':>26} {'ours s':>8} {'ours gap':>9} "
        f"{'best peer at 1e-6':>25} {'ours/best':>9} {'goal':>5}  met"
    )
    for row in rows:
        peer = (
            f"{row['best_peer']} {row['best_peer_s']:.3f}"
            if row["best_peer"]
            else "none in budget"
        )
        ours = f"{row['default_s']:.3f}" if row["default_s"] else "budget"
        gap = f"{row['default_gap']:.1e}" if row["default_gap"] is not None else "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        met = (
            row["ratio"] is not None
            and row["ratio"] <= row["goal"]
            and row["default_gap"] <= 1e-6
        )
        print(
            f"{row['case']:<22} {row['shape']:>26} {ours:>8} {gap:>9} {peer:>25} "
            f"{ratio:>9} {row['goal']:>5.2g}  {'yes' if met else 'NO'}"
        )


# -- Cross-validation -------------------------------------------------------------


def run_cv(quick: bool, budget: float) -> dict:
    X, y = _cases.digits()
    if quick:
        X, y = X[:150], y[:150]
    Cs = np.logspace(-4, 4, 3 if quick else 10)
    cv = StratifiedKFold(2 if quick else 5, shuffle=True, random_state=0)
    rows = []
    fitted = timed_fit(SoftmaxRegressionCV(Cs=Cs, cv=cv), X, y, budget)
    ours_s, ours = fitted
    rows.append(("ours default", ours_s, float(ours.C_), ours.score(X, y)))
    for solver in PEER_SOLVERS:
        fitted = timed_fit(
            LogisticRegressionCV(
                Cs=Cs, cv=cv, solver=solver, l1_ratios=(0.0,), scoring="accuracy",
                use_legacy_attributes=False, max_iter=100_000,
            ),
            X, y, budget,
        )  # fmt: skip
        if fitted is None:
            rows.append((f"sklearn {solver}", None, None, None))
            continue
        seconds, model = fitted
        rows.append(
            (f"sklearn {solver}", seconds, float(np.ravel(model.C_)[0]),
             model.score(X, y))
        )  # fmt: skip
    same = [r for r in rows[1:] if r[1] is not None and r[2] == rows[0][2]]
    best = min(same, key=lambda r: r[1]) if same else None
    print(f"\nSoftmaxRegressionCV vs LogisticRegressionCV: digits {X.shape}, "
          f"{Cs.size} Cs, {cv.n_splits} folds, default tol")  # fmt: skip
    print(f"{'estimator':<22} {'fit s':>8} {'C_':>9} {'accuracy':>9}")
    for name, seconds, C_, accuracy in rows:
        if seconds is None:
            print(f"{name:<22} {'budget':>8}")
        else:
            print(f"{name:<22} {seconds:>8.3f} {C_:>9.4g} {accuracy:>9.4f}")
    if best:
        print(f"best LogisticRegressionCV with the same C_: {best[0]}; "
              f"ours / best = {ours_s / best[1]:.2f}")  # fmt: skip
    return {
        "rows": [
            {"estimator": n, "seconds": s, "C_": c, "accuracy": a}
            for n, s, c, a in rows
        ],
        "best_peer": best[0] if best else None,
        "ratio": ours_s / best[1] if best else None,
    }


# -- Growth law -------------------------------------------------------------------


def growth(
    quick: bool,
    budget: float,
    peer: str,
    plot: str | None,
    max_samples: int = 1_000_000,
    max_classes: int = 1000,
) -> dict:
    """Our default and ``peer`` (at its loosest tol reaching 1e-6) against size."""
    sizes = [2_000, 5_000] if quick else [10_000, 30_000, 100_000, 300_000, 1_000_000]
    classes = [2, 5] if quick else [2, 10, 100, 1000]
    sizes = [size for size in sizes if size <= max_samples]
    classes = [value for value in classes if value <= max_classes]
    series = {"n_samples": [], "n_classes": []}
    for axis, values in (("n_samples", sizes), ("n_classes", classes)):
        for value in values:
            if axis == "n_samples":
                X, y = _cases.dense(value, 100, 10)
            else:
                X, y = _cases.dense(2_000 if quick else 20_000, 100, value)
            n_classes = np.unique(y).size
            f_star = optimum(X, y, 1.0, 0.0, n_classes)
            fitted = timed_fit(SoftmaxRegression(), X, y, budget)
            ours_s = ours_gap = None
            if fitted:
                ours_s, model = fitted
                ours_gap = (objective(*as_ours(model, n_classes), X, y, 1.0, 0.0)
                            - f_star) / abs(f_star)  # fmt: skip
            peer_sweep = sweep(
                peer,
                lambda tol, k=n_classes: peer_estimator(peer, 1.0, 0.0, tol, k),
                X, y, 1.0, 0.0, f_star, budget, n_classes,
            )  # fmt: skip
            point = {
                axis: value,
                "ours_s": ours_s,
                "ours_gap": ours_gap,
                "peer_s": peer_sweep.time_to(1e-6),
            }
            series[axis].append(point)
            print(f"growth {axis}={value}: ours {ours_s} s (gap {ours_gap}), "
                  f"{peer} {point['peer_s']} s", flush=True)  # fmt: skip
    if plot:
        plot_growth(series, peer, plot)
    return series


def plot_growth(series: dict, peer: str, path: str) -> None:
    """Save the growth law as a log-log plot: ours and ``peer`` against size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, axis in zip(axes, ("n_samples", "n_classes"), strict=True):
        points = series[axis]
        x = [p[axis] for p in points]
        for key, label in (("ours_s", "SoftmaxRegression()"),
                           ("peer_s", f"LogisticRegression({peer})")):  # fmt: skip
            values = [p[key] for p in points]
            ax.loglog(
                [a for a, v in zip(x, values, strict=True) if v],
                [v for v in values if v], "o-", label=label,
            )  # fmt: skip
        ax.set_xlabel(axis)
        ax.set_ylabel("seconds to a relative gap of 1e-6")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_title("dense, 100 features, 10 classes")
    axes[1].set_title("dense, 20,000 x 100")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


# -- Main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes")
    parser.add_argument(
        "--only",
        help="run only cases whose name contains this (or one of a, b, ...)",
    )
    parser.add_argument("--budget", type=float, default=None, help="s per fit")
    parser.add_argument("--repeats", type=int, default=None, help="default fits")
    parser.add_argument("--no-cv", action="store_true", help="skip the CV table")
    parser.add_argument("--growth", action="store_true", help="the growth law too")
    parser.add_argument("--growth-peer", default="newton-cg")
    parser.add_argument("--growth-max-samples", type=int, default=1_000_000)
    parser.add_argument("--growth-max-classes", type=int, default=1000)
    parser.add_argument("--plot", help="save the growth plot to this PNG")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--tols", help="comma-separated tols to sweep (default 1e-1, ..., 1e-10)"
    )
    parser.add_argument(
        "--optimum-tol", type=float, default=1e-11, help="tol of the fit giving f*"
    )
    args = parser.parse_args(argv)
    budget = args.budget or (30.0 if args.quick else 300.0)
    repeats = args.repeats or (1 if args.quick else 3)
    tols = QUICK_TOLS if args.quick else TOLS
    if args.tols:
        tols = tuple(float(tol) for tol in args.tols.split(","))
    global retime_under_s
    retime_under_s = 0.0 if args.quick else 1.0

    rows = []
    for case in cases(args.quick):
        if args.only and not any(part in case.name for part in args.only.split(",")):
            continue
        rows.append(run_case(case, budget, repeats, tols, args.optimum_tol))
        print_case(rows[-1], budget)
        sys.stdout.flush()
    print_summary(rows)
    cv = None if args.no_cv else run_cv(args.quick, budget)
    series = growth(
        args.quick, budget, args.growth_peer, args.plot,
        args.growth_max_samples, args.growth_max_classes,
    ) if args.growth else None  # fmt: skip
    results = {
        **_cases.run_environment(),
        "settings": {"budget_s": budget, "repeats": repeats, "tols": tols},
        "cases": rows,
        "cv": cv,
        "growth": series,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
