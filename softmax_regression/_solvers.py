"""Drivers around :func:`scipy.optimize.minimize`.

Each driver takes a function returning ``(loss, gradient)`` of a flat float64
vector (and, for the Newton methods, a Hessian-vector product) and returns a
:class:`SolverResult`; none of them knows about the model or scikit-learn, and
none of them warns: the estimator decides what to tell the user. All of them
stop on the same tests, log iterations in the same format, call the same
per-iteration ``callback``, and say in the same terms why they stopped.

The two stopping tests:

- ``tol`` a float: the largest absolute entry of the (projected) gradient is
  at most ``tol``.
- ``tol=None`` (the estimators' ``tol="auto"``): the estimated relative
  objective gap ``(f - f*) / |f|`` is at most :data:`GAP_ESTIMATE`, a tenth of
  the 1e-6 the estimators promise (:meth:`IterationLog.gap_estimate`). Over a
  window of iterations (one Newton iteration, ten L-BFGS-B iterations,
  :func:`decrease_window`) the objective decreased by ``d`` and the
  Jacobi-preconditioned squared gradient ``|g|^2_D`` shrank by a factor
  ``r``; near the optimum the gap is about ``|g|^2_D`` up to a constant, so
  the gaps shrink by ``r`` per window too, and the gap left is
  ``d r / (1 - r)``. The window's decrease must also match the previous
  window's estimate within a factor of 10 (a step cut short far from the
  optimum decreases the objective by little while the gradient happens to
  shrink), and the Jacobi-preconditioned gap ``|g|^2_D / 2`` itself must be
  at most :data:`JACOBI_GAP`. L-BFGS-B must also have decreased the
  objective by at most :data:`RELATIVE_DECREASE` over its window (its
  gradient is not monotone, and the estimate alone stopped it early on
  ill-conditioned data). Neither depends on how the features are scaled,
  unlike the gradient test. Measured on 42 trajectories (every solver; iris,
  digits, wine and breast cancer raw and standardised, dense, float32, 50
  classes, sparse text-like at C=1 and C=10, elastic net): the gap where the
  rule stopped was at most 4e-7; Newton methods stopped at the first
  iteration under 1e-6 or the one after it on 24 of 26.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.sparse.linalg import LinearOperator, cg

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

# tol=None (see the module docstring): stop when the estimated relative gap is
# at most GAP_ESTIMATE, the estimate is consistent with the last window's
# decrease (at least CONSISTENT_DECREASE times the previous estimate), the
# Jacobi-preconditioned gap is at most JACOBI_GAP and, for L-BFGS-B, the
# objective decreased by at most RELATIVE_DECREASE over the last ten
# iterations.
GAP_ESTIMATE = 1e-7
CONSISTENT_DECREASE = 0.1
# tol=None also needs the duality gap (softmax_regression._duality), where
# there is one, to certify a relative gap of at most this: the promise.
CERTIFIED_GAP = 1e-6
RELATIVE_DECREASE = 1e-6
_FLOAT64_EPS = float(np.finfo(np.float64).eps)


# Evaluations without an accepted step after which an L-BFGS-B fit in
# float32 arithmetic whose estimates hold ends (IterationLog.line_search_limit).
_FLOAT32_LINE_SEARCH_LIMIT = 5

# The Jacobi-preconditioned gap estimate understates the gap by up to 40x on
# digits, 2-5x on the dense benchmarks: on its own it is only a guard.
JACOBI_GAP = 1e-7


def decrease_window(method: str) -> int:
    """Return the iterations over which ``tol=None`` measures the decrease."""
    return 1 if method in NEWTON_METHODS else 10


def decrease_threshold(method: str, eps: float = _FLOAT64_EPS) -> float:
    """Return the relative decrease over a window under which ``tol=None`` may stop.

    :data:`RELATIVE_DECREASE` for L-BFGS-B, at least 10 ``eps`` (the machine
    epsilon of the arithmetic the objective is computed in: with float32
    data, decreases under that are rounding); no bound for the Newton
    methods, whose gap estimate alone decides.
    """
    if method in NEWTON_METHODS:
        return np.inf
    return max(RELATIVE_DECREASE, 10 * eps)


def gap_threshold(eps: float = _FLOAT64_EPS) -> float:
    """Return the estimated relative gap at which ``tol=None`` stops.

    :data:`GAP_ESTIMATE`, or the machine epsilon of the arithmetic the
    objective is computed in if larger (float32: its decreases under that are
    rounding, and newton-cg's inner CG chasing them runs to its limit).
    """
    return max(GAP_ESTIMATE, eps)


# scipy's Newton methods take inner products of a direction and its Hessian
# product; the driver stops before those could overflow.
_LARGEST_SAFE_PRODUCT = 1e300
# scipy's newton-cg ends its inner CG on a curvature p'Hp in [0, 3 eps].
_CG_CURVATURE_FLOOR = 3 * np.finfo(np.float64).eps
_CURVATURE_STALLS = 3


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
        Whether the stopping test holds: ``max_abs_gradient`` at most ``tol``
        or, for ``tol=None``, the estimated relative gap at most
        :func:`gap_threshold` (see the module docstring).
    status : str
        Why it stopped: ``"converged"``, ``"max_iter"``, ``"stalled"`` (the
        objective no longer decreases in floating point), ``"overflow"`` (the
        Hessian products overflow float64) or ``"stopped"`` (by ``callback``).
    message : str
        The solver's own account of why it stopped.
    initial_max_abs_gradient : float
        The largest absolute gradient entry at the starting point: gradients
        scale with the features, so this tells how well scaled they are.
    relative_decrease : float
        The objective's relative decrease over the last window of iterations
        (NaN before any iteration).
    gap_estimate : float
        The estimated relative gap at the last accepted iterate (see
        :meth:`IterationLog.gap_estimate`).
    certified_gap : float
        For ``tol=None``, the relative duality gap at the last point the
        stop asked for it (an upper bound on the relative gap there; NaN if
        never asked, inf without a certificate).
    """

    coef: np.ndarray
    loss: float
    max_abs_gradient: float
    n_iter: int
    converged: bool
    status: str
    message: str
    initial_max_abs_gradient: float
    relative_decrease: float = np.nan
    gap_estimate: float = np.nan
    certified_gap: float = np.nan


class _OverflowError(Exception):
    """The Newton products left float64's range: scipy cannot go on."""


class _NoiseFloorError(Exception):
    """A line search took many evaluations where the stop's estimates already hold."""


class _NextScaleError(Exception):
    """scipy's newton-cg met its absolute curvature floor: rescale and go on."""


# What the summary line of verbose >= 1 says for each reason to stop.
_REASONS = {
    MAX_ITER: "reached max_iter",
    STALLED: "the objective stopped decreasing in floating point",
    OVERFLOW: "the Hessian products overflow float64",
    STOPPED: "a callback asked to stop",
}


class IterationLog:
    """Remembers evaluations and accepted iterates; reports progress.

    With ``verbose >= 1`` it prints one summary line per fit when the driver
    asks for the result: the iterations, the seconds, the final objective and
    largest absolute gradient entry, and why the solver stopped. With
    ``verbose >= 2`` also one line per iteration: the solver, the iteration,
    the objective, the largest absolute (projected) gradient entry and the
    seconds since the start; with ``verbose >= 3`` each line also gives the
    inner solver's work since the previous one (objective evaluations, that is
    line-search steps, and Hessian-vector products, that is inner CG or
    Lanczos steps) and the largest absolute change of a coefficient.

    Parameters
    ----------
    loss_gradient : callable
        The function being minimised, returning ``(loss, gradient)``.
    coef0 : ndarray
        The starting point, the first accepted iterate.
    verbose : int
        Print nothing if 0 (see above).
    name : str
        The solver's name, printed at the start of each line.
    project : callable, optional
        ``(coef, gradient) -> gradient to test``: the projected gradient for
        bound constraints, or the gradient in the user's variables after a
        change of variables.
    callback : callable, optional
        ``coef -> bool``, called with each accepted iterate; True stops.
    tol : float or None, default=None
        The stopping test (see the module docstring).
    window : int, default=1
        Iterations over which ``tol=None`` measures the objective's decrease.
    decrease : float, default=RELATIVE_DECREASE
        For ``tol=None``, the relative decrease over ``window`` above which
        it does not stop (``inf``: no such test).
    gap : float, default=GAP_ESTIMATE
        For ``tol=None``, the estimated relative gap (:meth:`gap_estimate`)
        above which it does not stop.
    metric : ndarray, optional
        The inverse of the Hessian's diagonal, for the Jacobi-preconditioned
        squared gradient ``|g|^2_D = sum(metric * g**2)`` of the tested
        gradient ``g`` that :meth:`gap_estimate` follows (the plain squared
        gradient if None). For ``tol=None``, ``|g|^2_D / (2 |f|)`` must also
        be at most :data:`JACOBI_GAP`: a slow method (L-BFGS on badly scaled
        features) can decrease the objective by little while far from the
        optimum.
    min_iter : int, default=0
        Never stop on the test before this many iterations (a warm start
        that already meets ``tol`` still takes a step).
    certificate : callable, optional
        ``coef -> (objective, gap)``, an upper bound on the objective's gap
        at an accepted iterate (:class:`~._duality.DualityGap`, in the
        solver's variables). For ``tol=None`` the test also needs
        ``gap / max(objective - gap, 1e-3 f0)`` to be at most
        ``certified`` (asked only once the other conditions hold).
    certified : float, default=CERTIFIED_GAP
        The relative gap the certificate must show.
    uncertified : str, default=""
        Without ``certificate``, why there is none (for the summary line).
    line_search_limit : int, optional
        For ``tol=None``: evaluations without an accepted step after which
        the fit ends at the last accepted iterate, if there the gap estimate
        and the Jacobi gap already hold (only the window's decrease does
        not). For float32 arithmetic, whose objective L-BFGS-B's line search
        cannot resolve near the optimum: on 2,000,000 x 100 x 10 float32 two
        line searches at the floor took 58 of 82 evaluations.
    """

    def __init__(
        self,
        loss_gradient: LossGradient,
        coef0: np.ndarray,
        verbose: int,
        name: str,
        project: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        callback: IterationCallback | None = None,
        tol: float | None = None,
        window: int = 1,
        decrease: float = RELATIVE_DECREASE,
        gap: float = GAP_ESTIMATE,
        metric: np.ndarray | None = None,
        min_iter: int = 0,
        certificate: Callable[[np.ndarray], tuple[float, float]] | None = None,
        certified: float = CERTIFIED_GAP,
        uncertified: str = "",
        line_search_limit: int | None = None,
    ) -> None:
        self._loss_gradient = loss_gradient
        self.line_search_limit = line_search_limit
        self.at_noise_floor = False
        self._evaluations_when_accepted = 0
        self._accepted_evaluation: tuple[np.ndarray, float, np.ndarray] | None = None
        self.certificate = certificate
        self.certified = certified
        self.uncertified = uncertified
        self.certified_gap = np.nan
        self._certified_at: np.ndarray | None = None
        self.gap = gap
        self.min_iter = min_iter
        self.metric = metric
        self.verbose = verbose
        self.name = name
        self.project = project
        self.callback = callback
        self.tol = tol
        self.window = window
        self.decrease = decrease
        self.last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.initial_max_abs_gradient = np.nan
        self.initial_loss = np.nan
        self.accepted = np.array(coef0, dtype=np.float64)
        self.accepted_losses: list[float] = []
        # |g|^2_D at the start and at each accepted iterate, and the gap
        # estimate at each accepted iterate.
        self._gradient_squares: list[float] = []
        self._gap_estimates: list[float] = []
        self.n_iter = 0
        self.stopped = False
        self.start = time.perf_counter()
        # The inner solver's work: counted always (cheap), printed at verbose 3.
        self.n_evaluations = 0
        self.n_hessian_products = 0
        self._reported = (0, 0)
        if verbose >= 2:
            detail = (
                f" {'evals':>5} {'Hv':>5} {'max|step|':>10}" if verbose >= 3 else ""
            )
            print(
                f"[{name}] {'iter':>5} {'objective':>22} {'max|grad|':>10} "
                f"{'time (s)':>9}" + detail,
                file=sys.stdout,
            )

    def __call__(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        if self.last is not None and np.array_equal(coef, self.last[0]):
            return self.last[1], self.last[2]  # e.g. scipy's first, at coef0
        loss, gradient = self._loss_gradient(coef)
        self.n_evaluations += 1
        if self.last is None:  # the starting point: solvers evaluate it first
            self.initial_max_abs_gradient = float(np.max(np.abs(gradient), initial=0))
            self.initial_loss = float(loss)
            tested = gradient if self.project is None else self.project(coef, gradient)
            self._gradient_squares.append(self._gradient_square(tested))
        self.last = (coef.copy(), loss, gradient)
        if (
            self.line_search_limit is not None
            and not self.at_noise_floor
            and self.n_evaluations - self._evaluations_when_accepted
            >= self.line_search_limit
            and self._estimates_hold()
        ):
            self.at_noise_floor = True
            raise _NoiseFloorError
        return loss, gradient

    def _estimates_hold(self) -> bool:
        """Whether the stop's estimates hold at the last accepted iterate.

        All of ``tol=None``'s test but the window's decrease and the
        certificate: what a line search that finds no decrease leaves.
        """
        return (
            self.tol is None
            and self.metric is not None
            and self.n_iter >= max(1, self.min_iter)
            and self._gap_estimate_holds()
            and self._jacobi_gap_is_small()
        )

    def max_abs_gradient_at(self, coef: np.ndarray) -> tuple[float, float]:
        """Objective and largest absolute (projected) gradient entry at ``coef``.

        Uses the last evaluation if it was at ``coef`` (the usual case: line
        searches end on the point they accept), evaluates otherwise (after a
        rejected trust-region step).
        """
        if self.last is None or not np.array_equal(coef, self.last[0]):
            if self._accepted_evaluation is not None and np.array_equal(
                coef, self._accepted_evaluation[0]
            ):
                # Back at the accepted iterate after a failed line search.
                self.last = self._accepted_evaluation
            else:
                self(coef)
        _, loss, gradient = self.last
        if self.project is not None:
            gradient = self.project(coef, gradient)
        self.tested_gradient = (loss, gradient)
        return loss, float(np.max(np.abs(gradient), initial=0.0))

    def relative_decrease(self) -> float:
        """Return the objective's relative decrease over the last ``window`` steps."""
        # Over the iterations there are, up to the window: a warm start at the
        # optimum stops after one (the Jacobi test guards a short history).
        losses = [self.initial_loss, *self.accepted_losses]
        window = min(self.window, len(losses) - 1)
        if window < 1:
            return np.nan
        return (losses[-1 - window] - losses[-1]) / self._reference(losses[-1])

    def _gradient_square(self, gradient: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # inf or nan: no estimate
            if self.metric is None:
                return float(gradient @ gradient)
            return float(self.metric @ np.square(gradient))

    def gap_estimate(self) -> float:
        """Estimate the relative gap ``(f - f*) / |f|`` at the last accepted iterate.

        ``d r / (1 - r)`` with ``d`` the relative decrease over the last
        ``window`` iterations and ``r`` the factor by which ``|g|^2_D``
        shrank over them (see the module docstring); ``inf`` if it did not
        shrink (no evidence of convergence), NaN before any iteration.
        """
        squares = self._gradient_squares
        window = min(self.window, len(squares) - 1)
        if window < 1 or len(squares) != len(self.accepted_losses) + 1:
            return np.nan
        before, now = squares[-1 - window], squares[-1]
        ratio = now / before if before > 0 else 0.0
        if not ratio < 1:
            return np.inf
        return self.relative_decrease() * ratio / (1.0 - ratio)

    def _gap_estimate_holds(self) -> bool:
        estimates = self._gap_estimates
        if not estimates or not estimates[-1] <= self.gap:
            return False
        # The previous window's estimate predicted about this window's
        # decrease; a decrease far under it is a step cut short, not
        # convergence.
        window = min(self.window, len(estimates))
        if len(estimates) > window and np.isfinite(estimates[-1 - window]):
            return (
                self.relative_decrease() >= CONSISTENT_DECREASE * estimates[-1 - window]
            )
        return True

    def _reference(self, loss: float) -> float:
        # Relative to the objective, but not to an objective near zero (nearly
        # separable data, large C): at least 1e-3 of the starting objective.
        return max(abs(loss), 1e-3 * abs(self.initial_loss), 1e-300)

    def test(self, max_abs_gradient: float) -> bool:
        """Whether the stopping test holds for the last accepted iterate."""
        if self.tol is not None:
            return max_abs_gradient <= self.tol
        if not self.relative_decrease() <= self.decrease:
            return False
        return (
            self._gap_estimate_holds()
            and self._jacobi_gap_is_small()
            and self._certificate_holds()
        )

    def _certificate_holds(self) -> bool:
        """Whether the duality gap at the last accepted iterate keeps the promise."""
        if self.certificate is None:
            return True
        if self._certified_at is not None and np.array_equal(
            self._certified_at, self.accepted
        ):
            # Asked again at the same iterate (result() reruns the test): one
            # pass over the probabilities, and an evaluation if the last one
            # was elsewhere, spared.
            return bool(self.certified_gap <= self.certified)
        self._certified_at = self.accepted.copy()
        objective, gap = self.certificate(self.accepted)
        # Relative to the dual bound (f* >= it), or to a thousandth of the
        # starting objective where f* is near zero (see _reference).
        reference = max(objective - gap, 1e-3 * abs(self.initial_loss), 1e-300)
        self.certified_gap = gap / reference if np.isfinite(gap) else np.inf
        return bool(self.certified_gap <= self.certified)

    def _jacobi_gap_is_small(self) -> bool:
        if self.metric is None:
            return True
        loss, _ = self.tested_gradient
        estimate = 0.5 * self._gradient_squares[-1]  # inf or nan: not converged
        return estimate <= JACOBI_GAP * self._reference(loss)

    def iteration_done(self, coef: np.ndarray, test: bool = True) -> bool:
        """Record an accepted iterate, print its line, and say whether to stop.

        Returns True when ``callback`` asks to stop, or when ``test`` is True
        and the stopping test holds (drivers whose scipy method tests the
        gradient itself pass False).
        """
        self.n_iter += 1
        self._evaluations_when_accepted = self.n_evaluations
        previous, self.accepted = self.accepted, coef.copy()
        loss, max_abs_gradient = self.max_abs_gradient_at(coef)
        self._accepted_evaluation = self.last
        self.accepted_losses.append(loss)
        self._gradient_squares.append(self._gradient_square(self.tested_gradient[1]))
        self._gap_estimates.append(self.gap_estimate())
        if self.verbose >= 2:
            line = (
                f"[{self.name}] {self.n_iter:>5d} {loss:>22.15e} "
                f"{max_abs_gradient:>10.3e} "
                f"{time.perf_counter() - self.start:>9.3f}"
            )
            if self.verbose >= 3:
                evaluations, products = self._reported
                step = float(np.abs(coef - previous).max(initial=0.0))
                line += (
                    f" {self.n_evaluations - evaluations:>5d} "
                    f"{self.n_hessian_products - products:>5d} {step:>10.3e}"
                )
                self._reported = (self.n_evaluations, self.n_hessian_products)
            print(line, file=sys.stdout)
        stop = test and self.n_iter >= self.min_iter and self.test(max_abs_gradient)
        if self.callback is not None and self.callback(coef):
            self.stopped = stop = True
        return stop

    def scipy_callback(self, test: bool = True):
        """Return a ``callback(intermediate_result)`` for scipy that stops as asked."""

        def callback(intermediate_result: optimize.OptimizeResult) -> None:
            if self.iteration_done(intermediate_result.x, test):
                raise StopIteration

        return callback

    def result(self, x: np.ndarray, status: str, message) -> SolverResult:
        """Return the result at ``x`` (the last accepted iterate if not finite).

        ``status`` is scipy's reason in the driver's terms; it is replaced by
        ``"converged"`` when the stopping test holds at the returned point
        (convergence is judged by our test, not by scipy's status: L-BFGS-B
        also reports success when the objective stops decreasing at machine
        precision), and by ``"stopped"`` when a callback stopped the solver.
        """
        if not np.all(np.isfinite(x)):
            x, status = self.accepted, OVERFLOW
        loss, max_abs_gradient = self.max_abs_gradient_at(x)
        if not np.isfinite(loss) and x is not self.accepted:
            x, status = self.accepted, OVERFLOW
            loss, max_abs_gradient = self.max_abs_gradient_at(x)
        if self.tol is None:
            # Where scipy can decrease the objective no further (a flat
            # objective in floating point, within the window of the decrease
            # test), a small Jacobi gap estimate is all the test can ask: the
            # duality gap, first order in the gradient where the objective
            # is not strongly convex (pure L1, nearly separable data at large
            # C), can stay above the promise at the last point the
            # arithmetic resolves. It is still reported.
            converged = np.array_equal(x, self.accepted) and (
                self.test(np.nan)
                or (
                    status == STALLED
                    and self.metric is not None
                    and self._jacobi_gap_is_small()
                )
            )
            if converged and self.certificate is not None and self.verbose >= 1:
                self._certificate_holds()  # for the summary line of a stall
        else:
            converged = max_abs_gradient <= self.tol
        if converged:
            status = CONVERGED
        elif self.stopped:
            status = STOPPED
        result = SolverResult(
            coef=x,
            loss=float(loss),
            max_abs_gradient=max_abs_gradient,
            n_iter=self.n_iter,
            converged=converged,
            status=status,
            message=str(message),
            initial_max_abs_gradient=self.initial_max_abs_gradient,
            relative_decrease=self.relative_decrease(),
            gap_estimate=self.gap_estimate(),
            certified_gap=self.certified_gap,
        )
        if self.verbose >= 1:
            print(self.summary(result), file=sys.stdout)
        return result

    def summary(self, result: SolverResult) -> str:
        """Return the one line that ``verbose=1`` prints at the end of a fit."""
        if result.status != CONVERGED:
            why = _REASONS.get(result.status, result.status)
        elif self.tol is not None:
            why = f"converged: max|grad| <= tol={self.tol:g}"
        elif self.certificate is not None and not (
            result.certified_gap <= self.certified
        ):
            why = (
                "converged: the objective stopped decreasing in floating point "
                f"with a small estimated gap; duality gap {result.certified_gap:.1e} "
                "(tol='auto')"
            )
        elif self.certificate is not None:
            why = (
                f"converged: duality gap certifies a relative gap of "
                f"{result.certified_gap:.1e} <= {self.certified:.0e}, estimated "
                f"{result.gap_estimate:.1e} (tol='auto')"
            )
        else:
            without = (
                f"; no duality gap: {self.uncertified}" if self.uncertified else ""
            )
            floor = (
                "; the line search found no decrease the arithmetic resolves"
                if self.at_noise_floor
                else ""
            )
            why = (
                f"converged: estimated relative gap {result.gap_estimate:.1e} "
                f"<= {self.gap:.0e} (tol='auto'{without}{floor})"
            )
        return (
            f"[{self.name}] {result.n_iter} iterations, "
            f"{self.n_evaluations} evaluations, {self.n_hessian_products} "
            f"Hessian products in {time.perf_counter() - self.start:.3f} s: "
            f"objective {result.loss:.15e}, max|grad| "
            f"{result.max_abs_gradient:.3e}; stopped: {why}"
        )


def minimize_lbfgs(
    loss_gradient: LossGradient,
    coef0: np.ndarray,
    *,
    tol: float | None,
    max_iter: int,
    ftol: float,
    verbose: int = 0,
    bounds: optimize.Bounds | None = None,
    callback: IterationCallback | None = None,
    gradient_map: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    metric: np.ndarray | None = None,
    eps: float = _FLOAT64_EPS,
    min_iter: int = 0,
    certificate: Callable[[np.ndarray], tuple[float, float]] | None = None,
    uncertified: str = "",
) -> SolverResult:
    """Minimise with L-BFGS-B, configured as scikit-learn's lbfgs solver.

    Stops on the driver's test (see the module docstring), when the relative
    decrease of the objective is at most ``ftol``, or after ``max_iter``
    iterations. Up to 50 line-search steps are allowed (scipy's default is
    20), as in scikit-learn.

    Parameters
    ----------
    loss_gradient : callable
        ``coef -> (loss, gradient)``.
    coef0 : ndarray of shape (n_coef,)
        Starting point.
    tol : float or None
        Gradient tolerance, or None for the relative-decrease test.
    max_iter : int
        Iteration limit.
    ftol : float
        Relative objective decrease under which scipy stops.
    verbose : int, default=0
        0: silent; 1: a summary line; 2: also a line per iteration; 3: also
        the inner solver's work per iteration (see :class:`IterationLog`).
    bounds : scipy.optimize.Bounds, optional
        Box constraints; the gradient is then projected onto them.
    callback : callable, optional
        ``coef -> bool`` called after each iteration; True stops the solver.
    gradient_map : callable, optional
        ``(coef, gradient) -> gradient`` in the variables ``tol`` refers to,
        after a change of variables; with ``bounds``, it projects too.
    metric : ndarray, optional
        The inverse Hessian diagonal for the tested gradient, for ``tol=None``
        (see :class:`IterationLog`).
    eps : float, default=float64's machine epsilon
        That of the arithmetic the objective is computed in (see
        :func:`decrease_threshold`).
    min_iter : int, default=0
        Iterations to take before the stopping test may end the run (see
        :class:`IterationLog`).
    certificate : callable, optional
        ``coef -> (objective, gap)`` for ``tol=None`` (see
        :class:`IterationLog`).
    uncertified : str, default=""
        Without ``certificate``, why there is none (see :class:`IterationLog`).

    Returns
    -------
    result : SolverResult
    """
    project = gradient_map
    if bounds is not None and gradient_map is None:
        lower, upper = bounds.lb, bounds.ub

        def project(coef, gradient):
            # scipy's projected gradient: zero where a bound blocks descent.
            return coef - np.clip(coef - gradient, lower, upper)

    coef0 = np.asarray(coef0, dtype=np.float64)
    log = IterationLog(
        loss_gradient,
        coef0,
        verbose,
        "lbfgs",
        project,
        callback,
        tol=tol,
        window=decrease_window("lbfgs"),
        decrease=decrease_threshold("lbfgs", eps),
        gap=gap_threshold(eps),
        metric=metric,
        min_iter=min_iter,
        certificate=certificate,
        certified=CERTIFIED_GAP,
        uncertified=uncertified,
        # float32 arithmetic: a healthy line search takes 1-2 evaluations.
        line_search_limit=_FLOAT32_LINE_SEARCH_LIMIT if eps > _FLOAT64_EPS else None,
    )
    if max_iter == 0:  # scipy would still take one step
        return log.result(coef0, MAX_ITER, "max_iter=0: no iteration was asked for")
    # scipy tests the gradient itself (also at the start) unless the test is
    # ours to make.
    scipy_tests_gradient = tol is not None and gradient_map is None and not min_iter
    try:
        result = optimize.minimize(
            log,
            coef0,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            callback=log.scipy_callback(test=not scipy_tests_gradient),
            options={
                "maxiter": max_iter,
                "maxls": 50,
                "gtol": tol if scipy_tests_gradient else 0.0,
                "ftol": ftol,
            },
        )
    except _NoiseFloorError:
        return log.result(
            log.accepted,
            STALLED,
            "the line search found no decrease the arithmetic resolves",
        )
    # status 1: iteration (or evaluation) limit; 0 and 2: no further decrease
    # (ftol, or a line search that found none); 99: a callback stopped it.
    status = MAX_ITER if result.status == 1 else STALLED
    return log.result(result.x, status, result.message)


def _check_inner_products(left: np.ndarray, right: np.ndarray, what: str) -> None:
    # scipy takes left @ right next: bound it by Cauchy-Schwarz, in Python
    # floats (which overflow to inf quietly).
    bound = (
        float(np.abs(left).max(initial=0.0))
        * float(np.abs(right).max(initial=0.0))
        * left.size
    )
    if not bound < _LARGEST_SAFE_PRODUCT:  # also catches inf and nan
        raise _OverflowError(f"{what} overflow float64")


class _ScaledProblem:
    """What one scipy Newton run sees: the objective times a factor.

    Checks the inner products scipy takes next for overflow and, with
    ``watch_curvature``, raises :class:`_NextScaleError` at the end of the
    iteration that makes :data:`_CURVATURE_STALLS` in a row whose inner CG met
    newton-cg's curvature floor, or of a zero step for that reason. With
    ``track_floor``, ``floor_met`` says whether the inner CG of the iteration
    at which scipy stopped met that floor (see :func:`_newton_polish`).
    """

    def __init__(
        self,
        log: IterationLog,
        hessp: HessianProduct,
        objective_scale: float,
        watch_curvature: bool,
        track_floor: bool = False,
    ) -> None:
        self._log = log
        self._hessp = hessp
        self._scale = objective_scale
        self._watch_curvature = watch_curvature
        self._track_floor = track_floor or watch_curvature
        self.floor_met = False
        self._log_callback = log.scipy_callback()
        self._curvature_too_small = False
        self._stalled_iterations = 0
        # scipy's own arithmetic runs under errstate(all="ignore") (see
        # minimize_newton), and so does the scaling here (an inf is caught by
        # _check_inner_products); the objective runs under the caller's
        # settings, its Hessian products with overflow ignored (an inf product
        # is caught too).
        self._caller_errstate = np.geterr()
        self._product_errstate = {**self._caller_errstate, "over": "ignore"}

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(**self._caller_errstate):
            loss, gradient = self._log(coef)
        gradient = self._scale * gradient
        _check_inner_products(gradient, gradient, "the gradient's inner products")
        return self._scale * loss, gradient

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        self._log.n_hessian_products += 1
        with np.errstate(**self._product_errstate):
            product = self._scale * self._hessp(coef, direction)
        _check_inner_products(direction, product, "the Hessian-vector products")
        if self._track_floor and 0 <= direction @ product <= _CG_CURVATURE_FLOOR:
            self.floor_met = True
            self._curvature_too_small = self._watch_curvature
        return product

    def callback(self, intermediate_result: optimize.OptimizeResult) -> None:
        with np.errstate(**self._caller_errstate):
            self._callback(intermediate_result)

    def _callback(self, intermediate_result: optimize.OptimizeResult) -> None:
        if self._curvature_too_small and np.array_equal(
            intermediate_result.x, self._log.accepted
        ):
            # The floor met at the first CG step: a zero step, whose zero
            # decrease must not pass for convergence. Not an iteration.
            raise _NextScaleError
        self._log_callback(intermediate_result)  # raises StopIteration to stop
        self.floor_met = False  # kept, above, for the iteration scipy stops at
        if self._curvature_too_small:
            self._stalled_iterations += 1
        else:
            self._stalled_iterations = 0
        self._curvature_too_small = False
        if self._stalled_iterations >= _CURVATURE_STALLS:
            raise _NextScaleError


def minimize_newton(
    method: str,
    loss_gradient: LossGradient,
    hessp: HessianProduct,
    coef0: np.ndarray,
    *,
    tol: float | None,
    max_iter: int,
    verbose: int = 0,
    objective_scales: tuple[float, ...] = (1.0,),
    relative_to_start: bool = False,
    callback: IterationCallback | None = None,
    gradient_map: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    metric: np.ndarray | None = None,
    eps: float = _FLOAT64_EPS,
    min_iter: int = 0,
    certificate: Callable[[np.ndarray], tuple[float, float]] | None = None,
    uncertified: str = "",
) -> SolverResult:
    """Minimise with a Newton method of scipy that uses Hessian-vector products.

    ``"newton-cg"`` (line search), ``"trust-ncg"`` (Steihaug's truncated CG in
    a trust region) and ``"trust-krylov"`` (nearly exact trust-region steps,
    GLTR). scipy's own stopping tests (a small step for newton-cg, the
    gradient's 2-norm for the trust-region methods) are switched off; the
    driver stops them on its own test (see the module docstring). With a
    float ``tol``, if the test holds after a newton-cg iteration whose inner
    CG scipy cut short at its absolute curvature floor, the driver takes one
    more Newton step solved to a relative residual of 1e-4
    (:func:`_newton_polish`; in float64 arithmetic only), so that fits from
    different starts agree far beyond what ``tol`` alone pins down on
    ill-conditioned problems.

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
    tol : float or None
        Gradient tolerance, or None for the relative-decrease test.
    max_iter : int
        Iteration limit (over all scales).
    verbose : int, default=0
        0: silent; 1: a summary line; 2: also a line per iteration; 3: also
        the inner solver's work per iteration (see :class:`IterationLog`).
    objective_scales : tuple of float, default=(1.0,)
        scipy is handed the objective times the first factor (same
        minimiser); ``tol``, the log and the result refer to the unscaled
        objective. The scale decides two of scipy's newton-cg heuristics: its
        inner CG stops at a residual of ``min(0.5, sqrt(|g|_1)) |g|_1`` (the
        gradient ``g`` scaled too), which gives superlinear convergence only
        once ``|g|_1 < 1/4``, so a small scale converges faster; and it ends
        the inner CG, returning a zero step and reporting success, once the
        curvature along a direction falls under 3 machine epsilons in
        absolute terms (the curvature scales with the cube of the scale), so
        a small scale can stop it early. If scipy stops before the driver's
        test holds, the driver goes on from there with the next factor; it
        also does after three newton-cg iterations in a row whose inner CG met
        that floor (scipy crawls then, without stopping).
    relative_to_start : bool, default=False
        Divide the factors by the objective at ``coef0`` (if positive and
        finite), so that scipy's heuristics see the objective relative to
        where it starts: a warm start near a small optimum (nearly separable
        data) is then not stalled by the absolute curvature floor.
    callback : callable, optional
        ``coef -> bool`` called after each iteration; True stops the solver.
    gradient_map : callable, optional
        ``(coef, gradient) -> gradient`` in the variables ``tol`` refers to,
        after a change of variables.
    metric : ndarray, optional
        The inverse Hessian diagonal for the tested gradient, for ``tol=None``
        (see :class:`IterationLog`).
    eps : float, default=float64's machine epsilon
        That of the arithmetic the objective is computed in (see
        :func:`decrease_threshold`).
    min_iter : int, default=0
        Iterations to take before the stopping test may end the run (see
        :class:`IterationLog`).
    certificate : callable, optional
        ``coef -> (objective, gap)`` for ``tol=None`` (see
        :class:`IterationLog`).
    uncertified : str, default=""
        Without ``certificate``, why there is none (see :class:`IterationLog`).

    Returns
    -------
    result : SolverResult
    """
    coef0 = np.asarray(coef0, dtype=np.float64)
    log = IterationLog(
        loss_gradient,
        coef0,
        verbose,
        method,
        project=gradient_map,
        callback=callback,
        tol=tol,
        window=decrease_window(method),
        decrease=decrease_threshold(method, eps),
        gap=gap_threshold(eps),
        metric=metric,
        min_iter=min_iter,
        certificate=certificate,
        certified=CERTIFIED_GAP,
        uncertified=uncertified,
    )

    if not min_iter and tol is not None and log.max_abs_gradient_at(coef0)[1] <= tol:
        # e.g. a warm start at the optimum
        return log.result(coef0, CONVERGED, "the starting point meets tol")
    if max_iter == 0:  # scipy's trust-region methods would still take one step
        return log.result(coef0, MAX_ITER, "max_iter=0: no iteration was asked for")
    options = {}
    if method == "newton-cg":
        options["xtol"] = 1e-300  # relative step size: never the reason to stop
    else:
        options["gtol"] = 0.0
    if relative_to_start:
        initial_loss = log(coef0)[0]
        if 0 < initial_loss < np.inf:
            objective_scales = tuple(scale / initial_loss for scale in objective_scales)
    start = coef0
    for position, objective_scale in enumerate(objective_scales):
        # newton-cg's inner CG ends on a curvature under 3 eps in absolute
        # terms, leaving a short step: scipy then crawls (hundreds of tiny
        # steps on near-separable data) without ever stopping early. After
        # _CURVATURE_STALLS such iterations in a row the driver goes on at the
        # next, larger scale. (Not after one: near the optimum a single one is
        # harmless, and whether it happens is decided by rounding.)
        problem = _ScaledProblem(
            log,
            hessp,
            objective_scale,
            watch_curvature=method == "newton-cg"
            and position + 1 < len(objective_scales),
            track_floor=method == "newton-cg" and tol is not None,
        )
        try:
            # scipy's TRLIB (trust-krylov) computes with uninitialised
            # workspace (np.empty) and with its own inf/NaN coefficients near a
            # flat curvature (C=inf on nearly separable data): NumPy then warns
            # "invalid value"/"overflow" from inside scipy, at random. What
            # comes out is checked here (overflow, non-finite iterates), so
            # scipy's arithmetic runs silenced; ours keeps the caller's state.
            with np.errstate(all="ignore"):
                result = optimize.minimize(
                    problem.loss_gradient,
                    start,
                    method=method,
                    jac=True,
                    hessp=problem.hessp,
                    callback=problem.callback,
                    options={**options, "maxiter": max_iter - log.n_iter},
                )
        except _OverflowError as error:
            return log.result(log.accepted, OVERFLOW, error)
        except _NextScaleError:
            start = log.accepted
            continue
        if result.status == 99 or log.n_iter >= max_iter:  # our stop, or the limit
            break
        start = log.accepted  # scipy stopped early: go on at the next scale
    x = result.x
    if (
        tol is not None
        # Not in float32 arithmetic: its gradient is rounding long before
        # tol**2, and where a step chasing it lands depends on summation order.
        and eps <= _FLOAT64_EPS
        and problem.floor_met
        and result.status == 99
        and not log.stopped
        and log.n_iter < max_iter
        and np.array_equal(x, log.accepted)
    ):
        x = _newton_polish(log, hessp, x)
    status = MAX_ITER if log.n_iter >= max_iter else STALLED
    return log.result(x, status, result.message)


# The polishing step's CG: its relative residual, and its products at most
# this many times the mean per iteration so far (at least _POLISH_MIN_PRODUCTS):
# on large data a product costs about a gradient, and the step must not cost
# more than about three of the fit's own iterations.
_POLISH_RTOL = 1e-4
_POLISH_PRODUCTS_PER_ITERATION = 3
_POLISH_MIN_PRODUCTS = 30


def _newton_polish(log: IterationLog, hessp: HessianProduct, x: np.ndarray):
    """Take one more Newton step, solved by CG to a relative residual of 1e-4.

    With a float ``tol``, the test holds at ``x``, where Newton converges
    quadratically, and scipy's last inner CG was cut short (newton-cg only;
    otherwise its own step was a full one and this would cost time for
    nothing: 2x on 50,000 x 100 x 10 at ``tol=1e-4``). One step solved
    this way leaves a gradient of about ``tol**2`` relative. scipy's own last
    steps cannot: its newton-cg ends the inner CG once a direction's
    curvature ``p'Hp`` is under 3 machine epsilons in absolute terms, and
    near the optimum the directions are as small as the gradient, so on
    ill-conditioned problems (unscaled iris at
    ``C=20``, Hessian eigenvalues near 1e-5) it stops CG after a product or
    two. Two fits that both meet ``tol=1e-8`` from different starts (a path's
    warm start, a cold start) then differed by 1e-4 relative in their
    coefficients; polished, by under 1e-5 for every C up to 170 (3.5e-5 at
    ``C=1291``). The step counts as an iteration, and is kept only if the
    objective does not rise (beyond rounding) and the gradient's largest
    entry falls.
    """
    loss, gradient = log(x)
    old_max = float(np.max(np.abs(gradient), initial=0.0))
    if old_max == 0.0:
        return x
    n = x.size
    mean_products = log.n_hessian_products / max(log.n_iter, 1)
    max_products = max(
        _POLISH_MIN_PRODUCTS,
        int(np.ceil(_POLISH_PRODUCTS_PER_ITERATION * mean_products)),
    )

    def product(direction):
        log.n_hessian_products += 1
        return hessp(x, direction)

    operator = LinearOperator((n, n), matvec=product, dtype=np.float64)
    with np.errstate(all="ignore"):
        step, _ = cg(operator, -gradient, rtol=_POLISH_RTOL, maxiter=max_products)
    candidate = x + step
    if not np.all(np.isfinite(candidate)):
        return x
    new_loss, new_gradient = log(candidate)
    if not (
        new_loss <= loss + 4 * _FLOAT64_EPS * abs(loss)
        and np.max(np.abs(new_gradient), initial=0.0) < old_max
    ):
        return x
    log.iteration_done(candidate, test=False)
    return candidate
