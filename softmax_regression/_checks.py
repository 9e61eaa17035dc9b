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


def check_solver(
    solver: str,
    l1_ratio: float,
    bounded: bool = False,
    l1_type: str = "ungrouped",
) -> None:
    """Reject a solver for what it cannot solve (L1, bounds, the grouped penalty)."""
    grouped = l1_type == "grouped" and l1_ratio > 0
    if grouped and bounded:
        raise ValueError(
            "l1_type='grouped' does not take lower_bounds or upper_bounds: the "
            "group soft threshold has no closed form within a box. Use "
            "l1_type='ungrouped' with bounds, or drop the bounds."
        )
    if grouped and solver not in ("auto", "newton-cd"):
        raise ValueError(
            f"l1_type='grouped' needs solver='newton-cd' (or 'auto'); "
            f"solver={solver!r} cannot minimise the group norm of each "
            "feature's coefficients."
        )
    if solver in ("auto", "lbfgs", "newton-cd"):
        return
    if l1_ratio > 0:
        what = (
            "runs its stochastic phase for the L2 penalty only"
            if solver == "saga"
            else "needs a twice-differentiable objective, which the L1 penalty is not"
        )
        raise ValueError(
            f"l1_ratio={l1_ratio} needs solver='newton-cd' (proximal Newton with "
            f"coordinate descent) or 'lbfgs' (L-BFGS-B on the split W = W+ - "
            f"W-); solver={solver!r} {what}. Use solver='auto', 'newton-cd' or "
            "'lbfgs', or l1_ratio=0."
        )
    if bounded:
        what = (
            "runs unconstrained steps"
            if solver == "saga"
            else "is an unconstrained Newton method"
        )
        raise ValueError(
            f"lower_bounds and upper_bounds need solver='lbfgs' (L-BFGS-B, "
            f"which keeps every iterate within the bounds) or 'newton-cd' "
            f"(whose coordinate steps are clipped to them); solver={solver!r} "
            f"{what}. Use solver='auto', 'lbfgs' or 'newton-cd'."
        )


def has_finite_bounds(lower_bounds, upper_bounds) -> bool:
    """Whether the bounds constrain anything: not None, -inf and inf alone.

    Values that are not numbers count as constraints (their check says why
    they are wrong).
    """
    for bound, free in ((lower_bounds, -np.inf), (upper_bounds, np.inf)):
        if bound is None:
            continue
        try:
            if (np.asarray(bound, dtype=np.float64) != free).any():
                return True
        except (TypeError, ValueError):
            return True
    return False


def _finite_array(value, name: str, *, allow_inf: str = "") -> np.ndarray:
    """``value`` as a float64 array, or a ValueError naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers; got {value!r:.80}.") from None
    if np.isnan(array).any():
        raise ValueError(f"{name} must not contain NaN.")
    if allow_inf != "-inf" and (array == -np.inf).any():
        raise ValueError(f"{name} must not contain -inf.")
    if allow_inf != "inf" and (array == np.inf).any():
        raise ValueError(f"{name} must not contain inf.")
    return array


def check_penalty_factor(penalty_factor, n_features: int) -> np.ndarray | None:
    """Return the penalty factors as float64 of shape (n_features,), or None.

    Finite and non-negative; None stays None (every factor 1).
    """
    if penalty_factor is None:
        return None
    factor = _finite_array(penalty_factor, "penalty_factor")
    if factor.shape != (n_features,):
        raise ValueError(
            f"penalty_factor must have shape (n_features,) = ({n_features},), one "
            f"factor per feature; got shape {factor.shape}."
        )
    if (factor < 0).any():
        j = int(np.flatnonzero(factor < 0)[0])
        raise ValueError(
            f"penalty_factor must be non-negative; feature {j} has "
            f"{factor[j]!r}. Use 0 to leave a feature unpenalised."
        )
    return factor


def check_bounds(lower_bounds, upper_bounds, n_classes: int, n_features: int):
    """Return ``(lower, upper)`` of shape (n_classes, n_features), or None.

    Each bound is None, a scalar, one value per feature (n_features,) or one
    per coefficient (n_classes, n_features); -inf and inf are allowed where
    they mean "no bound". None when both are None or infinite.
    """
    if not has_finite_bounds(lower_bounds, upper_bounds):
        return None
    shape = (n_classes, n_features)
    bounds = []
    for value, name, infinite, default in (
        (lower_bounds, "lower_bounds", "-inf", -np.inf),
        (upper_bounds, "upper_bounds", "inf", np.inf),
    ):
        if value is None:
            bounds.append(np.full(shape, default))
            continue
        array = _finite_array(value, name, allow_inf=infinite)
        if array.ndim > 2 or (
            array.ndim >= 1 and array.shape not in ((n_features,), shape)
        ):
            raise ValueError(
                f"{name} must be a number, of shape (n_features,) = "
                f"({n_features},) or of shape (n_classes, n_features) = "
                f"{shape}; got shape {array.shape}."
            )
        bounds.append(np.array(np.broadcast_to(array, shape)))
    lower, upper = bounds
    if (lower > upper).any():
        k, j = (int(i[0]) for i in np.nonzero(lower > upper))
        raise ValueError(
            f"lower_bounds must not exceed upper_bounds; for class {k}, feature "
            f"{j}: {lower[k, j]!r} > {upper[k, j]!r}."
        )
    return lower, upper


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


def check_offset(offset, n_samples: int, n_classes: int) -> np.ndarray | None:
    """Return the offsets as a finite float64 array (n_samples, n_classes), or None.

    Not copied when already a float64 array.
    """
    if offset is None:
        return None
    array = _finite_array(offset, "offset")
    check_offset_shape(array.shape, n_samples, n_classes)
    return array


def check_offset_shape(shape: tuple, n_samples: int, n_classes: int) -> None:
    """Reject an offset whose shape is not (n_samples, n_classes)."""
    if tuple(shape) != (n_samples, n_classes):
        raise ValueError(
            "offset must have shape (n_samples, n_classes) = "
            f"({n_samples}, {n_classes}), one column per class of classes_; "
            f"got shape {tuple(shape)}."
        )
