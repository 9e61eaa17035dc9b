"""One fit: the objective for the data and penalty, handed to a solver driver."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ._linear_loss import LinearSoftmaxLoss, SplitL1Loss
from ._loss import _weight_sum_factors
from ._parallel import evaluation_threads, threads_for_work
from ._solvers import (
    IterationCallback,
    SolverResult,
    minimize_lbfgs,
    minimize_newton,
)


def fit_coef(
    X,
    y: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None,
    *,
    C: float,
    l1_ratio: float,
    fit_intercept: bool,
    solver: str,
    tol: float,
    max_iter: int,
    verbose: int = 0,
    coef0: np.ndarray | None = None,
    n_threads: int | None = None,
    callback: IterationCallback | None = None,
) -> tuple[np.ndarray, SolverResult]:
    r"""Minimise the elastic-net penalised objective for one ``C``.

    The objective, scikit-learn's, is

    .. math::

        \frac{1}{S} \sum_i s_i \operatorname{CE}(W x_i + b, y_i)
        + \frac{1}{C S}\Big(r \lVert W \rVert_1
        + \frac{1 - r}{2} \lVert W \rVert_F^2\Big),

    with :math:`r` = ``l1_ratio``. With :math:`r > 0` it is solved by
    L-BFGS-B on the split :class:`SplitL1Loss`; otherwise by ``solver``.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Validated training data, float32 or float64.
    y : ndarray of shape (n_samples,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum (class weights included).
    C : float
        Inverse penalty strength, in ``(0, inf]``.
    l1_ratio : float
        In ``[0, 1]``; must be 0 for the Newton solvers.
    fit_intercept : bool
        Whether to fit intercepts.
    solver : {"lbfgs", "newton-cg", "trust-ncg", "trust-krylov"}
        The solver for ``l1_ratio == 0``.
    tol : float
        Stop when the largest absolute (projected) gradient entry is at most
        ``tol``.
    max_iter : int
        Iteration limit.
    verbose : int, default=0
        Print one line per iteration if positive.
    coef0 : ndarray of shape (n_classes * (n_features + fit_intercept),), optional
        Starting point, flat ``[W, b]``; zeros if None.
    n_threads : int, optional
        Threads wanted for the objective; chosen from the problem size if None.
        Fewer may be used (see :func:`~._parallel.evaluation_threads`).
    callback : callable, optional
        ``coef -> bool``, called with the flat ``[W, b]`` after each solver
        iteration; True stops the solver.

    Returns
    -------
    coef : ndarray of shape (n_classes * (n_features + fit_intercept),)
        The solution, flat ``[W, b]``, float64.
    result : SolverResult
        What the solver reached (its ``coef`` is in the solver's variables).
    """
    n_samples, n_features = X.shape
    if solver == "trust-krylov" and l1_ratio == 0:
        _warn_about_trlib_memory(n_classes * (n_features + fit_intercept))
    largest_weight, relative_weight_sum = _weight_sum_factors(sample_weight, n_samples)
    if n_threads is None:
        work = (X.nnz if sp.issparse(X) else n_samples * n_features) * n_classes
        n_threads = threads_for_work(work)
    if coef0 is None:
        coef0 = np.zeros(n_classes * (n_features + fit_intercept))
    # scikit-learn's scaling: C multiplies the summed, not the mean, loss:
    # 1 / (C S), with S in two factors that cannot overflow on their own (it
    # is 1 / (C n) without weights, bit for bit scikit-learn's).
    penalty = 1.0 / (C * largest_weight * relative_weight_sum)
    # BLAS is pinned before the evaluation threads start and released after
    # they are joined (contexts exit in reverse order), also on an exception.
    with (
        evaluation_threads(n_threads) as n_threads,
        LinearSoftmaxLoss(
            X,
            y,
            n_classes,
            sample_weight,
            l2_reg_strength=(1.0 - l1_ratio) * penalty,
            fit_intercept=fit_intercept,
            n_threads=n_threads,
        ) as loss,
    ):
        # Stop on the gradient alone (ftol=0), so that tol means what it says:
        # scikit-learn also stops when the objective's relative decrease is
        # under 64 * eps, which at small tol can leave the gradient 1000x
        # above tol while reporting success.
        if l1_ratio > 0:
            split = SplitL1Loss(loss, l1_ratio * penalty)
            result = minimize_lbfgs(
                split.loss_gradient,
                split.from_coef(coef0),
                tol=tol,
                max_iter=max_iter,
                ftol=0.0,
                verbose=verbose,
                bounds=split.bounds,
                callback=None
                if callback is None
                else lambda variables: callback(split.to_coef(variables)),
            )
            return split.to_coef(result.coef), result
        if solver == "lbfgs":
            result = minimize_lbfgs(
                loss.loss_gradient,
                coef0,
                tol=tol,
                max_iter=max_iter,
                ftol=0.0,
                verbose=verbose,
                callback=callback,
            )
        else:
            result = minimize_newton(
                solver,
                loss.loss_gradient,
                loss.hessp,
                coef0,
                tol=tol,
                max_iter=max_iter,
                verbose=verbose,
                objective_scale=float(n_samples),
                callback=callback,
            )
        return result.coef, result


def _warn_about_trlib_memory(n_coef: int) -> None:
    """Warn when scipy's trust-krylov will allocate over a GiB per subproblem.

    scipy's TRLIB wrapper allocates ``itmax * n_coef`` doubles for its Lanczos
    vectors, with ``itmax = min(1e9 / n_coef, 2 * n_coef)``: 16 n_coef**2 bytes,
    up to 8 GB, whatever the problem needs.
    """
    trlib_bytes = 8 * n_coef * int(min(1e9 / n_coef, 2 * n_coef))
    if trlib_bytes > 2**30:
        warnings.warn(
            f"solver='trust-krylov' makes scipy allocate {trlib_bytes / 2**30:.1f} "
            f"GiB of Lanczos vectors per trust-region subproblem for {n_coef} "
            "coefficients (16 * n_coef**2 bytes, at most 8 GB). solver='trust-ncg' "
            "or 'newton-cg' use the same Hessian products in O(n_coef) memory.",
            ResourceWarning,
            stacklevel=4,
        )
