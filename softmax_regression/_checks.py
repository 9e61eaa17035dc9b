"""Checks that raise: classes, class weights, target tables, solvers.

And where a warning should point (the user's line). A leaf module: it imports
nothing of the package.
"""

from __future__ import annotations

import os
import sys
from numbers import Real

import joblib
import numpy as np
import sklearn


def check_class_weight_values(class_weight: dict) -> None:
    """Reject class weights that are not finite, non-negative numbers."""
    for label, weight in class_weight.items():
        if not (
            isinstance(weight, Real)
            and not isinstance(weight, bool)
            and np.isfinite(weight)
            and weight >= 0
        ):
            raise ValueError(
                f"class_weight for class {label!r} must be a finite, non-negative "
                f"number; got {weight!r}. Use 0 to leave a class out."
            )


def check_two_classes(classes: np.ndarray, name: str) -> None:
    """Reject labels of fewer than two distinct classes."""
    if classes.size < 2:
        raise ValueError(
            f"{name} needs samples of at least 2 classes in y; got only one class: "
            f"{classes.tolist()[0]!r}."
        )


def check_two_weighted_classes(
    classes: np.ndarray, weight_per_class: np.ndarray, name: str
) -> None:
    """Reject weights that leave fewer than two classes with positive weight."""
    if np.count_nonzero(weight_per_class > 0) < 2:
        raise ValueError(
            f"{name} needs samples of at least 2 classes with positive weight; "
            "after sample_weight and class_weight, only class(es) "
            f"{classes[weight_per_class > 0].tolist()} remain."
        )


def target_columns(y):
    """Return the class labels of a 2-D ``y`` of class probabilities, or None.

    A 2-D ``y`` with two or more columns is a table of class probabilities
    (its columns the classes: a DataFrame's column labels, else
    ``0 .. n_classes - 1``); anything else is labels (a single column among
    them, which scikit-learn flattens with a DataConversionWarning).
    """
    shape = getattr(y, "shape", None)
    if shape is None:
        if not isinstance(y, (list, tuple)) or not y or np.ndim(y[0]) != 1:
            return None
        shape = np.shape(y)
    if len(shape) != 2 or shape[1] < 2:
        return None
    columns = getattr(y, "columns", None)
    return np.arange(shape[1]) if columns is None else np.asarray(columns)


def numeric_table(y) -> np.ndarray:
    """``y`` as a NumPy table, or a ValueError saying why it is not numeric."""
    table = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if not (
        np.issubdtype(table.dtype, np.number) or np.issubdtype(table.dtype, np.bool_)
    ):
        raise ValueError(
            f"y is 2-D with {table.shape[1]} columns, so it is read as a table of "
            f"class probabilities, but its dtype is {table.dtype}, not numeric. "
            "Pass a 1-D y of labels, or one numeric column per class."
        )
    return table


def check_solver(solver: str, l1_ratio: float) -> None:
    if l1_ratio > 0 and solver not in ("auto", "lbfgs"):
        raise ValueError(
            f"l1_ratio={l1_ratio} needs solver='lbfgs' (L-BFGS-B on the split "
            f"W = W+ - W-); solver={solver!r} needs a twice-differentiable "
            "objective, which the L1 penalty is not. Use solver='auto' or "
            "'lbfgs', or l1_ratio=0."
        )


# Frames in these directories are the library's, not the user's: a warning
# points at the first frame outside them (also through Pipeline, GridSearchCV).
_INTERNAL_DIRECTORIES = tuple(
    os.path.dirname(path) + os.sep
    for path in (sklearn.__file__, joblib.__file__, __file__)
)


def user_stacklevel() -> int:
    """Return the ``stacklevel`` that makes a warning name the user's line.

    For the function that calls :func:`warnings.warn`: the number of frames
    up to the first one outside softmax_regression, scikit-learn (its
    ``_fit_context`` wrapper, Pipeline, GridSearchCV) and joblib.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _INTERNAL_DIRECTORIES
    ):
        frame = frame.f_back
        level += 1
    return level
