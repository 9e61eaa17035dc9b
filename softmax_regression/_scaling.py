"""A diagonal change of variables for the solvers, from the Hessian at the start.

It sits above the data term: it reads ``X`` once (a weighted column sum of
squares) and wraps an objective's ``(loss, gradient)`` and Hessian product,
whatever computes them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._weights import relative_weights

# Entries of X squared at a time (float64 temporaries of 256 KiB).
_BLOCK_ELEMENTS = 2**15


def weighted_column_square_means(X, sample_weight) -> np.ndarray:
    """``sum_i s_i X_ij**2 / sum_i s_i`` in float64, a block of rows at a time.

    Dense or sparse ``X``; the squares of about ``_BLOCK_ELEMENTS`` entries
    exist at a time, never a copy of ``X``.
    """
    sample_weight = relative_weights(sample_weight)
    total = weighted_column_square_sums(X, sample_weight)
    if sample_weight is None:
        return total / X.shape[0]
    return total / float(np.sum(sample_weight))


def weighted_column_square_sums(X, sample_weight) -> np.ndarray:
    """``sum_i s_i X_ij**2`` in float64 (``s_i = 1`` if ``sample_weight`` is None).

    The sums :func:`weighted_column_square_means` divides, also over a shard
    of rows (a Dask worker's chunk).
    """
    total = np.zeros(X.shape[1])
    with np.errstate(over="ignore"):  # inf for features beyond float64's squares
        if not sp.issparse(X):
            _accumulate_dense_squares(np.asarray(X), sample_weight, total)
        elif X.format == "csc":
            _accumulate_column_squares(X.T, sample_weight, total)  # CSR, no copy
        else:
            _accumulate_squares(X, sample_weight, total)
    return total


def _block_rows(X) -> int:
    """Rows of sparse ``X`` holding about ``_BLOCK_ELEMENTS`` stored entries."""
    per_row = X.nnz / max(X.shape[0], 1)
    return max(1, int(_BLOCK_ELEMENTS // max(per_row, 1.0)))


def _accumulate_dense_squares(X: np.ndarray, sample_weight, total: np.ndarray) -> None:
    """Add the weighted column sums of squares of dense ``X``.

    One ``einsum``, which casts to float64 through its own small buffers:
    blocks converted to float64 temporaries (256 KiB each) cost 10x as much
    in Dask's worker processes, whose nanny sets ``MALLOC_TRIM_THRESHOLD_``,
    so that every such temporary is mapped and unmapped anew (a 167,772 x
    100 float32 chunk: 0.19-0.22 s against 0.014 s; 2.6 s of a
    4,000,000-row cluster fit's set-up).
    """
    if sample_weight is None:
        total += np.einsum("ij,ij->j", X, X, dtype=np.float64)
    else:
        weight = np.asarray(sample_weight, dtype=np.float64)
        total += np.einsum("ij,ij,i->j", X, X, weight, dtype=np.float64)


def _accumulate_column_squares(X_t, sample_weight, total: np.ndarray) -> None:
    """Add the weighted row sums of squares of CSR ``X_t`` (features x samples)."""
    rows = _block_rows(X_t)
    for start in range(0, X_t.shape[0], rows):
        squared = X_t[start : start + rows].astype(np.float64).power(2)
        if sample_weight is None:
            sums = squared.sum(axis=1)
        else:
            sums = squared @ sample_weight
        total[start : start + rows] += np.asarray(sums).ravel()


def _accumulate_squares(X, sample_weight, total: np.ndarray) -> None:
    """Add the weighted column sums of squares of CSR ``X``, in row blocks."""
    rows = _block_rows(X)
    for start in range(0, X.shape[0], rows):
        squared = X[start : start + rows].astype(np.float64).power(2)
        if sample_weight is None:
            total += np.asarray(squared.sum(axis=0)).ravel()
        else:
            total += np.asarray(squared.T @ sample_weight[start : start + rows]).ravel()


class DiagonalScaling:
    r"""The change of variables ``coef = scale * u`` that unit-scales the Hessian.

    ``scale = 1 / sqrt(d)`` with ``d`` the diagonal of the objective's Hessian
    at the starting point of :func:`~._coef.prior_intercepts` (``W = 0``, every
    sample's probabilities the class priors :math:`\pi`):

    .. math::

        d_{kj} = \pi_k (1 - \pi_k)\, \overline{x_j^2} + \lambda_j,
        \qquad d_{b_k} = \pi_k (1 - \pi_k),

    with :math:`\overline{x_j^2}` the weighted mean of the squared feature and
    :math:`\lambda_j` the L2 penalty strength of feature :math:`j`. Each scale
    is rounded to a power of two, so that the change of variables is exact in
    floating point. The
    solver sees :math:`f(\mathrm{scale} \odot u)`, whose gradient and Hessian
    products are the original ones multiplied by ``scale`` (on both sides).

    Parameters
    ----------
    column_square_means : ndarray of shape (n_features,)
        Weighted means of the squared features.
    priors : ndarray of shape (n_classes,)
        Weighted class shares.
    l2_reg_strength : float or ndarray of shape (n_features,)
        The L2 penalty's strength (the Hessian's diagonal shift on ``W``), or
        one per feature.
    fit_intercept : bool
        Whether the flat coefficients end with ``n_classes`` intercepts.
    """

    def __init__(
        self,
        column_square_means: np.ndarray,
        priors: np.ndarray,
        l2_reg_strength: float | np.ndarray,
        fit_intercept: bool,
    ) -> None:
        variance = priors * (1.0 - priors)
        # + lambda (or lambda_j, one per feature, the same for every class).
        diagonal = [(np.outer(variance, column_square_means) + l2_reg_strength).ravel()]
        if fit_intercept:
            diagonal.append(variance)
        diagonal = np.concatenate(diagonal)
        # Coordinates without curvature (a constant-zero feature, no penalty),
        # or with more than float64 holds, keep their scale.
        diagonal[~((diagonal > 0) & np.isfinite(diagonal))] = 1.0
        self.scale = np.exp2(np.round(-0.5 * np.log2(diagonal)))

    @property
    def inverse_diagonal(self) -> np.ndarray:
        """``scale**2``: the metric of the Jacobi-preconditioned gradient."""
        return self.scale**2

    def to_coef(self, variables: np.ndarray) -> np.ndarray:
        return variables * self.scale

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        return coef / self.scale

    def wrap(self, loss_gradient, hessp):
        """Return ``(loss_gradient, hessp)`` of the scaled variables."""
        scale = self.scale

        def scaled_loss_gradient(variables):
            loss, gradient = loss_gradient(variables * scale)
            return loss, gradient * scale

        def scaled_hessp(variables, direction):
            return hessp(variables * scale, direction * scale) * scale

        return scaled_loss_gradient, scaled_hessp

    def gradient_in_coef(self, variables: np.ndarray, gradient: np.ndarray):
        """Return the objective's gradient in the original coefficients."""
        return gradient / self.scale
