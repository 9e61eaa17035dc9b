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
"""

from __future__ import annotations

import math
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

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
    true_index: np.ndarray  # flat positions of (sample, true class) in scores
    weight: np.ndarray  # normalised sample weights of the rows, in X.dtype
    weight64: np.ndarray  # the same in float64, for the loss sum


def _power_of_two_scale(array: np.ndarray) -> float:
    """Return the power of two ``s`` with ``max|array| / s`` in [0.5, 1), or 1.

    Dividing by ``s`` changes no significand bit, so a linear computation done
    on ``array / s`` and multiplied back by ``s`` gives the same bits as on
    ``array``, unless it would have overflowed (or gone subnormal).
    """
    largest = max(float(np.max(array, initial=0.0)), -float(np.min(array, initial=0.0)))
    if largest == 0.0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1])


def _row_view(X, start: int, stop: int):
    """Rows ``start:stop`` of dense or CSR ``X`` (or all of any ``X``), no copy."""
    if start == 0 and stop == X.shape[0]:
        return X
    if not sp.issparse(X):
        return X[start:stop]
    begin, end = X.indptr[start], X.indptr[stop]
    return sp.csr_matrix(
        (X.data[begin:end], X.indices[begin:end], X.indptr[start : stop + 1] - begin),
        shape=(stop - start, X.shape[1]),
        copy=False,
    )


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
    y : ndarray of shape (n_rows,)
        Class indices in ``[0, n_classes)``.
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
    ) -> None:
        self.n_classes = n_classes
        self.n_rows, self.n_features = X.shape
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        weight64 = np.asarray(normalised_weight, dtype=np.float64)
        weight = weight64.astype(self.dtype)
        # Sample-major scores for sparse X: what scipy's products produce.
        self._class_axis = 1 if self.sparse else 0
        # The one n_rows x n_classes buffer, reused by every evaluation; it
        # holds the probabilities at the coef last evaluated, for hessp.
        self._raw = np.empty(self.n_rows * n_classes, dtype=self.dtype)
        self._probabilities_at: np.ndarray | None = None

        y = np.asarray(y, dtype=np.intp)
        self._blocks = []
        for start, stop in self._block_bounds(X, n_threads):
            rows = np.arange(stop - start)
            if self._class_axis == 0:
                true_index = y[start:stop] * (stop - start) + rows
                shape = (n_classes, stop - start)
            else:
                true_index = rows * n_classes + y[start:stop]
                shape = (stop - start, n_classes)
            self._blocks.append(
                _Block(
                    start=start,
                    stop=stop,
                    scores=self._raw[start * n_classes : stop * n_classes].reshape(
                        shape
                    ),
                    true_index=true_index,
                    weight=weight[start:stop],
                    weight64=weight64[start:stop],
                )
            )
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
            row_bytes = max(1, X.shape[1] * X.dtype.itemsize)
            rows = max(_MIN_BLOCK_ROWS, _DENSE_BLOCK_BYTES // row_bytes)
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
        return self.n_classes * (self.n_features + self.fit_intercept)

    def _split(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return views of the weights (n_classes, n_features) and intercepts."""
        n_weights = self.n_classes * self.n_features
        weights = coef[:n_weights].reshape(self.n_classes, self.n_features)
        return weights, coef[n_weights:] if self.fit_intercept else None

    def _linear_scores(self, X_block, weights, intercept, out) -> None:
        """Write ``X_block W^T + b`` into ``out``, in the block's layout.

        ``weights`` is (n_classes, n_features) for dense X and its transpose,
        C-contiguous, for sparse X (what CSR @ dense reads); ``intercept`` is
        already shaped to broadcast along the samples.
        """
        if self._class_axis == 0:
            np.matmul(weights, X_block.T, out=out)
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
        weights, intercept = self._split(coef)
        weights = weights.astype(self.dtype, copy=False)
        if self._class_axis == 1:
            weights = np.ascontiguousarray(weights.T)
        if intercept is not None:
            intercept = np.expand_dims(
                intercept.astype(self.dtype, copy=False), 1 - self._class_axis
            )
        return weights, intercept

    def _assemble(self, parts: list) -> np.ndarray:
        """Sum the groups' gradient parts into one flat float64 vector."""
        result = np.zeros(self.n_coef)
        result_weights, result_intercept = self._split(result)
        for part in parts:
            data_weights = part[-2]
            result_weights += data_weights if self._class_axis == 0 else data_weights.T
            if result_intercept is not None:
                result_intercept += part[-1]
        return result

    def _group_loss_gradient(self, blocks: list[_Block], X, weights, intercept):
        """Loss and gradient sums over some blocks, run by one thread.

        Returns the weighted loss sum, the gradient of the data term with
        respect to the weights (in the layout of ``weights``) and to the
        intercepts, all float64. Leaves the probabilities in ``block.scores``.
        """
        class_axis = self._class_axis
        grad_weights = np.zeros(weights.shape)
        grad_intercept = np.zeros(self.n_classes)
        loss = 0.0
        for block in blocks:
            X_block = _row_view(X, block.start, block.stop)
            scores = block.scores
            self._linear_scores(X_block, weights, intercept, out=scores)
            raw_true = scores.reshape(-1)[block.true_index]
            log_sum_exp = _softmax_inplace(scores, axis=class_axis)  # scores = P
            log_sum_exp -= raw_true  # per-sample cross-entropy
            loss += float(np.dot(block.weight64, log_sum_exp))
            # G = s (P - Y) / S, written over a copy: P stays for hessp.
            gradient = scores * np.expand_dims(block.weight, class_axis)
            gradient.reshape(-1)[block.true_index] -= block.weight
            grad_weights += self._back_product(X_block, gradient)
            grad_intercept += gradient.sum(axis=1 - class_axis, dtype=np.float64)
        return loss, grad_weights, grad_intercept

    def _group_hessp(self, blocks: list[_Block], X, direction, direction_intercept):
        """Multiply the data term's Hessian by a direction, over some blocks.

        ``direction`` has entries below 1 in magnitude (see :meth:`hessp`), so
        ``R`` stays within a sum of absolute feature values; ``Q`` is scaled by
        a power of two before the product with ``X`` and scaled back in
        float64, so that ``X^T Q`` (of the order of squared features) does not
        overflow float32 either.
        """
        class_axis = self._class_axis
        hessp_weights = np.zeros(direction.shape)
        hessp_intercept = np.zeros(self.n_classes)
        for block in blocks:
            X_block = _row_view(X, block.start, block.stop)
            probabilities = block.scores
            # R = X V^T + v_b, then Q = s * P * (R - sum_k P R): the softmax
            # Jacobian diag(p) - p p^T applied to each sample's row of R.
            product = np.empty_like(probabilities)
            self._linear_scores(X_block, direction, direction_intercept, out=product)
            weighted_mean = np.sum(
                probabilities * product, axis=class_axis, keepdims=True
            )
            product -= weighted_mean
            product *= probabilities
            # Weights are at most 1: scaling by P (R - mean)'s power of two
            # bounds Q below 1. Folded into the weights, it costs no extra pass.
            scale = _power_of_two_scale(product)
            product *= np.expand_dims(
                block.weight * block.weight.dtype.type(1.0 / scale), class_axis
            )
            back_product = self._back_product(X_block, product)
            # Beyond float64 (features near 1e150) the product is inf: the
            # solver driver stops on it, so numpy need not warn.
            with np.errstate(over="ignore"):
                hessp_weights += np.multiply(back_product, scale, dtype=np.float64)
                hessp_intercept += scale * product.sum(
                    axis=1 - class_axis, dtype=np.float64
                )
        return hessp_weights, hessp_intercept

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
        return sum(part[0] for part in parts), self._assemble(parts)

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
        if self._probabilities_at is None or not np.array_equal(
            coef, self._probabilities_at
        ):
            self.loss_gradient(X, coef)
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
        product = self._assemble(parts)
        with np.errstate(over="ignore"):  # inf beyond float64, see _group_hessp
            product *= scale
        return product
