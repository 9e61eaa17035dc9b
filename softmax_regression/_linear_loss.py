r"""The penalised objective of a linear softmax model over its coefficients.

No scikit-learn here either: this layer turns a flat coefficient vector into
weights and intercepts, applies :mod:`softmax_regression._loss` to the linear
scores and adds the penalty. The estimator validates input; the solvers only
see :meth:`LinearSoftmaxLoss.loss_gradient`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._loss import _softmax_inplace


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

    Conventions
    -----------
    ``coef`` is a 1-D float64 vector (what ``scipy.optimize`` works with): the
    rows of :math:`W` one after the other (C order, row :math:`k` is class
    :math:`k`), followed by :math:`b` if ``fit_intercept``. Internally the
    scores are kept class-major, as an (n_classes, n_samples) array, so the
    reductions over classes run over contiguous rows. Arithmetic on ``X`` is
    done in ``X.dtype``: float32 data is never upcast.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data, float32 or float64, C or F order, or CSR/CSC. It is
        referenced, never copied nor modified.
    y : ndarray of shape (n_samples,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes, at least 2.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights :math:`s_i` with a positive sum; ``None`` means
        all ones.
    l2_reg_strength : float
        :math:`\lambda >= 0`.
    fit_intercept : bool
        Whether ``coef`` ends with the intercepts.
    """

    def __init__(
        self,
        X,
        y: np.ndarray,
        n_classes: int,
        sample_weight: np.ndarray | None,
        l2_reg_strength: float,
        fit_intercept: bool,
    ) -> None:
        self.X = X
        self.n_classes = n_classes
        self.n_samples, self.n_features = X.shape
        self.l2_reg_strength = float(l2_reg_strength)
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype
        if sample_weight is None:
            self.weight_sum = float(self.n_samples)
            self._weight = None
        else:
            self.weight_sum = float(np.sum(sample_weight, dtype=np.float64))
            self._weight = (sample_weight / self.weight_sum).astype(self.dtype)
        # Position of (y_i, i) in the flattened class-major score array.
        self._true_index = np.asarray(y, dtype=np.intp) * self.n_samples + np.arange(
            self.n_samples
        )
        # Reused by every evaluation: the only n_samples x n_classes buffer.
        self._raw = np.empty((n_classes, self.n_samples), dtype=self.dtype)

    @property
    def n_coef(self) -> int:
        """Length of the flat coefficient vector."""
        return self.n_classes * (self.n_features + self.fit_intercept)

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
        n_weights = self.n_classes * self.n_features
        weights = coef[:n_weights].reshape(self.n_classes, self.n_features)
        if self.fit_intercept:
            intercept = coef[n_weights:]
        else:
            intercept = np.zeros(self.n_classes, dtype=coef.dtype)
        return weights, intercept

    def _raw_prediction(self, coef: np.ndarray) -> np.ndarray:
        """Fill the class-major score buffer with ``W X^T + b`` and return it."""
        weights, intercept = self.unpack(coef)
        weights = weights.astype(self.dtype, copy=False)
        raw = self._raw
        if sp.issparse(self.X):
            raw[...] = (self.X @ weights.T).T
        else:
            np.matmul(weights, self.X.T, out=raw)
        if self.fit_intercept:
            raw += intercept.astype(self.dtype)[:, np.newaxis]
        return raw

    def _weighted_mean(self, values: np.ndarray) -> float:
        """Weighted mean of a per-sample quantity, accumulated in float64."""
        if self._weight is None:
            return float(np.mean(values, dtype=np.float64))
        return float(np.dot(self._weight.astype(np.float64), values))

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
        raw = self._raw_prediction(coef)
        flat_raw = raw.reshape(-1)
        raw_true = flat_raw[self._true_index]
        log_sum_exp = _softmax_inplace(raw, axis=0)  # raw now holds P
        log_sum_exp -= raw_true  # per-sample cross-entropy
        weights, _ = self.unpack(coef)
        loss = self._weighted_mean(log_sum_exp)
        loss += 0.5 * self.l2_reg_strength * float(np.vdot(weights, weights))

        # raw becomes G^T, the gradient with respect to the scores.
        flat_raw[self._true_index] -= 1
        if self._weight is None:
            raw *= self.dtype.type(1.0 / self.n_samples)
        else:
            raw *= self._weight
        gradient = np.empty_like(coef, dtype=np.float64)
        grad_weights, grad_intercept = self.unpack(gradient)
        if sp.issparse(self.X):
            grad_weights[...] = (self.X.T @ raw.T).T
        else:
            grad_weights[...] = raw @ self.X
        grad_weights += self.l2_reg_strength * weights
        if self.fit_intercept:
            grad_intercept[...] = raw.sum(axis=1)
        return loss, gradient
