"""Demo: fit digits with SoftmaxRegression and LogisticRegression side by side.

Run with ``python -m softmax_regression``. Prints test accuracy, iterations,
fit time (best of a few fits), the objective each reached and its relative
gap to the exact optimum, on the same standardised train/test split with the
same ``C``: our defaults against LogisticRegression's default solver (lbfgs)
and its fastest one on this data (newton-cg), each at its default ``tol``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ._estimator import SoftmaxRegression
from ._linear_loss import LinearSoftmaxLoss


def _best_fit_time(estimator, X, y, repeats: int) -> float:
    """Fit ``repeats`` times; return the fastest wall time in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times)


def _objective(estimator, X, y, C: float) -> float:
    """Evaluate the shared penalised objective at an estimator's coefficients."""
    n_classes = estimator.classes_.size
    loss = LinearSoftmaxLoss(X, y, n_classes, None, 1.0 / (C * X.shape[0]), True)
    return loss.loss(np.concatenate([estimator.coef_.ravel(), estimator.intercept_]))


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
    exact = SoftmaxRegression(C=args.C, solver="newton-cg", tol=1e-10).fit(
        X_train, y_train
    )
    f_star = _objective(exact, X_train, y_train, args.C)
    header = f"{'model':<30} {'accuracy':>9} {'iterations':>10} {'fit (ms)':>9} "
    print(header + f"{'objective':>20} {'gap':>9}")
    for name, model in models.items():
        seconds = _best_fit_time(model, X_train, y_train, args.repeats)
        value = _objective(model, X_train, y_train, args.C)
        print(
            f"{name:<30} {model.score(X_test, y_test):>9.4f} "
            f"{int(np.max(model.n_iter_)):>10d} {1e3 * seconds:>9.1f} "
            f"{value:>20.15f} {(value - f_star) / f_star:>9.1e}"
        )
    print(
        "\ngap: (objective - optimum) / optimum; the optimum from newton-cg at "
        "tol=1e-10"
    )


if __name__ == "__main__":
    main()
