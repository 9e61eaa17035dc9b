"""Drivers around :func:`scipy.optimize.minimize`.

Each driver takes a function returning ``(loss, gradient)`` of a flat float64
vector (and, for the Newton methods, a Hessian-vector product) and returns a
:class:`SolverResult`; none of them knows about the model or scikit-learn, and
none of them warns: the estimator decides what to tell the user. All of them
stop on the same test, the largest absolute entry of the (projected) gradient
at most ``tol``, log iterations in the same format, call the same per-iteration
``callback``, and say in the same terms why they stopped.
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
IterationCallback = Callable[[np.ndarray], bool]

NEWTON_METHODS = ("newton-cg", "trust-ncg", "trust-krylov")

# Why a solver stopped: the estimator words its warning from this.
CONVERGED = "converged"  # the gradient test holds
MAX_ITER = "max_iter"  # the iteration limit was reached first
STALLED = "stalled"  # the objective stopped decreasing at machine precision
OVERFLOW = "overflow"  # the products overflow float64: no further progress
STOPPED = "stopped"  # a callback asked to stop

# scipy's Newton methods take inner products of a direction and its Hessian
# product; the driver stops before those could overflow.
_LARGEST_SAFE_PRODUCT = 1e300


@dataclass
class SolverResult:
    """What a solver reached.

    Attributes
    ----------
    coef : ndarray
        The final flat coefficients (finite).
    loss : float
        The objective at ``coef``.
    max_abs_gradient : float
        The largest absolute entry of the (projected) gradient at ``coef``.
    n_iter : int
        Iterations done.
    converged : bool
        Whether ``max_abs_gradient`` is at most ``tol``.
    status : str
        Why it stopped: ``"converged"``, ``"max_iter"``, ``"stalled"`` (the
        objective no longer decreases in floating point), ``"overflow"`` (the
        Hessian products overflow float64) or ``"stopped"`` (by ``callback``).
    message : str
        The solver's own account of why it stopped.
    initial_max_abs_gradient : float
        The largest absolute gradient entry at the starting point: gradients
        scale with the features, so this tells how well scaled they are.
    """

    coef: np.ndarray
    loss: float
    max_abs_gradient: float
    n_iter: int
    converged: bool
    status: str
    message: str
    initial_max_abs_gradient: float


class _OverflowError(Exception):
    """The Newton products left float64's range: scipy cannot go on."""


class IterationLog:
    """Remembers evaluations and accepted iterates; prints one line per iteration.

    The columns are the solver, the iteration, the objective, the largest
    absolute (projected) gradient entry, what ``tol`` is compared with, and the
    seconds since the start.

    Parameters
    ----------
    loss_gradient : callable
        The function being minimised, returning ``(loss, gradient)``.
    coef0 : ndarray
        The starting point, the first accepted iterate.
    verbose : int
        Print nothing if 0.
    name : str
        The solver's name, printed at the start of each line.
    project : callable, optional
        ``(coef, gradient) -> projected gradient``, for bound constraints.
    callback : callable, optional
        ``coef -> bool``, called with each accepted iterate; True stops.
    """

    def __init__(
        self,
        loss_gradient: LossGradient,
        coef0: np.ndarray,
        verbose: int,
        name: str,
        project: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        callback: IterationCallback | None = None,
    ) -> None:
        self._loss_gradient = loss_gradient
        self.verbose = verbose
        self.name = name
        self.project = project
        self.callback = callback
        self.last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.initial_max_abs_gradient = np.nan
        self.accepted = np.array(coef0, dtype=np.float64)
        self.n_iter = 0
        self.stopped = False
        self.start = time.perf_counter()
        if verbose:
            print(
                f"[{name}] {'iter':>5} {'objective':>22} {'max|grad|':>10} "
                f"{'time (s)':>9}",
                file=sys.stdout,
            )

    def __call__(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient = self._loss_gradient(coef)
        if self.last is None:  # the starting point: solvers evaluate it first
            self.initial_max_abs_gradient = float(np.max(np.abs(gradient), initial=0))
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

    def iteration_done(self, coef: np.ndarray, tol: float | None = None) -> bool:
        """Record an accepted iterate, print its line, and say whether to stop.

        Returns True when ``callback`` asks to stop, or when the gradient test
        holds and ``tol`` is given (for the drivers that test it themselves).
        """
        self.n_iter += 1
        self.accepted = coef.copy()
        stop = False
        if self.verbose or tol is not None:
            loss, max_abs_gradient = self.max_abs_gradient_at(coef)
            if self.verbose:
                print(
                    f"[{self.name}] {self.n_iter:>5d} {loss:>22.15e} "
                    f"{max_abs_gradient:>10.3e} "
                    f"{time.perf_counter() - self.start:>9.3f}",
                    file=sys.stdout,
                )
            stop = tol is not None and max_abs_gradient <= tol
        if self.callback is not None and self.callback(coef):
            self.stopped = stop = True
        return stop

    def scipy_callback(self, tol: float | None = None):
        """Return a ``callback(intermediate_result)`` for scipy that stops as asked."""

        def callback(intermediate_result: optimize.OptimizeResult) -> None:
            if self.iteration_done(intermediate_result.x, tol):
                raise StopIteration

        return callback

    def result(self, x: np.ndarray, tol: float, status: str, message) -> SolverResult:
        """Return the result at ``x`` (the last accepted iterate if not finite).

        ``status`` is scipy's reason in the driver's terms; it is replaced by
        ``"converged"`` when the gradient test holds at the returned point
        (convergence is judged on the gradient, not on scipy's status: L-BFGS-B
        also reports success when the objective stops decreasing at machine
        precision), and by ``"stopped"`` when a callback stopped the solver.
        """
        if not np.all(np.isfinite(x)):
            x, status = self.accepted, OVERFLOW
        loss, max_abs_gradient = self.max_abs_gradient_at(x)
        if not np.isfinite(loss) and x is not self.accepted:
            x, status = self.accepted, OVERFLOW
            loss, max_abs_gradient = self.max_abs_gradient_at(x)
        converged = max_abs_gradient <= tol
        if converged:
            status = CONVERGED
        elif self.stopped:
            status = STOPPED
        return SolverResult(
            coef=x,
            loss=float(loss),
            max_abs_gradient=max_abs_gradient,
            n_iter=self.n_iter,
            converged=converged,
            status=status,
            message=str(message),
            initial_max_abs_gradient=self.initial_max_abs_gradient,
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
    callback: IterationCallback | None = None,
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
    callback : callable, optional
        ``coef -> bool`` called after each iteration; True stops the solver.

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

    coef0 = np.asarray(coef0, dtype=np.float64)
    log = IterationLog(loss_gradient, coef0, verbose, "lbfgs", project, callback)
    if max_iter == 0:  # scipy would still take one step
        return log.result(
            coef0, tol, MAX_ITER, "max_iter=0: no iteration was asked for"
        )
    result = optimize.minimize(
        log,
        coef0,
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        callback=log.scipy_callback(),
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": ftol},
    )
    # status 1: iteration (or evaluation) limit; 0 and 2: no further decrease
    # (ftol, or a line search that found none); 99: a callback stopped it.
    status = MAX_ITER if result.status == 1 else STALLED
    return log.result(result.x, tol, status, result.message)


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
    callback: IterationCallback | None = None,
) -> SolverResult:
    """Minimise with a Newton method of scipy that uses Hessian-vector products.

    ``"newton-cg"`` (line search), ``"trust-ncg"`` (Steihaug's truncated CG in
    a trust region) and ``"trust-krylov"`` (nearly exact trust-region steps,
    GLTR). scipy's own stopping tests (a small step for newton-cg, the
    gradient's 2-norm for the trust-region methods) are switched off; the
    driver stops them when the largest absolute gradient entry is at most
    ``tol``, as for L-BFGS-B.

    scipy takes inner products of directions and their Hessian products; on
    features of extreme magnitude (around 1e80 in float64) those overflow, and
    scipy's truncated CG would then loop forever on NaN. The driver checks each
    product first and, where an inner product could overflow, stops with the
    last accepted iterate and status ``"overflow"``.

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
    callback : callable, optional
        ``coef -> bool`` called after each iteration; True stops the solver.

    Returns
    -------
    result : SolverResult
    """
    coef0 = np.asarray(coef0, dtype=np.float64)
    log = IterationLog(loss_gradient, coef0, verbose, method, callback=callback)

    def check_inner_products(left: np.ndarray, right: np.ndarray, what: str):
        # scipy takes left @ right next: bound it by Cauchy-Schwarz, in Python
        # floats (which overflow to inf quietly).
        bound = (
            float(np.max(np.abs(left), initial=0.0))
            * float(np.max(np.abs(right), initial=0.0))
            * left.size
        )
        if not bound < _LARGEST_SAFE_PRODUCT:  # also catches inf and nan
            raise _OverflowError(f"{what} overflow float64")

    def scaled_loss_gradient(coef):
        loss, gradient = log(coef)
        with np.errstate(over="ignore"):  # an inf gradient is caught just below
            gradient = objective_scale * gradient
        check_inner_products(gradient, gradient, "the gradient's inner products")
        return objective_scale * loss, gradient

    def scaled_hessp(coef, direction):
        with np.errstate(over="ignore"):  # an inf product is caught just below
            product = objective_scale * hessp(coef, direction)
        check_inner_products(direction, product, "the Hessian-vector products")
        return product

    if log.max_abs_gradient_at(coef0)[1] <= tol:  # e.g. a warm start at the optimum
        return log.result(coef0, tol, CONVERGED, "the starting point meets tol")
    if max_iter == 0:  # scipy's trust-region methods would still take one step
        return log.result(
            coef0, tol, MAX_ITER, "max_iter=0: no iteration was asked for"
        )
    options = {"maxiter": max_iter}
    if method == "newton-cg":
        options["xtol"] = 1e-300  # relative step size: never the reason to stop
    else:
        options["gtol"] = 0.0
    try:
        result = optimize.minimize(
            scaled_loss_gradient,
            coef0,
            method=method,
            jac=True,
            hessp=scaled_hessp,
            callback=log.scipy_callback(tol),
            options=options,
        )
    except _OverflowError as error:
        return log.result(log.accepted, tol, OVERFLOW, error)
    status = MAX_ITER if log.n_iter >= max_iter else STALLED
    return log.result(result.x, tol, status, result.message)
