r"""Compiled epochs of SAGA on the weighted softmax cross-entropy.

Imported only by :mod:`._sag` when a fit takes the stochastic phase, so that
``import softmax_regression`` never loads numba. The kernels are loops over
the rows of CSR or dense ``X`` compiled with ``cache=True``: the compile is
paid once per environment.

The problem, in the mean-loss scaling of :class:`~._linear_loss.LinearSoftmaxLoss`,
with ``n`` rows and ``u_i = n s_i / S`` (the weights relative to their mean):

.. math::

    F(W, b) = \frac{1}{n} \sum_i u_i \big(\operatorname{lse}(z_i)
              - t_i^\top z_i\big) + \sum_j \frac{\lambda_j}{2} \lVert W_j \rVert^2,
    \qquad z_i = W^\top x_i + b + o_i,

with ``W`` stored features x classes (a row's classes contiguous). Row
``i``'s gradient is ``g_i x_i^T`` with the class vector ``g_i = u_i (p_i -
t_i)``, so the table of past gradients is ``n x K`` scalars, and their sum
``D = sum_i g_i x_i^T`` is kept beside ``W``.

One SAGA step on row ``i`` (Defazio, Bach and Lacoste-Julien, 2014), with
``a_j = 1 - eta lambda_j``::

    W <- a W - eta (D / n + (g_i - G_i) x_i),   D += (g_i - G_i) x_i,   G_i = g_i

and the same for the intercepts (with ``x = 1``, unpenalised). A feature
that row ``i`` does not touch sees ``W_j <- a_j W_j - (eta / n) D_j`` with a
``D_j`` that does not change until a row touches it, so ``k`` skipped steps
have the closed form ``W_j <- a_j^k W_j - (eta / n) D_j (1 - a_j^k) / (1 -
a_j)``: features are brought up to date just in time, when a row touches
them, and all of them at the end of a call ("lazy" updates, exact up to
rounding). Dense rows touch every feature: no catch-up.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def _skipped_steps(skipped, log_decay_j, geometric_unit_j):
    """``(a^k, (1 - a^k) / (1 - a))`` for ``k = skipped`` steps of feature ``j``.

    Computed where features have their own L2 strengths (penalty factors);
    with one strength the callers look them up in tables (``powers[k]``,
    ``geometric_sums[k]``: a call catches every feature up at its end, so
    ``k`` is at most its number of steps). Scalars in and out, and no views
    of rows in the loops: passing arrays or taking views costs reference
    counting, which took 40% of an epoch on text-like data (0.14-0.19 s
    against 0.084-0.088 s).
    """
    if log_decay_j == 0.0:
        return 1.0, skipped * 1.0
    return (
        np.exp(skipped * log_decay_j),
        -np.expm1(skipped * log_decay_j) * geometric_unit_j,
    )


@numba.njit(**_JIT)
def _row_gradient(
    scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
    relative_weight, out,
):  # fmt: skip
    """``out = u_i (p_i - t_i)`` from the raw ``scores`` (intercept included)."""
    n_classes = scores.shape[0]
    if has_offset:
        for k in range(n_classes):
            scores[k] += offset[i, k]
    largest = scores[0]
    for k in range(1, n_classes):
        if scores[k] > largest:
            largest = scores[k]
    total = 0.0
    for k in range(n_classes):
        out[k] = np.exp(scores[k] - largest)
        total += out[k]
    weight = relative_weight[i]
    spread = smoothing / n_classes
    for k in range(n_classes):
        out[k] = out[k] / total - spread
    if soft:
        for k in range(n_classes):
            out[k] -= (1.0 - smoothing) * soft_targets[i, k]
    else:
        out[targets[i]] -= 1.0 - smoothing
    for k in range(n_classes):
        out[k] *= weight


@numba.njit(**_JIT)
def sparse_epochs(
    data, indices, indptr, order, weights, intercept, gradient_table,
    gradient_sum, intercept_sum, last_step, step0, targets, soft_targets, soft,
    smoothing, offset, has_offset, relative_weight, log_decay, geometric_unit,
    powers, geometric_sums, decay, step_size, intercept_step,
):  # fmt: skip
    """Run the steps on rows ``order`` of CSR ``X``; return the next step number.

    ``weights`` (features x classes), ``intercept``, the tables and
    ``last_step`` (the step each feature is up to date at) are updated in
    place; every feature is brought up to date at the end.
    """
    n_samples = gradient_table.shape[0]
    n_features, n_classes = weights.shape
    scale = step_size / n_samples
    scores = np.empty(n_classes)
    row_gradient = np.empty(n_classes)
    change = np.empty(n_classes)
    step = step0
    for i in order:
        start, end = indptr[i], indptr[i + 1]
        for k in range(n_classes):
            scores[k] = intercept[k]
        for p in range(start, end):
            j = indices[p]
            skipped = step - last_step[j]
            if skipped > 0:
                if powers.shape[0] > skipped:
                    power, geometric = powers[skipped], geometric_sums[skipped]
                else:
                    power, geometric = _skipped_steps(
                        skipped, log_decay[j], geometric_unit[j]
                    )
                geometric *= scale
                for k in range(n_classes):
                    weights[j, k] = (
                        power * weights[j, k] - geometric * gradient_sum[j, k]
                    )
                last_step[j] = step
            value = data[p]
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        _row_gradient(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight, row_gradient,
        )  # fmt: skip
        for k in range(n_classes):
            change[k] = row_gradient[k] - gradient_table[i, k]
            gradient_table[i, k] = row_gradient[k]
        for p in range(start, end):
            j = indices[p]
            value = data[p]
            decay_j = decay[j]
            for k in range(n_classes):
                update = change[k] * value
                weights[j, k] = decay_j * weights[j, k] - (
                    scale * gradient_sum[j, k] + step_size * update
                )
                gradient_sum[j, k] += update
            last_step[j] = step + 1
        if intercept_step > 0.0:
            for k in range(n_classes):
                intercept[k] -= intercept_step * (
                    intercept_sum[k] / n_samples + change[k]
                )
                intercept_sum[k] += change[k]
        step += 1
    for j in range(n_features):
        skipped = step - last_step[j]
        if skipped > 0:
            if powers.shape[0] > skipped:
                power, geometric = powers[skipped], geometric_sums[skipped]
            else:
                power, geometric = _skipped_steps(
                    skipped, log_decay[j], geometric_unit[j]
                )
            geometric *= scale
            for k in range(n_classes):
                weights[j, k] = power * weights[j, k] - geometric * gradient_sum[j, k]
            last_step[j] = step
    return step


@numba.njit(**_JIT)
def dense_epochs(
    X, order, weights, intercept, gradient_table, gradient_sum, intercept_sum,
    targets, soft_targets, soft, smoothing, offset, has_offset, relative_weight,
    decay, step_size, intercept_step,
):  # fmt: skip
    """Run the steps on rows ``order`` of dense ``X`` (every feature each step)."""
    n_samples = gradient_table.shape[0]
    n_features, n_classes = weights.shape
    scale = step_size / n_samples
    scores = np.empty(n_classes)
    row_gradient = np.empty(n_classes)
    change = np.empty(n_classes)
    for i in order:
        for k in range(n_classes):
            scores[k] = intercept[k]
        for j in range(n_features):
            value = X[i, j]
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        _row_gradient(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight, row_gradient,
        )  # fmt: skip
        for k in range(n_classes):
            change[k] = row_gradient[k] - gradient_table[i, k]
            gradient_table[i, k] = row_gradient[k]
        for j in range(n_features):
            value = X[i, j]
            for k in range(n_classes):
                weights[j, k] = decay[j] * weights[j, k] - (
                    scale * gradient_sum[j, k] + step_size * change[k] * value
                )
                gradient_sum[j, k] += change[k] * value
        if intercept_step > 0.0:
            for k in range(n_classes):
                intercept[k] -= intercept_step * (
                    intercept_sum[k] / n_samples + change[k]
                )
                intercept_sum[k] += change[k]


@numba.njit(**_JIT)
def sparse_tables(
    data, indices, indptr, weights, intercept, gradient_table, gradient_sum,
    intercept_sum, targets, soft_targets, soft, smoothing, offset, has_offset,
    relative_weight,
):  # fmt: skip
    """Fill the tables with every row's gradient at ``(weights, intercept)``.

    Returns the largest ``u_i |x_i|^2`` and the largest ``u_i``, for the step
    sizes.
    """
    n_samples, n_classes = gradient_table.shape
    scores = np.empty(n_classes)
    row_gradient = np.empty(n_classes)
    gradient_sum[:] = 0.0
    intercept_sum[:] = 0.0
    largest = heaviest = 0.0
    for i in range(n_samples):
        start, end = indptr[i], indptr[i + 1]
        for k in range(n_classes):
            scores[k] = intercept[k]
        square = 0.0
        for p in range(start, end):
            j = indices[p]
            value = data[p]
            square += value * value
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        _row_gradient(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight, row_gradient,
        )  # fmt: skip
        for k in range(n_classes):
            gradient_table[i, k] = row_gradient[k]
            intercept_sum[k] += row_gradient[k]
        for p in range(start, end):
            j = indices[p]
            value = data[p]
            for k in range(n_classes):
                gradient_sum[j, k] += row_gradient[k] * value
        largest = max(largest, relative_weight[i] * square)
        heaviest = max(heaviest, relative_weight[i])
    return largest, heaviest


@numba.njit(**_JIT)
def dense_tables(
    X, weights, intercept, gradient_table, gradient_sum, intercept_sum, targets,
    soft_targets, soft, smoothing, offset, has_offset, relative_weight,
):  # fmt: skip
    """:func:`sparse_tables` for dense ``X``."""
    n_samples, n_classes = gradient_table.shape
    n_features = weights.shape[0]
    scores = np.empty(n_classes)
    row_gradient = np.empty(n_classes)
    gradient_sum[:] = 0.0
    intercept_sum[:] = 0.0
    largest = heaviest = 0.0
    for i in range(n_samples):
        for k in range(n_classes):
            scores[k] = intercept[k]
        square = 0.0
        for j in range(n_features):
            value = X[i, j]
            square += value * value
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        _row_gradient(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight, row_gradient,
        )  # fmt: skip
        for k in range(n_classes):
            gradient_table[i, k] = row_gradient[k]
            intercept_sum[k] += row_gradient[k]
        for j in range(n_features):
            value = X[i, j]
            for k in range(n_classes):
                gradient_sum[j, k] += row_gradient[k] * value
        largest = max(largest, relative_weight[i] * square)
        heaviest = max(heaviest, relative_weight[i])
    return largest, heaviest


@numba.njit(**_JIT)
def table_entropy(
    gradient_table, targets, soft_targets, soft, smoothing, offset, has_offset,
    relative_weight, tau, row,
):  # fmt: skip
    r"""``sum_i (u_i / n) (H(m_i) + m_i^T o_i)`` for ``m_i = tau q_i + (1 - tau) r``.

    ``q_i = t_i + G_i / u_i`` are the probabilities the table's rows were
    taken at (the targets ``t_i`` label-smoothed), a dual point of the fit
    (:meth:`~._duality.DualityGap.gap_for_dual_point`); rows of weight 0
    count for nothing. Rounding can leave an entry a hair below 0: clipped.
    """
    n_samples, n_classes = gradient_table.shape
    spread = smoothing / n_classes
    total = 0.0
    for i in range(n_samples):
        weight = relative_weight[i]
        if weight == 0.0:
            continue
        value = 0.0
        for k in range(n_classes):
            if soft:
                target = (1.0 - smoothing) * soft_targets[i, k] + spread
            else:
                target = spread + (1.0 - smoothing if targets[i] == k else 0.0)
            mixed = tau * (target + gradient_table[i, k] / weight)
            mixed = max(mixed + (1.0 - tau) * row[k], 0.0)
            if mixed > 0.0:
                value -= mixed * np.log(mixed)
            if has_offset:
                value += mixed * offset[i, k]
        total += weight * value
    return total / n_samples


@numba.njit(**_JIT)
def _row_loss(
    scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
    relative_weight,
):  # fmt: skip
    """``u_i (lse(z_i) - t_i^T z_i)`` in float64 from the raw scores."""
    n_classes = scores.shape[0]
    if has_offset:
        for k in range(n_classes):
            scores[k] += offset[i, k]
    largest = scores[0]
    for k in range(1, n_classes):
        largest = max(largest, scores[k])
    total = 0.0
    mean = 0.0
    for k in range(n_classes):
        total += np.exp(scores[k] - largest)
        mean += scores[k]
    value = largest + np.log(total) - smoothing / n_classes * mean
    if soft:
        for k in range(n_classes):
            value -= (1.0 - smoothing) * soft_targets[i, k] * scores[k]
    else:
        value -= (1.0 - smoothing) * scores[targets[i]]
    return relative_weight[i] * value


@numba.njit(**_JIT)
def sparse_objective(
    data, indices, indptr, weights, intercept, targets, soft_targets, soft,
    smoothing, offset, has_offset, relative_weight,
):  # fmt: skip
    """Return the data term at ``(weights, intercept)``, in float64 whatever X is.

    The mean loss ``sum_i u_i CE_i / n`` (the objective without the penalty),
    for the duality gap of float32 data as of float64 data.
    """
    n_samples = relative_weight.shape[0]
    n_classes = intercept.shape[0]
    scores = np.empty(n_classes)
    total = 0.0
    for i in range(n_samples):
        if relative_weight[i] == 0.0:
            continue
        for k in range(n_classes):
            scores[k] = intercept[k]
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            value = float(data[p])
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        total += _row_loss(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight,
        )  # fmt: skip
    return total / n_samples


@numba.njit(**_JIT)
def dense_objective(
    X, weights, intercept, targets, soft_targets, soft, smoothing, offset,
    has_offset, relative_weight,
):  # fmt: skip
    """:func:`sparse_objective` for dense ``X``."""
    n_samples, n_features = X.shape
    n_classes = intercept.shape[0]
    scores = np.empty(n_classes)
    total = 0.0
    for i in range(n_samples):
        if relative_weight[i] == 0.0:
            continue
        for k in range(n_classes):
            scores[k] = intercept[k]
        for j in range(n_features):
            value = float(X[i, j])
            for k in range(n_classes):
                scores[k] += value * weights[j, k]
        total += _row_loss(
            scores, i, targets, soft_targets, soft, smoothing, offset, has_offset,
            relative_weight,
        )  # fmt: skip
    return total / n_samples
