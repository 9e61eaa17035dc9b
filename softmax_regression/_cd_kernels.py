r"""Compiled proximal Newton iterations with coordinate descent (``newton-cd``).

Imported only by :mod:`._cd` when a fit uses ``solver="newton-cd"``, so that
``import softmax_regression`` never loads numba (``cache=True``: compiled once
per environment).

The problem, in the mean-loss scaling of :class:`~._linear_loss.LinearSoftmaxLoss`
with normalised weights :math:`w_i = s_i / S`, targets :math:`t_i` and raw
scores :math:`z_i = W^\top x_i + b + o_i` (``W`` stored features x classes):

.. math::

    F(W, b) = \sum_i w_i \big(\operatorname{lse}(z_i) - t_i^\top z_i\big)
              + \sum_j \Big(\frac{\lambda_j}{2} \lVert W_j \rVert_2^2
              + \alpha_j \lVert W_j \rVert\Big),

with :math:`\lVert \cdot \rVert` the L1 norm of feature :math:`j`'s row
(``grouped=False``) or its Euclidean norm (``grouped=True``, glmnet's
``type.multinomial = "grouped"``).

One proximal Newton iteration (Lee, Sun and Saunders, 2014; glmnet's and
newGLMNET's outer loop) replaces the cross-entropy by its second-order model
at the current point with the Hessian's class-diagonal blocks, :math:`G =
w (p - t)` and :math:`H_{ik} = w_i p_{ik} (1 - p_{ik})`,

.. math::

    m(\Delta) = \sum_{jk} g_{jk} \Delta_{jk} + \frac{1}{2} \sum_{ik} H_{ik}
                (x_i^\top \Delta_k + \delta_k)^2 + \text{penalty}(W + \Delta),

minimises it by cyclic coordinate descent over the features (each feature's
``K`` coefficients at once: with class-diagonal curvature they do not
interact), keeping :math:`U_{ik} = x_i^\top \Delta_k + \delta_k` up to date,
and takes the step :math:`\alpha \Delta` with the largest :math:`\alpha \in
\{1, 1/2, \dots\}` that meets Armijo's condition :math:`F(W + \alpha\Delta)
\le F(W) + \sigma \alpha D`, :math:`D = g^\top \Delta + \text{penalty}(W +
\Delta) - \text{penalty}(W) < 0`: descent is guaranteed although the model
drops the Hessian's cross-class terms. A coordinate's step is exact for
its model: the soft threshold :math:`S(a w - c, \alpha_j) / (a + \lambda_j)`,
clipped to the bounds (``grouped=False``); for a group, the model's
curvature is bounded by :math:`\tau = \max_k a_k` and the step is the group
soft threshold :math:`v (1 - \alpha_j / \lVert v \rVert)_+ / (\tau +
\lambda_j)`, :math:`v = \tau w - c`.

Only the columns of a working set are visited (:mod:`._cd` chooses them);
``cols`` maps the working set to columns of a dense (Fortran-ordered) block
or of a CSC matrix. Per-row arrays are class-major, ``(K, n)``: the loops
over rows are contiguous and vectorise.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}
# The sums over rows run in SIMD lanes (reassociated): the kernels' results
# agree with a sequential sum to rounding, not bit for bit across machines.
_FAST = {**_JIT, "fastmath": {"reassoc", "nsz"}}

#: Up to this many classes the model uses each feature's exact K x K Hessian
#: block (K^2 products per stored entry and iteration); above, its diagonal
#: majorant diag(sum_i x_ij^2 w_i p_i) (K products), still with the exact
#: model gradient, so that many classes cost what glmnet's class cycling does.
_EXACT_BLOCK_CLASSES = 10
#: Rows per block of the K^2 sums (K x 256 probabilities stay in L1/L2).
_ROW_BLOCK = 256
#: Cycles over a feature's classes per visit (its K-dimensional subproblem).
_BLOCK_CYCLES = 8
#: Armijo's sufficient-decrease constant and the most halvings of a step.
_ARMIJO = 1e-4
_MAX_HALVINGS = 30
#: The largest damping of the model's curvature.
_MAX_DAMPING = 1e6
#: A predicted decrease under this, relative to the objective, is rounding
#: (a few ulps of a sum over the rows).
_RESOLVED = 1e-14
#: Sweeps end when no coordinate moves the model's gradient by more than this
#: share of the violation.
_SWEEP_SHARE = 0.1

CONVERGED, MAX_ITER, STALLED = 0, 1, 2


@numba.njit(**_JIT)
def _row_terms(scores, i, targets, soft_targets, soft, smoothing, probabilities):
    """Return ``lse(z_i) - t_i^T z_i`` and leave ``p_i`` in ``probabilities``."""
    n_classes = scores.shape[0]
    largest = scores[0, i]
    for k in range(1, n_classes):
        largest = max(largest, scores[k, i])
    total = 0.0
    mean = 0.0
    for k in range(n_classes):
        probabilities[k] = np.exp(scores[k, i] - largest)
        total += probabilities[k]
        mean += scores[k, i]
    for k in range(n_classes):
        probabilities[k] /= total
    value = largest + np.log(total) - smoothing / n_classes * mean
    if soft:
        for k in range(n_classes):
            value -= (1.0 - smoothing) * soft_targets[i, k] * scores[k, i]
    else:
        value -= (1.0 - smoothing) * scores[targets[i], i]
    return value


@numba.njit(**_JIT)
def _target(i, k, targets, soft_targets, soft, smoothing, n_classes):
    """``t_ik``, label smoothing included."""
    if soft:
        return (1.0 - smoothing) * soft_targets[i, k] + smoothing / n_classes
    hit = 1.0 if targets[i] == k else 0.0
    return (1.0 - smoothing) * hit + smoothing / n_classes


@numba.njit(**_JIT)
def data_term(scores, targets, soft_targets, soft, smoothing, weight):
    """Return ``sum_i w_i (lse(z_i) - t_i^T z_i)`` at the raw ``scores`` (K, n)."""
    n_classes, n_samples = scores.shape
    probabilities = np.empty(n_classes)
    total = 0.0
    for i in range(n_samples):
        if weight[i] == 0.0:
            continue
        total += weight[i] * _row_terms(
            scores, i, targets, soft_targets, soft, smoothing, probabilities
        )
    return total


@numba.njit(**_JIT)
def point_terms(
    scores, targets, soft_targets, soft, smoothing, weight, probabilities,
    gradient_rows,
):  # fmt: skip
    """Return the data term at ``scores``; fill ``p`` and ``G = w (p - t)`` (K, n)."""
    n_classes, n_samples = scores.shape
    row = np.empty(n_classes)
    total = 0.0
    for i in range(n_samples):
        w = weight[i]
        if w == 0.0:
            for k in range(n_classes):
                probabilities[k, i] = 0.0
                gradient_rows[k, i] = 0.0
            continue
        total += w * _row_terms(scores, i, targets, soft_targets, soft, smoothing, row)
        for k in range(n_classes):
            probabilities[k, i] = row[k]
            t = _target(i, k, targets, soft_targets, soft, smoothing, n_classes)
            gradient_rows[k, i] = w * (row[k] - t)
    return total


@numba.njit(**_JIT)
def _penalty(weights, l1, l2, grouped):
    """Return the penalty of the working set's coefficients (features x classes)."""
    total = 0.0
    for j in range(weights.shape[0]):
        square = 0.0
        absolute = 0.0
        for k in range(weights.shape[1]):
            square += weights[j, k] * weights[j, k]
            absolute += abs(weights[j, k])
        norm = np.sqrt(square) if grouped else absolute
        total += 0.5 * l2[j] * square + l1[j] * norm
    return total


@numba.njit(**_JIT)
def kkt_violations(weights, gradient, l1, lower, upper, grouped, out):
    r"""Each feature's largest violation of the optimality conditions.

    ``gradient`` is the smooth part's (data term and L2 penalty) at
    ``weights`` (both features x classes). For each coefficient, the distance
    from 0 of the subdifferential :math:`g + \alpha \partial\lVert w \rVert +
    N_{[l, u]}(w)` (the normal cone of the bounds); for a group, the largest
    absolute entry of its minimum-norm subgradient. Written to ``out``
    (n_features,); returns the largest.
    """
    n_features, n_classes = weights.shape
    largest = 0.0
    for j in range(n_features):
        worst = 0.0
        if grouped:
            square = 0.0
            for k in range(n_classes):
                square += weights[j, k] * weights[j, k]
            if square > 0.0:
                scale = l1[j] / np.sqrt(square)
                for k in range(n_classes):
                    worst = max(worst, abs(gradient[j, k] + scale * weights[j, k]))
            else:
                norm = 0.0
                for k in range(n_classes):
                    norm += gradient[j, k] * gradient[j, k]
                norm = np.sqrt(norm)
                if norm > l1[j]:
                    shrink = 1.0 - l1[j] / norm
                    for k in range(n_classes):
                        worst = max(worst, shrink * abs(gradient[j, k]))
        else:
            for k in range(n_classes):
                w = weights[j, k]
                g = gradient[j, k]
                if w > 0.0:
                    low, high = g + l1[j], g + l1[j]
                elif w < 0.0:
                    low, high = g - l1[j], g - l1[j]
                else:
                    low, high = g - l1[j], g + l1[j]
                if w <= lower[j, k]:
                    low = -np.inf
                if w >= upper[j, k]:
                    high = np.inf
                worst = max(worst, max(low, 0.0) + max(-high, 0.0))
        out[j] = worst
        largest = max(largest, worst)
    return largest


@numba.njit(**_JIT)
def _solve_block(w, c, hessian, l1, l2, lower, upper, grouped, step, moved_by):
    """Minimise the model over one feature's ``K`` coefficients.

    ``w`` the feature's coefficients (updated), ``c`` the model's gradient
    there (updated as the coefficients move), ``hessian`` its exact ``K x
    K`` block. ``step`` receives the total change; returns the largest
    ``curvature * |change|`` of a coordinate.
    """
    n_classes = w.shape[0]
    for k in range(n_classes):
        step[k] = 0.0
    largest = 0.0
    if grouped:
        # Majorised group steps: tau bounds the block's largest eigenvalue
        # (Gershgorin), so each step decreases the model.
        tau = 0.0
        for k in range(n_classes):
            row = 0.0
            for m in range(n_classes):
                row += abs(hessian[k, m])
            tau = max(tau, row)
        tau = max(tau, 1e-300)
        for _ in range(_BLOCK_CYCLES):
            norm = 0.0
            for k in range(n_classes):
                v = tau * w[k] - c[k]
                norm += v * v
            norm = np.sqrt(norm)
            shrink = 0.0
            if norm > l1:
                shrink = (1.0 - l1 / norm) / (tau + l2)
            cycle = 0.0
            for k in range(n_classes):
                moved_by[k] = shrink * (tau * w[k] - c[k]) - w[k]
                cycle = max(cycle, abs(moved_by[k]))
            if cycle == 0.0:
                break
            for k in range(n_classes):
                w[k] += moved_by[k]
                step[k] += moved_by[k]
                largest = max(largest, (tau + l2) * abs(moved_by[k]))
            for m in range(n_classes):
                for k in range(n_classes):
                    c[m] += hessian[m, k] * moved_by[k]
            if cycle * tau <= 1e-3 * largest:
                break
        return largest
    for _ in range(_BLOCK_CYCLES):
        cycle = 0.0
        for k in range(n_classes):
            a = hessian[k, k]
            if a + l2 <= 0.0:
                continue  # a coefficient the data does not see
            z = a * w[k] - c[k]
            if z > l1:
                new = (z - l1) / (a + l2)
            elif z < -l1:
                new = (z + l1) / (a + l2)
            else:
                new = 0.0
            new = min(max(new, lower[k]), upper[k])
            delta = new - w[k]
            if delta == 0.0:
                continue
            w[k] = new
            step[k] += delta
            change = (a + l2) * abs(delta)
            cycle = max(cycle, change)
            for m in range(n_classes):
                c[m] += hessian[m, k] * delta
        largest = max(largest, cycle)
        if cycle <= 1e-3 * largest:
            break
    return largest


@numba.njit(**_FAST)
def _column_model(
    dense, data, indices, indptr, is_sparse, col, gradient_rows, probabilities,
    weight, scaled, gradient, hessian, jj, exact,
):  # fmt: skip
    """Feature ``jj``'s gradient ``X_j^T G`` and Hessian block.

    ``exact``: ``H_j = sum_i x_ij^2 w_i (diag(p_i) - p_i p_i^T)`` (``K^2``
    products per stored entry); otherwise its diagonal majorant
    ``sum_i x_ij^2 w_i diag(p_i)`` (``K``; ``diag(p) - p p^T <= diag(p)``).
    ``scaled`` is work space of ``n`` entries.
    """
    n_classes, n_samples = probabilities.shape
    if not exact:
        for k in range(n_classes):
            acc = 0.0
            diagonal = 0.0
            for m in range(n_classes):
                hessian[jj, k, m] = 0.0
            if is_sparse:
                for p in range(indptr[col], indptr[col + 1]):
                    i = indices[p]
                    x = float(data[p])
                    acc += x * gradient_rows[k, i]
                    diagonal += x * x * weight[i] * probabilities[k, i]
            else:
                for i in range(n_samples):
                    x = float(dense[i, col])
                    acc += x * gradient_rows[k, i]
                    diagonal += x * x * weight[i] * probabilities[k, i]
            gradient[jj, k] = acc
            hessian[jj, k, k] = diagonal
        return
    if is_sparse:
        for k in range(n_classes):
            acc = 0.0
            for p in range(indptr[col], indptr[col + 1]):
                acc += float(data[p]) * gradient_rows[k, indices[p]]
            gradient[jj, k] = acc
            for m in range(k, n_classes):
                acc = 0.0
                for p in range(indptr[col], indptr[col + 1]):
                    i = indices[p]
                    x = float(data[p])
                    acc += x * x * weight[i] * probabilities[k, i] * probabilities[m, i]
                hessian[jj, k, m] = -acc
                hessian[jj, m, k] = -acc
            acc = 0.0
            for p in range(indptr[col], indptr[col + 1]):
                i = indices[p]
                x = float(data[p])
                acc += x * x * weight[i] * probabilities[k, i]
            hessian[jj, k, k] += acc
        return
    for i in range(n_samples):
        x = float(dense[i, col])
        scaled[i] = x * x * weight[i]
    for k in range(n_classes):
        acc = 0.0
        diagonal = 0.0
        for i in range(n_samples):
            acc += float(dense[i, col]) * gradient_rows[k, i]
            diagonal += scaled[i] * probabilities[k, i]
        gradient[jj, k] = acc
        for m in range(n_classes):
            hessian[jj, k, m] = 0.0
        hessian[jj, k, k] = diagonal
    # The K^2 sums in blocks of rows that stay in cache across the pairs.
    for first in range(0, n_samples, _ROW_BLOCK):
        last = min(first + _ROW_BLOCK, n_samples)
        for k in range(n_classes):
            for m in range(k, n_classes):
                acc = 0.0
                for i in range(first, last):
                    acc += scaled[i] * probabilities[k, i] * probabilities[m, i]
                hessian[jj, k, m] -= acc
    for k in range(n_classes):
        for m in range(k + 1, n_classes):
            hessian[jj, m, k] = hessian[jj, k, m]


@numba.njit(**_FAST)
def _model_gradient(
    dense, data, indices, indptr, is_sparse, col, curved, gradient, jj, c, scale
):  # fmt: skip
    """``c = g_j + d X_j^T (H U)``: the damped model's gradient here."""
    n_classes, n_samples = curved.shape
    for k in range(n_classes):
        acc = 0.0
        if is_sparse:
            for p in range(indptr[col], indptr[col + 1]):
                acc += float(data[p]) * curved[k, indices[p]]
        else:
            for i in range(n_samples):
                acc += float(dense[i, col]) * curved[k, i]
        c[k] = gradient[jj, k] + scale * acc


@numba.njit(**_FAST)
def _move(
    dense, data, indices, indptr, is_sparse, col, step, probabilities, weight,
    curved, dot, xw,
):  # fmt: skip
    """Apply a feature's step to ``H_i U_i += x_ij H_i step`` (``dot``, ``xw``: work).

    ``U = X Delta`` itself is formed once after the sweeps (:func:`_change`).
    """
    n_classes, n_samples = curved.shape
    if is_sparse:
        for p in range(indptr[col], indptr[col + 1]):
            i = indices[p]
            total = 0.0
            for k in range(n_classes):
                total += probabilities[k, i] * step[k]
            scale = float(data[p]) * weight[i]
            for k in range(n_classes):
                curved[k, i] += scale * probabilities[k, i] * (step[k] - total)
        return
    for i in range(n_samples):
        dot[i] = 0.0
        if col >= 0:
            xw[i] = float(dense[i, col]) * weight[i]
        else:  # the intercepts' column of ones
            xw[i] = weight[i]
    for k in range(n_classes):
        s = step[k]
        if s == 0.0:
            continue
        for i in range(n_samples):
            dot[i] += probabilities[k, i] * s
    for k in range(n_classes):
        s = step[k]
        for i in range(n_samples):
            curved[k, i] += xw[i] * probabilities[k, i] * (s - dot[i])


@numba.njit(**_FAST)
def _change(
    dense, data, indices, indptr, is_sparse, cols, direction, direction_b, change
):  # fmt: skip
    """``U = X[:, cols] Delta + delta_b``, (K, n): the scores' change."""
    n_classes, n_samples = change.shape
    for k in range(n_classes):
        for i in range(n_samples):
            change[k, i] = direction_b[k]
    for jj in range(cols.shape[0]):
        col = cols[jj]
        for k in range(n_classes):
            d = direction[jj, k]
            if d == 0.0:
                continue
            if is_sparse:
                for p in range(indptr[col], indptr[col + 1]):
                    change[k, indices[p]] += float(data[p]) * d
            else:
                for i in range(n_samples):
                    change[k, i] += float(dense[i, col]) * d


@numba.njit(**_JIT)
def raw_scores(
    dense, data, indices, indptr, is_sparse, cols, weights, intercept, offset,
    has_offset, scores,
):  # fmt: skip
    """``scores = (X[:, cols] W + b + o)^T``, (K, n) (``W``: the working set's rows)."""
    _change(dense, data, indices, indptr, is_sparse, cols, weights, intercept, scores)
    if has_offset:
        n_classes, n_samples = scores.shape
        for k in range(n_classes):
            for i in range(n_samples):
                scores[k, i] += offset[i, k]


@numba.njit(**_JIT)
def newton_cd(
    dense, data, indices, indptr, is_sparse, cols, weights, intercept,
    fit_intercept, scores, targets, soft_targets, soft, smoothing, weight, l1,
    l2, lower, upper, grouped, tol, max_newton, max_sweeps, probabilities,
    gradient_rows, change, curved, trial, damping,
):  # fmt: skip
    """Proximal Newton iterations on the working set until its KKT measure <= tol.

    ``weights`` (working set x classes), ``intercept`` and ``scores`` (the
    raw scores of every row, ``(K, n)``, offsets included) are updated in
    place; the other arrays of shape ``(K, n)`` are work space. The model
    is the exact second-order one: each feature's ``K x K`` Hessian block
    is formed, and ``curved`` keeps ``H_i U_i`` (``U = X Delta``), so a
    coordinate's model gradient is exact after every other step.
    ``damping[0] >= 1`` multiplies the model's curvature (Levenberg-Marquardt
    style): doubled after a step the line search had to shorten, halved
    (down to 1) after a full step; kept from call to call by the caller.

    Returns after ``max_newton`` steps (without forming the model at the
    last point: the next call starts there), or earlier when the working
    set's KKT measure is at most ``tol`` at a model it formed.

    Returns
    -------
    n_iter : int
        Newton iterations taken (each with its line search).
    status : int
        ``CONVERGED`` (the working set's KKT measure at most ``tol``),
        ``MAX_ITER`` (``max_newton`` steps taken) or ``STALLED`` (no descent
        direction the arithmetic resolves).
    objective : float
        The objective over the working set at the end.
    n_evaluations : int
        Objective evaluations (line-search steps).
    """
    n_classes, n_samples = scores.shape
    n_work = cols.shape[0]
    gradient = np.zeros((n_work, n_classes))
    hessian = np.zeros((n_work, n_classes, n_classes))
    gradient_b = np.zeros((1, n_classes))
    hessian_b = np.zeros((1, n_classes, n_classes))
    start = weights.copy()
    start_b = intercept.copy()
    violations = np.empty(n_work)
    c = np.empty(n_classes)
    step = np.empty(n_classes)
    moved_by = np.empty(n_classes)
    free_lower = np.full(n_classes, -np.inf)
    free_upper = np.full(n_classes, np.inf)
    dot = np.empty(n_samples)
    xw = np.empty(n_samples)
    ones = np.asfortranarray(np.ones((n_samples, 2)))  # F, as the dense blocks
    active = np.zeros(n_work, dtype=np.bool_)
    exact = n_classes <= _EXACT_BLOCK_CLASSES
    n_evaluations = 0
    status = MAX_ITER
    objective = 0.0
    n_iter = 0  # steps taken
    while True:
        # The model at the current point.
        loss = point_terms(
            scores, targets, soft_targets, soft, smoothing, weight, probabilities,
            gradient_rows,
        )  # fmt: skip
        objective = loss + _penalty(weights, l1, l2, grouped)
        for jj in range(n_work):
            _column_model(
                dense, data, indices, indptr, is_sparse, cols[jj], gradient_rows,
                probabilities, weight, xw, gradient, hessian, jj, exact,
            )  # fmt: skip
        worst_b = 0.0
        scale = damping[0]
        if fit_intercept:
            _column_model(
                ones, data, indices, indptr, False, 0, gradient_rows,
                probabilities, weight, xw, gradient_b, hessian_b, 0, True,
            )  # fmt: skip
            for k in range(n_classes):
                worst_b = max(worst_b, abs(gradient_b[0, k]))
        if scale != 1.0:  # the damped model: d H throughout
            hessian *= scale
            hessian_b *= scale
        # KKT on the working set, with the L2 part of the gradient.
        for jj in range(n_work):
            for k in range(n_classes):
                start[jj, k] = gradient[jj, k] + l2[jj] * weights[jj, k]
        worst = kkt_violations(weights, start, l1, lower, upper, grouped, violations)
        if max(worst, worst_b) <= tol:
            status = CONVERGED
            break
        if n_iter >= max_newton:
            break
        # Coordinate descent on the model, from Delta = 0.
        for jj in range(n_work):
            for k in range(n_classes):
                start[jj, k] = weights[jj, k]
        for k in range(n_classes):
            start_b[k] = intercept[k]
            for i in range(n_samples):
                curved[k, i] = 0.0
        # Sweeps end when no coordinate moves the model's gradient by more
        # than a share of the current violation (inexact Newton).
        threshold = _SWEEP_SHARE * max(worst, worst_b, tol)
        full = True
        for _ in range(max_sweeps):
            largest = 0.0
            for jj in range(n_work):
                if not full and not active[jj]:
                    continue
                col = cols[jj]
                _model_gradient(
                    dense, data, indices, indptr, is_sparse, col, curved, gradient,
                    jj, c, scale,
                )  # fmt: skip
                moved = _solve_block(
                    weights[jj], c, hessian[jj], l1[jj], l2[jj], lower[jj],
                    upper[jj], grouped, step, moved_by,
                )  # fmt: skip
                nonzero = False
                for k in range(n_classes):
                    nonzero = nonzero or weights[jj, k] != 0.0
                active[jj] = nonzero
                if moved == 0.0:
                    continue
                largest = max(largest, moved)
                _move(
                    dense, data, indices, indptr, is_sparse, col, step,
                    probabilities, weight, curved, dot, xw,
                )  # fmt: skip
            if fit_intercept:
                _model_gradient(
                    ones,
                    data,
                    indices,
                    indptr,
                    False,
                    0,
                    curved,
                    gradient_b,
                    0,
                    c,
                    scale,
                )
                moved = _solve_block(
                    intercept, c, hessian_b[0], 0.0, 0.0, free_lower, free_upper,
                    False, step, moved_by,
                )  # fmt: skip
                if moved > 0.0:
                    largest = max(largest, moved)
                    _move(
                        ones, data, indices, indptr, False, -1, step,
                        probabilities, weight, curved, dot, xw,
                    )  # fmt: skip
            if largest <= threshold:
                if full:
                    break
                full = True  # the active set settled: one full sweep to check
            else:
                full = False
        # The direction and its predicted decrease.
        predicted = _penalty(weights, l1, l2, grouped)
        predicted -= _penalty(start, l1, l2, grouped)
        for jj in range(n_work):
            for k in range(n_classes):
                predicted += gradient[jj, k] * (weights[jj, k] - start[jj, k])
        for k in range(n_classes):
            predicted += gradient_b[0, k] * (intercept[k] - start_b[k])
        # Backtracking along W + alpha Delta (convex in alpha: the bounds
        # hold at every trial); no descent direction at all: no step.
        accepted = False
        if predicted < 0.0:
            direction = weights - start
            direction_b = intercept - start_b
            _change(
                dense, data, indices, indptr, is_sparse, cols, direction,
                direction_b, change,
            )  # fmt: skip
            alpha = 1.0
            for _ in range(_MAX_HALVINGS):
                for jj in range(n_work):
                    for k in range(n_classes):
                        weights[jj, k] = start[jj, k] + alpha * direction[jj, k]
                for k in range(n_classes):
                    intercept[k] = start_b[k] + alpha * direction_b[k]
                    for i in range(n_samples):
                        trial[k, i] = scores[k, i] + alpha * change[k, i]
                n_evaluations += 1
                value = data_term(
                    trial, targets, soft_targets, soft, smoothing, weight
                ) + _penalty(weights, l1, l2, grouped)
                if value <= objective + _ARMIJO * alpha * predicted:
                    accepted = True
                    break
                # A decrease under the objective's rounding: the model, which
                # the gradient resolves, is trusted where the values cannot
                # be compared (the full step, if it loses nothing visible).
                if alpha == 1.0 and -predicted < _RESOLVED * abs(objective):
                    accepted = value <= objective + _RESOLVED * abs(objective)
                    break
                alpha *= 0.5
            if alpha < 1.0:
                damping[0] = min(damping[0] * 2.0, _MAX_DAMPING)
            else:
                damping[0] = max(damping[0] * 0.5, 1.0)
        if not accepted:
            for jj in range(n_work):
                for k in range(n_classes):
                    weights[jj, k] = start[jj, k]
            for k in range(n_classes):
                intercept[k] = start_b[k]
            status = STALLED
            break
        for k in range(n_classes):
            for i in range(n_samples):
                scores[k, i] = trial[k, i]
        n_iter += 1
        if n_iter >= max_newton:  # back to the caller without a new model
            break
    return n_iter, status, objective, n_evaluations
