"""Drivers around :func:`scipy.optimize.minimize`.

Each driver takes a function returning ``(loss, gradient)`` of a flat float64
vector (and, for the Newton methods, a Hessian-vector product) and returns a
:class:`SolverResult`; none of them knows about the model or scikit-learn, and
none of them warns: the estimator decides what to tell the user. All of them
stop on the same test, the largest absolute entry of the (projected) gradient
at most ``tol``, and log iterations in the same format.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

LossGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]
HessianProduct = Callable[[np.ndarray, np.ndarray], np.ndarray]

NEWTON_METHODS = ("newton-cg", "trust-ncg", "trust-krylov")


@dataclass
class SolverResult:
    """What a solver reached.

    Attributes
    ----------
    coef : ndarray
        The final flat coefficients.
    loss : float
        The objective at ``coef``.
    max_abs_gradient : float
        The largest absolute entry of the (projected) gradient at ``coef``.
    n_iter : int
        Iterations done.
    converged : bool
        Whether ``max_abs_gradient`` is at most ``tol``.
    message : str
        The solver's account of why it stopped.
    """

    coef: np.ndarray
    loss: float
    max_abs_gradient: float
    n_iter: int
    converged: bool
    message: str


class IterationLog:
    """Remembers the last evaluation and prints one line per iteration.

    The columns are the solver, the iteration, the objective, the largest
    absolute (projected) gradient entry, what ``tol`` is compared with, and the
    seconds since the start.

    Parameters
    ----------
    loss_gradient : callable
        The function being minimised, returning ``(loss, gradient)``.
    verbose : int
        Print nothing if 0.
    name : str
        The solver's name, printed at the start of each line.
    project : callable, optional
        ``(coef, gradient) -> projected gradient``, for bound constraints.
    """

    def __init__(
        self,
        loss_gradient: LossGradient,
        verbose: int,
        name: str,
        project: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self._loss_gradient = loss_gradient
        self.verbose = verbose
        self.name = name
        self.project = project
        self.last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.start = time.perf_counter()
        if verbose:
            print(
                f"[{name}] {'iter':>5} {'objective':>22} {'max|grad|':>10} "
                f"{'time (s)':>9}",
                file=sys.stdout,
            )

    def __call__(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient = self._loss_gradient(coef)
        self.last = (coef.copy(), loss, gradient)
        return loss, gradient

    def max_abs_gradient_at(self, coef: np.ndarray) -> tuple[float, float]:
        """Objective and largest absolute (projected) gradient entry at ``coef``.

        Uses the last evaluation if it was at ``coef`` (the usual case: line
        searches end on the point they accept), evaluates otherwise (after a
        rejected trust-region step).
        """
        if self.last is None or not np.array_equal(coef, self.last[0]):
            self(coef)
        _, loss, gradient = self.last
        if self.project is not None:
            gradient = self.project(coef, gradient)
        return loss, float(np.max(np.abs(gradient), initial=0.0))

    def report(self, n_iter: int, loss: float, max_abs_gradient: float) -> None:
        """Print one iteration's line if verbose."""
        if self.verbose:
            print(
                f"[{self.name}] {n_iter:>5d} {loss:>22.15e} "
                f"{max_abs_gradient:>10.3e} {time.perf_counter() - self.start:>9.3f}",
                file=sys.stdout,
            )


def _result(log: IterationLog, x: np.ndarray, n_iter: int, tol: float, message):
    loss, max_abs_gradient = log.max_abs_gradient_at(x)
    return SolverResult(
        coef=x,
        loss=float(loss),
        max_abs_gradient=max_abs_gradient,
        n_iter=int(n_iter),
        # Judged on the gradient, not on scipy's status: L-BFGS-B also reports
        # success when the objective stops decreasing at machine precision.
        converged=max_abs_gradient <= tol,
        message=str(message),
    )


def minimize_lbfgs(
    loss_gradient: LossGradient,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    ftol: float,
    verbose: int = 0,
    bounds: optimize.Bounds | None = None,
) -> SolverResult:
    """Minimise with L-BFGS-B, configured as scikit-learn's lbfgs solver.

    Stops when the largest absolute entry of the projected gradient is at
    most ``tol`` (``gtol``), when the relative decrease of the objective is at
    most ``ftol``, or after ``max_iter`` iterations. Up to 50 line-search
    steps are allowed (scipy's default is 20), as in scikit-learn.

    Parameters
    ----------
    loss_gradient : callable
        ``coef -> (loss, gradient)``.
    coef0 : ndarray of shape (n_coef,)
        Starting point.
    tol : float
        Gradient tolerance.
    max_iter : int
        Iteration limit.
    ftol : float
        Relative objective decrease under which the solver stops.
    verbose : int, default=0
        Print one line per iteration if positive.
    bounds : scipy.optimize.Bounds, optional
        Box constraints; the gradient is then projected onto them.

    Returns
    -------
    result : SolverResult
    """
    project = None
    if bounds is not None:
        lower, upper = bounds.lb, bounds.ub

        def project(coef, gradient):
            # scipy's projected gradient: zero where a bound blocks descent.
            return coef - np.clip(coef - gradient, lower, upper)

    log = IterationLog(loss_gradient, verbose, "lbfgs", project)
    n_iter = 0

    def callback(intermediate_result: optimize.OptimizeResult) -> None:
        nonlocal n_iter
        n_iter += 1
        log.report(n_iter, *log.max_abs_gradient_at(intermediate_result.x))

    result = optimize.minimize(
        log,
        np.asarray(coef0, dtype=np.float64),
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        callback=callback if verbose else None,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": ftol},
    )
    return _result(log, result.x, result.nit, tol, result.message)


def minimize_newton(
    method: str,
    loss_gradient: LossGradient,
    hessp: HessianProduct,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    verbose: int = 0,
    objective_scale: float = 1.0,
) -> SolverResult:
    """Minimise with a Newton method of scipy that uses Hessian-vector products.

    ``"newton-cg"`` (line search), ``"trust-ncg"`` (Steihaug's truncated CG in
    a trust region) and ``"trust-krylov"`` (nearly exact trust-region steps,
    GLTR). scipy's own stopping tests (a small step for newton-cg, the
    gradient's 2-norm for the trust-region methods) are switched off; the
    driver stops them when the largest absolute gradient entry is at most
    ``tol``, as for L-BFGS-B.

    Parameters
    ----------
    method : {"newton-cg", "trust-ncg", "trust-krylov"}
        The scipy method.
    loss_gradient : callable
        ``coef -> (loss, gradient)``.
    hessp : callable
        ``(coef, direction) -> Hessian at coef times direction``.
    coef0 : ndarray of shape (n_coef,)
        Starting point.
    tol : float
        Gradient tolerance.
    max_iter : int
        Iteration limit.
    verbose : int, default=0
        Print one line per iteration if positive.
    objective_scale : float, default=1.0
        scipy is handed the objective times this factor (same minimiser);
        ``tol``, the log and the result refer to the unscaled objective.
        scipy's newton-cg ends its inner CG, returning a zero step and
        reporting success, once the curvature along the gradient falls under
        3 machine epsilons in absolute terms: for a mean loss (gradients of
        1e-8, curvature of 1e-15) that happens far above a small ``tol``.
        Scaling by the number of samples (the summed loss) keeps it away.

    Returns
    -------
    result : SolverResult
    """
    log = IterationLog(loss_gradient, verbose, method)

    def scaled_loss_gradient(coef):
        loss, gradient = log(coef)
        return objective_scale * loss, objective_scale * gradient

    def scaled_hessp(coef, direction):
        return objective_scale * hessp(coef, direction)

    coef0 = np.asarray(coef0, dtype=np.float64)
    n_iter = 0

    def callback(intermediate_result: optimize.OptimizeResult) -> None:
        nonlocal n_iter
        n_iter += 1
        loss, max_abs_gradient = log.max_abs_gradient_at(intermediate_result.x)
        log.report(n_iter, loss, max_abs_gradient)
        if max_abs_gradient <= tol:
            raise StopIteration

    if log.max_abs_gradient_at(coef0)[1] <= tol:  # e.g. a warm start at the optimum
        return _result(log, coef0, 0, tol, "the starting point meets tol")
    options = {"maxiter": max_iter}
    if method == "newton-cg":
        options["xtol"] = 1e-300  # relative step size: never the reason to stop
    else:
        options["gtol"] = 0.0
    result = optimize.minimize(
        scaled_loss_gradient,
        coef0,
        method=method,
        jac=True,
        hessp=scaled_hessp,
        callback=callback,
        options=options,
    )
    return _result(log, result.x, n_iter, tol, result.message)
