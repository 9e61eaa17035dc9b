"""SoftmaxRegression on device arrays (array API): evaluations and fits.

Run from the repository root, on a machine with a GPU and PyTorch (CUDA):

    python benchmarks/bench_array_api.py                   # the two cases below
    python benchmarks/bench_array_api.py --device cpu --sample-fraction 0.1
    python benchmarks/bench_array_api.py --quick           # seconds, smoke test

Cases: dense 1,000,000 x 256 with 100 classes in float32, and 200,000 x 100
with 10 classes in float64; X generated on the device, labels planted by a
softmax model. For each it reports

- one evaluation (loss and gradient) and one Hessian product of our data
  term on the device, against the memory-bandwidth floor of two passes over
  X (the bandwidth measured here by a reduction over X, which reads it once);
- the fit of ``SoftmaxRegression`` under ``array_api_dispatch`` (default
  settings; ``tol=1e-4``, scikit-learn's stop on the same gradient; and
  ``solver="newton-cg"``),
  scikit-learn's array-API ``LogisticRegression(solver="lbfgs")`` (its
  default ``tol=1e-4``) on the same tensors, and our NumPy fit on the host
  copy of X (all CPU threads), each with the objective it reached, in float64
  on the host, and its relative gap to the best of them.

``--quick`` runs small cases on PyTorch's CPU, or on array-api-strict where
PyTorch is not installed (CI), and skips scikit-learn where its array API
path does not take the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

# scikit-learn's array API dispatch needs scipy's, read at scipy's import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import sklearn
from _cases import run_environment
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softmax_regression import SoftmaxRegression
from softmax_regression._arrays import to_host
from softmax_regression._backends.array_api import ArrayAPIData
from softmax_regression._coef import initial_coef

CASES = [
    # (name, n_samples, n_features, n_classes, dtype)
    ("1M x 256, 100 classes, float32", 1_000_000, 256, 100, "float32"),
    ("200k x 100, 10 classes, float64", 200_000, 100, 10, "float64"),
]
QUICK_CASES = [
    ("20k x 64, 10 classes, float32", 20_000, 64, 10, "float32"),
    ("10k x 32, 5 classes, float64", 10_000, 32, 5, "float64"),
]


class Namespace:
    """The array library under test: arrays, device and synchronisation."""

    def __init__(self, name: str, device: str | None) -> None:
        self.name = name
        if name == "torch":
            import torch

            self.module = torch
            self.device = torch.device(device or "cuda")
        elif name == "cupy":
            import cupy

            self.module = cupy
            self.device = None
        else:
            import array_api_strict

            self.module = array_api_strict
            self.device = array_api_strict.Device(device or "CPU_DEVICE")

    def describe(self) -> str:
        if self.name == "torch" and self.device.type == "cuda":
            gpu = self.module.cuda.get_device_name()
            return f"torch {self.module.__version__} on {gpu}"
        return f"{self.name} {getattr(self.module, '__version__', '')} ({self.device})"

    def synchronize(self) -> None:
        if self.name == "torch" and self.device.type == "cuda":
            self.module.cuda.synchronize()
        elif self.name == "cupy":
            self.module.cuda.Device().synchronize()

    def asarray(self, array: np.ndarray):
        return self.module.asarray(array, device=self.device)

    def make_data(self, n_samples, n_features, n_classes, dtype, seed=0):
        """X standard normal on the device, y planted; float64 coef on the host."""
        rng = np.random.default_rng(seed)
        coef = rng.normal(scale=2.0 / np.sqrt(n_features), size=(n_classes, n_features))
        if self.name == "torch":
            torch = self.module
            generator = torch.Generator(device=self.device).manual_seed(seed)
            X = torch.randn(
                n_samples,
                n_features,
                generator=generator,
                device=self.device,
                dtype=getattr(torch, dtype),
            )
            scores = X @ torch.asarray(coef.T, dtype=X.dtype, device=self.device)
            gumbel = -torch.log(
                -torch.log(
                    torch.rand(scores.shape, generator=generator, device=self.device)
                )
            )
            y = torch.argmax(scores + gumbel.to(X.dtype), dim=1)
            return X, y
        X_host = rng.standard_normal((n_samples, n_features)).astype(dtype)
        scores = X_host @ coef.T + rng.gumbel(size=(n_samples, n_classes))
        return self.asarray(X_host), self.asarray(np.argmax(scores, axis=1))

    def timed(self, function, repeats: int) -> float:
        """Median seconds of ``function()`` over ``repeats`` runs, synchronised."""
        function()  # warm-up (kernels compiled, caches filled)
        self.synchronize()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            self.synchronize()
            times.append(time.perf_counter() - start)
        return float(np.median(times))


def objective(X, y, n_classes, coef, intercept, C) -> float:
    """Our (= scikit-learn's) objective in float64 on the host."""
    from softmax_regression._loss import _softmax_inplace

    X = np.asarray(X, dtype=np.float64)
    scores = X @ np.asarray(coef, dtype=np.float64).T + np.asarray(intercept)
    raw_true = scores[np.arange(y.size), y]
    log_sum_exp = _softmax_inplace(scores, axis=1)  # overwrites scores
    data_term = float(np.mean(log_sum_exp - raw_true))
    return data_term + 0.5 / (C * y.size) * float(np.sum(np.square(coef)))


def evaluation_times(ns: Namespace, X, y, n_classes: int, repeats: int) -> dict:
    """Seconds per loss/gradient and per Hessian product on the device."""
    data = ArrayAPIData(X, y, n_classes, None, _compat(X))
    coef = initial_coef(data.class_priors(), X.shape[1], True)
    direction = np.random.default_rng(0).normal(size=coef.size) * 1e-2
    with (
        sklearn.config_context(array_api_dispatch=True),
        data.objective(1.0 / X.shape[0], True, None) as loss,
    ):
        gradient_s = ns.timed(lambda: loss.loss_gradient(coef), repeats)
        hessp_s = ns.timed(lambda: loss.hessp(coef, direction), repeats)
    return {"loss_gradient_s": gradient_s, "hessp_s": hessp_s}


def _compat(X):
    from sklearn.externals import array_api_compat

    return array_api_compat.array_namespace(X)


def bandwidth(ns: Namespace, X, repeats: int) -> float:
    """Bytes per second of a reduction over X (one read of it)."""
    xp = _compat(X)
    seconds = ns.timed(lambda: float(xp.sum(X)), repeats)
    nbytes = X.shape[0] * X.shape[1] * (4 if X.dtype == xp.float32 else 8)
    return nbytes / seconds


def timed_fit(ns: Namespace, make_model, X, y, dispatch: bool):
    """Seconds of one fit (synchronised) and the fitted model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with sklearn.config_context(array_api_dispatch=dispatch):
            ns.synchronize()
            start = time.perf_counter()
            model = make_model().fit(X, y)
            ns.synchronize()
    return time.perf_counter() - start, model


def run_case(ns: Namespace, case, repeats: int, sklearn_peer: bool) -> dict:
    name, n_samples, n_features, n_classes, dtype = case
    X, y = ns.make_data(n_samples, n_features, n_classes, dtype)
    row = {"case": name, "n_samples": n_samples, "n_features": n_features}
    row["n_classes"], row["dtype"] = n_classes, dtype
    row.update(evaluation_times(ns, X, y, n_classes, repeats))
    row["bandwidth_GBps"] = bandwidth(ns, X, repeats) / 1e9
    nbytes = n_samples * n_features * np.dtype(dtype).itemsize
    row["floor_s"] = 2 * nbytes / (row["bandwidth_GBps"] * 1e9)
    X_host, y_host = to_host(X), to_host(y)
    fits = {}
    fits["ours (device)"] = timed_fit(ns, SoftmaxRegression, X, y, dispatch=True)
    # scikit-learn's stop: the largest gradient entry of the same objective at
    # 1e-4 (it also stops on a relative decrease of 64 eps).
    fits["ours (device, tol=1e-4)"] = timed_fit(
        ns, lambda: SoftmaxRegression(tol=1e-4), X, y, dispatch=True
    )
    fits["ours (device, newton-cg)"] = timed_fit(
        ns, lambda: SoftmaxRegression(solver="newton-cg"), X, y, dispatch=True
    )
    if sklearn_peer:
        fits["sklearn lbfgs (device)"] = timed_fit(
            ns, lambda: LogisticRegression(max_iter=1000), X, y, dispatch=True
        )
    fits["ours (NumPy, CPU)"] = timed_fit(
        ns, SoftmaxRegression, X_host, y_host, dispatch=False
    )
    objectives = {
        label: objective(
            X_host,
            y_host,
            n_classes,
            to_host(model.coef_),
            to_host(model.intercept_),
            1.0,
        )
        for label, (_, model) in fits.items()
    }
    best = min(objectives.values())
    row["fits"] = [
        {
            "model": label,
            "fit_s": seconds,
            "n_iter": int(np.max(to_host(model.n_iter_))),
            "objective": objectives[label],
            "relative_gap": (objectives[label] - best) / best,
        }
        for label, (seconds, model) in fits.items()
    ]
    return row


def print_table(rows: list[dict]) -> None:
    print(
        f"{'case':36} {'eval s':>9} {'hessp s':>9} {'floor s':>9} "
        f"{'eval/floor':>10} {'GB/s':>7}"
    )
    for row in rows:
        print(
            f"{row['case']:36} {row['loss_gradient_s']:9.4f} {row['hessp_s']:9.4f} "
            f"{row['floor_s']:9.4f} {row['loss_gradient_s'] / row['floor_s']:10.2f} "
            f"{row['bandwidth_GBps']:7.1f}"
        )
    print()
    print(f"{'case':36} {'model':26} {'fit s':>8} {'iter':>5} {'rel. gap':>9}")
    for row in rows:
        for fit in row["fits"]:
            print(
                f"{row['case']:36} {fit['model']:26} {fit['fit_s']:8.3f} "
                f"{fit['n_iter']:5d} {fit['relative_gap']:9.1e}"
            )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small CPU cases")
    parser.add_argument(
        "--namespace", choices=["torch", "cupy", "array_api_strict"], default=None
    )
    parser.add_argument("--device", default=None, help="e.g. cuda, cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sample-fraction",
        type=float,
        default=1.0,
        help="run the cases on this fraction of their rows (a CPU's patience)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    name = args.namespace
    if name is None:
        try:
            import torch  # noqa: F401

            name = "torch"
        except ImportError:
            name = "array_api_strict"
    device = args.device or ("cpu" if args.quick and name == "torch" else None)
    ns = Namespace(name, device)
    cases = QUICK_CASES if args.quick else CASES
    if args.sample_fraction != 1.0:
        cases = [
            (
                name.replace(
                    name.split(" x ")[0],
                    f"{round(n_samples * args.sample_fraction):,}",
                ),
                round(n_samples * args.sample_fraction),
                *rest,
            )
            for name, n_samples, *rest in cases
        ]
    # scikit-learn's array API LogisticRegression takes PyTorch and CuPy; on
    # array-api-strict it needs scipy functions the namespace lacks.
    sklearn_peer = name != "array_api_strict"
    print(f"{ns.describe()}; scikit-learn {sklearn.__version__}")
    rows = [
        run_case(ns, case, 2 if args.quick else args.repeats, sklearn_peer)
        for case in cases
    ]
    print_table(rows)
    results = {
        "environment": run_environment(),
        "namespace": ns.describe(),
        "cases": rows,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
