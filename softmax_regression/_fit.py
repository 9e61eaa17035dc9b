"""One fit: the objective for the data and penalty, handed to a solver driver."""

from __future__ import annotations

import dataclasses
import sys
import warnings
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from ._arrays import is_sparse
from ._callbacks import IterationTasks, has_callbacks
from ._checks import check_bounds, check_penalty_factor, user_stacklevel
from ._coef import fitted_attributes, initial_coef, n_coef, split_coef
from ._duality import DualityGap
from ._linear_loss import LinearSoftmaxLoss, SplitL1Loss
from ._sag import (
    MAX_EPOCHS,
    MAX_TABLE_BYTES,
    PhaseResult,
    stochastic_phase,
    table_bytes,
    takes_phase,
)
from ._scaling import DiagonalScaling
from ._solvers import (
    CONVERGED,
    MAX_ITER,
    NEWTON_METHODS,
    OVERFLOW,
    STOPPED,
    IterationCallback,
    SolverResult,
    gap_threshold,
    minimize_lbfgs,
    minimize_newton,
)

# The largest factor (a sum of sample weights) scipy's Newton methods'
# objective is multiplied by.
_LARGEST_SCALE = 1e12
# Dense X with at least this many entries is solved in the variables of
# DiagonalScaling (see changes_variables).
_SCALING_MIN_ENTRIES = 1_000_000
# In-memory problems whose Hessian costs at most this many multiply-adds to
# form (n_samples * n_coef**2) give the Newton solvers its products as matrix
# products (see forms_hessian).
_DENSE_HESSIAN_MAX_WORK = 1_000_000
# "auto" takes solver="saga" on sparse data with at least this many stored
# entries times classes (see resolve_solver). On text-like data (Zipf
# columns, 50 draws a row) saga took 0.44x newton-cg's time at 1.1e7 (15,000
# x 10,000 x 20, C=1 and C=10), and 0.8x / 1.27x at 3.5e6 (10,000 x 5,000 x
# 10): below, the import of numba and the checks weigh as much as the gain.
_SAGA_MIN_WORK = 10_000_000


class FitData(Protocol):
    """What a fit needs of the training data, whichever backend holds it.

    Each backend (:mod:`softmax_regression._backends`) provides it in its own
    way: in memory, summed over a Dask cluster's workers, or on a device. The
    labels and sample weights (class weights folded in) are the backend's;
    only their sums cross to the fit, and only coefficient-sized vectors
    cross back and forth during the solve.
    """

    #: The training data as given to the backend (for its shape and kind).
    X: object
    #: (n_samples, n_features).
    shape: tuple[int, int]
    #: The NumPy dtype of the arithmetic (float32 or float64).
    dtype: np.dtype
    n_classes: int
    #: Whether X is sparse (CSR/CSC, or a Dask array of them).
    sparse: bool
    #: Whether the data term can form the Hessian (``hessian(coef)``), for
    #: :func:`forms_hessian`.
    can_form_hessian: bool
    #: A dict the duality gap keeps its coefficient-free sums in, so that the
    #: fits of a path share one pass over X (:class:`~._duality.DualityGap`).
    moments_cache: dict

    def entries(self) -> int:
        """Return the stored entries of ``X``: the work of one pass, per class."""

    def class_priors(self) -> np.ndarray:
        """Weighted class shares of the (smoothed) targets, on the host."""

    def weight_sum_factors(self) -> tuple[float, float]:
        """Return the weight sum in two factors (``_weights.weight_sum_factors``)."""

    def column_square_means(self) -> np.ndarray:
        """Weighted column means of the squares of ``X``, float64, on the host."""

    def objective(
        self,
        l2_reg_strength: float | np.ndarray,
        fit_intercept: bool,
        n_threads: int | None,
    ) -> AbstractContextManager[LinearSoftmaxLoss]:
        """Open the penalised objective over this data's term."""

    def from_host(self, array: np.ndarray):
        """Return a fitted attribute where the data is (or as it is)."""


def forms_hessian(data, solver: str, l1_ratio: float) -> bool:
    """Whether the Newton solvers multiply by a Hessian formed once per point.

    For small in-memory problems (iris: 150 x 4 x 3), where a Hessian product
    through the data term costs about 60 microseconds of Python calls and
    the arithmetic a fraction of one; formed once per iteration, each of the
    inner CG's products is a matrix-vector product.
    """
    n_coef_bound = n_coef(data.n_classes, data.shape[1], True)
    return (
        data.can_form_hessian
        and solver in NEWTON_METHODS
        and l1_ratio == 0
        and data.shape[0] * n_coef_bound**2 <= _DENSE_HESSIAN_MAX_WORK
    )


def changes_variables(X, l1_ratio: float) -> bool:
    """Whether a fit works in diagonally rescaled coefficients.

    Dense data of at least ``_SCALING_MIN_ENTRIES`` entries with an L2
    penalty: there the rescaling took newton-cg 1.5-2.7x less time on the
    benchmarks. On sparse text-like data it made newton-cg slower (the
    curvature of rare features at the start overstates theirs at the optimum).
    Smaller dense data stays unscaled: rescaled, newton-cg was faster on raw
    digits (0.23 s against 0.50 s) but a weight of 2 and a repeated row no
    longer gave the same probabilities to 7 digits in scikit-learn's checks.
    """
    return (
        l1_ratio == 0
        and not is_sparse(X)
        and X.shape[0] * X.shape[1] >= _SCALING_MIN_ENTRIES
    )


def resolve_solver(
    solver: str,
    data,
    l1_ratio: float,
    bounded: bool = False,
    penalised: bool = True,
    grouped: bool = False,
    warm: bool = False,
) -> str:
    """Return the solver ``"auto"`` stands for: saga, lbfgs or newton-cg.

    saga (:mod:`._sag`) for sparse CSR data in memory with at least
    ``_SAGA_MIN_WORK`` stored entries times classes, an L2 penalty on every
    coefficient (``penalised``: finite ``C``, no zero penalty factor), where
    the duality gap (in float64, also for float32 data) can end its
    stochastic phase, and a per-sample table of at most
    ``MAX_TABLE_BYTES``: on two real TF-IDF corpora it reached a relative gap
    of 1e-6 3.3-9x sooner than newton-cg, on text-like data 1.7-2.2x
    (benchmarks/README.md, "Issue 28"). Dense data keeps the scipy solvers:
    on 1,000,000 x 100 x 10 saga took 33-39 s against lbfgs's 10-12 s. lbfgs
    for L1 and elastic net and for bounds on
    the coefficients (they need the bound-constrained L-BFGS-B), and for
    data solved in rescaled coefficients (:func:`changes_variables`), where
    it reached a relative gap of 1e-6 before newton-cg on every large dense
    benchmark (200,000 x 100 x 10: 0.99 s against 1.8 s with their
    ``tol="auto"`` stops; 100 classes 1.0 s against 1.7 s; 2,000 x 5,000 0.70
    s against 0.94 s). newton-cg otherwise: on sparse text-like data 5-8x
    faster than lbfgs, as fast on small dense data, and its ``tol="auto"``
    stop is reliable on ill-conditioned data where lbfgs's is not (unscaled
    digits: lbfgs stops at a gap of 3e-4).
    """
    if solver != "auto":
        return solver
    # newton-cd for the grouped penalty (only it solves it), and for L1 and
    # elastic net from a warm start (a path, warm_start=True): there its
    # working sets start from the previous support, 3-20x faster than
    # L-BFGS-B on the split down the benchmarks' paths. From the default
    # start L-BFGS-B was faster on 3 of 4 single fits (digits elastic net:
    # 0.044 s against 0.155 s; benchmarks/README.md, "Issue 30").
    if grouped or (l1_ratio > 0 and warm and takes_columns(data)):
        return "newton-cd"
    if bounded or l1_ratio > 0 or changes_variables(data.X, l1_ratio):
        return "lbfgs"
    if (
        penalised
        and data.sparse
        and takes_phase(data)
        and table_bytes(data) <= MAX_TABLE_BYTES
        and data.entries() * data.n_classes >= _SAGA_MIN_WORK
    ):
        return "saga"
    return "newton-cg"


def takes_columns(data) -> bool:
    """Whether ``solver="newton-cd"`` can fit ``data``: NumPy or SciPy, in memory."""
    return hasattr(data, "sample_rows")


def _penalised(C: float, penalty_factor: np.ndarray | None) -> bool:
    """Whether every coefficient has an L2 penalty (a finite duality gap)."""
    return C < np.inf and (penalty_factor is None or bool(np.all(penalty_factor > 0)))


def fit_coef(
    data: FitData,
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
    min_iter: int = 0,
    penalty_factor: np.ndarray | None = None,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    random_state=None,
    l1_type: str = "ungrouped",
) -> tuple[np.ndarray, SolverResult]:
    r"""Minimise the elastic-net penalised objective for one ``C``.

    The objective, scikit-learn's, is

    .. math::

        \frac{1}{S} \sum_i s_i \operatorname{CE}(W x_i + b, y_i)
        + \frac{1}{C S}\Big(r \lVert W \rVert_1
        + \frac{1 - r}{2} \lVert W \rVert_F^2\Big),

    with :math:`r` = ``l1_ratio``, and with penalty factors :math:`f_j` the
    penalty of feature :math:`j` multiplied by :math:`f_j` (both parts). With
    :math:`r > 0` it is solved by L-BFGS-B on the split :class:`SplitL1Loss`;
    otherwise by ``solver``. Bounds :math:`l \le W \le u` need L-BFGS-B.

    Parameters
    ----------
    data : FitData
        The training data, its labels and sample weights (class weights
        included), from a backend (:mod:`softmax_regression._backends`).
    C : float
        Inverse penalty strength, in ``(0, inf]``.
    l1_ratio : float
        In ``[0, 1]``; must be 0 for the Newton solvers.
    fit_intercept : bool
        Whether to fit intercepts.
    solver : {"auto", "lbfgs", "newton-cg", "trust-ncg", "trust-krylov"}
        The solver for ``l1_ratio == 0`` (see :func:`resolve_solver`).
    tol : float or None
        Stop when the largest absolute (projected) gradient entry is at most
        ``tol``; None: when the objective's relative decrease is at most
        :func:`~._solvers.decrease_threshold` (see :mod:`._solvers`).
    max_iter : int
        Iteration limit.
    verbose : int, default=0
        0: silent; 1: a summary line per fit; 2: also a line per iteration;
        3: also the inner solver's work per iteration.
    coef0 : ndarray of shape (n_classes * (n_features + fit_intercept),), optional
        Starting point, flat ``[W, b]``; :func:`initial_coef` if None.
    n_threads : int, optional
        Threads wanted for the objective; chosen from the problem size if None.
        Fewer may be used (see :func:`~._parallel.evaluation_threads`).
    callback : callable, optional
        ``coef -> bool``, called with the flat ``[W, b]`` after each solver
        iteration; True stops the solver.
    min_iter : int, default=0
        Iterations to take before ``tol`` may stop the solver: 1 along a
        warm-started path, whose start may already meet ``tol``.
    penalty_factor : ndarray of shape (n_features,), optional
        Non-negative factors of each feature's penalty (L2 and L1); None: 1.
    bounds : tuple of two ndarrays of shape (n_classes, n_features), optional
        Lower and upper bounds on ``W`` (-inf and inf allowed); the
        intercepts are free. Needs ``solver`` "lbfgs" (or "auto").
    random_state : None, int, RandomState or Generator, default=None
        The sampling order of ``solver="saga"``'s epochs (see :mod:`._sag`).
    l1_type : {"ungrouped", "grouped"}, default="ungrouped"
        ``"grouped"``: the L1 part is :math:`\sum_j f_j \lVert W_{:j}
        \rVert_2`, each feature's coefficients for all classes together
        (``solver="newton-cd"`` only).

    Returns
    -------
    coef : ndarray of shape (n_classes * (n_features + fit_intercept),)
        The solution, flat ``[W, b]``, float64.
    result : SolverResult
        What the solver reached (its ``coef`` is in the solver's variables).
    """
    n_features = data.shape[1]
    n_classes = data.n_classes
    bounded = bounds is not None
    grouped = l1_type == "grouped" and l1_ratio > 0
    solver = resolve_solver(
        solver,
        data,
        l1_ratio,
        bounded,
        penalised=_penalised(C, penalty_factor),
        grouped=grouped,
    )
    if solver == "newton-cd" and not takes_columns(data):
        raise ValueError(
            "solver='newton-cd' (and l1_type='grouped', which needs it) fits "
            "NumPy arrays and SciPy sparse matrices in memory; this data is "
            f"{type(data.X).__module__}.{type(data.X).__name__}. Use "
            "l1_type='ungrouped' with solver='auto' or 'lbfgs'."
        )
    if solver == "trust-krylov" and l1_ratio == 0:
        _warn_about_trlib_memory(n_coef(n_classes, n_features, fit_intercept))
    largest_weight, relative_weight_sum = data.weight_sum_factors()
    priors = data.class_priors()
    if coef0 is None:
        coef0 = initial_coef(priors, n_features, fit_intercept)
    if bounded:  # a feasible start: W = 0 projected onto the bounds
        coef0 = coef0.copy()
        weights0, _ = split_coef(coef0, n_classes, n_features, fit_intercept)
        np.clip(weights0, bounds[0], bounds[1], out=weights0)
    # scikit-learn's scaling: C multiplies the summed, not the mean, loss:
    # 1 / (C S), with S in two factors that cannot overflow on their own (it
    # is 1 / (C n) without weights, bit for bit scikit-learn's).
    penalty = 1.0 / (C * largest_weight * relative_weight_sum)
    if penalty_factor is not None:
        penalty = penalty * penalty_factor  # one strength per feature
    with data.objective((1.0 - l1_ratio) * penalty, fit_intercept, n_threads) as loss:
        # Stop on the gradient alone (ftol=0), so that tol means what it says:
        # scikit-learn also stops when the objective's relative decrease is
        # under 64 * eps, which at small tol can leave the gradient 1000x
        # above tol while reporting success.
        # The stop for tol=None also tests the Jacobi-preconditioned gradient,
        # and large dense problems are solved in scaled variables: both need
        # the Hessian's diagonal at the start (one pass over X).
        change_variables = changes_variables(data.X, l1_ratio) and solver != "newton-cd"
        eps = float(np.finfo(data.dtype).eps)  # of the arithmetic the loss is in
        scaling = None
        if (tol is None and solver != "newton-cd") or change_variables:
            scaling = DiagonalScaling(
                data.column_square_means(),
                priors,
                loss.l2_reg_strength,
                fit_intercept,
            )
        # tol=None: the stop needs the duality gap to certify its promise, in
        # float64 arithmetic. float32 resolves the objective to about 1e-7
        # relative: its line searches stop seeing decreases where the gap is
        # already far under 1e-6 (dense 200,000 x 100 x 10: 9e-10) but the
        # gradient is not yet small enough for the gap's bound (9e-5 there),
        # and chasing it cost 56 failed line-search evaluations. There the
        # estimate decides, as before.
        duality, uncertified = None, ""
        if tol is None:
            duality = DualityGap(
                loss,
                priors,
                l1_ratio * penalty if l1_ratio > 0 else 0.0,
                bounds,
                cache=data.moments_cache,
                grouped=grouped,
            )
            if not duality.available:
                duality, uncertified = None, "coefficients without a penalty"
        # solver="saga"'s epochs compute the gap in float64 whatever X's dtype
        # (_sag): the float32 objective is left to the estimate alone there.
        phase_duality = duality
        if duality is not None and eps > float(np.finfo(np.float64).eps):
            duality, uncertified = None, f"{np.dtype(data.dtype).name} arithmetic"
        phase = None
        if solver == "saga":
            phase, coef0 = _stochastic_phase(
                data, loss, coef0, phase_duality, tol, max_iter, verbose, callback,
                random_state,
            )  # fmt: skip
            if phase.converged or phase.stopped or phase.n_epochs >= max_iter:
                return coef0, _phase_result(phase)
            max_iter -= phase.n_epochs
            solver = "lbfgs" if changes_variables(data.X, l1_ratio) else "newton-cg"
        if solver == "newton-cd":
            from ._cd import fit_newton_cd

            result = fit_newton_cd(
                data,
                loss,
                coef0,
                l1_reg_strength=np.broadcast_to(
                    l1_ratio * penalty, (n_features,)
                ).astype(float),
                grouped=grouped,
                bounds=bounds,
                tol=tol,
                max_iter=max_iter,
                verbose=verbose,
                callback=callback,
                min_iter=min_iter,
                duality=duality,
                uncertified=uncertified,
            )
            return result.coef, result
        if l1_ratio > 0:
            split = SplitL1Loss(loss, l1_ratio * penalty, bounds)
            metric = None
            if scaling is not None:
                n_weights = n_classes * n_features
                inverse = scaling.inverse_diagonal
                metric = np.concatenate(
                    [inverse[:n_weights], inverse[:n_weights], inverse[n_weights:]]
                )
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
                metric=metric,
                eps=eps,
                min_iter=min_iter,
                certificate=None
                if duality is None
                else lambda variables: duality.gap(split.to_coef(variables)),
                uncertified=uncertified,
            )
            return split.to_coef(result.coef), result
        loss_gradient, hessp, start = loss.loss_gradient, loss.hessp, coef0
        if forms_hessian(data, solver, l1_ratio):
            hessp = loss.dense_hessp()
        if change_variables:
            loss_gradient, hessp = scaling.wrap(loss_gradient, hessp)
            start = scaling.from_coef(coef0)
            if callback is not None:
                user_callback = callback

                def callback(variables):
                    return user_callback(scaling.to_coef(variables))

        coef_bounds = _coef_bounds(bounds, fit_intercept)
        gradient_map = scaling.gradient_in_coef if change_variables else None
        if change_variables and coef_bounds is not None:
            # The bounds in the scaled variables (exact: the scales are powers
            # of two); the stopping test projects the gradient as scipy does,
            # in the original coefficients.
            lower, upper, scale = coef_bounds.lb, coef_bounds.ub, scaling.scale
            coef_bounds = optimize.Bounds(lower / scale, upper / scale)

            def gradient_map(variables, gradient):
                coef = variables * scale
                return coef - np.clip(coef - gradient / scale, lower, upper)

        common = {
            "tol": tol,
            "max_iter": max_iter,
            "verbose": verbose,
            "callback": callback,
            "gradient_map": gradient_map,
            "metric": None if scaling is None else scaling.inverse_diagonal,
            "eps": eps,
            "min_iter": min_iter,
            "certificate": None
            if duality is None
            else lambda variables: duality.gap(
                scaling.to_coef(variables) if change_variables else variables
            ),
            "uncertified": uncertified,
        }
        if solver == "lbfgs":
            result = minimize_lbfgs(
                loss_gradient,
                start,
                ftol=0.0,
                bounds=coef_bounds,
                **common,
            )
        else:
            # The objective relative to its start: a scale of 1 lets scipy's
            # inner CG tighten as the gradient shrinks (superlinear
            # convergence); the summed loss is the fallback for where scipy's
            # absolute curvature test stalls it (see minimize_newton); TRLIB
            # (trust-krylov) meets NaN or overflows unless summed. Summed over
            # the weights, not the rows, so that a weight of 2 and a repeated
            # row take the same path; clipped for weights far from 1.
            summed = float(
                np.clip(largest_weight * relative_weight_sum, 1.0, _LARGEST_SCALE)
            )
            objective_scales = (1.0, summed)
            if solver == "trust-krylov":
                objective_scales = (summed,)
            result = minimize_newton(
                solver,
                loss_gradient,
                hessp,
                start,
                objective_scales=objective_scales,
                relative_to_start=True,
                **common,
            )
        coef = scaling.to_coef(result.coef) if change_variables else result.coef
        if phase is not None:  # the epochs count as iterations
            result = dataclasses.replace(result, n_iter=result.n_iter + phase.n_epochs)
        return coef, result


def _stochastic_phase(
    data, loss, coef0, duality, tol, max_iter, verbose, callback, random_state
):
    """Run the compiled SAGA epochs of ``solver="saga"`` (:mod:`._sag`)."""
    if not takes_phase(data):
        if verbose >= 1:
            print(
                "[saga] no stochastic phase: it needs CSR or C-ordered dense X "
                "in memory; scipy solves from the start",
                file=sys.stdout,
            )
        return PhaseResult(coef0, n_epochs=0, converged=False, stopped=False), coef0
    phase = stochastic_phase(
        data,
        loss,
        coef0,
        duality=duality,
        tol=tol,
        max_epochs=min(max_iter, MAX_EPOCHS),
        random_state=random_state,
        verbose=verbose,
        callback=callback,
    )
    return phase, phase.coef


def _phase_result(phase: PhaseResult) -> SolverResult:
    """Return the fit's result where the stochastic phase ended it."""
    status = CONVERGED if phase.converged else STOPPED if phase.stopped else MAX_ITER
    return SolverResult(
        coef=phase.coef,
        loss=phase.objective,
        max_abs_gradient=phase.max_abs_gradient,
        n_iter=phase.n_epochs,
        converged=phase.converged,
        status=status,
        message=f"{phase.n_epochs} SAGA epochs",
        initial_max_abs_gradient=np.nan,
        certified_gap=phase.certified_gap,
    )


def _coef_bounds(bounds, fit_intercept: bool) -> optimize.Bounds | None:
    """Bounds on the weights as bounds on the flat ``[W, b]`` (b is free)."""
    if bounds is None:
        return None
    lower, upper = bounds
    free = np.full(lower.shape[0] if fit_intercept else 0, np.inf)
    return optimize.Bounds(np.r_[lower.ravel(), -free], np.r_[upper.ravel(), free])


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
            stacklevel=user_stacklevel(),
        )


def solver_tol(tol) -> float | None:
    """Return the drivers' ``tol``: None for ``"auto"`` (the decrease test)."""
    return None if isinstance(tol, str) else float(tol)


# At the starting point the gradient is a weighted mean of features times
# (probability - label): with standardised features it is below a few units.
_LARGE_INITIAL_GRADIENT = 100.0


def warn_if_not_converged(
    result: SolverResult, solver: str, max_iter: int, tol: float, dtype
) -> None:
    """Warn, in terms of what happened, when a fit stopped short of ``tol``.

    No warning when the solver converged, or when a callback stopped it (the
    user asked for that).
    """
    if result.status in (CONVERGED, STOPPED):
        return
    if solver_tol(tol) is None:
        reached = (
            "the estimated relative objective gap was "
            f"{result.gap_estimate:.3g} and the largest gradient entry "
            f"{result.max_abs_gradient:.3g}: tol='auto' stops at an estimated "
            f"gap of {gap_threshold(np.finfo(dtype).eps):g} with a small "
            "preconditioned gradient"
        )
    else:
        reached = (
            f"the largest gradient entry reached {result.max_abs_gradient:.3g} > "
            f"tol={tol:g}"
        )
    if result.status == MAX_ITER:
        message = (
            f"{solver} did not converge: it stopped after {result.n_iter} "
            f"iterations (max_iter={max_iter}) and {reached} (scipy: "
            f"{result.message}). Increase max_iter, standardise the features "
            "(e.g. with sklearn.preprocessing.StandardScaler), or decrease C."
        )
    elif result.status == OVERFLOW:
        message = (
            f"{solver} stopped after {result.n_iter} iterations: "
            f"{result.message}, so it cannot go on; {reached}. Features of this "
            "magnitude put the Hessian, of the order of their square, beyond "
            "float64: standardise them (e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )
    elif result.n_iter == 0:
        message = (
            f"{solver} could not decrease the objective from its starting point "
            f"(scipy: {result.message}); {reached}. A line search that fails "
            "at once means the objective's scale defeats it, as features of "
            "extreme magnitude do: standardise them (e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )
    else:
        precision = np.dtype(dtype).name
        message = (
            f"{solver} stopped after {result.n_iter} iterations, before "
            f"max_iter={max_iter}, because the objective no longer decreases in "
            f"{precision} arithmetic (scipy: {result.message}); {reached}. tol is "
            "below what the floating-point objective resolves here, so more "
            "iterations would not help. "
        )
        if result.initial_max_abs_gradient > _LARGE_INITIAL_GRADIENT:
            message += (
                "Gradients scale with the features (the largest entry was "
                f"{result.initial_max_abs_gradient:.3g} at the start): "
                "standardising them (e.g. with sklearn.preprocessing."
                "StandardScaler) makes a small tol reachable."
            )
        else:
            message += (
                "The solution is as accurate as the arithmetic allows: use tol >= "
                f"{result.max_abs_gradient:.1g} (or tol='auto') to accept it "
                "silently" + (", or fit in float64." if precision == "float32" else ".")
            )
    warnings.warn(message, ConvergenceWarning, stacklevel=user_stacklevel())


def solve_with_settings(
    estimator,
    task,
    data: FitData,
    X,
    y,
    classes,
    *,
    C: float,
    l1_ratio: float,
    coef0: np.ndarray | None,
    n_threads: int | None = None,
    metadata: dict | None = None,
    min_iter: int = 0,
) -> tuple[np.ndarray, SolverResult]:
    """Fit one ``(C, l1_ratio)`` with ``estimator``'s solver settings.

    ``data`` is what the solver sees (a backend's :class:`FitData`); ``X``
    and ``y`` are what the callbacks are shown. The estimator's
    ``penalty_factor`` and bounds are checked against the data. Each solver
    iteration is a callback subtask of ``task`` (if callbacks are set); a
    ConvergenceWarning says why the solver stopped short. Returns the flat
    solution ``[W, b]`` and the solver's result.
    """
    n_features = data.shape[1]
    bounds = check_bounds(
        estimator.lower_bounds, estimator.upper_bounds, data.n_classes, n_features
    )
    penalty_factor = check_penalty_factor(estimator.penalty_factor, n_features)
    solver = resolve_solver(
        estimator.solver,
        data,
        l1_ratio,
        bounds is not None,
        penalised=_penalised(C, penalty_factor),
        grouped=getattr(estimator, "l1_type", "ungrouped") == "grouped"
        and l1_ratio > 0,
        warm=coef0 is not None,
    )
    if coef0 is None:
        coef0 = initial_coef(data.class_priors(), n_features, estimator.fit_intercept)
    iterations = None
    if has_callbacks(estimator):
        iterations = IterationTasks(
            task,
            estimator,
            lambda coef: fitted_attributes(
                coef,
                classes,
                n_features,
                estimator.fit_intercept,
                data.dtype,
                data.from_host,
            ),
            coef0,
            f"{solver}-iter",
            X=X,
            y=y,
            metadata=metadata,
        )
    coef, result = fit_coef(
        data,
        C=C,
        l1_ratio=l1_ratio,
        fit_intercept=estimator.fit_intercept,
        solver=solver,
        tol=solver_tol(estimator.tol),
        max_iter=estimator.max_iter,
        verbose=estimator.verbose,
        coef0=coef0,
        n_threads=n_threads,
        callback=iterations,
        min_iter=min_iter,
        penalty_factor=penalty_factor,
        bounds=bounds,
        random_state=getattr(estimator, "random_state", None),
        l1_type=getattr(estimator, "l1_type", "ungrouped"),
    )
    if iterations is not None:
        iterations.close()
    warn_if_not_converged(result, solver, estimator.max_iter, estimator.tol, data.dtype)
    return coef, result
