r"""The data term over a shard of rows: weighted cross-entropy of a linear model.

One definition of the maths every backend evaluates: our threads over the
rows of in-memory ``X``, a Dask worker over its chunks. For the rows
:math:`i` of the shard, with normalised weights :math:`\tilde s_i = s_i / S`
(:math:`S` the weight sum over *all* rows, so that the shards' terms add up to
the whole data term), it computes

.. math::

    L = \sum_i \tilde s_i \operatorname{CE}(W x_i + b, y_i), \qquad
    \nabla_W L = G^\top X, \quad \nabla_b L = G^\top \mathbf{1}, \qquad
    G_{ik} = \tilde s_i (p_{ik} - [k = y_i]),

and the product of its Hessian with a direction (see
:meth:`CrossEntropyShard.hessp`). No penalty, no solver: those sit above it
once, in :mod:`softmax_regression._linear_loss` and :mod:`._fit`.

``X`` is an argument of every evaluation, not state: a backend may hand over
the same array each time (in memory), or fetch it anew (a Dask worker reading
a chunk its store may have spilled to disk). What the shard keeps is what
belongs to its rows: the labels' positions, the weights, and the buffer of
scores that holds the probabilities at the coefficients last evaluated, for
the Hessian products that follow.

The arrays may also live in another array namespace (PyTorch, CuPy,
array-api-strict; on a GPU): the maths below is written once, with Python's
operators and the few primitives :class:`NumpyOperations` gathers, which
:class:`softmax_regression._backends.array_api.ArrayAPIOperations` provides in the
array API standard.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import entr

from ._coef import n_coef, split_coef
from ._loss import _softmax_inplace
from ._parallel import pin_current_thread

# Rows of dense X per block: enough that the per-block Python overhead and the
# small products are negligible, few enough that the block is still in cache when
# the second product reads it (4 MiB measured best, see benchmarks/README.md).
_DENSE_BLOCK_BYTES = 1 << 22
_MIN_BLOCK_ROWS = 128


@dataclass
class _Block:
    """A run of consecutive samples and the views that belong to it."""

    start: int  # first row of the block in the shard
    stop: int  # one past its last row
    scores: np.ndarray  # its slice of the shared score buffer
    true_class: object  # where each sample's true class is in scores (see ops)
    weight: np.ndarray  # normalised sample weights of the rows, in X.dtype
    weight64: np.ndarray  # the same in float64, for the loss sum
    offset: object = None  # the rows' offsets, in the layout of scores, or None


def _power_of_two_scale(array: np.ndarray) -> float:
    """Return the power of two ``s`` with ``max|array| / s`` in [0.5, 1), or 1.

    Dividing by ``s`` changes no significand bit, so a linear computation done
    on ``array / s`` and multiplied back by ``s`` gives the same bits as on
    ``array``, unless it would have overflowed (or gone subnormal).
    """
    # The methods, not np.max/np.min: the same reductions without their
    # Python-level dispatch, which shows on small data (a few microseconds
    # per call, several calls per Hessian product).
    return power_of_two_above(
        max(float(array.max(initial=0.0)), -float(array.min(initial=0.0)))
    )


def power_of_two_above(largest: float) -> float:
    """Return the power of two ``s`` with ``largest / s`` in [0.5, 1), or 1.

    1 for zero, inf or NaN: nothing to scale, or nothing scaling could mend.
    """
    if largest == 0.0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1])


def _row_view(X, start: int, stop: int):
    """Rows ``start:stop`` of dense or CSR ``X`` (or all of any ``X``), no copy."""
    if start == 0 and stop == X.shape[0]:
        return X
    if not sp.issparse(X):
        return X[start:stop, ...]  # the array API indexes every axis
    begin, end = X.indptr[start], X.indptr[stop]
    return sp.csr_matrix(
        (X.data[begin:end], X.indices[begin:end], X.indptr[start : stop + 1] - begin),
        shape=(stop - start, X.shape[1]),
        copy=False,
    )


class NumpyOperations:
    """The primitives of :class:`CrossEntropyShard` for NumPy and scipy.sparse.

    Everything the shard's maths needs beyond Python's operators: where the
    array API standard has no equivalent (``out=`` arguments, assignment at
    integer positions, ``np.errstate``) or NumPy has a faster way. Another
    namespace's class provides the same methods
    (:class:`softmax_regression._backends.array_api.ArrayAPIOperations`).
    """

    xp = None  # the namespace, for _softmax_inplace: None means NumPy
    block_bytes = _DENSE_BLOCK_BYTES

    @staticmethod
    def score_buffers(
        sizes: list[int], n_classes: int, class_axis: int, dtype
    ) -> list[np.ndarray]:
        """One score array per block, views of one buffer of all the rows."""
        raw = np.empty(sum(sizes) * n_classes, dtype=dtype)
        buffers, start = [], 0
        for size in sizes:
            shape = (n_classes, size) if class_axis == 0 else (size, n_classes)
            buffers.append(raw[start : start + size * n_classes].reshape(shape))
            start += size * n_classes
        return buffers

    @staticmethod
    def weights(normalised_weight, dtype) -> tuple[np.ndarray, np.ndarray]:
        """Return the normalised weights in ``dtype`` and in float64."""
        weight64 = np.asarray(normalised_weight, dtype=np.float64)
        return weight64.astype(dtype), weight64

    @staticmethod
    def true_class(y_block, n_classes: int, class_axis: int) -> np.ndarray:
        """Flat positions of each sample's true class in its block's scores."""
        y_block = np.asarray(y_block, dtype=np.intp)
        rows = np.arange(y_block.size)
        if class_axis == 0:
            return y_block * y_block.size + rows
        return rows * n_classes + y_block

    @staticmethod
    def take_true(scores, true_class) -> np.ndarray:
        """Each sample's score (or probability) of its true class."""
        return scores.reshape(-1)[true_class]

    @staticmethod
    def subtract_at_true(array, true_class, values) -> None:
        """Subtract ``values`` from each sample's entry of its true class."""
        array.reshape(-1)[true_class] -= values

    @staticmethod
    def reshape(array, shape: tuple[int, ...]) -> np.ndarray:
        return array.reshape(shape)

    @staticmethod
    def itemsize(dtype) -> int:
        return np.dtype(dtype).itemsize

    @staticmethod
    def weighted_class_sum(scores, targets, class_axis: int) -> np.ndarray:
        """``sum_k targets[i, k] * scores[i, k]`` per sample, in scores' dtype.

        ``targets`` is (rows, n_classes), whatever the layout of ``scores``.
        """
        targets = targets.astype(scores.dtype, copy=False)
        if class_axis == 0:
            targets = targets.T
        return np.sum(targets * scores, axis=class_axis)

    @staticmethod
    def class_sum(scores, class_axis: int) -> np.ndarray:
        """``sum_k scores[i, k]`` per sample."""
        return np.sum(scores, axis=class_axis)

    @staticmethod
    def subtract_weighted_targets(array, targets, weight, class_axis: int) -> None:
        """Subtract ``weight[i] * targets[i, k]`` from each entry, in place."""
        targets = targets.astype(array.dtype, copy=False)
        if class_axis == 0:
            array -= targets.T * weight
        else:
            array -= targets * weight[:, np.newaxis]

    @staticmethod
    def entropy_sum64(probabilities, weight64, class_axis: int):
        """``sum_i weight64_i H(probabilities_i)``, float64 rows of probabilities."""
        return np.dot(weight64, entr(probabilities).sum(axis=class_axis))

    @staticmethod
    def zeros(shape) -> np.ndarray:
        """Return a float64 accumulator of zeros."""
        return np.zeros(shape)

    @staticmethod
    def empty_like(array) -> np.ndarray:
        return np.empty_like(array)

    @staticmethod
    def sum(array, axis: int):
        """Sum along ``axis``, kept as an axis of length one."""
        return array.sum(axis=axis, keepdims=True)

    @staticmethod
    def expand_dims(array, axis: int):
        """Return a view of 1-D ``array`` with a new axis of length one at ``axis``."""
        # Indexing, not np.expand_dims: the same view at a tenth of the cost.
        return array[np.newaxis] if axis == 0 else array[:, np.newaxis]

    @staticmethod
    def matmul_into(first, second, out) -> None:
        np.matmul(first, second, out=out)

    @staticmethod
    def dot64(weight64, values):
        """``sum_i weight64_i * values_i`` in float64."""
        return np.dot(weight64, values)

    @staticmethod
    def sum64(array, axis: int):
        return array.sum(axis=axis, dtype=np.float64)

    @staticmethod
    def multiply64(array, scale: float):
        """``array * scale`` in float64."""
        return np.multiply(array, scale, dtype=np.float64)

    @staticmethod
    def ignore_overflow():
        """Return a context where overflow to inf does not warn.

        Beyond float64 (features near 1e150) the Hessian product is inf: the
        solver driver stops on it, so numpy need not warn.
        """
        return np.errstate(over="ignore")

    @staticmethod
    def power_of_two_scale(array) -> float:
        return _power_of_two_scale(array)

    @staticmethod
    def from_host(array: np.ndarray, dtype):
        """Return a float64 host array (coefficients) in ``dtype``, where X is."""
        return array.astype(dtype, copy=False)

    @staticmethod
    def to_host(loss, weights, intercept) -> tuple[float, np.ndarray, np.ndarray]:
        """Return the sums as a float (``loss`` may be None) and host arrays."""
        return None if loss is None else float(loss), weights, intercept


class CrossEntropyShard:
    r"""Weighted cross-entropy of a linear softmax model over some rows.

    Conventions
    -----------
    ``coef`` is a 1-D float64 vector: the rows of :math:`W` (n_classes x
    n_features) one after the other, then :math:`b` if ``fit_intercept``.
    Arithmetic on ``X`` is done in ``X.dtype`` (float32 data is never upcast);
    sums over samples are accumulated in float64; what is returned is float64.

    Evaluation is blocked: the rows are cut into runs, and each block's
    scores, softmax and gradient contribution are computed while its rows of
    ``X`` are still in cache, so each evaluation streams ``X`` from memory
    about once rather than twice. Blocks are shared among ``n_threads`` threads
    (NumPy, BLAS and scipy.sparse release the GIL); call :meth:`close`, or use
    the object as a context manager, to stop them. Dense blocks keep their
    scores class-major, (n_classes, rows), so reductions over classes run
    across contiguous rows; sparse blocks keep them sample-major, the layout
    scipy's sparse products read and write.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
        The shard's rows, float32 or float64, dense or CSR/CSC: only their
        shape, dtype and format are read here, to plan the blocks. Every
        evaluation gets rows of this shape, dtype and format.
    y : ndarray of shape (n_rows,) or (n_rows, n_classes)
        Class indices in ``[0, n_classes)``, or class probabilities (each row
        non-negative, summing to one): the targets :math:`q_i`.
    n_classes : int
        Number of classes, at least 2.
    normalised_weight : ndarray of shape (n_rows,)
        :math:`s_i / S`, float64, with :math:`S` the weight sum over all the
        shards of the problem.
    fit_intercept : bool
        Whether ``coef`` ends with the intercepts.
    n_threads : int, default=1
        Threads evaluating blocks in parallel.
    executor : concurrent.futures.Executor, optional
        Threads to run the blocks on, shared with other shards (a worker's
        chunks) and left running by :meth:`close`; by default the shard starts
        its own ``n_threads`` threads.
    label_smoothing : float, default=0.0
        :math:`\varepsilon \in [0, 1)`: the targets become
        :math:`t_i = (1 - \varepsilon) q_i + \varepsilon / K`, without a
        table of them (PyTorch's ``label_smoothing``).
    operations : object, default=NumpyOperations()
        The array primitives, for arrays of another namespace (then ``X``,
        ``y`` and ``normalised_weight`` are arrays of it, on one device, and
        ``X`` is dense).
    offset : ndarray of shape (n_rows, n_classes), optional
        :math:`o_i`, added to each sample's raw scores: :math:`z_i = W x_i + b
        + o_i`. In ``X.dtype`` and namespace; referenced, not copied.
    """

    def __init__(
        self,
        X,
        y: np.ndarray,
        n_classes: int,
        normalised_weight: np.ndarray,
        fit_intercept: bool,
        n_threads: int = 1,
        executor: Executor | None = None,
        operations=None,
        label_smoothing: float = 0.0,
        offset=None,
    ) -> None:
        self.ops = ops = NumpyOperations() if operations is None else operations
        self.n_classes = n_classes
        self.n_rows, self.n_features = X.shape
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.soft = len(y.shape) == 2  # class probabilities, not indices
        self.label_smoothing = float(label_smoothing)
        weight, weight64 = ops.weights(normalised_weight, self.dtype)
        # Sample-major scores for sparse X: what scipy's products produce.
        self._class_axis = 1 if self.sparse else 0
        self._probabilities_at: np.ndarray | None = None

        bounds = self._block_bounds(X, n_threads)
        # The n_rows x n_classes scores, reused by every evaluation; they hold
        # the probabilities at the coef last evaluated, for hessp.
        buffers = ops.score_buffers(
            [stop - start for start, stop in bounds],
            n_classes,
            self._class_axis,
            self.dtype,
        )
        self._blocks = [
            _Block(
                start=start,
                stop=stop,
                scores=scores,
                true_class=y[start:stop, ...]
                if self.soft
                else ops.true_class(y[start:stop], n_classes, self._class_axis),
                weight=weight[start:stop],
                weight64=weight64[start:stop],
                offset=None
                if offset is None
                else offset[start:stop, :].T
                if self._class_axis == 0
                else offset[start:stop, :],
            )
            for (start, stop), scores in zip(bounds, buffers, strict=True)
        ]
        # Contiguous groups of blocks, one per thread.
        n_groups = min(n_threads, len(self._blocks))
        self._groups = [list(group) for group in np.array_split(self._blocks, n_groups)]
        self._owns_executor = executor is None
        if n_groups <= 1:
            executor = None
        elif executor is None:
            executor = ThreadPoolExecutor(
                n_groups,
                thread_name_prefix="softmax-regression",
                initializer=pin_current_thread,
            )
        self._executor = executor

    def _block_bounds(self, X, n_threads: int) -> list[tuple[int, int]]:
        """Row ranges of the blocks."""
        n_rows = self.n_rows
        if n_rows == 0:
            return []
        if self.sparse and X.format != "csr":
            return [(0, n_rows)]  # CSC cannot be cut into rows cheaply
        if self.sparse:
            # Each block's gradient is a dense n_features x n_classes array:
            # few, large blocks, one per thread.
            n_blocks = n_threads
        else:
            row_bytes = max(1, X.shape[1] * self.ops.itemsize(X.dtype))
            rows = max(_MIN_BLOCK_ROWS, self.ops.block_bytes // row_bytes)
            n_blocks = max(n_threads, -(-n_rows // rows))
        n_blocks = max(1, min(n_blocks, n_rows))
        edges = np.linspace(0, n_rows, n_blocks + 1).round().astype(int)
        return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def close(self) -> None:
        """Stop the worker threads, if any, and wait until they are gone.

        Blocks not yet started are cancelled, so an exception in the calling
        thread (a KeyboardInterrupt) waits for at most the blocks in flight.
        """
        if self._executor is not None and self._owns_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = None

    def __enter__(self) -> CrossEntropyShard:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def n_coef(self) -> int:
        """Length of the flat coefficient vector."""
        return n_coef(self.n_classes, self.n_features, self.fit_intercept)

    def _split(self, coef, reshape=None) -> tuple:
        """Return views of the weights (n_classes, n_features) and intercepts."""
        return split_coef(
            coef, self.n_classes, self.n_features, self.fit_intercept, reshape
        )

    def _linear_scores(self, X_block, weights, intercept, out) -> None:
        """Write ``X_block W^T + b`` into ``out``, in the block's layout.

        ``weights`` is (n_classes, n_features) for dense X and its transpose,
        C-contiguous, for sparse X (what CSR @ dense reads); ``intercept`` is
        already shaped to broadcast along the samples.
        """
        if self._class_axis == 0:
            self.ops.matmul_into(weights, X_block.T, out)
        else:
            out[...] = X_block @ weights
        if self.fit_intercept:
            out += intercept

    def _back_product(self, X_block, matrix: np.ndarray) -> np.ndarray:
        """``matrix^T X_block``, in the layout of the ``weights`` above."""
        if self._class_axis == 0:
            return matrix @ X_block
        return X_block.T @ matrix

    def _map_groups(self, function) -> list:
        """Run ``function(blocks)`` on every group of blocks, in parallel."""
        if self._executor is None:
            return [function(self._blocks)]
        return list(self._executor.map(function, self._groups))

    def _prepare(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and intercepts in ``X.dtype``, laid out for the blocks."""
        # One transfer of all the coefficients to where X is, then views.
        weights, intercept = self._split(
            self.ops.from_host(coef, self.dtype), self.ops.reshape
        )
        if self._class_axis == 1:
            weights = np.ascontiguousarray(weights.T)
        if intercept is not None:
            intercept = self.ops.expand_dims(intercept, 1 - self._class_axis)
        return weights, intercept

    def _assemble(self, parts: list) -> tuple[float, np.ndarray]:
        """Sum the groups' ``(loss, weights part, intercept part)``.

        Returns the loss and the flat float64 vector of the parts on the host.
        """
        loss, data_weights, data_intercept = parts[0]
        for part in parts[1:]:
            if loss is not None:
                loss = loss + part[0]
            data_weights = data_weights + part[1]
            data_intercept = data_intercept + part[2]
        loss, data_weights, data_intercept = self.ops.to_host(
            loss, data_weights, data_intercept
        )
        result = np.zeros(self.n_coef)
        result_weights, result_intercept = self._split(result)
        result_weights += data_weights if self._class_axis == 0 else data_weights.T
        if result_intercept is not None:
            result_intercept += data_intercept
        return loss, result

    def _group_loss_gradient(self, blocks: list[_Block], X, weights, intercept):
        """Loss and gradient sums over some blocks, run by one thread.

        Returns the weighted loss sum, the gradient of the data term with
        respect to the weights (in the layout of ``weights``) and to the
        intercepts, all float64. Leaves the probabilities in ``block.scores``.
        """
        ops, class_axis = self.ops, self._class_axis
        grad_weights = ops.zeros(weights.shape)
        grad_intercept = ops.zeros(self.n_classes)
        loss = ops.zeros(())
        for block in blocks:
            X_block = _row_view(X, block.start, block.stop)
            scores = block.scores
            self._linear_scores(X_block, weights, intercept, out=scores)
            if block.offset is not None:
                scores += block.offset
            raw_target = self._raw_target(scores, block)  # t_i . z_i
            # scores = P
            log_sum_exp = _softmax_inplace(scores, axis=class_axis, xp=ops.xp)
            log_sum_exp -= raw_target  # per-sample cross-entropy
            loss += ops.dot64(block.weight64, log_sum_exp)
            # G = s (P - T) / S, written over a copy: P stays for hessp.
            gradient = scores * ops.expand_dims(block.weight, class_axis)
            self._subtract_targets(gradient, block)
            grad_weights += self._back_product(X_block, gradient)
            grad_intercept += ops.sum64(gradient, 1 - class_axis)
        return loss, grad_weights, grad_intercept

    def _raw_target(self, scores, block: _Block):
        r"""Each sample's :math:`t_i^\top z_i`, from its raw scores.

        :math:`(1 - \varepsilon) q_i^\top z_i + (\varepsilon / K)
        \sum_k z_{ik}`: the true class's score for hard labels (a gather),
        the probabilities' weighted sum of the scores for soft ones.
        """
        ops, class_axis = self.ops, self._class_axis
        if self.soft:
            raw_target = ops.weighted_class_sum(scores, block.true_class, class_axis)
        else:
            raw_target = ops.take_true(scores, block.true_class)
        if self.label_smoothing:
            epsilon = self.label_smoothing
            raw_target = raw_target * (1.0 - epsilon) + ops.class_sum(
                scores, class_axis
            ) * (epsilon / self.n_classes)
        return raw_target

    def _subtract_targets(self, gradient, block: _Block) -> None:
        """Subtract each sample's weighted targets, ``s_i t_i / S``, in place."""
        ops, class_axis = self.ops, self._class_axis
        weight = block.weight
        if self.label_smoothing:
            epsilon = self.label_smoothing
            weight = weight * (1.0 - epsilon)
            gradient -= ops.expand_dims(
                block.weight * (epsilon / self.n_classes), class_axis
            )
        if self.soft:
            ops.subtract_weighted_targets(
                gradient, block.true_class, weight, class_axis
            )
        else:
            ops.subtract_at_true(gradient, block.true_class, weight)

    def _group_hessp(self, blocks: list[_Block], X, direction, direction_intercept):
        """Multiply the data term's Hessian by a direction, over some blocks.

        ``direction`` has entries below 1 in magnitude (see :meth:`hessp`), so
        ``R`` stays within a sum of absolute feature values; ``Q`` is scaled by
        a power of two before the product with ``X`` and scaled back in
        float64, so that ``X^T Q`` (of the order of squared features) does not
        overflow float32 either.
        """
        ops, class_axis = self.ops, self._class_axis
        hessp_weights = ops.zeros(direction.shape)
        hessp_intercept = ops.zeros(self.n_classes)
        for block in blocks:
            X_block = _row_view(X, block.start, block.stop)
            probabilities = block.scores
            # R = X V^T + v_b, then Q = s * P * (R - sum_k P R): the softmax
            # Jacobian diag(p) - p p^T applied to each sample's row of R.
            product = ops.empty_like(probabilities)
            self._linear_scores(X_block, direction, direction_intercept, out=product)
            weighted_mean = ops.sum(probabilities * product, class_axis)
            product -= weighted_mean
            product *= probabilities
            # Weights are at most 1: scaling by P (R - mean)'s power of two
            # bounds Q below 1. Folded into the weights, it costs no extra pass.
            scale = ops.power_of_two_scale(product)
            product *= ops.expand_dims(block.weight * (1.0 / scale), class_axis)
            back_product = self._back_product(X_block, product)
            with ops.ignore_overflow():
                hessp_weights += ops.multiply64(back_product, scale)
                hessp_intercept += scale * ops.sum64(product, 1 - class_axis)
        return None, hessp_weights, hessp_intercept

    def loss_gradient(self, X, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient of the data term, from one pass over ``X``.

        The probabilities are kept for :meth:`hessp` at the same ``coef``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_rows, n_features)
            The shard's rows.
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_coef,), float64
        """
        weights_x, intercept_x = self._prepare(coef)
        parts = self._map_groups(
            lambda blocks: self._group_loss_gradient(blocks, X, weights_x, intercept_x)
        )
        self._probabilities_at = coef.copy()
        return self._assemble(parts)

    def target_moments(self, X) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        r"""Return the sums over the rows that do not depend on the coefficients.

        What the duality gap of :mod:`softmax_regression._duality` needs of the
        data besides the evaluations: with targets :math:`t_i` (smoothed if
        ``label_smoothing``) and offsets :math:`o_i`, one pass over ``X``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_rows, n_features)
            The shard's rows.

        Returns
        -------
        target_offset : float
            :math:`-\sum_i \tilde s_i t_i^\top o_i` (0 without offsets).
        target_gradient : ndarray of shape (n_coef,), float64
            The data term's gradient were every probability zero,
            :math:`-\sum_i \tilde s_i t_i \tilde x_i^\top` in the layout of
            ``coef`` (:math:`\tilde x_i` the row followed by 1 if
            ``fit_intercept``).
        mean_x : ndarray of shape (n_features,), float64
            :math:`\sum_i \tilde s_i x_i`.
        offset_mean : ndarray of shape (n_classes,), float64
            :math:`\sum_i \tilde s_i o_i` (zeros without offsets).
        """
        parts = self._map_groups(lambda blocks: self._group_target_moments(blocks, X))
        target_offset, target_gradient = self._assemble([part[:3] for part in parts])
        mean_x, offset_mean = parts[0][3], parts[0][4]
        for part in parts[1:]:
            mean_x = mean_x + part[3]
            offset_mean = offset_mean + part[4]
        _, mean_x, offset_mean = self.ops.to_host(None, mean_x, offset_mean)
        return (
            target_offset,
            target_gradient,
            np.reshape(mean_x, -1).astype(np.float64),
            np.reshape(offset_mean, -1).astype(np.float64),
        )

    def dual_entropy(self, X, coef: np.ndarray, tau: float, row: np.ndarray) -> float:
        r"""Return :math:`\sum_i \tilde s_i (H(q_i) + q_i^\top o_i)`.

        With :math:`q_i = \tau p_i + (1 - \tau) r`: the entropy part of the
        dual objective (see :mod:`._duality`) for the probabilities
        :math:`p_i` at ``coef`` mixed with a constant row :math:`r`, in
        float64, from the probabilities the last evaluation left (one
        evaluation otherwise); no pass over ``X``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_rows, n_features)
            The shard's rows.
        coef : ndarray of shape (n_coef,)
            Where the probabilities are taken.
        tau : float
            In ``[0, 1]``.
        row : ndarray of shape (n_classes,)
            :math:`r`, non-negative, summing to one.

        Returns
        -------
        value : float
        """
        self._probabilities_for(X, coef)
        ops, class_axis = self.ops, self._class_axis
        if not self._blocks:
            return 0.0
        # (1 - tau) r, broadcast along the samples, in float64 where X is.
        mixed_row = ops.expand_dims(
            ops.from_host((1.0 - tau) * row, self._blocks[0].weight64.dtype),
            1 - class_axis,
        )

        def group(blocks: list[_Block]):
            value = ops.zeros(())
            for block in blocks:
                mixture = ops.multiply64(block.scores, tau) + mixed_row
                value += ops.entropy_sum64(mixture, block.weight64, class_axis)
                if block.offset is not None:
                    value += ops.dot64(
                        block.weight64,
                        ops.class_sum(mixture * block.offset, class_axis),
                    )
            return value

        return float(sum(self._map_groups(group)))

    def _group_target_moments(self, blocks: list[_Block], X) -> tuple:
        """:meth:`target_moments` over some blocks, run by one thread."""
        ops, class_axis = self.ops, self._class_axis
        width = (self.n_classes, self.n_features)
        target_weights = ops.zeros(width if class_axis == 0 else width[::-1])
        target_intercept = ops.zeros(self.n_classes)
        mean_x = ops.zeros(
            (1, self.n_features) if class_axis == 0 else (self.n_features, 1)
        )
        offset_mean = ops.zeros(self.n_classes)
        target_offset = ops.zeros(())
        for block in blocks:
            X_block = _row_view(X, block.start, block.stop)
            targets = ops.empty_like(block.scores)
            targets[...] = 0
            self._subtract_targets(targets, block)  # -s t / S
            target_weights += self._back_product(X_block, targets)
            target_intercept += ops.sum64(targets, 1 - class_axis)
            weight = ops.expand_dims(block.weight, class_axis)
            mean_x += self._back_product(X_block, weight)
            if block.offset is not None:
                offset_mean += ops.sum64(block.offset * weight, 1 - class_axis)
                target_offset += ops.sum64(
                    ops.sum64(targets * block.offset, 1 - class_axis), 0
                )
        return target_offset, target_weights, target_intercept, mean_x, offset_mean

    def _probabilities_for(self, X, coef: np.ndarray) -> None:
        """Make the score buffers hold the probabilities at ``coef``."""
        if self._probabilities_at is None or not np.array_equal(
            coef, self._probabilities_at
        ):
            self.loss_gradient(X, coef)

    def hessian(self, X, coef: np.ndarray) -> np.ndarray:
        r"""Return the data term's Hessian at ``coef`` as a matrix (NumPy only).

        .. math::

            H_{(k, a), (l, c)} = \sum_i \tilde s_i
            \left([k = l] P_{ik} - P_{ik} P_{il}\right)
            \tilde x_{ia} \tilde x_{ic},

        with :math:`\tilde x_i` the row followed by 1 if ``fit_intercept``.
        Costs ``n_rows * n_coef**2`` multiply-adds and a dense copy of ``X``
        with that column: for small problems only, where a Hessian product by
        :meth:`hessp` costs far more in Python calls than in arithmetic.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_rows, n_features)
            The shard's rows.
        coef : ndarray of shape (n_coef,)
            Where the Hessian is taken.

        Returns
        -------
        hessian : ndarray of shape (n_coef, n_coef), float64
            Symmetric, in the flat layout of ``coef`` on both axes.
        """
        self._probabilities_for(X, coef)
        n_rows, n_classes, n_features = self.n_rows, self.n_classes, self.n_features
        width = n_features + self.fit_intercept
        extended = np.empty((n_rows, width))
        extended[:, :n_features] = X.toarray() if self.sparse else X
        if self.fit_intercept:
            extended[:, n_features] = 1.0
        probabilities = np.concatenate(
            [
                block.scores.T if self._class_axis == 0 else block.scores
                for block in self._blocks
            ]
        )
        weight = np.concatenate([block.weight64 for block in self._blocks])
        weighted = probabilities * weight[:, np.newaxis]  # float64
        # Z[i, k, a] = P_ik x~_ia, in (class, column of x~) order: the second
        # term is -Z^T diag(s) Z, the first its block diagonal without the
        # second factor of P.
        products = (
            probabilities[:, :, np.newaxis] * extended[:, np.newaxis, :]
        ).reshape(n_rows, -1)
        hessian = products.T @ (
            weighted[:, :, np.newaxis] * extended[:, np.newaxis, :]
        ).reshape(n_rows, -1)
        np.negative(hessian, out=hessian)
        for k in range(n_classes):
            block = slice(k * width, (k + 1) * width)
            hessian[block, block] += extended.T @ (
                extended * weighted[:, k, np.newaxis]
            )
        # To the flat [W, b] layout: position k * n_features + j holds
        # (k, j), position n_classes * n_features + k holds (k, intercept).
        order = np.arange(n_classes * width).reshape(n_classes, width)
        order = np.concatenate(
            [order[:, :n_features].ravel(), order[:, n_features:].ravel()]
        )
        return hessian.take(order, axis=0).take(order, axis=1)

    def hessp(self, X, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        r"""Hessian of the data term at ``coef`` times ``direction``.

        For a direction :math:`(V, v)` in weights and intercepts, with
        :math:`R = X V^\top + v` and probabilities :math:`P` at ``coef``,

        .. math::

            Q_{ik} = \tilde s_i P_{ik}\Big(R_{ik} - \sum_j P_{ij} R_{ij}\Big),
            \quad
            H \begin{pmatrix} V \\ v \end{pmatrix}
            = \begin{pmatrix} Q^\top X \\ Q^\top \mathbf{1} \end{pmatrix}.

        The probabilities come from the last :meth:`loss_gradient` call if it
        was at the same ``coef`` (the solvers evaluate the gradient first), and
        are recomputed otherwise. Costs two products with ``X``, like a
        gradient.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_rows, n_features)
            The shard's rows.
        coef : ndarray of shape (n_coef,)
            Where the Hessian is taken.
        direction : ndarray of shape (n_coef,)
            The vector it multiplies, in the layout of ``coef``.

        Returns
        -------
        product : ndarray of shape (n_coef,), float64
        """
        self._probabilities_for(X, coef)
        # The product is linear in the direction: computed for the direction
        # scaled below 1 by a power of two and scaled back in float64, nothing
        # in X.dtype overflows, and no bit changes where nothing would have.
        scale = _power_of_two_scale(direction)
        direction_x, direction_intercept_x = self._prepare(direction / scale)
        parts = self._map_groups(
            lambda blocks: self._group_hessp(
                blocks, X, direction_x, direction_intercept_x
            )
        )
        _, product = self._assemble(parts)
        with np.errstate(over="ignore"):  # inf beyond float64, see _group_hessp
            product *= scale
        return product


def add_target_moments(parts: list[tuple]) -> tuple:
    """Sum :meth:`CrossEntropyShard.target_moments` of shards, entry by entry."""
    return tuple(sum(entries[1:], entries[0]) for entries in zip(*parts, strict=True))


class ShardDataTerm:
    """The data term of a :class:`CrossEntropyShard` over all the rows of ``X``.

    What :class:`~._linear_loss.LinearSoftmaxLoss` calls, for data held in
    one place (in memory, evaluated by the shard's threads, or on a device).
    """

    def __init__(self, X, shard: CrossEntropyShard) -> None:
        self.X = X
        self.shard = shard

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        return self.shard.loss_gradient(self.X, coef)

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        return self.shard.hessp(self.X, coef, direction)

    def hessian(self, coef: np.ndarray) -> np.ndarray:
        return self.shard.hessian(self.X, coef)

    def target_moments(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        return self.shard.target_moments(self.X)

    def dual_entropy(self, coef: np.ndarray, tau: float, row: np.ndarray) -> float:
        return self.shard.dual_entropy(self.X, coef, tau, row)

    def close(self) -> None:
        self.shard.close()
