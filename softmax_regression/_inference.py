r"""Standard errors, tests and intervals for a fitted softmax regression.

The multinomial logit is identified only up to a common shift of every
class's coefficients, so inference is on contrasts against a reference class
:math:`r`: :math:`\beta_k = (w_k - w_r, b_k - b_r)` for every other class
:math:`k`, features first, then the intercept (Stata's ``basezero``,
statsmodels' ``MNLogit``). With :math:`\tilde x_i = (x_i, 1)`, sample weights
:math:`s_i` (frequency weights: a weight of 2 is a repeated row), fitted
probabilities :math:`p_{ik}` and residuals :math:`e_{ik} = [y_i = k] - p_{ik}`,
the negative log-likelihood :math:`\ell = -\sum_i s_i \log p_{i y_i}` has, in
:math:`\beta`, the Hessian and per-sample scores

.. math::

    H_{(j, f), (k, g)} = \sum_i s_i\, p_{ij} ([j = k] - p_{ik})\,
        \tilde x_{if} \tilde x_{ig},
    \qquad
    u_{i, (k, f)} = e_{ik} \tilde x_{if},

for :math:`j, k \ne r`. The estimators of the covariance of :math:`\hat\beta`:

- ``"nonrobust"``: :math:`H^{-1}` (the inverse observed information);
- ``"HC0"``: :math:`H^{-1} J H^{-1}`, :math:`J = \sum_i s_i u_i u_i^\top`;
- ``"HC1"``: the same as HC0, as in statsmodels' discrete models (whose
  ``MNLogit(...).fit(cov_type="HC1")`` it reproduces): the small-sample
  factor :math:`n / (n - P)` of linear regression's HC1 (:math:`P` the number
  of parameters, :math:`n = \sum_i s_i`) has no standard counterpart for
  maximum-likelihood models (Stata's ``vce(robust)`` uses
  :math:`n / (n - 1)`); multiply ``cov_params`` by ``nobs / df_resid`` for
  it;
- ``"cluster"``: :math:`H^{-1} J_G H^{-1}` with
  :math:`J_G = \sum_g (\sum_{i \in g} s_i u_i)(\sum_{i \in g} s_i u_i)^\top`,
  times :math:`\frac{G}{G - 1} \frac{n - 1}{n - P}` (statsmodels' default).

A penalised fit (``C < inf``) minimises :math:`\ell + \frac{1}{2C} \sum_k
\sum_j f_j w_{kj}^2` (:math:`f_j` the penalty factors, 1 by default), whose
minimiser has :math:`\sum_k w_{kj} = 0` for every penalised feature, so
:math:`w = M \beta` with :math:`M^\top M = I - \mathbf{1}\mathbf{1}^\top / K`;
its Hessian in :math:`\beta` is :math:`H_\lambda = H + \frac{1}{C}
(I - \mathbf{1}\mathbf{1}^\top / K) \otimes \operatorname{diag}(f_1, \dots,
f_d, 0)` (intercepts are not penalised). A fit with coefficients at a bound
has no such interior optimum: inference refuses it. The covariances are then
the sandwiches :math:`H_\lambda^{-1} H H_\lambda^{-1}` (``"nonrobust"``: the model-based
meat) and :math:`H_\lambda^{-1} J H_\lambda^{-1}` (robust). They describe the
variability of the penalised estimate around its own expectation, which the
penalty biases towards zero: z-tests and intervals built on them are not the
classical ones, and the summary says so.

The Hessian is built block by block, one pair of classes at a time, from
products with ``X`` (sparse ``X`` stays sparse); it has
:math:`((K - 1)(d + 1))^2` entries.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg, stats
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._arrays import to_host
from ._backends import backend_for
from ._backends.memory import ACCEPTED_SPARSE
from ._checks import check_bounds, check_offset, check_penalty_factor, target_columns
from ._loss import _softmax_inplace
from ._scores import linear_scores
from ._weights import class_totals, class_weight_per_class, fold_class_weight

__all__ = ["InferenceResult", "SeparationWarning"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")
# The largest Hessian built, in bytes, unless the caller allows more.
DEFAULT_MAX_BYTES = 2**31
# Curvature along a direction below this share of the curvature the same
# data have at the class shares (no feature predicting anything): the fitted
# probabilities are 0 or 1 there, and the likelihood flat: separation. A
# separated direction's share is exp(-margin), below 1e-8 once a solver has
# gone a few units of margin; an ordinary fit's stays above ~1e-4 even for
# strong effects (a probability of 0.999 keeps 1e-3 of it).
_SEPARATION_EIGENVALUE = 1e-8
# A parameter is "involved" in a flat direction if its share of it is above
# this (the direction is a unit vector).
_INVOLVED_LOADING = 0.1


class SeparationWarning(UserWarning):
    """The data (quasi-)separate a class: some coefficients diverge."""


@dataclass
class InferenceResult:
    r"""Inference on the contrasts of a fitted softmax regression.

    Every array of coefficients has shape ``(n_classes - 1, n_features +
    fit_intercept)``: one row per class other than ``reference_class`` (in the
    order of ``classes``), features first, then the intercept.

    Attributes
    ----------
    params : ndarray
        :math:`\hat\beta_k = (w_k - w_r, b_k - b_r)`.
    bse : ndarray
        Standard errors (``inf`` for coefficients a separation leaves
        undetermined; see :class:`SeparationWarning`).
    zvalues, pvalues : ndarray
        Wald statistics ``params / bse`` and their two-sided normal p-values.
    cov_params : ndarray of shape (n_params, n_params)
        The covariance of ``params.ravel()`` (C order).
    llf, llnull : float
        The weighted log-likelihood of the model and of the intercept-only
        model (the class shares).
    llr, llr_pvalue : float
        The likelihood-ratio statistic ``2 (llf - llnull)`` and its chi-squared
        p-value on ``df_model`` degrees of freedom.
    prsquared : float
        McFadden's pseudo R-squared, ``1 - llf / llnull``.
    aic, bic : float
        ``-2 llf + 2 n_params`` and ``-2 llf + log(nobs) n_params``.
    nobs : float
        The sum of the sample weights (the number of samples if unweighted).
    df_model, df_resid : float
        ``(n_classes - 1) n_features`` and ``nobs - n_params``.
    cov_type : str
    alpha : float
        The default level of :meth:`conf_int`.
    classes, reference_class, feature_names
        The rows' classes, the reference, and the columns' names.
    penalised : bool
        Whether the fit had a penalty (``C < inf``): see the module notes.
    """

    params: np.ndarray
    cov_params: np.ndarray
    llf: float
    llnull: float
    nobs: float
    n_classes: int
    n_features: int
    classes: np.ndarray
    reference_class: object
    feature_names: list
    cov_type: str
    alpha: float
    penalised: bool
    fit_intercept: bool
    undetermined: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        variances = np.diag(self.cov_params).reshape(self.params.shape).copy()
        if self.undetermined is not None:
            variances[self.undetermined] = np.inf
        self.bse = np.sqrt(np.maximum(variances, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.zvalues = np.where(np.isinf(self.bse), 0.0, self.params / self.bse)
        self.pvalues = 2.0 * stats.norm.sf(np.abs(self.zvalues))
        self.df_model = float((self.n_classes - 1) * self.n_features)
        self.df_resid = float(self.nobs - self.params.size)
        self.llr = 2.0 * (self.llf - self.llnull)
        self.llr_pvalue = float(stats.chi2.sf(self.llr, self.df_model))
        self.prsquared = 1.0 - self.llf / self.llnull
        self.aic = -2.0 * self.llf + 2.0 * self.params.size
        self.bic = -2.0 * self.llf + math.log(self.nobs) * self.params.size

    def conf_int(self, alpha: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return the lower and upper bounds of Wald intervals.

        Parameters
        ----------
        alpha : float, optional
            1 minus the coverage; the result's ``alpha`` (0.05) by default.

        Returns
        -------
        lower, upper : ndarray
            Each of the shape of ``params``.
        """
        alpha = self.alpha if alpha is None else float(alpha)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
        half = stats.norm.ppf(1.0 - alpha / 2.0) * self.bse
        return self.params - half, self.params + half

    def _rows(self):
        """``(class, feature, coef, se, z, p, lower, upper)`` per parameter."""
        lower, upper = self.conf_int()
        others = [_python_scalar(c) for c in self.classes if c != self.reference_class]
        for k, label in enumerate(others):
            for f, name in enumerate(self.feature_names):
                yield (
                    label,
                    name,
                    self.params[k, f],
                    self.bse[k, f],
                    self.zvalues[k, f],
                    self.pvalues[k, f],
                    lower[k, f],
                    upper[k, f],
                )

    def to_frame(self):
        """Return a tidy pandas DataFrame: one row per class and feature.

        Columns: ``class``, ``feature``, ``coef``, ``std err``, ``z``,
        ``P>|z|`` and the bounds of :meth:`conf_int` (named after ``alpha``).
        Needs pandas.
        """
        import pandas as pd

        low = f"[{self.alpha / 2:g}"
        high = f"{1 - self.alpha / 2:g}]"
        return pd.DataFrame(
            list(self._rows()),
            columns=["class", "feature", "coef", "std err", "z", "P>|z|", low, high],
        )

    def summary(self) -> str:
        """Return a text table like statsmodels' MNLogit summary.

        A header (the model, the fit, the sample size, the log-likelihoods and
        the likelihood-ratio test), then one block per class other than the
        reference.
        """
        width = 78
        method = "MLE" if not self.penalised else "penalised (C < inf)"
        header = [
            ("Model:", "SoftmaxRegression (multinomial logit)"),
            ("Method:", method),
            ("Reference class:", repr(self.reference_class)),
            ("Covariance type:", self.cov_type),
            ("No. observations:", f"{self.nobs:g}"),
            ("Df model:", f"{self.df_model:g}"),
            ("Df residuals:", f"{self.df_resid:g}"),
            ("Pseudo R-squ.:", f"{self.prsquared:.4f}"),
            ("Log-likelihood:", f"{self.llf:.6g}"),
            ("LL-null:", f"{self.llnull:.6g}"),
            ("LLR p-value:", f"{self.llr_pvalue:.4g}"),
            ("AIC / BIC:", f"{self.aic:.6g} / {self.bic:.6g}"),
        ]
        lines = ["Multinomial logit: inference on contrasts".center(width)]
        lines.append("=" * width)
        lines += [f"{key:<20}{value:>{width - 20}}" for key, value in header]
        low, high = f"[{self.alpha / 2:g}", f"{1 - self.alpha / 2:g}]"
        columns = f"{'coef':>11}{'std err':>11}{'z':>9}{'P>|z|':>8}{low:>11}{high:>10}"
        name_width = width - len(columns)
        current = None
        for label, name, *values in self._rows():
            if label != current:
                current = label
                lines.append("=" * width)
                lines.append(f"{'y=' + str(label):<{name_width}}{columns}")
                lines.append("-" * width)
            coef, se, z, p, lo, hi = values
            lines.append(
                f"{str(name)[: name_width - 1]:<{name_width}}{coef:>11.4f}{se:>11.4f}"
                f"{z:>9.3f}{p:>8.3f}{lo:>11.4f}{hi:>10.4f}"
            )
        lines.append("=" * width)
        if self.penalised:
            lines.append(
                "Note: penalised estimates (C < inf) are biased towards zero; the "
                "standard errors are sandwich estimates around the penalised "
                "estimate, and classical z-tests, p-values and intervals do not "
                "hold for them."
            )
        if self.undetermined is not None and self.undetermined.any():
            lines.append(
                "Note: separation leaves some coefficients undetermined (std err "
                "inf); see the SeparationWarning."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _augmented_products(X, v: np.ndarray, u: np.ndarray | None = None):
    r"""Return :math:`\tilde X^\top \operatorname{diag}(v) \tilde X` as blocks.

    With :math:`\tilde X = (X, \mathbf{1})`: ``X^T diag(v) X`` (d x d, dense),
    ``X^T v`` and ``sum(v)``, computed from ``X`` (dense or sparse) without
    stacking a column of ones or densifying it.
    """
    if sp.issparse(X):
        weighted = sp.diags(v) @ X
        gram = np.asarray((X.T @ weighted).todense())
        column = np.asarray(X.T @ v).ravel()
    else:
        gram = X.T @ (X * v[:, np.newaxis])
        column = X.T @ v
    return gram, column, float(v.sum())


def _block(X, v: np.ndarray, fit_intercept: bool) -> np.ndarray:
    gram, column, total = _augmented_products(X, v)
    if not fit_intercept:
        return gram
    d = gram.shape[0]
    block = np.empty((d + 1, d + 1))
    block[:d, :d] = gram
    block[:d, d] = block[d, :d] = column
    block[d, d] = total
    return block


def _pairwise_blocks(X, n_blocks: int, fit_intercept: bool, weights) -> np.ndarray:
    """Return the symmetric matrix of blocks ``X~^T diag(weights(a, b)) X~``.

    One block per pair of non-reference classes ``a <= b``, mirrored below
    the diagonal: the Hessian and the sandwich's meat have this form.
    """
    width = X.shape[1] + fit_intercept
    matrix = np.empty((n_blocks * width, n_blocks * width))
    for a in range(n_blocks):
        for b in range(a, n_blocks):
            block = _block(X, weights(a, b), fit_intercept)
            matrix[a * width : (a + 1) * width, b * width : (b + 1) * width] = block
            matrix[b * width : (b + 1) * width, a * width : (a + 1) * width] = block.T
    return matrix


def _check_size(n_params: int, max_bytes: int) -> None:
    needed = 8 * n_params**2
    if needed > max_bytes:
        raise ValueError(
            f"The covariance of {n_params} parameters ((n_classes - 1) x "
            f"(n_features + 1)) needs {needed / 2**30:.2f} GiB per matrix (the "
            f"Hessian, its inverse and the covariance: three of them), above the "
            f"bound max_bytes={max_bytes / 2**30:.2f} GiB. Reduce the features "
            "(inference on fewer, e.g. after selecting them with l1_ratio > 0), "
            "merge classes, or raise max_bytes if the memory is there."
        )


def infer(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    cov_type: str = "nonrobust",
    groups=None,
    reference_class=None,
    alpha: float = 0.05,
    max_bytes: int | None = None,
    offset=None,
) -> InferenceResult:
    """``estimator.inference(...)``: check the model and the data, then infer.

    The data are brought to the host (device arrays; Dask collections are
    refused: the Hessian is built in memory) and validated against the
    fitted model; the sample weights times the model's class weights are the
    frequency weights of the likelihood.
    """
    check_is_fitted(estimator)
    X, y, sample_weight, offset = backend_for(X, y, sample_weight, offset).memory_input(
        estimator, X, y, sample_weight, "inference", offset
    )
    # SoftmaxRegressionCV: the chosen C and l1_ratio, of a refitted model.
    if hasattr(estimator, "C_") and not getattr(estimator, "refit", True):
        raise ValueError(
            "inference needs the estimate of one objective; refit=False "
            "averages the folds' coefficients. Fit with refit=True."
        )
    C = float(estimator.C_ if hasattr(estimator, "C_") else estimator.C)
    l1_ratio = float(
        estimator.l1_ratio_ if hasattr(estimator, "l1_ratio_") else estimator.l1_ratio
    )
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
    if not (isinstance(alpha, Real) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
    if l1_ratio > 0:
        raise ValueError(
            f"inference needs a smooth objective; l1_ratio={l1_ratio} "
            "makes the penalty non-differentiable where coefficients are "
            "zero. Refit with l1_ratio=0 (on the features it kept, for "
            "example) to infer."
        )
    if getattr(estimator, "label_smoothing", 0.0):
        raise ValueError(
            "inference is for the likelihood of the labels; "
            f"label_smoothing={estimator.label_smoothing} fits other targets. "
            "Refit with label_smoothing=0."
        )
    if target_columns(y) is not None:
        raise ValueError(
            "inference needs class labels (1-D y); the model's likelihood "
            "for class-probability targets is not a sampling model."
        )
    X = validate_data(
        estimator, X, accept_sparse=ACCEPTED_SPARSE, dtype=np.float64, reset=False
    )
    y = np.asarray(y)
    check_consistent_length(X, y)
    classes = to_host(estimator.classes_)
    y_index = np.searchsorted(classes, y)
    y_index = np.clip(y_index, 0, classes.size - 1)
    unknown = classes[y_index] != y
    if unknown.any():
        raise ValueError(
            f"y holds labels the model was not fitted on, e.g. "
            f"{y[unknown][0]!r}; its classes are {classes.tolist()}."
        )
    weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if estimator.class_weight is not None:
        per_class = class_weight_per_class(
            estimator.class_weight,
            classes,
            classes,
            class_totals(y_index, classes.size, weight),
        )
        weight = fold_class_weight(weight, per_class, y_index)
    if reference_class is None:
        reference = 0
    else:
        matches = np.flatnonzero(classes == reference_class)
        if matches.size == 0:
            raise ValueError(
                f"reference_class={reference_class!r} is not one of the "
                f"classes {classes.tolist()}."
            )
        reference = int(matches[0])
    coef = to_host(estimator.coef_)
    coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(X.shape[1])]
    coef = coef.astype(np.float64)
    intercept = to_host(estimator.intercept_).astype(np.float64)
    bounds = check_bounds(
        getattr(estimator, "lower_bounds", None),
        getattr(estimator, "upper_bounds", None),
        *coef.shape,
    )
    if bounds is not None and ((coef <= bounds[0]) | (coef >= bounds[1])).any():
        k, j = (
            int(i[0]) for i in np.nonzero((coef <= bounds[0]) | (coef >= bounds[1]))
        )
        raise ValueError(
            "inference needs an interior optimum; coefficient "
            f"{names[j]!r} of class {classes[k]!r} is at its bound "
            f"({coef[k, j]!r}), where the likelihood's curvature does not "
            "describe its uncertainty. Refit without bounds, or with that "
            "feature's bound removed, to infer."
        )
    # The fitted probabilities, in float64, from the validated X.
    probabilities = linear_scores(X, coef, intercept)
    if offset is not None:
        probabilities += check_offset(offset, *probabilities.shape)
    _softmax_inplace(probabilities, axis=1)
    return compute_inference(
        X=X,
        y_index=y_index,
        probabilities=probabilities,
        coef=coef,
        intercept=intercept,
        sample_weight=weight,
        classes=classes,
        reference=reference,
        C=C,
        fit_intercept=estimator.fit_intercept,
        cov_type=cov_type,
        groups=groups,
        alpha=float(alpha),
        feature_names=list(names),
        max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes),
        penalty_factor=check_penalty_factor(
            getattr(estimator, "penalty_factor", None), X.shape[1]
        ),
    )


def compute_inference(
    *,
    X,
    y_index: np.ndarray,
    probabilities: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    sample_weight: np.ndarray,
    classes: np.ndarray,
    reference: int,
    C: float,
    fit_intercept: bool,
    cov_type: str,
    groups,
    alpha: float,
    feature_names: list,
    max_bytes: int = DEFAULT_MAX_BYTES,
    penalty_factor: np.ndarray | None = None,
) -> InferenceResult:
    """Build the :class:`InferenceResult` of a fit (see the module docstring).

    ``X`` is validated (float, dense or CSR/CSC); ``y_index`` the class index
    of each sample; ``probabilities`` the fitted ones (n_samples, n_classes);
    ``sample_weight`` the frequency weights (class weights included).
    """
    n_samples, n_features = X.shape
    n_classes = classes.size
    others = [k for k in range(n_classes) if k != reference]
    width = n_features + fit_intercept
    n_params = (n_classes - 1) * width
    _check_size(n_params, max_bytes)
    if sp.issparse(X) and X.format not in ("csr", "csc"):
        X = X.tocsr()

    weights = coef - coef[reference]
    params = weights[others]
    if fit_intercept:
        params = np.column_stack([params, (intercept - intercept[reference])[others]])

    s = sample_weight
    nobs = float(s.sum())
    rows = np.arange(n_samples)
    true_probability = probabilities[rows, y_index]
    with np.errstate(divide="ignore"):
        llf = float(np.dot(s, np.log(true_probability)))
    shares = class_totals(y_index, n_classes, s)
    present = shares > 0
    llnull = float(np.dot(shares[present], np.log(shares[present] / nobs)))

    # The Hessian of the negative log-likelihood, one pair of classes at a time.
    hessian = _pairwise_blocks(
        X,
        len(others),
        fit_intercept,
        lambda a, b: (
            s * probabilities[:, others[a]] * ((a == b) - probabilities[:, others[b]])
        ),
    )

    penalised = math.isfinite(C)
    bread = hessian
    if penalised:
        # (1/C) (I - 11^T / K) on the weights of every pair of classes; the
        # intercepts are not penalised.
        factor = np.ones(n_features) if penalty_factor is None else penalty_factor
        on_weights = np.diag(np.r_[factor, np.zeros(width - n_features)])
        penalty = np.kron(np.eye(n_classes - 1) - 1.0 / n_classes, on_weights) / C
        bread = hessian + penalty

    undetermined = None
    inverse = _inverse(bread)
    if not penalised:
        reference_curvature = _curvature_at_shares(
            X, s, shares / nobs, others, fit_intercept
        )
        undetermined, inverse = _separation(
            bread,
            reference_curvature,
            inverse,
            classes,
            others,
            feature_names,
            probabilities,
            y_index,
        )
    elif inverse is None:
        inverse = linalg.pinvh(bread)

    if cov_type == "nonrobust":
        cov = inverse if not penalised else inverse @ hessian @ inverse
    else:
        residual = -probabilities[:, others]
        for a, k in enumerate(others):
            residual[y_index == k, a] += 1.0
        if cov_type == "cluster":
            meat, n_groups = _cluster_meat(X, residual, s, groups, width, fit_intercept)
        else:
            meat = _pairwise_blocks(
                X,
                len(others),
                fit_intercept,
                lambda a, b: s * residual[:, a] * residual[:, b],
            )
        cov = inverse @ meat @ inverse
        if cov_type == "cluster":
            cov *= n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - n_params)
    cov = 0.5 * (cov + cov.T)
    return InferenceResult(
        params=params,
        cov_params=cov,
        llf=llf,
        llnull=llnull,
        nobs=nobs,
        n_classes=n_classes,
        n_features=n_features,
        classes=classes,
        reference_class=_python_scalar(classes[reference]),
        feature_names=list(feature_names) + (["intercept"] if fit_intercept else []),
        cov_type=cov_type,
        alpha=alpha,
        penalised=penalised,
        fit_intercept=fit_intercept,
        undetermined=undetermined,
    )


def _python_scalar(value):
    """Return a NumPy scalar as the Python one (for printing), else as is."""
    return value.item() if isinstance(value, np.generic) else value


def _inverse(matrix: np.ndarray) -> np.ndarray | None:
    """Return the inverse of a symmetric positive-definite matrix, or None."""
    try:
        factor = linalg.cho_factor(matrix, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    inverse = linalg.cho_solve(factor, np.eye(matrix.shape[0]), check_finite=False)
    if not np.all(np.isfinite(inverse)):
        return None
    return inverse


def _curvature_at_shares(X, s, shares, others, fit_intercept) -> np.ndarray:
    """Return the Hessian the data would have with the probabilities at the shares.

    ``(diag(pi) - pi pi^T) kron (X~^T diag(s) X~)`` over the non-reference
    classes: the curvature of a model whose features predict nothing, the
    yardstick against which a fit's flat directions are measured.
    """
    gram = _block(X, s, fit_intercept)
    pi = shares[others]
    return np.kron(np.diag(pi) - np.outer(pi, pi), gram)


def _separation(
    hessian, reference, inverse, classes, others, feature_names, probabilities, y
):
    """Detect (quasi-)separation; warn, and mark what it leaves undetermined.

    Along the directions the data do not determine, the fitted probabilities
    are 0 or 1 and the curvature vanishes: the generalised eigenvalues of the
    Hessian against ``reference`` (:func:`_curvature_at_shares`) fall below
    ``_SEPARATION_EIGENVALUE``. Returns a boolean array of the parameters
    with a share above ``_INVOLVED_LOADING`` in those directions (or None),
    and the inverse to use (the pseudo-inverse when the Hessian is singular).
    """
    n_params = hessian.shape[0]
    width = n_params // len(others)
    try:
        eigenvalues, eigenvectors = linalg.eigh(hessian, reference)
    except linalg.LinAlgError:
        # Collinear features: the yardstick itself is singular. Fall back to
        # the Hessian scaled to a unit diagonal.
        diagonal = np.sqrt(np.maximum(np.diag(hessian), np.finfo(float).tiny))
        eigenvalues, eigenvectors = linalg.eigh(hessian / np.outer(diagonal, diagonal))
        eigenvalues = eigenvalues / max(eigenvalues[-1], 1.0)
    flat = eigenvalues < _SEPARATION_EIGENVALUE
    if not flat.any():
        return None, inverse if inverse is not None else linalg.pinvh(hessian)
    # Each direction's share per parameter, in the yardstick's scale.
    scale = np.sqrt(np.maximum(np.diag(reference), np.finfo(float).tiny))
    directions = eigenvectors[:, flat] * scale[:, np.newaxis]
    directions /= np.linalg.norm(directions, axis=0)
    loading = np.abs(directions).max(axis=1)
    involved = (loading > _INVOLVED_LOADING).reshape(len(others), width)
    names = list(feature_names) + ["intercept"] * (width - len(feature_names))
    described = []
    for a, k in enumerate(others):
        if involved[a].any():
            features = [names[f] for f in np.flatnonzero(involved[a])]
            label = _python_scalar(classes[k])
            described.append(f"class {label!r}: {', '.join(map(str, features))}")
    certain = np.isclose(probabilities[np.arange(y.size), y], 1.0, atol=1e-8).mean()
    warnings.warn(
        "The data (quasi-)completely separate the classes: the unpenalised "
        "likelihood keeps increasing along a direction the data do not "
        "determine, so those coefficients diverge and their standard errors "
        "are reported as inf. Involved (contrast against the reference class): "
        f"{'; '.join(described)}. {certain:.0%} of the samples are fitted with "
        "probability 1. Remove or merge the separating features, or fit with a "
        "penalty (C < inf).",
        SeparationWarning,
        stacklevel=3,
    )
    if inverse is None:
        inverse = linalg.pinvh(hessian)
    return involved, inverse


def _cluster_meat(X, residual, s, groups, width, fit_intercept):
    """``sum_g u_g u_g^T`` over the groups' summed weighted scores."""
    if groups is None:
        raise ValueError('cov_type="cluster" needs groups=, one label per sample.')
    groups = np.asarray(groups)
    if groups.shape != (X.shape[0],):
        raise ValueError(
            f"groups must have one label per sample ({X.shape[0]}); got shape "
            f"{groups.shape}."
        )
    labels, group_index = np.unique(groups, return_inverse=True)
    n_groups = labels.size
    if n_groups < 2:
        raise ValueError('cov_type="cluster" needs at least 2 groups.')
    indicator = sp.csr_matrix(
        (np.ones(X.shape[0]), (group_index, np.arange(X.shape[0]))),
        shape=(n_groups, X.shape[0]),
    )
    parts = []
    for a in range(residual.shape[1]):
        v = s * residual[:, a]
        summed = indicator @ (sp.diags(v) @ X if sp.issparse(X) else X * v[:, None])
        summed = summed.toarray() if sp.issparse(summed) else np.asarray(summed)
        if fit_intercept:
            summed = np.column_stack([summed, indicator @ v])
        parts.append(summed)
    scores = np.hstack(parts)  # n_groups x n_params
    return scores.T @ scores, n_groups
