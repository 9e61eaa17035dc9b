r"""Fits and predictions on arrays of another namespace, where they are.

Under ``sklearn.config_context(array_api_dispatch=True)`` (with
``SCIPY_ARRAY_API=1``, as scikit-learn requires), ``X`` from PyTorch (CPU or
CUDA), CuPy, array-api-strict or any namespace scikit-learn supports stays on
its device. The data term is
:class:`~softmax_regression._shard.CrossEntropyShard`, the same code as in
memory, with :class:`ArrayAPIOperations` as its primitives: scores, softmax,
gradient and Hessian products run on the device in ``X.dtype``, sums over
samples accumulate there in float64 (float32 where the device has no
float64), and only coefficient-sized vectors cross to the host, once per
evaluation each way: scipy.optimize, the penalty and the change of variables
stay on the host, unchanged.

NumPy input takes the threaded in-memory path, with dispatch or without; this
module is not used for it. No optional package is imported here: the
namespace comes from the input (through scikit-learn's vendored
array-api-compat).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import (
    _max_precision_float_dtype,
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._arrays import dispatched_namespace, to_host
from .._checks import (
    check_offset,
    check_offset_shape,
    check_two_classes,
    target_columns,
)
from .._linear_loss import LinearSoftmaxLoss
from .._loss import _check_targets
from .._scores import expected_accuracy, from_scores, label_accuracy, linear_scores
from .._shard import CrossEntropyShard, ShardDataTerm, power_of_two_above
from .._weights import (
    class_priors,
    fit_weights,
    normalised_weights,
    relative_weights,
    weight_sum_factors,
    widest_float,
)
from ._protocol import FitInput

# Rows of X per block on a device: large enough that a GPU gets whole-array
# kernels (1,000,000 x 256 float32 is one block), small enough that a block's
# n_rows x n_classes temporaries stay within a few times the size of X.
_DEVICE_BLOCK_BYTES = 1 << 30


def _numpy_dtype(xp, dtype) -> np.dtype:
    """Return the NumPy dtype of a float32 or float64 dtype of ``xp``."""
    return np.dtype(np.float64 if dtype == xp.float64 else np.float32)


class ArrayAPIOperations:
    """The primitives of the data term (``CrossEntropyShard``) in the array API.

    The counterpart of :class:`~softmax_regression._shard.NumpyOperations` for
    arrays of the namespace ``xp`` on ``device``: the same methods, written
    with functions of the array API standard.

    Parameters
    ----------
    xp : namespace
        The (array-api-compat) namespace of the data.
    device : device
        Where the data is.
    """

    block_bytes = _DEVICE_BLOCK_BYTES

    def __init__(self, xp, device) -> None:
        self.xp = xp
        self.device = device
        # Sums over samples: float64 unless the device lacks it (Apple MPS).
        self.float64 = _max_precision_float_dtype(xp, device)

    def reshape(self, array, shape: tuple[int, ...]):
        return self.xp.reshape(array, shape)

    def itemsize(self, dtype) -> int:
        return self.xp.finfo(dtype).bits // 8

    def score_buffers(self, sizes, n_classes: int, class_axis: int, dtype) -> list:
        """One score array per block (class-major: X is dense)."""
        return [
            self.xp.empty((n_classes, size), dtype=dtype, device=self.device)
            for size in sizes
        ]

    def weights(self, normalised_weight, dtype) -> tuple:
        weight64 = self.xp.astype(normalised_weight, self.float64)
        return self.xp.astype(weight64, dtype), weight64

    def true_class(self, y_block, n_classes: int, class_axis: int) -> tuple:
        """Flat positions of the true classes, and the labels as a row.

        The positions gather (``take``); the array API has no assignment at
        integer positions, so the subtraction compares the labels with the
        class indices instead (see :meth:`subtract_at_true`).
        """
        xp = self.xp
        y_block = xp.astype(y_block, xp.int64)
        n_rows = y_block.shape[0]
        rows = xp.arange(n_rows, dtype=xp.int64, device=self.device)
        classes = xp.reshape(
            xp.arange(n_classes, dtype=xp.int64, device=self.device), (n_classes, 1)
        )
        return y_block * n_rows + rows, xp.reshape(y_block, (1, n_rows)), classes

    def take_true(self, scores, true_class):
        return self.xp.take(self.xp.reshape(scores, (-1,)), true_class[0])

    def subtract_at_true(self, array, true_class, values) -> None:
        xp = self.xp
        _, labels, classes = true_class
        zero = xp.zeros((), dtype=array.dtype, device=self.device)
        # x - 0 is x: the entries of the other classes keep their bits.
        array -= xp.where(labels == classes, xp.reshape(values, (1, -1)), zero)

    def weighted_class_sum(self, scores, targets, class_axis: int):
        targets = self.xp.astype(targets, scores.dtype)
        return self.xp.sum(targets.T * scores, axis=0)  # class-major scores

    def class_sum(self, scores, class_axis: int):
        return self.xp.sum(scores, axis=class_axis)

    def subtract_weighted_targets(self, array, targets, weight, class_axis: int):
        array -= self.xp.astype(targets, array.dtype).T * weight

    def entropy_sum64(self, probabilities, weight64, class_axis: int):
        xp = self.xp
        positive = probabilities > 0
        safe = xp.where(positive, probabilities, xp.ones_like(probabilities))
        entropy = -probabilities * xp.log(safe)  # 0 where the probability is
        return weight64 @ xp.sum(entropy, axis=class_axis)

    def zeros(self, shape):
        return self.xp.zeros(shape, dtype=self.float64, device=self.device)

    def empty_like(self, array):
        return self.xp.empty_like(array)

    def sum(self, array, axis: int):
        return self.xp.sum(array, axis=axis, keepdims=True)

    def expand_dims(self, array, axis: int):
        return self.xp.expand_dims(array, axis=axis)

    @staticmethod
    def matmul_into(first, second, out) -> None:
        out[...] = first @ second

    def dot64(self, weight64, values):
        return weight64 @ self.xp.astype(values, self.float64)

    def sum64(self, array, axis: int):
        return self.xp.sum(array, axis=axis, dtype=self.float64)

    def multiply64(self, array, scale: float):
        return self.xp.astype(array, self.float64) * scale

    @staticmethod
    def ignore_overflow():
        return nullcontext()  # the array API does not warn on overflow

    def power_of_two_scale(self, array) -> float:
        """Return the power of two above ``max|array|`` (see the shard)."""
        xp = self.xp
        if array.shape[0] * array.shape[1] == 0:
            return 1.0
        # One transfer of two numbers.
        extremes = xp.stack([xp.max(array), -xp.min(array)])
        return power_of_two_above(float(xp.max(extremes)))

    def from_host(self, array: np.ndarray, dtype):
        """Copy a float64 host vector to the device in ``dtype``: one transfer."""
        host = array.astype(_numpy_dtype(self.xp, dtype), copy=False)
        return self.xp.asarray(host, device=self.device)

    def to_host(self, loss, weights, intercept) -> tuple:
        """Bring the sums to the host in one transfer, as float64."""
        xp = self.xp
        parts = [xp.reshape(weights, (-1,)), intercept]
        if loss is not None:
            parts.insert(0, xp.reshape(loss, (1,)))
        flat = to_host(xp.concat(parts)).astype(np.float64, copy=False)
        if loss is not None:
            loss, flat = float(flat[0]), flat[1:]
        n_weights = weights.shape[0] * weights.shape[1]
        return loss, flat[:n_weights].reshape(tuple(weights.shape)), flat[n_weights:]


class ArrayAPIData:
    """Training data of another namespace, as a fit sees it.

    A :class:`~softmax_regression._fit.FitData`: what a fit reads of the
    data, computed on the device, with only per-class or per-feature sums
    brought to the host.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Validated dense training data, float32 or float64, of namespace ``xp``.
    y : array of shape (n_samples,) or (n_samples, n_classes)
        Class indices in ``[0, n_classes)``, or class probabilities, on
        ``X``'s device.
    n_classes : int
        Number of classes.
    sample_weight : array of shape (n_samples,) or None
        Non-negative weights with a positive sum (class weights included), on
        ``X``'s device.
    xp : namespace
        The namespace of ``X``.
    label_smoothing : float, default=0.0
        The share of each target spread uniformly over the classes.
    offset : array of shape (n_samples, n_classes), optional
        Added to the raw scores; in ``X``'s dtype, on its device.
    """

    sparse = False
    # Forming the Hessian pays on small data, which stays in memory.
    can_form_hessian = False

    def __init__(
        self,
        X,
        y,
        n_classes: int,
        sample_weight,
        xp,
        label_smoothing: float = 0.0,
        offset=None,
    ) -> None:
        self.X = X
        self.offset = offset
        self.y = y
        self.label_smoothing = label_smoothing
        self.n_classes = n_classes
        self.sample_weight = sample_weight
        self.xp = xp
        # The array's own device, read without scikit-learn's config (which
        # reports None outside array_api_dispatch).
        self.ops = ArrayAPIOperations(xp, array_api_compat.device(X))
        self.shape = tuple(X.shape)
        self.dtype = _numpy_dtype(xp, X.dtype)
        # Sums that do not depend on the coefficients (_duality), kept for
        # every fit on this data (a path of Cs).
        self.moments_cache: dict = {}
        # The weights over the largest one (sums that cannot overflow), or
        # None: every sum over the weights below starts from them.
        self._relative = relative_weights(sample_weight, xp)

    def from_host(self, array: np.ndarray):
        """Return a host array (a fitted attribute) in ``X``'s namespace, device."""
        return self.xp.asarray(array, device=self.ops.device)

    def entries(self) -> int:
        return self.shape[0] * self.shape[1]

    def class_priors(self) -> np.ndarray:
        return class_priors(
            self.y, self.n_classes, self.sample_weight, self.label_smoothing, self.xp
        )

    def weight_sum_factors(self) -> tuple[float, float]:
        return weight_sum_factors(self.sample_weight, self.shape[0], self.xp)

    def column_square_means(self) -> np.ndarray:
        """Weighted column means of squares, a block of rows at a time."""
        xp = self.xp
        weight = self._relative
        n_samples, n_features = self.shape
        total = self.ops.zeros(n_features)
        rows = max(1, self.ops.block_bytes // (8 * max(n_features, 1)))
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)  # the standard has no clipping
            block = xp.astype(self.X[start:stop, :], self.ops.float64)
            block = block * block
            if weight is None:
                total += xp.sum(block, axis=0)
            else:
                total += weight[start:stop] @ block
        divisor = n_samples if weight is None else float(xp.sum(weight))
        return to_host(total).astype(np.float64) / divisor

    @contextmanager
    def objective(
        self,
        l2_reg_strength: float | np.ndarray,
        fit_intercept: bool,
        n_threads: int | None,
    ) -> Iterator[LinearSoftmaxLoss]:
        """Open the objective on the device.

        ``n_threads`` is not used: the namespace's own kernels are parallel
        (a GPU's, or PyTorch's CPU threads).
        """
        shard = CrossEntropyShard(
            self.X,
            self.y,
            self.n_classes,
            normalised_weights(
                self.sample_weight, self.shape[0], self.xp, self.ops.device
            ),
            fit_intercept,
            operations=self.ops,
            label_smoothing=self.label_smoothing,
            offset=self.offset,
        )
        with LinearSoftmaxLoss(
            ShardDataTerm(self.X, shard),
            self.n_classes,
            self.shape[1],
            l2_reg_strength,
            fit_intercept,
        ) as loss:
            yield loss


def validate_fit_data(estimator, X, y, sample_weight, xp):
    """Validate training data of namespace ``xp``, leaving it on its device.

    ``y`` and ``sample_weight`` may be of another namespace or device (they
    are moved to ``X``'s, as scikit-learn does: everything follows ``X``).

    Returns ``X``, the classes (in ``y``'s namespace, as scikit-learn's
    ``LogisticRegression`` keeps them, so that string labels stay possible),
    the class indices on ``X``'s device, the sample weights times the class
    weights on ``X``'s device (None if neither was given), and the classes on
    the host.
    """
    name = type(estimator).__name__
    columns = target_columns(y)
    if columns is None:
        X, y = validate_data(
            estimator, X, y, dtype=[xp.float64, xp.float32], multi_output=False
        )
        device = get_namespace_and_device(X)[2]
        check_classification_targets(y)
        xp_y = get_namespace(y)[0]
        classes, y_encoded = xp_y.unique_inverse(y)
        classes_host = to_host(classes)
        check_two_classes(classes_host, name)
        y_encoded = move_to(y_encoded, xp=xp, device=device)
    else:
        # Class probabilities: checked on X's device, the classes their columns.
        X = validate_data(estimator, X, dtype=[xp.float64, xp.float32])
        device = get_namespace_and_device(X)[2]
        y_encoded = _check_targets(
            move_to(_table(y), xp=xp, device=device),
            name="y",
            xp=xp,
            to_numpy=to_host,
        )
        check_consistent_length(X, y_encoded)
        classes = classes_host = np.asarray(columns)
    sample_weight = fit_weights(
        estimator.class_weight,
        sample_weight,
        X,
        y_encoded,
        classes_host,
        name,
        xp,
        device,
    )
    return X, classes, y_encoded, sample_weight, classes_host


def _table(y):
    """Return a table of class probabilities as an array (a DataFrame's values)."""
    return y.to_numpy() if hasattr(y, "to_numpy") else y


def _device_offset(offset, n_samples: int, n_classes: int, xp, device, dtype):
    """Return the offset checked, in ``X``'s namespace, dtype and device."""
    if offset is None:
        return None
    if array_api_compat.is_array_api_obj(offset) and not isinstance(offset, np.ndarray):
        offset = move_to(offset, xp=xp, device=device)
        check_offset_shape(offset.shape, n_samples, n_classes)
        if not bool(xp.all(xp.isfinite(offset))):
            raise ValueError("offset must not contain NaN or infinity.")
        return xp.astype(offset, dtype)
    offset = check_offset(offset, n_samples, n_classes)
    return xp.asarray(offset, dtype=dtype, device=device)


@contextmanager
def fit_data(estimator, X, y, sample_weight, offset=None) -> Iterator[FitInput]:
    """Validate the training data and hold it on its device."""
    xp = dispatched_namespace(X)
    X, classes, y_encoded, fit_weight, classes_host = validate_fit_data(
        estimator, X, y, sample_weight, xp
    )
    data = ArrayAPIData(
        X,
        y_encoded,
        classes_host.size,
        fit_weight,
        xp,
        float(estimator.label_smoothing),
        _device_offset(
            offset,
            X.shape[0],
            classes_host.size,
            xp,
            get_namespace_and_device(X)[2],
            X.dtype,
        ),
    )
    yield FitInput(data, X, y, classes, sample_weight)


def raw_prediction(estimator, X, method: str, offset=None):
    """Validate ``X``; return its scores on its device, in ``X``'s namespace."""
    check_is_fitted(estimator)
    check_same_namespace(X, estimator, attribute="coef_", method=method)
    xp = dispatched_namespace(X)
    X = validate_data(estimator, X, dtype=[xp.float64, xp.float32], reset=False)
    scores = linear_scores(X, estimator.coef_, estimator.intercept_, xp)
    if offset is not None:
        scores = scores + _device_offset(
            offset,
            *scores.shape,
            xp,
            get_namespace_and_device(X)[2],
            scores.dtype,
        )
    return scores


def predict(estimator, X, method: str, offset=None):
    """``estimator.<method>(X)``, on ``X``'s device."""
    scores = raw_prediction(estimator, X, method, offset)
    return from_scores(scores, method, estimator.classes_, dispatched_namespace(X))


def score(estimator, X, y, sample_weight=None, offset=None) -> float:
    """Accuracy, or the expected accuracy against class probabilities, on the device."""
    if target_columns(y) is None:
        return label_accuracy(estimator, X, y, sample_weight, offset)
    scores = raw_prediction(estimator, X, "score", offset)
    xp, _, device = get_namespace_and_device(scores)
    n_classes = scores.shape[1]
    targets = _check_targets(
        move_to(_table(y), xp=xp, device=device),
        n_classes,
        "y",
        xp=xp,
        to_numpy=to_host,
    )
    check_consistent_length(scores, targets, sample_weight)
    # Sums in float64 where the device has it.
    dtype = widest_float(xp, device)
    targets = xp.astype(targets, dtype)
    if sample_weight is not None:
        sample_weight = xp.astype(move_to(sample_weight, xp=xp, device=device), dtype)
    return float(expected_accuracy(scores, targets, sample_weight, xp, device))


def memory_input(estimator, X, y, sample_weight, purpose: str, offset=None) -> tuple:
    """Device arrays brought to the host, for inference; an error for CV.

    Cross-validation runs its folds, scoring and refit on NumPy data.
    """
    if purpose == "cross-validation":
        raise TypeError(
            f"{type(estimator).__name__} does not fit arrays of the "
            f"{type(X).__module__.split('.')[0]} namespace under "
            "array_api_dispatch: its folds, scoring and refit run on NumPy "
            "data. Choose C on NumPy data (or a NumPy sample), then fit "
            "SoftmaxRegression(C=...) on the device arrays, which supports "
            "them."
        )
    return to_host(X), to_host(y), to_host(sample_weight), to_host(offset)
