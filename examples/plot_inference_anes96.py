"""
Inference: the anes96 multinomial logit, as Stata and statsmodels report it
===========================================================================

The American National Election Studies 1996 sample (shipped with
statsmodels): party identification, seven categories from strong Democrat
(0) to strong Republican (6), against log population, self-placement on the
liberal-conservative scale, age, education and income. Stata's
``mlogit, basezero`` table for it is a standard reference.

An unpenalised :class:`~softmax_regression.SoftmaxRegression` (``C=np.inf``)
is the maximum-likelihood fit; :meth:`~softmax_regression.SoftmaxRegression.inference`
reports its coefficients as contrasts against the reference class (strong
Democrat), with standard errors, z-tests and intervals. The figure shows
each contrast's coefficient on self-placement with its 95% interval, under
the classical and the robust (HC0) covariance.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import statsmodels.api as sm

from softmax_regression import SoftmaxRegression

data = sm.datasets.anes96.load_pandas()
X, y = data.exog, data.endog.astype(int)
model = SoftmaxRegression(C=np.inf, solver="newton-cg", tol=1e-10).fit(X, y)
result = model.inference(X, y)
print(result.summary())

# %%
# The same table from statsmodels, for comparison: equal to 7 digits (the
# test suite checks params, standard errors, covariance, log-likelihoods and
# the likelihood-ratio test against it and against Stata's published values).
reference = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0)
difference = np.abs(result.bse - reference.bse.to_numpy().T).max()
print(f"largest difference in standard errors: {difference:.2e}")

# %%
# Ideology against party identification
# -------------------------------------
# The coefficient of self-placement (``selfLR``) in each contrast, with the
# classical and the heteroscedasticity-robust 95% intervals.
robust = model.inference(X, y, cov_type="HC0")
column = list(X.columns).index("selfLR")
classes = np.arange(1, 7)
fig, ax = plt.subplots(figsize=(7, 4))
for offset, (label, res) in zip(
    (-0.1, 0.1), (("nonrobust", result), ("HC0", robust)), strict=True
):
    lower, upper = res.conf_int()
    centre = res.params[:, column]
    ax.errorbar(
        classes + offset,
        centre,
        yerr=[centre - lower[:, column], upper[:, column] - centre],
        fmt="o",
        capsize=3,
        label=label,
    )
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set_xlabel("party identification (contrast against 0, strong Democrat)")
ax.set_ylabel("coefficient of selfLR")
ax.set_title("anes96: 95% intervals")
ax.legend()
fig.savefig("anes96_selfLR_intervals.png", dpi=100, bbox_inches="tight")
