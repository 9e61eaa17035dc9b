r"""The penalised objective of a linear softmax model over its coefficients.

No scikit-learn here either: this layer turns a flat coefficient vector into
weights and intercepts, applies :mod:`softmax_regression._loss` to the linear
scores and adds the penalty. The estimator validates input; the solvers only
see :meth:`LinearSoftmaxLoss.loss_gradient`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._loss import _softmax_inplace

# Rows of dense X per block: enough that the per-block Python overhead and the
# small products are negligible, few enough that the block is still in cache when
# the second product reads it (4 MiB measured best, see benchmarks/README.md).
_DENSE_BLOCK_BYTES = 1 << 22
_MIN_BLOCK_ROWS = 128


@dataclass
class _Block:
    """A run of consecutive samples and the views that belong to it."""

    X: np.ndarray | sp.csr_matrix  # rows start:stop of X, a view
    scores: np.ndarray  # its slice of the shared score buffer
    true_index: np.ndarray  # flat positions of (sample, true class) in scores
    weight: np.ndarray | None  # normalised sample weights of the rows


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


class LinearSoftmaxLoss:
    r"""Weighted multinomial cross-entropy of a linear model, plus an L2 penalty.

    For data :math:`X` (n_samples x n_features), integer labels :math:`y_i`,
    weights :math:`W` (n_classes x n_features) and intercepts :math:`b`, the
    raw scores of sample :math:`i` are :math:`z_i = W x_i + b` and

    .. math::

        f(W, b) = \frac{1}{S} \sum_i s_i \operatorname{CE}(z_i, y_i)
                  + \frac{\lambda}{2} \lVert W \rVert_F^2,
        \qquad S = \sum_i s_i,

    with gradient

    .. math::

        \nabla_W f = G^\top X + \lambda W, \quad
        \nabla_b f = G^\top \mathbf{1}, \quad
        G_{ik} = \frac{s_i}{S} \left(p_{ik} - [k = y_i]\right).

    scikit-learn's ``LogisticRegression(C=C)`` minimises this with
    :math:`\lambda = 1 / (C S)`; the intercepts are not penalised.

    Conventions
    -----------
    ``coef`` is a 1-D float64 vector (what ``scipy.optimize`` works with): the
    rows of :math:`W` one after the other (C order, row :math:`k` is class
    :math:`k`), followed by :math:`b` if ``fit_intercept``. Arithmetic on ``X``
    is done in ``X.dtype`` (float32 data is never upcast); sums over samples
    are accumulated in float64.

    Evaluation is blocked: the samples are cut into runs of consecutive rows,
    and each block's scores, softmax and gradient contribution are computed
    while its rows of ``X`` are still in cache, so each evaluation streams
    ``X`` from memory about once rather than twice. Blocks are shared among
    ``n_threads`` threads (NumPy, BLAS and scipy.sparse release the GIL); call
    :meth:`close`, or use the object as a context manager, to stop them. Dense
    blocks keep their scores class-major, (n_classes, rows), so reductions over
    classes run across contiguous rows; sparse blocks keep them sample-major,
    the layout scipy's sparse products read and write.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data, float32 or float64, C or F order, or CSR/CSC. It is
        referenced, never copied nor modified.
    y : ndarray of shape (n_samples,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes, at least 2.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights :math:`s_i` with a positive sum; ``None`` means
        all ones.
    l2_reg_strength : float
        :math:`\lambda >= 0`.
    fit_intercept : bool
        Whether ``coef`` ends with the intercepts.
    n_threads : int, default=1
        Threads evaluating blocks in parallel.
    """

    def __init__(
        self,
        X,
        y: np.ndarray,
        n_classes: int,
        sample_weight: np.ndarray | None,
        l2_reg_strength: float,
        fit_intercept: bool,
        n_threads: int = 1,
    ) -> None:
        self.X = X
        self.n_classes = n_classes
        self.n_samples, self.n_features = X.shape
        self.l2_reg_strength = float(l2_reg_strength)
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype
        if sample_weight is None:
            self.weight_sum = float(self.n_samples)
            weight = None
        else:
            self.weight_sum = float(np.sum(sample_weight, dtype=np.float64))
            weight = (sample_weight / self.weight_sum).astype(self.dtype)
        # Sample-major scores for sparse X: what scipy's products produce.
        self._class_axis = 1 if sp.issparse(X) else 0
        # The one n_samples x n_classes buffer, reused by every evaluation.
        self._raw = np.empty(self.n_samples * n_classes, dtype=self.dtype)

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
                    X=_row_view(X, start, stop),
                    scores=self._raw[start * n_classes : stop * n_classes].reshape(
                        shape
                    ),
                    true_index=true_index,
                    weight=None if weight is None else weight[start:stop],
                )
            )
        # Contiguous groups of blocks, one per thread.
        n_groups = min(n_threads, len(self._blocks))
        self._groups = [list(group) for group in np.array_split(self._blocks, n_groups)]
        self._executor = (
            ThreadPoolExecutor(n_groups, thread_name_prefix="softmax-regression")
            if n_groups > 1
            else None
        )

    def _block_bounds(self, X, n_threads: int) -> list[tuple[int, int]]:
        """Row ranges of the blocks."""
        n_samples = self.n_samples
        if sp.issparse(X) and X.format != "csr":
            return [(0, n_samples)]  # CSC cannot be cut into rows cheaply
        if sp.issparse(X):
            # Each block's gradient is a dense n_features x n_classes array:
            # few, large blocks, one per thread.
            n_blocks = n_threads
        else:
            row_bytes = max(1, X.shape[1] * X.dtype.itemsize)
            rows = max(_MIN_BLOCK_ROWS, _DENSE_BLOCK_BYTES // row_bytes)
            n_blocks = max(n_threads, -(-n_samples // rows))
        n_blocks = max(1, min(n_blocks, n_samples))
        edges = np.linspace(0, n_samples, n_blocks + 1).round().astype(int)
        return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def close(self) -> None:
        """Stop the worker threads, if any."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> LinearSoftmaxLoss:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def n_coef(self) -> int:
        """Length of the flat coefficient vector."""
        return self.n_classes * (self.n_features + self.fit_intercept)

    def unpack(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split a flat ``coef`` into weights and intercepts.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        weights : ndarray of shape (n_classes, n_features)
            A view of ``coef``, not a copy.
        intercept : ndarray of shape (n_classes,)
            A view of ``coef``; zeros if not ``fit_intercept``.
        """
        n_weights = self.n_classes * self.n_features
        weights = coef[:n_weights].reshape(self.n_classes, self.n_features)
        if self.fit_intercept:
            intercept = coef[n_weights:]
        else:
            intercept = np.zeros(self.n_classes, dtype=coef.dtype)
        return weights, intercept

    def _group_loss_gradient(
        self, blocks: list[_Block], weights: np.ndarray, intercept: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss and gradient sums over some blocks, run by one thread.

        ``weights`` is (n_classes, n_features) for dense X, and its transpose,
        C-contiguous, for sparse X (what CSR @ dense reads). Returns the
        weighted loss sum, the gradient of the data term with respect to the
        weights, in the same layout as ``weights``, and with respect to the
        intercepts, all float64.
        """
        class_axis = self._class_axis
        sample_axis = 1 - class_axis
        grad_weights = np.zeros(weights.shape)
        grad_intercept = np.zeros(self.n_classes)
        loss = 0.0
        intercept = np.expand_dims(intercept, sample_axis)
        for block in blocks:
            scores = block.scores
            if class_axis == 0:
                np.matmul(weights, block.X.T, out=scores)
            else:
                scores[...] = block.X @ weights
            if self.fit_intercept:
                scores += intercept
            flat_scores = scores.reshape(-1)
            raw_true = flat_scores[block.true_index]
            log_sum_exp = _softmax_inplace(scores, axis=class_axis)  # scores = P
            log_sum_exp -= raw_true  # per-sample cross-entropy
            if block.weight is None:
                loss += float(np.sum(log_sum_exp, dtype=np.float64)) / self.n_samples
                # G = (P - Y) / n, written over P's copy, not P itself.
                gradient = scores * self.dtype.type(1.0 / self.n_samples)
                gradient.reshape(-1)[block.true_index] -= self.dtype.type(
                    1.0 / self.n_samples
                )
            else:
                loss += float(np.dot(block.weight.astype(np.float64), log_sum_exp))
                gradient = scores * np.expand_dims(block.weight, class_axis)
                gradient.reshape(-1)[block.true_index] -= block.weight
            if class_axis == 0:
                grad_weights += gradient @ block.X
            else:
                grad_weights += block.X.T @ gradient
            grad_intercept += gradient.sum(axis=sample_axis, dtype=np.float64)
        return loss, grad_weights, grad_intercept

    def loss(self, coef: np.ndarray) -> float:
        """Value of the objective at ``coef``.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)

        Returns
        -------
        loss : float
        """
        return self.loss_gradient(coef)[0]

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient of the objective, from one pass over ``X``.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_coef,), float64
        """
        weights, intercept = self.unpack(coef)
        weights_x = weights.astype(self.dtype, copy=False)
        if self._class_axis == 1:
            weights_x = np.ascontiguousarray(weights_x.T)
        intercept_x = intercept.astype(self.dtype, copy=False)
        if self._executor is None:
            parts = [self._group_loss_gradient(self._blocks, weights_x, intercept_x)]
        else:
            parts = list(
                self._executor.map(
                    lambda group: self._group_loss_gradient(
                        group, weights_x, intercept_x
                    ),
                    self._groups,
                )
            )
        loss = sum(part[0] for part in parts)
        loss += 0.5 * self.l2_reg_strength * float(np.vdot(weights, weights))
        gradient = np.empty_like(coef, dtype=np.float64)
        grad_weights, grad_intercept = self.unpack(gradient)
        grad_data = sum(part[1] for part in parts)
        grad_weights[...] = grad_data if self._class_axis == 0 else grad_data.T
        grad_weights += self.l2_reg_strength * weights
        if self.fit_intercept:
            grad_intercept[...] = sum(part[2] for part in parts)
        return loss, gradient
