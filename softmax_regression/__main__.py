"""Demo: fit digits with SoftmaxRegression and LogisticRegression side by side.

Run with ``python -m softmax_regression``. Prints test accuracy, iterations,
fit time (best of a few fits), the objective each reached and its relative
gap to the exact optimum, on the same standardised train/test split with the
same ``C``: our defaults against LogisticRegression's default solver (lbfgs)
and its fastest one on this data (newton-cg), each at its default ``tol``;
then at equal accuracy: each of those solvers at the loosest ``tol`` (1e-4,
1e-5, ...) whose gap is at most the 1e-6 our default guarantees.
"""

from __future__ import annotations

import argparse
import textwrap
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ._backends.memory import in_memory_loss
from ._estimator import SoftmaxRegression


def _best_fit_time(estimator, X, y, repeats: int) -> tuple[float, bool]:
    """Fit ``repeats`` times; return the fastest wall time in seconds.

    Also return whether the fits converged: a ConvergenceWarning is recorded,
    not shown (it would point at Python's runpy, not at a line of the user's),
    and the demo says in its own words what it means.
    """
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for _ in range(repeats):
            start = time.perf_counter()
            estimator.fit(X, y)
            times.append(time.perf_counter() - start)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return min(times), converged


def _objective(estimator, X, y, C: float) -> float:
    """Evaluate the shared penalised objective at an estimator's coefficients."""
    n_classes = estimator.classes_.size
    loss = in_memory_loss(X, y, n_classes, None, 1.0 / (C * X.shape[0]), True)
    return loss.loss(np.concatenate([estimator.coef_.ravel(), estimator.intercept_]))


# The relative gap SoftmaxRegression's tol="auto" guarantees.
_GAP = 1e-6


def _loosest_tol(solver: str, C: float, X, y, f_star: float):
    """Return LogisticRegression(solver) at the loosest tol reaching ``_GAP``.

    None if no tol down to 1e-10 gets there.
    """
    for exponent in range(4, 11):
        model = LogisticRegression(
            C=C, solver=solver, tol=10.0**-exponent, max_iter=10_000
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        if (_objective(model, X, y, C) - f_star) / f_star <= _GAP:
            return model
    return None


def _positive(kind: type):
    """Return an argparse type: a positive ``kind``, or a usage error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}"
            ) from None
        if not value > 0:  # also rejects nan
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}"
            )
        return value

    return parse


def main(argv: list[str] | None = None) -> None:
    """Run the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m softmax_regression", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--C",
        type=_positive(float),
        default=1.0,
        help="inverse penalty strength, in (0, inf] (default: 1.0)",
    )
    parser.add_argument(
        "--repeats",
        type=_positive(int),
        default=5,
        help="fits per model; the fastest is reported (default: 5)",
    )
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    print(
        f"digits: {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
        f"{X.shape[1]} features, {np.unique(y).size} classes; C={args.C:g}, "
        "default tol\n"
    )
    models = {
        "SoftmaxRegression": SoftmaxRegression(C=args.C),
        "LogisticRegression": LogisticRegression(C=args.C, max_iter=500),
        "LogisticRegression(newton-cg)": LogisticRegression(
            C=args.C, solver="newton-cg", max_iter=500
        ),
    }
    # The exact optimum, to measure how close each default gets.
    exact = SoftmaxRegression(C=args.C, solver="newton-cg", tol=1e-10)
    _, exact_converged = _best_fit_time(exact, X_train, y_train, 1)
    f_star = _objective(exact, X_train, y_train, args.C)
    # Without a penalty, separable data have no optimum: the objective falls
    # towards 0 as the weights grow, so every solver stops where its test or
    # the arithmetic ends it, and a gap to "the optimum" means nothing.
    separable = np.isinf(args.C) and exact.score(X_train, y_train) == 1.0
    header = f"{'model':<40} {'accuracy':>9} {'iterations':>10} {'fit (ms)':>9} "
    print(header + f"{'objective':>20} {'gap':>9}")
    not_converged = []
    times = {}

    def row(name: str, model) -> None:
        seconds, converged = _best_fit_time(model, X_train, y_train, args.repeats)
        times[name] = seconds
        if not converged:
            not_converged.append(name)
        value = _objective(model, X_train, y_train, args.C)
        gap = "-" if separable else f"{(value - f_star) / f_star:.1e}"
        print(
            f"{name:<40} {model.score(X_test, y_test):>9.4f} "
            f"{int(np.max(model.n_iter_)):>10d} {1e3 * seconds:>9.1f} "
            f"{value:>20.15f} {gap:>9}"
        )

    for name, model in models.items():
        row(name, model)
    if not separable:
        print(
            f"\nat equal accuracy: each solver at the loosest tol whose gap is "
            f"at most {_GAP:g}"
        )
        for solver in ("lbfgs", "newton-cg"):
            model = _loosest_tol(solver, args.C, X_train, y_train, f_star)
            if model is None:
                print(f"LogisticRegression({solver}): no tol down to 1e-10 got there")
                continue
            row(f"LogisticRegression({solver},tol={model.tol:g})", model)
        peers = [t for name, t in times.items() if "tol=" in name]
        if peers:
            ratio = times["SoftmaxRegression"] / min(peers)
            print(f"SoftmaxRegression() took {ratio:.2f} x the time of the fastest")
    if separable:
        print()
        print(
            textwrap.fill(
                "C=inf: these training data are linearly separable, so the "
                "unpenalised objective has no minimum (it decreases towards 0 as "
                "the weights grow without bound). Each solver stops where its own "
                "test or the floating-point arithmetic ends it, and there is no "
                "gap to report. Use a finite C for a well-defined model."
            )
        )
    else:
        print(
            "\ngap: (objective - optimum) / optimum; the optimum from newton-cg "
            "at tol=1e-10" + ("" if exact_converged else " (which stopped short of it)")
        )
    if not_converged and not separable:
        print(
            "did not reach its tol (a ConvergenceWarning): " + ", ".join(not_converged)
        )


if __name__ == "__main__":
    main()
