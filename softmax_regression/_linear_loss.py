r"""The penalised objective of a linear softmax model over its coefficients.

No scikit-learn here either: this layer turns a flat coefficient vector into
weights and intercepts, applies :mod:`softmax_regression._loss` to the linear
scores and adds the penalty. The estimator validates input; the solvers only
see :meth:`LinearSoftmaxLoss.loss_gradient`.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import optimize

from ._loss import _normalised_weights, _softmax_inplace
from ._parallel import pin_current_thread

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
        # s_i / S for every sample: one code path, weighted or not.
        weight64 = _normalised_weights(sample_weight, self.n_samples)
        weight = weight64.astype(self.dtype)
        # Sample-major scores for sparse X: what scipy's products produce.
        self._class_axis = 1 if sp.issparse(X) else 0
        # The one n_samples x n_classes buffer, reused by every evaluation; it
        # holds the probabilities at the coef last evaluated, for hessp.
        self._raw = np.empty(self.n_samples * n_classes, dtype=self.dtype)
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
                    X=_row_view(X, start, stop),
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
        self._executor = (
            ThreadPoolExecutor(
                n_groups,
                thread_name_prefix="softmax-regression",
                initializer=pin_current_thread,
            )
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
        """Stop the worker threads, if any, and wait until they are gone.

        Blocks not yet started are cancelled, so an exception in the calling
        thread (a KeyboardInterrupt) waits for at most the blocks in flight.
        """
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
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

    def _linear_scores(self, block: _Block, weights, intercept, out) -> None:
        """Write ``X_block W^T + b`` into ``out``, in the block's layout.

        ``weights`` is (n_classes, n_features) for dense X and its transpose,
        C-contiguous, for sparse X (what CSR @ dense reads); ``intercept`` is
        already shaped to broadcast along the samples.
        """
        if self._class_axis == 0:
            np.matmul(weights, block.X.T, out=out)
        else:
            out[...] = block.X @ weights
        if self.fit_intercept:
            out += intercept

    def _back_product(self, block: _Block, matrix: np.ndarray) -> np.ndarray:
        """``matrix^T X_block``, in the layout of the ``weights`` above."""
        if self._class_axis == 0:
            return matrix @ block.X
        return block.X.T @ matrix

    def _map_groups(self, function) -> list:
        """Run ``function(blocks)`` on every group of blocks, in parallel."""
        if self._executor is None:
            return [function(self._blocks)]
        return list(self._executor.map(function, self._groups))

    def _prepare(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and intercepts in ``X.dtype``, laid out for the blocks."""
        weights, intercept = self.unpack(coef)
        weights = weights.astype(self.dtype, copy=False)
        if self._class_axis == 1:
            weights = np.ascontiguousarray(weights.T)
        intercept = np.expand_dims(
            intercept.astype(self.dtype, copy=False), 1 - self._class_axis
        )
        return weights, intercept

    def _assemble(self, coef: np.ndarray, parts: list, penalty_weight: np.ndarray):
        """Sum the groups' gradient parts and add the penalty's gradient."""
        result = np.empty_like(coef, dtype=np.float64)
        result_weights, result_intercept = self.unpack(result)
        data_weights = sum(part[-2] for part in parts)
        result_weights[...] = data_weights if self._class_axis == 0 else data_weights.T
        result_weights += self.l2_reg_strength * penalty_weight
        if self.fit_intercept:
            result_intercept[...] = sum(part[-1] for part in parts)
        return result

    def _group_loss_gradient(self, blocks: list[_Block], weights, intercept):
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
            scores = block.scores
            self._linear_scores(block, weights, intercept, out=scores)
            raw_true = scores.reshape(-1)[block.true_index]
            log_sum_exp = _softmax_inplace(scores, axis=class_axis)  # scores = P
            log_sum_exp -= raw_true  # per-sample cross-entropy
            loss += float(np.dot(block.weight64, log_sum_exp))
            # G = s (P - Y) / S, written over a copy: P stays for hessp.
            gradient = scores * np.expand_dims(block.weight, class_axis)
            gradient.reshape(-1)[block.true_index] -= block.weight
            grad_weights += self._back_product(block, gradient)
            grad_intercept += gradient.sum(axis=1 - class_axis, dtype=np.float64)
        return loss, grad_weights, grad_intercept

    def _group_hessp(self, blocks: list[_Block], direction, direction_intercept):
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
            probabilities = block.scores
            # R = X V^T + v_b, then Q = s * P * (R - sum_k P R): the softmax
            # Jacobian diag(p) - p p^T applied to each sample's row of R.
            product = np.empty_like(probabilities)
            self._linear_scores(block, direction, direction_intercept, out=product)
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
            back_product = self._back_product(block, product)
            # Beyond float64 (features near 1e150) the product is inf: the
            # solver driver stops on it, so numpy need not warn.
            with np.errstate(over="ignore"):
                hessp_weights += np.multiply(back_product, scale, dtype=np.float64)
                hessp_intercept += scale * product.sum(
                    axis=1 - class_axis, dtype=np.float64
                )
        return hessp_weights, hessp_intercept

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

        The probabilities are kept for :meth:`hessp` at the same ``coef``.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_coef,), float64
        """
        weights_x, intercept_x = self._prepare(coef)
        parts = self._map_groups(
            lambda blocks: self._group_loss_gradient(blocks, weights_x, intercept_x)
        )
        self._probabilities_at = coef.copy()
        weights, _ = self.unpack(coef)
        loss = sum(part[0] for part in parts)
        loss += 0.5 * self.l2_reg_strength * float(np.vdot(weights, weights))
        return loss, self._assemble(coef, parts, weights)

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        r"""Hessian of the objective at ``coef`` times ``direction``.

        For a direction :math:`(V, v)` in weights and intercepts, with
        :math:`R = X V^\top + v` and probabilities :math:`P` at ``coef``,

        .. math::

            Q_{ik} = \frac{s_i}{S} P_{ik}\Big(R_{ik} - \sum_j P_{ij} R_{ij}\Big),
            \quad
            H \begin{pmatrix} V \\ v \end{pmatrix}
            = \begin{pmatrix} Q^\top X + \lambda V \\ Q^\top \mathbf{1}
            \end{pmatrix}.

        The probabilities come from the last :meth:`loss_gradient` call if it
        was at the same ``coef`` (the solvers evaluate the gradient first), and
        are recomputed otherwise. Costs two products with ``X``, like a
        gradient.

        Parameters
        ----------
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
            self.loss_gradient(coef)
        # The product is linear in the direction: computed for the direction
        # scaled below 1 by a power of two and scaled back in float64, nothing
        # in X.dtype overflows, and no bit changes where nothing would have.
        scale = _power_of_two_scale(direction)
        unit = direction / scale
        direction_x, direction_intercept_x = self._prepare(unit)
        parts = self._map_groups(
            lambda blocks: self._group_hessp(blocks, direction_x, direction_intercept_x)
        )
        unit_weights, _ = self.unpack(unit)
        product = self._assemble(coef, parts, unit_weights)
        with np.errstate(over="ignore"):  # inf beyond float64, see _group_hessp
            product *= scale
        return product


class SplitL1Loss:
    r"""A smooth objective plus an L1 penalty, as a bound-constrained problem.

    Minimising :math:`f(W, b) + \alpha \lVert W \rVert_1` over :math:`W` is
    the same as minimising

    .. math::

        f(W^+ - W^-, b) + \alpha \sum (W^+ + W^-)
        \quad \text{subject to} \quad W^+ \ge 0,\; W^- \ge 0,

    a smooth problem with simple bounds that L-BFGS-B solves exactly: at its
    minimum :math:`W^+_{kf} W^-_{kf} = 0` (raising both by :math:`\delta`
    costs :math:`2 \alpha \delta`), and coefficients the penalty zeroes out sit
    exactly on their bounds, so they come out as exact zeros.

    Conventions
    -----------
    The variables are ``[W+ (flat), W- (flat), b]``, with ``W+`` and ``W-``
    in the layout of the weights of ``smooth``'s ``coef``.

    Parameters
    ----------
    smooth : LinearSoftmaxLoss
        The data term with its L2 penalty.
    l1_reg_strength : float
        :math:`\alpha >= 0`.
    """

    def __init__(self, smooth: LinearSoftmaxLoss, l1_reg_strength: float) -> None:
        self.smooth = smooth
        self.l1_reg_strength = float(l1_reg_strength)
        self.n_weights = smooth.n_classes * smooth.n_features
        n_intercept = smooth.n_coef - self.n_weights
        lower = np.r_[np.zeros(2 * self.n_weights), np.full(n_intercept, -np.inf)]
        self.bounds = optimize.Bounds(lower, np.inf)

    def to_coef(self, variables: np.ndarray) -> np.ndarray:
        """``smooth``'s flat coef ``[W, b]`` from ``[W+, W-, b]``."""
        n = self.n_weights
        return np.concatenate(
            [variables[:n] - variables[n : 2 * n], variables[2 * n :]]
        )

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        """``[W+, W-, b]`` from a flat coef ``[W, b]``."""
        weights = coef[: self.n_weights]
        return np.concatenate(
            [np.maximum(weights, 0), np.maximum(-weights, 0), coef[self.n_weights :]]
        )

    def loss_gradient(self, variables: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient with respect to ``[W+, W-, b]``.

        Parameters
        ----------
        variables : ndarray of shape (2 * n_weights + n_intercept,)

        Returns
        -------
        loss : float
        gradient : ndarray of the shape of ``variables``
        """
        n = self.n_weights
        loss, gradient = self.smooth.loss_gradient(self.to_coef(variables))
        loss += self.l1_reg_strength * float(np.sum(variables[: 2 * n]))
        grad_weights = gradient[:n]
        return loss, np.concatenate(
            [
                grad_weights + self.l1_reg_strength,
                self.l1_reg_strength - grad_weights,
                gradient[n:],
            ]
        )
