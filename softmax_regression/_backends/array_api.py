r"""Fits and predictions on arrays of another namespace, where they are.

Under ``sklearn.config_context(array_api_dispatch=True)`` (with
``SCIPY_ARRAY_API=1``, as scikit-learn requires), ``X`` from PyTorch (CPU or
CUDA), CuPy, array-api-strict or any namespace scikit-learn supports stays on
its device. The data term is :class:`~._shard.CrossEntropyShard`, the same
code as in memory, with :class:`ArrayAPIOperations` as its primitives: scores,
softmax, gradient and Hessian products run on the device in ``X.dtype``, sums
over samples accumulate there in float64 (float32 where the device has no
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
from sklearn import get_config
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    validate_data,
)

from ._linear_loss import LinearSoftmaxLoss, _InMemoryDataTerm
from ._loss import _check_targets
from ._scaling import smoothed_shares
from ._shard import CrossEntropyShard, power_of_two_above

# Rows of X per block on a device: large enough that a GPU gets whole-array
# kernels (1,000,000 x 256 float32 is one block), small enough that a block's
# n_rows x n_classes temporaries stay within a few times the size of X.
_DEVICE_BLOCK_BYTES = 1 << 30


def dispatched_namespace(X):
    """Return ``X``'s array namespace if the array API path should fit it.

    That is, under ``array_api_dispatch=True`` and for an array that is not
    NumPy's (nor a list, DataFrame or sparse matrix, which scikit-learn
    converts to NumPy); None otherwise.
    """
    if not get_config()["array_api_dispatch"]:
        return None
    xp, is_array_api = get_namespace(X)
    if not is_array_api or _is_numpy_namespace(xp):
        return None
    return xp


def to_host(array):
    """Return ``array`` as a NumPy array (or as it is if NumPy or sparse).

    Works with dispatch on or off: the namespace comes from the array itself.
    """
    if array is None or isinstance(array, np.ndarray) or not hasattr(array, "shape"):
        return array
    if not array_api_compat.is_array_api_obj(array):
        return array  # a scipy.sparse matrix
    return _convert_to_numpy(array, array_api_compat.array_namespace(array))


def _numpy_dtype(xp, dtype) -> np.dtype:
    """Return the NumPy dtype of a float32 or float64 dtype of ``xp``."""
    return np.dtype(np.float64 if dtype == xp.float64 else np.float32)


class ArrayAPIOperations:
    """The primitives of :class:`~._shard.CrossEntropyShard` in the array API.

    The counterpart of :class:`~._shard.NumpyOperations` for arrays of the
    namespace ``xp`` on ``device``: the same methods, written with functions
    of the array API standard.

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

    The counterpart of :class:`~._fit.InMemoryData`: what
    :func:`~._fit.fit_coef` reads of the data, computed on the device, with
    only per-class or per-feature sums brought to the host.

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
    """

    sparse = False

    def __init__(
        self, X, y, n_classes: int, sample_weight, xp, label_smoothing: float = 0.0
    ) -> None:
        self.X = X
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
        # The weights over the largest one (sums that cannot overflow), or
        # None: every sum over the weights below starts from them.
        self._relative = None
        if sample_weight is not None:
            weight = xp.astype(sample_weight, self.ops.float64)
            self._relative = weight / xp.max(weight)

    def from_host(self, array: np.ndarray):
        """Return a host array (a fitted attribute) in ``X``'s namespace, device."""
        return self.xp.asarray(array, device=self.ops.device)

    def entries(self) -> int:
        return self.shape[0] * self.shape[1]

    def class_priors(self) -> np.ndarray:
        counts = weight_per_class(self.xp, self.y, self.n_classes, self._relative)
        return smoothed_shares(counts / counts.sum(), self.label_smoothing)

    def weight_sum_factors(self) -> tuple[float, float]:
        if self.sample_weight is None:
            return 1.0, float(self.shape[0])
        largest = float(self.xp.max(self.sample_weight))
        return largest, float(self.xp.sum(self._relative))

    def _normalised_weight(self):
        """:math:`s_i / S` on the device, as :func:`~._loss._normalised_weights`."""
        xp, n_samples = self.xp, self.shape[0]
        if self.sample_weight is None:
            return xp.full(
                n_samples,
                1.0 / n_samples,
                dtype=self.ops.float64,
                device=self.ops.device,
            )
        return self._relative / xp.sum(self._relative)

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
        self, l2_reg_strength: float, fit_intercept: bool, n_threads: int | None
    ) -> Iterator[LinearSoftmaxLoss]:
        """Open the objective on the device.

        ``n_threads`` is not used: the namespace's own kernels are parallel
        (a GPU's, or PyTorch's CPU threads).
        """
        shard = CrossEntropyShard(
            self.X,
            self.y,
            self.n_classes,
            self._normalised_weight(),
            fit_intercept,
            operations=self.ops,
            label_smoothing=self.label_smoothing,
        )
        with LinearSoftmaxLoss(
            self.X,
            None,
            self.n_classes,
            None,
            l2_reg_strength=l2_reg_strength,
            fit_intercept=fit_intercept,
            data_term=_InMemoryDataTerm(self.X, shard),
        ) as loss:
            yield loss


def weight_per_class(xp, y, n_classes: int, sample_weight) -> np.ndarray:
    """Return the (weighted) count of each class on the host, float64.

    One reduction over the samples per class (the array API has no
    ``bincount``), brought to the host in one transfer. For a table of class
    probabilities ``y``, its (weighted) column sums.
    """
    if len(y.shape) == 2:
        if sample_weight is None:
            return to_host(xp.sum(y, axis=0, dtype=xp.float64)).astype(np.float64)
        return to_host(xp.astype(sample_weight, y.dtype) @ y).astype(np.float64)
    if sample_weight is None:
        sums = [xp.sum(xp.astype(y == k, xp.int64)) for k in range(n_classes)]
    else:
        zero = xp.zeros((), dtype=sample_weight.dtype, device=sample_weight.device)
        sums = [xp.sum(xp.where(y == k, sample_weight, zero)) for k in range(n_classes)]
    return to_host(xp.stack(sums)).astype(np.float64)


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
    from ._estimator import (
        _check_two_classes,
        _check_two_weighted_classes,
        _class_weight_per_class,
        _target_columns,
    )

    columns = _target_columns(y)
    if columns is None:
        X, y = validate_data(
            estimator, X, y, dtype=[xp.float64, xp.float32], multi_output=False
        )
        device = get_namespace_and_device(X)[2]
        check_classification_targets(y)
        xp_y = get_namespace(y)[0]
        classes, y_encoded = xp_y.unique_inverse(y)
        classes_host = to_host(classes)
        _check_two_classes(classes_host, type(estimator).__name__)
        y_encoded = move_to(y_encoded, xp=xp, device=device)
    else:
        # Class probabilities: checked on X's device, the classes their columns.
        X = validate_data(estimator, X, dtype=[xp.float64, xp.float32])
        device = get_namespace_and_device(X)[2]
        if hasattr(y, "to_numpy"):  # a DataFrame
            y = y.to_numpy()
        y_encoded = _check_targets(
            move_to(y, xp=xp, device=device), name="y", xp=xp, to_numpy=to_host
        )
        check_consistent_length(X, y_encoded)
        classes = classes_host = np.asarray(columns)
    name = type(estimator).__name__
    n_classes = classes_host.size
    if sample_weight is not None or estimator.class_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight,
            X,
            dtype=_max_precision_float_dtype(xp, device),
            ensure_non_negative=True,
        )
    if estimator.class_weight is not None:
        # "balanced" reads only the (weighted) count of each class.
        class_weight = _class_weight_per_class(
            estimator.class_weight,
            classes_host,
            classes_host,
            weight_per_class(xp, y_encoded, n_classes, sample_weight),
        )
        class_weight = xp.asarray(
            class_weight, dtype=sample_weight.dtype, device=device
        )
        # A new array: the caller's sample_weight is never modified. For class
        # probabilities, each sample's expected class weight.
        if columns is None:
            sample_weight = sample_weight * xp.take(class_weight, y_encoded)
        else:
            sample_weight = sample_weight * (
                xp.astype(y_encoded, class_weight.dtype) @ class_weight
            )
    if sample_weight is not None:
        _check_two_weighted_classes(
            classes_host,
            weight_per_class(xp, y_encoded, n_classes, sample_weight),
            name,
        )
    return X, classes, y_encoded, sample_weight, classes_host


def expected_accuracy(raw_prediction, y, sample_weight, xp) -> float:
    """:meth:`SoftmaxRegression.score` for class probabilities, on the device."""
    device = get_namespace_and_device(raw_prediction)[2]
    n_samples, n_classes = raw_prediction.shape
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    targets = _check_targets(
        move_to(y, xp=xp, device=device), n_classes, "y", xp=xp, to_numpy=to_host
    )
    check_consistent_length(raw_prediction, targets, sample_weight)
    predicted = xp.argmax(raw_prediction, axis=1)
    rows = xp.arange(n_samples, dtype=predicted.dtype, device=device)
    hits = xp.take(xp.reshape(targets, (-1,)), rows * n_classes + predicted)
    if sample_weight is None:
        return float(xp.mean(xp.astype(hits, xp.float64)))
    weight = xp.astype(move_to(sample_weight, xp=xp, device=device), hits.dtype)
    return float(xp.sum(hits * weight) / xp.sum(weight))


def linear_scores(X, coef, intercept, xp):
    """``X coef^T + intercept`` in the promoted dtype of ``X`` and ``coef``."""
    dtype = xp.result_type(X.dtype, coef.dtype)
    return xp.astype(X, dtype, copy=False) @ xp.astype(coef, dtype, copy=False).T + (
        xp.astype(intercept, dtype, copy=False)
    )


def take_classes(classes, indices, xp, device):
    """``classes[indices]``, in ``X``'s namespace unless the labels are strings."""
    xp_classes, _, device_classes = get_namespace_and_device(classes)
    indices = move_to(indices, xp=xp_classes, device=device_classes)
    labels = xp_classes.take(classes, indices, axis=0)
    if isinstance(classes, np.ndarray) and not np.issubdtype(classes.dtype, np.number):
        return labels
    return move_to(labels, xp=xp, device=device)
