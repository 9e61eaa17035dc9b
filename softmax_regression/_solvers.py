"""Drivers around :func:`scipy.optimize.minimize`.

Each driver takes a function returning ``(loss, gradient)`` of a flat float64
vector and returns a :class:`SolverResult`; none of them knows about the
model or scikit-learn, and none of them warns: the estimator decides what to
tell the user.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

LossGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]


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
        The largest absolute gradient entry at ``coef``.
    n_iter : int
        Iterations done.
    converged : bool
        Whether the largest absolute gradient entry is at most ``tol``.
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
    """Keeps the last evaluation and, if ``verbose``, prints one line per iteration.

    The columns are the iteration, the objective, the largest absolute
    gradient entry (what ``tol`` is compared with) and the seconds since the
    start.

    Parameters
    ----------
    loss_gradient : callable
        The function being minimised, returning ``(loss, gradient)``.
    verbose : int
        Print nothing if 0.
    name : str
        The solver's name, printed in the header.
    """

    def __init__(self, loss_gradient: LossGradient, verbose: int, name: str) -> None:
        self._loss_gradient = loss_gradient
        self.verbose = verbose
        self.name = name
        self.last_gradient: np.ndarray | None = None
        self.start = time.perf_counter()
        if verbose:
            print(
                f"[{name}] {'iter':>5} {'objective':>22} {'max|grad|':>10} "
                f"{'time (s)':>9}",
                file=sys.stdout,
            )

    def __call__(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient = self._loss_gradient(coef)
        self.last_gradient = gradient
        return loss, gradient

    def report(self, n_iter: int, loss: float, gradient: np.ndarray) -> None:
        """Print one iteration's line if verbose."""
        if self.verbose:
            print(
                f"[{self.name}] {n_iter:>5d} {loss:>22.15e} "
                f"{np.max(np.abs(gradient), initial=0.0):>10.3e} "
                f"{time.perf_counter() - self.start:>9.3f}",
                file=sys.stdout,
            )


def minimize_lbfgs(
    loss_gradient: LossGradient,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    ftol: float,
    verbose: int = 0,
) -> SolverResult:
    """Minimise with L-BFGS-B, configured as scikit-learn's lbfgs solver.

    Stops when the largest absolute gradient entry is at most ``tol``
    (``gtol``), when the relative decrease of the objective is at most
    ``ftol``, or after ``max_iter`` iterations. Up to 50 line-search steps are
    allowed (scipy's default is 20), as in scikit-learn.

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

    Returns
    -------
    result : SolverResult
    """
    log = IterationLog(loss_gradient, verbose, "lbfgs")
    n_iter = 0

    def callback(intermediate_result: optimize.OptimizeResult) -> None:
        nonlocal n_iter
        n_iter += 1
        # L-BFGS-B accepts the point it evaluated last, so the gradient at the
        # new iterate is already known: no extra evaluation for the log.
        log.report(n_iter, intermediate_result.fun, log.last_gradient)

    result = optimize.minimize(
        log if verbose else loss_gradient,
        np.asarray(coef0, dtype=np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=callback if verbose else None,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": ftol},
    )
    max_abs_gradient = float(np.max(np.abs(result.jac), initial=0.0))
    return SolverResult(
        coef=result.x,
        loss=float(result.fun),
        max_abs_gradient=max_abs_gradient,
        n_iter=int(result.nit),
        # Judged on the gradient, not on scipy's status: L-BFGS-B also reports
        # success when the objective stops decreasing at machine precision.
        converged=max_abs_gradient <= tol,
        message=str(result.message),
    )
