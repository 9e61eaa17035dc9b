"""Bad training data, one defect at a time, for every backend's error tests."""

import numpy as np

DEFECTS = ("nan", "negative_weight", "one_class", "short_y", "continuous_y")


def spoil(defect: str, X: np.ndarray, y: np.ndarray, weight: np.ndarray):
    """Return copies of ``X, y, weight`` with ``defect`` (one of ``DEFECTS``)."""
    X, y, weight = X.copy(), y.copy(), weight.copy()
    if defect == "nan":
        X[X.shape[0] // 2, X.shape[1] // 2] = np.nan
    elif defect == "negative_weight":
        weight[5] = -1.0
    elif defect == "one_class":
        y[:] = y[0]
    elif defect == "short_y":
        y = y[:-1]
    elif defect == "continuous_y":
        y = y + 0.5
    else:
        raise ValueError(f"unknown defect {defect!r}; one of {DEFECTS}")
    return X, y, weight
