"""The stochastic phase of ``solver="saga"``: compiled SAGA epochs, then scipy.

Full-batch Newton-CG needs about ten times the passes over ``X`` of a
per-sample method on real TF-IDF (rare features, a tiny L2 strength ``1 / (C
n)``). :func:`stochastic_phase` runs epochs of SAGA with lazy updates
(:mod:`._sag_kernels`, numba, imported here only) from the fit's start, and
after each epoch that is due asks the fit's own stopping test at the iterate:
with ``tol="auto"`` the duality gap to the probabilities the table holds
(:meth:`~._duality.DualityGap.gap_for_dual_point`, the objective summed in
float64 by a compiled pass, also for float32 data) must certify the promised
relative gap, with a float ``tol`` the largest absolute gradient entry must be
at most ``tol``. Where the test holds the fit ends
there; where it does not (the epoch limit, an objective that no longer
decreases, no certificate) the scipy driver takes over from the last epoch,
under the same test.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._coef import split_coef
from ._solvers import CERTIFIED_GAP

#: Epochs the phase runs at most before the scipy driver takes over.
MAX_EPOCHS = 200
#: Checks are spaced by the observed rate, at most this many epochs apart.
_MAX_CHECK_SPACING = 10
#: The phase hands over to scipy after this many checks in a row that made
#: no progress (the noise floor of the steps).
_STALLED_CHECKS = 3
#: Without a certificate (a coefficient without an L2 penalty), the phase
#: hands over once an epoch decreases the objective by less than this,
#: relatively.
_UNCERTIFIED_DECREASE = 1e-6
#: The softmax cross-entropy's Hessian in the scores, ``diag(p) - p p^T``,
#: has eigenvalues at most 1/2: the per-row Lipschitz constant of the
#: gradient is ``u_i (|x_i|^2 + 1) / 2``.
_SOFTMAX_CURVATURE = 0.5
#: The per-sample gradient table's size above which ``"auto"`` does not take
#: the phase (bytes; ``n_samples * n_classes * 8``).
MAX_TABLE_BYTES = 2**30


@dataclass
class PhaseResult:
    """Where the stochastic phase left the fit.

    Attributes
    ----------
    coef : ndarray
        Flat ``[W, b]`` after the last epoch.
    n_epochs : int
        Epochs run (each ``n_samples`` steps).
    converged : bool
        Whether the fit's stopping test held at ``coef``.
    stopped : bool
        Whether a callback asked to stop.
    objective, max_abs_gradient, certified_gap : float
        At the last check (NaN for a gap never asked for).
    """

    coef: np.ndarray
    n_epochs: int
    converged: bool
    stopped: bool
    objective: float = np.nan
    max_abs_gradient: float = np.nan
    certified_gap: float = np.nan


def takes_phase(data) -> bool:
    """Whether ``data`` can feed the kernels: in memory, CSR or dense rows."""
    if not hasattr(data, "sample_rows"):
        return False
    X = data.X
    if sp.issparse(X):
        return X.format == "csr"
    return bool(X.flags.c_contiguous)


def table_bytes(data) -> int:
    """Bytes of the per-sample gradient table."""
    return data.shape[0] * data.n_classes * 8


def _seed(random_state) -> np.random.Generator:
    """Return a generator for the sampling order; global state is left alone.

    ``None``: fresh OS entropy (NumPy's global RandomState is not drawn
    from); an int: that seed; a ``RandomState``: one seed drawn from it.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(int(random_state))
    return np.random.default_rng(random_state.randint(2**31))


def stochastic_phase(
    data,
    loss,
    coef0: np.ndarray,
    *,
    duality,
    tol: float | None,
    max_epochs: int,
    random_state,
    verbose: int = 0,
    callback=None,
) -> PhaseResult:
    """Run SAGA epochs from ``coef0`` until the fit's stopping test holds.

    Parameters
    ----------
    data : InMemoryData
        The training data (``sample_rows()`` gives the kernels' arrays).
    loss : LinearSoftmaxLoss
        The objective, for the checks (one threaded pass over ``X`` each).
    coef0 : ndarray of shape (n_coef,)
        The start, flat ``[W, b]``.
    duality : DualityGap or None
        The certificate for ``tol=None``; None where there is none.
    tol : float or None
        The fit's ``tol`` (None: ``tol="auto"``).
    max_epochs : int
        Epoch limit.
    random_state : None, int or RandomState
        The sampling order's seed (see :func:`_seed`).
    verbose : int, default=0
        1: a line when the phase ends; 2: also a line per epoch (with the
        objective, the largest gradient entry and the gap where it is
        checked).
    callback : callable, optional
        ``coef -> bool`` after each epoch; True stops.

    Returns
    -------
    result : PhaseResult
    """
    # numba: loaded only here.
    from ._sag_kernels import (
        dense_epochs,
        dense_objective,
        dense_tables,
        sparse_epochs,
        sparse_objective,
        sparse_tables,
        table_entropy,
    )

    start_time = time.perf_counter()
    rows = data.sample_rows()
    n_samples, n_features = data.shape
    n_classes = data.n_classes
    fit_intercept = loss.fit_intercept
    weights0, intercept0 = split_coef(coef0, n_classes, n_features, fit_intercept)
    weights = np.ascontiguousarray(weights0.T, dtype=np.float64)  # features x classes
    intercept = (
        np.zeros(n_classes) if intercept0 is None else intercept0.astype(np.float64)
    )
    gradient_table = np.empty((n_samples, n_classes))
    gradient_sum = np.empty((n_features, n_classes))
    intercept_sum = np.empty(n_classes)
    l2 = np.broadcast_to(np.asarray(loss.l2_reg_strength, float), (n_features,))
    row_args = (
        rows.targets,
        rows.soft_targets,
        rows.soft,
        rows.label_smoothing,
        rows.offset,
        rows.has_offset,
        rows.relative_weight,
    )
    X = data.X
    if sp.issparse(X):
        largest, heaviest = sparse_tables(
            X.data, X.indices, X.indptr, weights, intercept, gradient_table,
            gradient_sum, intercept_sum, *row_args,
        )  # fmt: skip
    else:
        largest, heaviest = dense_tables(
            X, weights, intercept, gradient_table, gradient_sum, intercept_sum,
            *row_args,
        )  # fmt: skip
    # The intercepts are a feature of value 1 in every row. (Scaling that
    # feature down, as scikit-learn's sag does for sparse data, allows a
    # longer step; here it left SAGA at a gap of 5e-4 on the docstrings
    # corpus: 1 / L is the longest step that converged.)
    row_curvature = largest + (heaviest if fit_intercept else 0.0)
    curvature = _SOFTMAX_CURVATURE * row_curvature + float(l2.max(initial=0.0))
    if not 0 < row_curvature < np.inf:
        # A data term constant in W (no row has an entry, no intercepts), or
        # squares beyond float64: nothing for the epochs to do or no step.
        return PhaseResult(coef=coef0, n_epochs=0, converged=False, stopped=False)
    step_size = 1.0 / curvature
    intercept_step = step_size if fit_intercept else 0.0
    log_decay = np.log1p(-step_size * l2)
    decay = 1.0 - step_size * l2
    with np.errstate(divide="ignore"):
        geometric_unit = np.where(l2 > 0, 1.0 / (step_size * l2), 0.0)
    powers, geometric_sums = np.empty(0), np.empty(0)
    if l2.size and np.all(l2 == l2[0]):  # one strength: the catch-up looked up
        skipped = np.arange(n_samples + 1)
        powers = np.exp(skipped * log_decay[0])
        geometric_sums = skipped.astype(float)
        if l2[0] > 0:
            geometric_sums = -np.expm1(skipped * log_decay[0]) * geometric_unit[0]
    last_step = np.zeros(n_features, dtype=np.int64)
    step = 0
    rng = _seed(random_state)

    if sp.issparse(X):

        def objective_kernel(*args):
            return sparse_objective(X.data, X.indices, X.indptr, *args)

    else:

        def objective_kernel(*args):
            return dense_objective(X, *args)

    def coef_now() -> np.ndarray:
        flat = weights.T.ravel()
        return np.concatenate([flat, intercept]) if fit_intercept else flat

    result = PhaseResult(coef=coef0, n_epochs=0, converged=False, stopped=False)
    if verbose >= 2:
        print(
            f"[saga] {'epoch':>5} {'objective':>22} {'max|grad|':>10} "
            f"{'gap':>9} {'time (s)':>9}",
            file=sys.stdout,
        )
    # (epoch, objective, gap, the measure of progress)
    checks: list[tuple[int, float, float, float]] = []
    next_check, stalled = 1, 0
    for epoch in range(1, max_epochs + 1):
        order = rng.integers(0, n_samples, n_samples)
        if sp.issparse(X):
            step = sparse_epochs(
                X.data, X.indices, X.indptr, order, weights, intercept,
                gradient_table, gradient_sum, intercept_sum, last_step, step,
                *row_args, log_decay, geometric_unit, powers, geometric_sums,
                decay, step_size, intercept_step,
            )  # fmt: skip
        else:
            dense_epochs(
                X, order, weights, intercept, gradient_table, gradient_sum,
                intercept_sum, *row_args, decay, step_size, intercept_step,
            )  # fmt: skip
        coef = coef_now()
        result.coef, result.n_epochs = coef, epoch
        if callback is not None and callback(coef):
            result.stopped = True
            return result
        if epoch < next_check and epoch < max_epochs:
            if verbose >= 2:  # an epoch between checks: its time alone
                print(
                    f"[saga] {epoch:>5d} {'':>22} {'':>10} {'':>9} "
                    f"{time.perf_counter() - start_time:>9.3f}",
                    file=sys.stdout,
                )
            continue
        if tol is None and duality is not None:
            # The objective in float64 (one compiled pass over X, whatever
            # X's dtype) and the gap to the table's dual point.
            data_loss = objective_kernel(weights, intercept, *row_args)
            objective, gap = _table_gap(
                duality, coef, data_loss, gradient_sum, intercept_sum,
                gradient_table, row_args, table_entropy,
            )  # fmt: skip
            reference = max(objective - gap, 1e-300)
            gap = gap / reference if np.isfinite(gap) else np.inf
            result.objective, result.certified_gap = float(objective), gap
            result.converged = gap <= CERTIFIED_GAP
            target, certified = CERTIFIED_GAP, True
        else:
            objective, gradient = loss.loss_gradient(coef)
            result.objective = float(objective)
            result.max_abs_gradient = float(np.max(np.abs(gradient), initial=0.0))
            gap, target, certified = np.nan, np.nan, False
            if tol is not None:
                gap, target = result.max_abs_gradient, tol
                result.converged = gap <= tol
        if verbose >= 2:
            largest = result.max_abs_gradient
            gradient_column = "" if np.isnan(largest) else f"{largest:.3e}"
            print(
                f"[saga] {epoch:>5d} {objective:>22.15e} "
                f"{gradient_column:>10} {gap:>9.2e} "
                f"{time.perf_counter() - start_time:>9.3f}",
                file=sys.stdout,
            )
        if result.converged or not np.isfinite(objective):
            break
        # Progress is the measure the test reads (the certified gap, the
        # largest gradient entry), or the objective without one: SAGA's
        # objective is not monotone (text-like, C=1: it rose for two epochs
        # while the certified gap fell from 0.38 to 0.033).
        measure = objective if np.isnan(gap) else gap
        if checks and not measure < checks[-1][3]:
            stalled += 1
            if stalled >= _STALLED_CHECKS:
                break  # no progress over the last checks: the steps' noise
            next_check = epoch + 1
            continue
        stalled = 0
        if (
            np.isnan(gap)
            and checks
            and checks[-1][1] - objective <= _UNCERTIFIED_DECREASE * abs(objective)
        ):
            break  # no certificate: the scipy driver's estimate decides
        checks.append((epoch, float(objective), float(gap), float(measure)))
        next_check = epoch + _epochs_to_next_check(
            checks, target, 1.0 if certified else np.inf
        )
    if verbose >= 1:
        if np.isnan(result.max_abs_gradient) and result.n_epochs:
            # The certified checks never formed a gradient: one for the summary.
            gradient = loss.loss_gradient(result.coef)[1]
            result.max_abs_gradient = float(np.max(np.abs(gradient), initial=0.0))
        if not result.converged:
            how = "scipy takes over"
        elif tol is not None:
            how = f"converged: max|grad| <= tol={tol:g}"
        else:
            how = (
                f"converged: duality gap certifies a relative gap of "
                f"{result.certified_gap:.1e} <= {CERTIFIED_GAP:.0e} (tol='auto')"
            )
        print(
            f"[saga] {result.n_epochs} epochs (step {step_size:.3g}) in "
            f"{time.perf_counter() - start_time:.3f} s: objective "
            f"{result.objective:.15e}, max|grad| {result.max_abs_gradient:.3e}; "
            f"stopped: {how}",
            file=sys.stdout,
        )
    return result


def _table_gap(
    duality, coef, data_loss, gradient_sum, intercept_sum, gradient_table,
    row_args, table_entropy,
):  # fmt: skip
    """Return the objective at ``coef`` and its gap to the table's dual point.

    The dual point of an evaluation at ``coef`` (its own probabilities,
    :meth:`~._duality.DualityGap.gap`) bounds the gap by the squared gradient
    over the L2 strength: on SAGA's iterates, whose gradient is noisy, that
    overstated the true gap 15-600x on the docstrings corpus (C=10). The
    table's rows, the probabilities at which each row was last visited, are
    another dual point, whose ``B(q)`` is the gradient sum the epochs keep
    (``D / n``): there the bound was within 1.2-1.6x of the true gap, from
    1e-2 down to 5e-8. It costs one pass over the table; the objective
    (``data_loss``, in float64) one pass over ``X``.
    """
    n_samples = gradient_table.shape[0]
    fit_intercept = duality.smooth.fit_intercept
    return duality.gap_for_dual_point(
        coef,
        data_loss,
        gradient_sum.T / n_samples,
        intercept_sum / n_samples if fit_intercept else None,
        lambda tau, row: table_entropy(
            gradient_table, *row_args, float(tau), np.asarray(row, dtype=float)
        ),
    )


def _epochs_to_next_check(
    checks: list[tuple[int, float, float, float]],
    target: float,
    informative_below: float = np.inf,
) -> int:
    """Epochs until the measure is predicted to reach ``target`` (at least 1).

    SAGA converges linearly: the rate between the last two checks predicts
    when the measure (the relative duality gap, or the largest gradient
    entry) reaches its target. Checks are at most ``_MAX_CHECK_SPACING``
    epochs apart, and every epoch before two checks exist. A measure of
    ``informative_below`` or more (a relative gap of 1 or more: the dual
    bound below zero, in the first epochs) says nothing of the rate: the
    checks then come after twice the epochs run so far (1, 2, 4, 8, ...;
    the Debian packages corpus at C=1 certified 1e300 after two epochs and
    1.6e-4 after twelve), and one epoch after the first informative one.
    """
    if len(checks) < 2 or not np.isfinite(target):
        return 1
    (first, _, _, before), (last, _, _, now) = checks[-2], checks[-1]
    if not now < informative_below:
        return int(min(last, _MAX_CHECK_SPACING))
    if not (0 < now < before < informative_below):
        return 1
    rate = (math.log(now) - math.log(before)) / (last - first)
    needed = math.log(target / now) / rate
    return int(min(max(math.floor(needed), 1), _MAX_CHECK_SPACING))
