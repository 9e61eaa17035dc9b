r"""``solver="newton-cd"``: proximal Newton with coordinate descent, on working sets.

For the L1, elastic-net and grouped penalties, whose solutions are sparse.
Each round (Johnson and Guestrin's working sets, as in skglm and
Massias et al. 2018's Celer):

1. one threaded pass over all of ``X`` (:class:`~._linear_loss.LinearSoftmaxLoss`)
   gives the smooth part's gradient; each feature's violation of the
   optimality (KKT) conditions follows from it
   (:func:`~._cd_kernels.kkt_violations`), and the stop is tested there
   (a float ``tol``: the largest violation; ``tol="auto"``: the duality gap,
   :class:`~._duality.DualityGap`);
2. the working set is the features with a non-zero coefficient and the worst
   violators, twice as many as the non-zero ones and at least
   ``_MIN_WORKING_SET``;
3. compiled proximal Newton iterations (:func:`~._cd_kernels.newton_cd`)
   solve the problem restricted to the working set until its own violation
   is under ``_INNER_SHARE`` of the round's.

So the cost follows the active features: a path of fits from the most
regularised ``C`` down, warm-started, carries its support from one fit to
the next as the next working set (the screening strong rules do, checked
by the KKT conditions at every round instead of assumed).

The kernels read the working set's columns: in place for Fortran-ordered
dense ``X`` and CSC, gathered for C-ordered dense ``X`` and CSR (a copy of
the working set's columns only, made again when the set changes).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.sparse as sp

from ._coef import split_coef
from ._solvers import (
    CERTIFIED_GAP,
    CONVERGED,
    MAX_ITER,
    STALLED,
    STOPPED,
    SolverResult,
    gap_threshold,
)

#: The fewest features in a working set.
_MIN_WORKING_SET = 10
#: A round's inner solve ends at this share of the round's violation...
_INNER_SHARE = 1e-6
#: ... and at least this share of the violation at the start.
_FLOOR = 1e-10
#: Coordinate-descent sweeps per Newton iteration, at most.
_MAX_SWEEPS = 100


class _Columns:
    """The working set's columns, as the kernels read them."""

    def __init__(self, X) -> None:
        self.X = X
        self.sparse = sp.issparse(X)
        self.in_place = (X.format == "csc") if self.sparse else X.flags.f_contiguous
        # (2, 2) and Fortran-ordered: numba types it as the dense blocks are
        # (a 1 x 1 array would count as C-ordered: another compilation).
        self._placeholder_dense = np.zeros((2, 2), dtype=X.dtype, order="F")
        self._placeholder_index = np.zeros(1, dtype=np.int32)
        self._placeholder_data = np.zeros(1, dtype=X.dtype)
        self.arrays: tuple = ()
        self.cols = np.zeros(0, dtype=np.intp)

    def select(self, features: np.ndarray) -> None:
        """Make ``features`` (sorted indices) the columns the kernels read."""
        X = self.X
        if self.in_place:
            block, self.cols = X, features.astype(np.intp)
        else:  # only the working set's columns are copied
            block = X[:, features]
            block = block.tocsc() if self.sparse else np.asfortranarray(block)
            self.cols = np.arange(features.size, dtype=np.intp)
        if self.sparse:
            self.arrays = (
                self._placeholder_dense,
                block.data,
                block.indices,
                block.indptr,
                True,
            )
        else:
            self.arrays = (
                block,
                self._placeholder_data,
                self._placeholder_index,
                self._placeholder_index,
                False,
            )


def fit_newton_cd(
    data,
    loss,
    coef0: np.ndarray,
    *,
    l1_reg_strength: np.ndarray,
    grouped: bool,
    bounds: tuple[np.ndarray, np.ndarray] | None,
    tol: float | None,
    max_iter: int,
    verbose: int = 0,
    callback=None,
    min_iter: int = 0,
    duality=None,
    uncertified: str = "",
) -> SolverResult:
    r"""Minimise the penalised objective by proximal Newton on working sets.

    Parameters
    ----------
    data : InMemoryData
        The training data (``sample_rows()`` gives the rows' targets,
        weights and offsets).
    loss : LinearSoftmaxLoss
        The data term with the L2 part of the penalty (its strengths per
        feature are the kernels' ``l2``).
    coef0 : ndarray of shape (n_coef,)
        The start, flat ``[W, b]``, within the bounds.
    l1_reg_strength : ndarray of shape (n_features,)
        :math:`\alpha_j`, the L1 (or group) strength of each feature.
    grouped : bool
        The Euclidean norm of each feature's coefficients instead of their
        L1 norm.
    bounds : tuple of two ndarrays of shape (n_classes, n_features), optional
        Lower and upper bounds on ``W`` (ungrouped only).
    tol : float or None
        Stop when the largest KKT violation is at most ``tol``; None: when
        ``duality`` certifies a relative gap of at most 1e-6 (without it,
        when a round decreases the objective by at most 1e-7 relatively).
    max_iter : int
        Limit on the Newton iterations, all rounds together.
    verbose : int, default=0
        1: a summary line; 2: also a line per round.
    callback : callable, optional
        ``coef -> bool`` after each Newton iteration; True stops.
    min_iter : int, default=0
        Rounds to take before the stop may hold.
    duality : DualityGap, optional
        The certificate for ``tol=None``.
    uncertified : str, default=""
        Without ``duality``, why there is none (for the summary line).

    Returns
    -------
    result : SolverResult
        ``max_abs_gradient`` is the largest KKT violation; ``n_iter`` counts
        Newton iterations.
    """
    from ._cd_kernels import STALLED as KERNEL_STALLED
    from ._cd_kernels import kkt_violations, newton_cd, point_terms, raw_scores
    from ._sag_kernels import table_entropy

    start_time = time.perf_counter()
    X = data.X
    rows = data.sample_rows()
    n_samples, n_features = data.shape
    n_classes = data.n_classes
    fit_intercept = loss.fit_intercept
    weights0, intercept0 = split_coef(coef0, n_classes, n_features, fit_intercept)
    weights = np.ascontiguousarray(weights0.T, dtype=np.float64)  # features x classes
    intercept = np.zeros(n_classes) if intercept0 is None else intercept0.astype(float)
    l1 = np.ascontiguousarray(np.broadcast_to(l1_reg_strength, (n_features,)), float)
    l2 = np.ascontiguousarray(
        np.broadcast_to(np.asarray(loss.l2_reg_strength, float), (n_features,))
    )
    if bounds is None:
        lower = np.full((n_features, n_classes), -np.inf)
        upper = np.full((n_features, n_classes), np.inf)
    else:
        lower = np.ascontiguousarray(np.broadcast_to(bounds[0], weights0.shape).T)
        upper = np.ascontiguousarray(np.broadcast_to(bounds[1], weights0.shape).T)
    weight = rows.relative_weight / n_samples
    row_args = (rows.targets, rows.soft_targets, rows.soft, rows.label_smoothing)
    columns = _Columns(X)
    scores = np.empty((n_classes, n_samples))  # class-major, as the kernels
    work = [np.empty((n_classes, n_samples)) for _ in range(5)]
    violations = np.empty(n_features)
    damping = np.ones(1)  # the kernels' Levenberg-Marquardt factor, kept

    def flat() -> np.ndarray:
        coef = weights.T.ravel()
        return np.concatenate([coef, intercept]) if fit_intercept else coef

    probabilities, gradient_rows = work[0], work[1]
    gradient_dtype = X.dtype  # X.T @ G in X's arithmetic: float32 is not upcast
    row_args_full = (*row_args, rows.offset, rows.has_offset, rows.relative_weight)
    certificate = [np.nan]

    def evaluate(coef, certify: bool):
        """Objective and largest KKT violation at the current point.

        One pass over ``X`` (``X^T G``, the scores being kept up to date);
        with ``certify``, also the duality gap of ``tol="auto"``.
        """
        data_loss = point_terms(scores, *row_args, weight, probabilities, gradient_rows)
        moments = certify and duality.needs_target_moments()
        left = gradient_rows
        if moments:
            # The duality gap's coefficient-free sums ride on the same pass:
            # [G; w p; w] X costs about what G X does (X is read once).
            weighted = probabilities * weight
            left = np.vstack([gradient_rows, weighted, weight[None, :]])
        # (K, n) @ X reads X's rows in order; in X's dtype (never upcast).
        product = np.asarray(
            left.astype(gradient_dtype, copy=False) @ X, dtype=np.float64
        )
        gradient_weights = product[:n_classes].T
        if moments:
            targets = weighted - gradient_rows  # w t, (K, n)
            target_gradient = (
                product[:n_classes] - product[n_classes : 2 * n_classes]
            ).ravel()
            if fit_intercept:
                target_gradient = np.concatenate(
                    [target_gradient, -targets.sum(axis=1)]
                )
            offset = rows.offset.T if rows.has_offset else None
            duality.remember_target_moments(
                (
                    0.0 if offset is None else -float(np.vdot(targets, offset)),
                    target_gradient,
                    product[2 * n_classes].copy(),
                    np.zeros(n_classes) if offset is None else offset @ weight,
                )
            )
        gradient_intercept = gradient_rows.sum(axis=1)
        worst = kkt_violations(
            weights, gradient_weights + l2[:, None] * weights, l1, lower, upper,
            grouped, violations,
        )  # fmt: skip
        if fit_intercept:
            worst = max(worst, float(np.max(np.abs(gradient_intercept))))
        norms = (
            np.sqrt(np.square(weights).sum(axis=1))
            if grouped
            else np.abs(weights).sum(axis=1)
        )
        value = (
            data_loss
            + float(l1 @ norms)
            + 0.5 * float(l2 @ np.square(weights).sum(axis=1))
        )
        if np.isnan(initial[0]):
            initial[0] = value
        if certify:
            table = np.ascontiguousarray(gradient_rows.T) * n_samples  # u_i (p_i - t_i)
            dual_objective, gap = duality.gap_for_dual_point(
                coef,
                data_loss,
                gradient_weights.T,
                gradient_intercept if fit_intercept else None,
                lambda tau, row: table_entropy(
                    table, *row_args_full, float(tau), np.asarray(row, dtype=float)
                ),
            )
            reference = max(dual_objective - gap, 1e-3 * abs(initial[0]), 1e-300)
            certificate[0] = gap / reference if np.isfinite(gap) else np.inf
        return value, worst

    if verbose >= 2:
        print(
            f"[newton-cd] {'round':>5} {'iter':>5} {'objective':>22} "
            f"{'max|kkt|':>10} {'features':>8} {'time (s)':>9}",
            file=sys.stdout,
        )
    coef = flat()
    # The start's scores, from its non-zero features.
    working = np.flatnonzero(np.any(weights != 0.0, axis=1))
    columns.select(working)
    raw_scores(
        *columns.arrays, columns.cols, weights[working], intercept, rows.offset,
        rows.has_offset, scores,
    )  # fmt: skip
    certify = tol is None and duality is not None
    initial = [np.nan]
    objective, worst = evaluate(coef, certify and min_iter == 0)
    initial_objective, initial_worst = objective, worst
    n_iter = n_rounds = n_evaluations = idle = 0
    status, certified_gap, decrease = MAX_ITER, np.nan, np.nan
    previous_objective = objective
    while True:
        # The stop, at the round's point.
        if n_rounds >= min_iter:
            if tol is not None:
                converged = worst <= tol
            elif certify:
                certified_gap = certificate[0]
                converged = certified_gap <= CERTIFIED_GAP
            else:
                converged = n_rounds > 0 and decrease <= gap_threshold(
                    float(np.finfo(data.dtype).eps)
                )
            if converged:
                status = CONVERGED
                break
        if n_iter >= max_iter:
            status = MAX_ITER
            break
        # The working set: the support and the worst violators.
        support = np.any(weights != 0.0, axis=1)
        score = np.where(support, np.inf, violations)
        size = max(_MIN_WORKING_SET, 2 * int(support.sum()))
        if n_rounds > 0 and np.array_equal(working, np.sort(np.argsort(-score)[:size])):
            size = 2 * working.size  # the same set again: grow it
        chosen = np.argsort(-score, kind="stable")[: min(size, n_features)]
        chosen = np.sort(chosen[(score[chosen] > 0) | support[chosen]])
        if not np.array_equal(chosen, working):
            working = chosen
            columns.select(working)
        # Rounds are ended by a pass over all of X: the working set is solved
        # well beyond the round's violation (Newton's convergence makes that
        # cheap), but not beyond what the stop needs.
        inner_tol = max(_INNER_SHARE * worst, _FLOOR * initial_worst)
        if tol is not None:
            inner_tol = max(inner_tol, 0.5 * tol)
        block = np.ascontiguousarray(weights[working])
        arguments = (
            l1[working], l2[working], np.ascontiguousarray(lower[working]),
            np.ascontiguousarray(upper[working]), grouped, inner_tol,
        )  # fmt: skip
        # One Newton iteration per call: each is an iteration of the
        # callbacks, and max_iter=i stops where the i-th callback saw it.
        taken = 0
        stopped = False
        while n_iter < max_iter:
            step, kernel_status, _, evaluations = newton_cd(
                *columns.arrays, columns.cols, block, intercept, fit_intercept,
                scores, *row_args, weight, *arguments, 1, _MAX_SWEEPS, *work,
                damping,
            )  # fmt: skip
            n_evaluations += evaluations
            if not step:
                break
            taken += 1
            n_iter += 1
            weights[working] = block
            if callback is not None and callback(flat()):
                stopped = True
                break
        weights[working] = block
        n_rounds += 1
        coef = flat()
        objective, worst = evaluate(coef, certify)
        decrease = (previous_objective - objective) / max(
            abs(objective), 1e-3 * abs(initial_objective), 1e-300
        )
        previous_objective = objective
        if verbose >= 2:
            print(
                f"[newton-cd] {n_rounds:>5d} {n_iter:>5d} {objective:>22.15e} "
                f"{worst:>10.3e} {working.size:>8d} "
                f"{time.perf_counter() - start_time:>9.3f}",
                file=sys.stdout,
            )
        # No Newton step the arithmetic resolves, on two working sets in a
        # row (the second one grown): the objective is flat in floating point.
        if stopped:
            status = STOPPED
            break
        idle = idle + 1 if taken == 0 else 0
        if idle >= 2 or (idle and kernel_status == KERNEL_STALLED):
            status = STALLED
            break
    converged = status == CONVERGED
    if status == STALLED and tol is None and decrease <= gap_threshold():
        converged, status = True, CONVERGED
    result = SolverResult(
        coef=coef,
        loss=objective,
        max_abs_gradient=worst,
        n_iter=n_iter,
        converged=converged,
        status=status,
        message=f"{n_rounds} working-set rounds",
        initial_max_abs_gradient=initial_worst,
        relative_decrease=decrease,
        gap_estimate=decrease,
        certified_gap=certified_gap,
    )
    if verbose >= 1:
        if tol is not None:
            why = f"max|kkt| <= tol={tol:g}"
        elif duality is not None:
            why = f"duality gap certifies a relative gap of {certified_gap:.1e}"
        else:
            why = f"relative decrease {decrease:.1e} ({uncertified})"
        print(
            f"[newton-cd] {n_iter} iterations in {n_rounds} rounds, "
            f"{n_evaluations} line-search evaluations in "
            f"{time.perf_counter() - start_time:.3f} s: objective "
            f"{objective:.15e}, max|kkt| {worst:.3e}; stopped: "
            + (f"converged: {why}" if converged else status),
            file=sys.stdout,
        )
    return result
