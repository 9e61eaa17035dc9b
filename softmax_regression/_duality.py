r"""An upper bound on the objective gap: the duality gap of the penalised fit.

The stop of ``tol="auto"`` promises a relative gap ``(f - f*) / f*`` of at
most 1e-6. Estimates read from the trajectory cannot keep that promise where
the solver slows down in a flat valley; a dual point can. In the mean-loss
scaling of :class:`~._linear_loss.LinearSoftmaxLoss`, with normalised weights
:math:`\tilde s_i`, targets :math:`t_i`, offsets :math:`o_i` and a penalty
:math:`h(W) = \sum_{kj} \frac{\lambda_j}{2} W_{kj}^2 + \alpha_j |W_{kj}|`
(plus the indicator of the bounds :math:`l \le W \le u`), the primal is

.. math::

    P(W, b) = \sum_i \tilde s_i \big(\operatorname{lse}(z_i) - t_i^\top z_i\big)
              + h(W), \qquad z_i = W x_i + b + o_i,

and for any rows :math:`q_i` in the probability simplex with
:math:`\sum_i \tilde s_i (q_i - t_i) = 0` (the intercepts' condition; none
without intercepts) Fenchel duality gives :math:`P^* \ge D(q)`,

.. math::

    D(q) = \sum_i \tilde s_i \big(H(q_i) + (q_i - t_i)^\top o_i\big)
           - h^*\big(-B(q)\big), \qquad
    B(q) = \sum_i \tilde s_i (q_i - t_i) x_i^\top,

with :math:`H` the entropy and :math:`h^*` the convex conjugate of the
penalty, a sum of closed forms over the coefficients. So
:math:`P(W, b) - D(q)` bounds :math:`P(W, b) - P^*` from above: a
certificate, not an estimate.

The dual point comes from the probabilities :math:`p_i` at :math:`(W, b)`,
which the evaluation already summed: by Fenchel-Young,
:math:`\sum_i \tilde s_i (H(p_i) + (p_i - t_i)^\top o_i) = L - \langle A, W
\rangle - g_b^\top b` with :math:`L` the data term, :math:`A` and :math:`g_b`
its gradients, and :math:`B(p) = A`; for an L2 penalty the gap at
:math:`q = p` is :math:`\sum_j \lVert \nabla_{W_{:j}} P \rVert^2 / (2
\lambda_j) + g_b^\top b`. The intercepts' condition holds only at the
optimum; :math:`q_i = \tau p_i + (1 - \tau) r` with a constant row :math:`r`
restores it exactly (:math:`\tau` the largest value keeping :math:`r` in the
simplex). Then :math:`B(q) = \tau A + (1 - \tau)(r \bar x^\top + B(0))` is
exact, and the entropies of the mixed rows are summed from the probabilities
the evaluation left in the data term
(:meth:`~._shard.CrossEntropyShard.dual_entropy`, no pass over ``X``):
concavity alone, :math:`H(q_i) \ge \tau H(p_i) + (1 - \tau) H(r)`, would
lose :math:`(1 - \tau)` times the rows' mean :math:`\mathrm{KL}(r \Vert p_i)`,
which kept the bound above 1e-6 on 50 classes until the intercepts' gradient
was under 1e-10.
Where :math:`h^*` is infinite (a coefficient with no L2 penalty and an
unbounded side, as with pure L1), :math:`q` is moved towards the targets,
:math:`t q + (1 - t) t_i`, which scales :math:`B` by :math:`t` and keeps the
entropy bound (the targets' own entropy is non-negative).

What it costs: the sums over the rows that do not depend on the coefficients
(:math:`\bar x`, :math:`B(0)`, the offsets' means), one pass over ``X`` the
first time the gap is asked for on some data
(:meth:`~._shard.CrossEntropyShard.target_moments`, kept for every fit on
it); after that, per check, one pass over the probabilities and arithmetic on
coefficient-sized arrays, at points already evaluated.

Where it is loose: the gap at :math:`q = p` is the squared gradient divided
by the L2 strength, which overstates the true gap by up to the ratio of the
data's curvature to :math:`\lambda` (large ``C``, many samples). The stop then
takes the iterations that bring the certificate under the promise (50
classes: newton-cg 8 -> 11, lbfgs 26 -> 62). Coefficients with neither
an L2 penalty nor bounds on both sides (``C=inf``, a zero penalty factor)
have no finite bound: :attr:`DualityGap.available` is False and the stop
relies on its estimate alone. So does a fit in float32 arithmetic, which
resolves the objective only to about 1e-7 (see :func:`._fit.fit_coef`).
"""

from __future__ import annotations

import numpy as np

from ._coef import split_coef


class DualityGap:
    r"""The duality gap of the penalised objective at evaluated points.

    Parameters
    ----------
    smooth : LinearSoftmaxLoss
        The data term with its L2 penalty; its :attr:`last_data_term` is the
        evaluation the gap is read from, and its data term's
        ``target_moments()`` gives the sums that do not depend on the point.
    class_priors : ndarray of shape (n_classes,)
        The weighted class shares of the targets, :math:`\sum_i \tilde s_i t_i`.
    l1_reg_strength : float or ndarray of shape (n_features,), default=0
        :math:`\alpha` (one per feature for penalty factors).
    bounds : tuple of two ndarrays of shape (n_classes, n_features), optional
        Lower and upper bounds on ``W``.
    cache : dict, optional
        Where the data term's coefficient-free sums are kept (the data's
        ``moments_cache``): computed once for every fit on the same data.
    grouped : bool, default=False
        The L1 part is :math:`\sum_j \alpha_j \lVert W_{:j} \rVert_2`
        (one group per feature, all classes), not entry by entry; no bounds.
        Its conjugate, column by column, is :math:`(\lVert v \rVert_2 -
        \alpha_j)_+^2 / (2 \lambda_j)`, or the indicator of
        :math:`\lVert v \rVert_2 \le \alpha_j` where :math:`\lambda_j = 0`.
    """

    def __init__(
        self,
        smooth,
        class_priors: np.ndarray,
        l1_reg_strength: float | np.ndarray = 0.0,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
        cache: dict | None = None,
        grouped: bool = False,
    ) -> None:
        self.grouped = grouped and bounds is None
        self.smooth = smooth
        self.priors = np.asarray(class_priors, dtype=np.float64)
        shape = (smooth.n_classes, smooth.n_features)
        self.l2 = np.broadcast_to(np.asarray(smooth.l2_reg_strength, float), shape)
        self.l1 = np.broadcast_to(np.asarray(l1_reg_strength, float), shape)
        if bounds is None:
            self.lower = np.broadcast_to(-np.inf, shape)
            self.upper = np.broadcast_to(np.inf, shape)
        else:
            self.lower, self.upper = (np.broadcast_to(bound, shape) for bound in bounds)
        # Coefficients whose conjugate is finite only where |B| <= alpha:
        # no L2 penalty and a side without a bound.
        self._linear = self.l2 == 0
        unbounded = np.isinf(self.lower) | np.isinf(self.upper)
        self.available = not np.any(self._linear & unbounded & (self.l1 == 0))
        self._cache = {} if cache is None else cache

    def needs_target_moments(self) -> bool:
        """Whether the coefficient-free sums are yet to be computed for this data."""
        return "target_moments" not in self._cache

    def remember_target_moments(self, moments: tuple) -> None:
        """Keep sums a solver computed alongside a pass of its own.

        ``moments`` as :meth:`~._shard.CrossEntropyShard.target_moments`
        returns them.
        """
        self._cache.setdefault("target_moments", moments)

    def _target_moments(self):
        if "target_moments" not in self._cache:
            self._cache["target_moments"] = self.smooth.data_term.target_moments()
        return self._cache["target_moments"]

    def gap(self, coef: np.ndarray) -> tuple[float, float]:
        """Return the objective and an upper bound on its gap at ``coef``.

        Reads the data term's evaluation at ``coef`` if it was the last one
        (the solvers' accepted points are), evaluates otherwise.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat ``[W, b]`` within the bounds.

        Returns
        -------
        objective : float
            :math:`P(W, b)`, the penalty included.
        gap : float
            :math:`P(W, b) - D(q)` for the dual point above (``inf`` if
            :attr:`available` is False).
        """
        last = self.smooth.last_data_term
        if last is None or not np.array_equal(last[0], coef):
            self.smooth.loss_gradient(coef)
            last = self.smooth.last_data_term
        _, data_loss, data_gradient = last
        smooth = self.smooth
        weights, intercept = split_coef(
            coef, smooth.n_classes, smooth.n_features, smooth.fit_intercept
        )
        gradient_weights, gradient_intercept = split_coef(
            data_gradient, smooth.n_classes, smooth.n_features, smooth.fit_intercept
        )
        objective = data_loss + self._penalty(weights)
        if not self.available:
            return objective, np.inf
        # sum_i s_i (H(p_i) + (p_i - t_i) o_i), by Fenchel-Young.
        entropy = data_loss - float(np.vdot(gradient_weights, weights))
        if intercept is not None:
            entropy -= float(gradient_intercept @ intercept)
        dual = self._dual(
            entropy,
            gradient_weights,
            gradient_intercept,
            lambda tau, row: self.smooth.data_term.dual_entropy(coef, tau, row),
        )
        return objective, objective - dual

    def gap_for_dual_point(
        self,
        coef: np.ndarray,
        data_loss: float,
        dual_gradient: np.ndarray,
        dual_intercept_gradient: np.ndarray | None,
        mixture_entropy,
    ) -> tuple[float, float]:
        r"""Return the objective at ``coef`` and its gap to another dual point.

        The dual point is rows :math:`q_i` in the simplex that the caller
        holds (the stochastic phase's table of past probabilities,
        :mod:`._sag`), given by what the bound needs of them.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            The primal point, flat ``[W, b]``.
        data_loss : float
            The data term at ``coef`` (the objective without the penalty).
        dual_gradient : ndarray of shape (n_classes, n_features)
            :math:`B(q) = \sum_i \tilde s_i (q_i - t_i) x_i^\top`.
        dual_intercept_gradient : ndarray of shape (n_classes,) or None
            :math:`\sum_i \tilde s_i (q_i - t_i)` (None without intercepts).
        mixture_entropy : callable
            ``(tau, row) -> float``: :math:`\sum_i \tilde s_i (H(m_i) +
            m_i^\top o_i)` for :math:`m_i = \tau q_i + (1 - \tau) r`.

        Returns
        -------
        objective : float
        gap : float
            An upper bound on ``objective - f*`` (``inf`` if :attr:`available`
            is False).
        """
        weights, _ = split_coef(
            coef,
            self.smooth.n_classes,
            self.smooth.n_features,
            self.smooth.fit_intercept,
        )
        objective = data_loss + self._penalty(weights)
        if not self.available:
            return objective, np.inf
        target_offset = self._target_moments()[0]
        entropy = mixture_entropy(1.0, self.priors) + target_offset
        dual = self._dual(
            entropy, dual_gradient, dual_intercept_gradient, mixture_entropy
        )
        return objective, objective - dual

    def _dual(self, entropy, dual_weights, intercept_gradient, mixture_entropy):
        """Return the dual objective at the point ``(entropy, B)`` describes."""
        if self.smooth.fit_intercept:
            entropy, dual_weights = self._restore_intercept_condition(
                entropy, dual_weights, intercept_gradient, mixture_entropy
            )
        entropy, dual_weights = self._finite_conjugate(entropy, dual_weights)
        return entropy - float(np.sum(self._conjugate(-dual_weights)))

    def _restore_intercept_condition(
        self, entropy, gradient_weights, gradient_intercept, mixture_entropy
    ):
        """Mix the dual point with a constant row so that its mean is the priors'."""
        priors = self.priors
        means = priors + gradient_intercept  # the mean probabilities
        above = means > priors
        tau = min(1.0, float(np.min(priors[above] / means[above], initial=1.0)))
        if tau >= 1.0:
            return entropy, gradient_weights
        row = np.maximum(priors - tau * means, 0.0) / (1.0 - tau)
        target_offset, target_gradient, mean_x, _ = self._target_moments()
        target_weights, _ = split_coef(
            target_gradient,
            self.smooth.n_classes,
            self.smooth.n_features,
            self.smooth.fit_intercept,
        )
        row_weights = np.outer(row, mean_x) + target_weights
        # The entropy of the mixture row by row (concavity alone would lose
        # (1 - tau) times the rows' mean KL(r || p_i): far too much).
        mixture = mixture_entropy(tau, row) + target_offset
        return mixture, tau * gradient_weights + (1.0 - tau) * row_weights

    def _finite_conjugate(self, entropy, dual_weights):
        """Move the dual point towards the targets until the conjugate is finite."""
        if not np.any(self._linear):
            return entropy, dual_weights
        if self.grouped:  # columns: sum over classes, then per feature
            linear = self._linear[0]
            norms = np.sqrt(np.square(dual_weights[:, linear]).sum(axis=0))
            limit = self.l1[0, linear]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = np.where(norms > limit, limit / norms, 1.0)
            scale = float(np.min(ratios, initial=1.0))
            if scale >= 1.0:
                return entropy, dual_weights
            scale *= 1.0 - 1e-12
            return scale * entropy, scale * dual_weights
        value = -dual_weights[self._linear]
        limit = self.l1[self._linear]
        # v <= alpha where there is no upper bound, v >= -alpha where no lower.
        excess = np.where(
            np.isinf(self.upper[self._linear]), np.maximum(value, 0.0), 0.0
        ) + np.where(np.isinf(self.lower[self._linear]), np.maximum(-value, 0.0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(excess > limit, limit / excess, 1.0)
        scale = float(np.min(ratios, initial=1.0))
        if scale >= 1.0:
            return entropy, dual_weights
        # A hair inside, so that rounding cannot leave a conjugate of inf.
        scale *= 1.0 - 1e-12
        # The targets' entropy term is >= 0: dropped, a lower bound stays.
        return scale * entropy, scale * dual_weights

    def _penalty(self, weights: np.ndarray) -> float:
        if self.grouped:
            norms = np.sqrt(np.square(weights).sum(axis=0))
            return float(
                np.sum(0.5 * self.l2 * np.square(weights)) + self.l1[0] @ norms
            )
        return float(
            np.sum(0.5 * self.l2 * np.square(weights) + self.l1 * np.abs(weights))
        )

    def _conjugate(self, value: np.ndarray) -> np.ndarray:
        r"""Return the penalty's conjugate, entry by entry.

        :math:`\sup_{l \le w \le u} v w - \lambda w^2/2 - \alpha|w|`.
        """
        l2, l1, lower, upper = self.l2, self.l1, self.lower, self.upper
        if self.grouped:  # the value per feature, spread over its classes
            norms = np.sqrt(np.square(value).sum(axis=0))
            excess = np.maximum(norms - l1[0], 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                column = np.where(l2[0] > 0, excess**2 / (2 * l2[0]), 0.0)
            return np.broadcast_to(column / value.shape[0], value.shape)
        shrunk = np.sign(value) * np.maximum(np.abs(value) - l1, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            best = np.where(l2 > 0, shrunk / np.where(l2 > 0, l2, 1.0), 0.0)
        # Without an L2 term the maximiser is a bound (or 0) where the slope
        # v -+ alpha pushes, the finite scaling above keeping it finite.
        best = np.where(self._linear & (shrunk > 0), upper, best)
        best = np.where(self._linear & (shrunk < 0), lower, best)
        best = np.clip(best, lower, upper)
        with np.errstate(invalid="ignore"):  # 0 * inf on a bound never reached
            result = value * best - 0.5 * l2 * np.square(best) - l1 * np.abs(best)
        return np.where(np.isfinite(best), result, 0.0)
