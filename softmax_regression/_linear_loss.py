r"""The penalised objective of a linear softmax model over its coefficients.

No scikit-learn here either: this layer turns a flat coefficient vector into
weights and intercepts and adds the penalty to a data term (the weighted
cross-entropy of :mod:`softmax_regression._shard`, in memory, summed over a
Dask cluster's workers, or on a device through the array API), which a
backend builds and passes in. The backends validate input; the solvers only
see :meth:`LinearSoftmaxLoss.loss_gradient`
and :meth:`LinearSoftmaxLoss.hessp`.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._coef import n_coef, split_coef


class LinearSoftmaxLoss:
    r"""Weighted multinomial cross-entropy of a linear model, plus an L2 penalty.

    For data :math:`X` (n_samples x n_features), integer labels :math:`y_i`,
    weights :math:`W` (n_classes x n_features) and intercepts :math:`b`, the
    raw scores of sample :math:`i` are :math:`z_i = W x_i + b` and

    .. math::

        f(W, b) = \frac{1}{S} \sum_i s_i \operatorname{CE}(z_i, y_i)
                  + \frac{\lambda}{2} \lVert W \rVert_F^2,
        \qquad S = \sum_i s_i,

    with gradient

    .. math::

        \nabla_W f = G^\top X + \lambda W, \quad
        \nabla_b f = G^\top \mathbf{1}, \quad
        G_{ik} = \frac{s_i}{S} \left(p_{ik} - [k = y_i]\right).

    scikit-learn's ``LogisticRegression(C=C)`` minimises this with
    :math:`\lambda = 1 / (C S)`; the intercepts are not penalised.

    The data term (the first sum) is an object with ``loss_gradient(coef)``,
    ``hessp(coef, direction)`` and ``close()`` in the conventions below (and
    ``hessian(coef)`` for :meth:`dense_hessp`): a
    :class:`~._shard.CrossEntropyShard` over all the rows in memory, summed
    over a Dask cluster's workers, or on a device. It is built by a backend
    (:mod:`softmax_regression._backends`), never here.

    Conventions
    -----------
    ``coef`` is a 1-D float64 vector (what ``scipy.optimize`` works with): the
    rows of :math:`W` one after the other (C order, row :math:`k` is class
    :math:`k`), followed by :math:`b` if ``fit_intercept``.

    Parameters
    ----------
    data_term : object
        The data term, as above. Closed with this object.
    n_classes : int
        Number of classes, at least 2.
    n_features : int
        Number of features.
    l2_reg_strength : float or ndarray of shape (n_features,)
        :math:`\lambda >= 0`; one per feature (:math:`\lambda_j`, the same for
        every class) for per-feature penalty factors, the penalty then being
        :math:`\frac{1}{2} \sum_{k, j} \lambda_j W_{kj}^2`.
    fit_intercept : bool
        Whether ``coef`` ends with the intercepts.
    """

    def __init__(
        self,
        data_term,
        n_classes: int,
        n_features: int,
        l2_reg_strength: float,
        fit_intercept: bool,
    ) -> None:
        self.data_term = data_term
        self.n_classes = n_classes
        self.n_features = n_features
        # A float, or one strength per feature (broadcast over the classes).
        self.l2_reg_strength = (
            float(l2_reg_strength)
            if np.ndim(l2_reg_strength) == 0
            else np.asarray(l2_reg_strength, dtype=np.float64)
        )
        self.fit_intercept = fit_intercept
        self.last_data_term: tuple[np.ndarray, float, np.ndarray] | None = None

    def close(self) -> None:
        """Release what the data term holds (its threads)."""
        self.data_term.close()

    def __enter__(self) -> LinearSoftmaxLoss:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def n_coef(self) -> int:
        """Length of the flat coefficient vector."""
        return n_coef(self.n_classes, self.n_features, self.fit_intercept)

    def unpack(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split a flat ``coef`` into weights and intercepts.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        weights : ndarray of shape (n_classes, n_features)
            A view of ``coef``, not a copy.
        intercept : ndarray of shape (n_classes,)
            A view of ``coef``; zeros if not ``fit_intercept``.
        """
        weights, intercept = split_coef(
            coef, self.n_classes, self.n_features, self.fit_intercept
        )
        if intercept is None:
            intercept = np.zeros(self.n_classes, dtype=coef.dtype)
        return weights, intercept

    def loss(self, coef: np.ndarray) -> float:
        """Value of the objective at ``coef``.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)

        Returns
        -------
        loss : float
        """
        return self.loss_gradient(coef)[0]

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient of the objective, from one pass over ``X``.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Flat coefficients, see Conventions.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_coef,), float64
        """
        loss, gradient = self.data_term.loss_gradient(coef)
        # For the duality gap (softmax_regression._duality): the data term
        # alone at the point last evaluated, before the penalty is added.
        self.last_data_term = (coef.copy(), loss, gradient.copy())
        weights, _ = self.unpack(coef)
        penalty_gradient = self.l2_reg_strength * weights
        if isinstance(self.l2_reg_strength, float):
            loss += 0.5 * self.l2_reg_strength * float(np.vdot(weights, weights))
        else:
            loss += 0.5 * float(np.vdot(weights, penalty_gradient))
        self.unpack(gradient)[0][...] += penalty_gradient
        return loss, gradient

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        r"""Hessian of the objective at ``coef`` times ``direction``.

        The data term's product (see :meth:`~._shard.CrossEntropyShard.hessp`)
        plus :math:`\lambda V` on the weights. Costs two products with ``X``,
        like a gradient.

        Parameters
        ----------
        coef : ndarray of shape (n_coef,)
            Where the Hessian is taken.
        direction : ndarray of shape (n_coef,)
            The vector it multiplies, in the layout of ``coef``.

        Returns
        -------
        product : ndarray of shape (n_coef,), float64
        """
        product = self.data_term.hessp(coef, direction)
        direction_weights, _ = self.unpack(direction)
        with np.errstate(over="ignore"):  # inf beyond float64, see the shard
            self.unpack(product)[0][...] += self.l2_reg_strength * direction_weights
        return product

    def dense_hessp(self):
        r"""Return a ``hessp`` that forms the Hessian once per point (small data).

        The in-memory data term's :meth:`~._shard.CrossEntropyShard.hessian`
        plus :math:`\lambda` on the weights' diagonal, formed at the first
        product at a new ``coef`` and multiplied by each direction after that.
        """
        formed_at, matrix = None, None
        n_weights = self.n_classes * self.n_features

        def hessp(coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
            nonlocal formed_at, matrix
            if formed_at is None or not np.array_equal(coef, formed_at):
                # Beyond float64's range (features near 1e150) the matrix holds
                # inf or NaN: the solver driver stops on the product.
                with np.errstate(all="ignore"):
                    matrix = self.data_term.hessian(coef)
                diagonal = np.einsum("ii->i", matrix)  # a writable view
                diagonal[:n_weights] += np.broadcast_to(
                    self.l2_reg_strength, (self.n_classes, self.n_features)
                ).ravel()
                formed_at = coef.copy()
            with np.errstate(all="ignore"):
                return matrix @ direction

        return hessp


class SplitL1Loss:
    r"""A smooth objective plus an L1 penalty, as a bound-constrained problem.

    Minimising :math:`f(W, b) + \alpha \lVert W \rVert_1` over :math:`W` is
    the same as minimising

    .. math::

        f(W^+ - W^-, b) + \alpha \sum (W^+ + W^-)
        \quad \text{subject to} \quad W^+ \ge 0,\; W^- \ge 0,

    a smooth problem with simple bounds that L-BFGS-B solves exactly: at its
    minimum :math:`W^+_{kf} W^-_{kf} = 0` (raising both by :math:`\delta`
    costs :math:`2 \alpha \delta`), and coefficients the penalty zeroes out sit
    exactly on their bounds, so they come out as exact zeros.

    Conventions
    -----------
    The variables are ``[W+ (flat), W- (flat), b]``, with ``W+`` and ``W-``
    in the layout of the weights of ``smooth``'s ``coef``.

    Bounds :math:`l \le W \le u` become bounds on the split,
    :math:`\max(l, 0) \le W^+ \le \max(u, 0)` and
    :math:`\max(-u, 0) \le W^- \le \max(-l, 0)`: every split point then
    satisfies them, and every feasible :math:`W` has a split point (its
    positive and negative parts).

    Parameters
    ----------
    smooth : LinearSoftmaxLoss
        The data term with its L2 penalty.
    l1_reg_strength : float or ndarray of shape (n_features,)
        :math:`\alpha >= 0`, or one per feature (:math:`\alpha_j`, the same for
        every class).
    bounds : tuple of two ndarrays of shape (n_classes, n_features), optional
        Lower and upper bounds :math:`l, u` on :math:`W` (-inf, inf allowed).
    """

    def __init__(
        self,
        smooth: LinearSoftmaxLoss,
        l1_reg_strength: float | np.ndarray,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.smooth = smooth
        self.n_weights = smooth.n_classes * smooth.n_features
        if np.ndim(l1_reg_strength) == 0:
            self.l1_reg_strength = float(l1_reg_strength)
        else:  # one per weight, in the flat layout of W
            self.l1_reg_strength = np.tile(
                np.asarray(l1_reg_strength, dtype=np.float64), smooth.n_classes
            )
        n_intercept = smooth.n_coef - self.n_weights
        free = np.full(n_intercept, -np.inf)
        if bounds is None:
            lower = np.r_[np.zeros(2 * self.n_weights), free]
            self.bounds = optimize.Bounds(lower, np.inf)
        else:
            low, high = (bound.ravel() for bound in bounds)
            zero = np.zeros(self.n_weights)
            self.bounds = optimize.Bounds(
                np.r_[np.maximum(low, zero), np.maximum(-high, zero), free],
                np.r_[np.maximum(high, zero), np.maximum(-low, zero), -free],
            )

    def to_coef(self, variables: np.ndarray) -> np.ndarray:
        """``smooth``'s flat coef ``[W, b]`` from ``[W+, W-, b]``."""
        n = self.n_weights
        return np.concatenate(
            [variables[:n] - variables[n : 2 * n], variables[2 * n :]]
        )

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        """``[W+, W-, b]`` from a flat coef ``[W, b]``."""
        weights = coef[: self.n_weights]
        return np.concatenate(
            [np.maximum(weights, 0), np.maximum(-weights, 0), coef[self.n_weights :]]
        )

    def loss_gradient(self, variables: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient with respect to ``[W+, W-, b]``.

        Parameters
        ----------
        variables : ndarray of shape (2 * n_weights + n_intercept,)

        Returns
        -------
        loss : float
        gradient : ndarray of the shape of ``variables``
        """
        n = self.n_weights
        loss, gradient = self.smooth.loss_gradient(self.to_coef(variables))
        if isinstance(self.l1_reg_strength, float):
            loss += self.l1_reg_strength * float(np.sum(variables[: 2 * n]))
        else:
            loss += float(self.l1_reg_strength @ (variables[:n] + variables[n : 2 * n]))
        grad_weights = gradient[:n]
        return loss, np.concatenate(
            [
                grad_weights + self.l1_reg_strength,
                self.l1_reg_strength - grad_weights,
                gradient[n:],
            ]
        )
