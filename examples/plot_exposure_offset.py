"""
An exposure offset and a sign constraint: which product a customer buys
=======================================================================

Each customer buys one of four products, and the chance of each depends on
the customer (five features) and on how much shelf space the shop gave each
product that day, its *exposure*. With exposure :math:`e_{ik}` the model is

.. math::

    P(y_i = k) \\propto e_{ik} \\exp(w_k^\\top x_i + b_k)
    = \\exp(w_k^\\top x_i + b_k + \\log e_{ik}),

a softmax regression whose scores carry the known term
:math:`o_{ik} = \\log e_{ik}`: an ``offset``, passed to ``fit`` and to every
prediction. Fitted without it, the coefficients absorb whatever in the
customers correlates with the shelf space (here: shops put more of product 3
in front of customers with a high feature 0) and come out biased.

Knowing more than the data say can also be written down: the effect of
feature 4 on product 2 cannot be negative (it is the customer's use of that
product's add-ons), which ``lower_bounds`` imposes on that one coefficient,
and a small sample then cannot flip its sign.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.metrics import log_loss

from softmax_regression import SoftmaxRegression

rng = np.random.default_rng(0)
n_samples, n_features, n_classes = 4_000, 5, 4
X = rng.normal(size=(n_samples, n_features))
true_coef = rng.normal(scale=0.8, size=(n_classes, n_features))
true_coef -= true_coef.mean(axis=0)  # identified up to a shift: centre it
true_coef[2, 4] = 0.15  # a small positive effect
true_intercept = np.array([0.5, -0.2, 0.0, -0.3])
# Shelf space: more of product 3 where feature 0 is high.
exposure = rng.uniform(0.5, 2.0, size=(n_samples, n_classes))
exposure[:, 3] *= np.exp(0.8 * X[:, 0])
offset = np.log(exposure)
probabilities = softmax(X @ true_coef.T + true_intercept + offset, axis=1)
y = np.array([rng.choice(n_classes, p=row) for row in probabilities])
train, test = slice(0, 3_000), slice(3_000, None)

with_offset = SoftmaxRegression(C=10.0).fit(X[train], y[train], offset=offset[train])
without = SoftmaxRegression(C=10.0).fit(X[train], y[train])
for name, model, kwargs in [
    ("with the offset", with_offset, {"offset": offset[test]}),
    ("without it", without, {}),
]:
    loss = log_loss(y[test], model.predict_proba(X[test], **kwargs))
    error = np.abs(model.coef_ - true_coef).max()
    print(f"{name:16s} test log-loss {loss:.4f}, largest coefficient error {error:.3f}")

# %%
# A sign constraint on one coefficient
# ------------------------------------
# On samples of 150 customers the unconstrained estimate of the small
# positive effect of feature 4 on product 2 often comes out negative; the
# bound keeps it non-negative (every other coefficient is free: ``-inf``),
# and it is closer to the truth on average.
lower = np.full((n_classes, n_features), -np.inf)
lower[2, 4] = 0.0
estimates = {"free": [], "bounded": []}
for start in range(0, 3_000, 150):
    rows = slice(start, start + 150)
    for name, bound in [("free", None), ("bounded", lower)]:
        model = SoftmaxRegression(C=10.0, lower_bounds=bound)
        model.fit(X[rows], y[rows], offset=offset[rows])
        estimates[name].append(model.coef_[2, 4])
for name, values in estimates.items():
    values = np.array(values)
    print(
        f"{name:8s} negative on {np.sum(values < 0):2d} of {values.size} samples, "
        f"root mean squared error {np.sqrt(np.mean((values - 0.15) ** 2)):.3f}"
    )

# %%
# The coefficients against the truth
# ----------------------------------
fig, ax = plt.subplots(figsize=(7, 3.5))
positions = np.arange(n_classes * n_features)
ax.bar(positions - 0.27, true_coef.ravel(), width=0.27, label="true")
ax.bar(positions, with_offset.coef_.ravel(), width=0.27, label="with offset")
ax.bar(positions + 0.27, without.coef_.ravel(), width=0.27, label="without offset")
ax.set_xticks(
    positions,
    [f"{k},{j}" for k in range(n_classes) for j in range(n_features)],
    fontsize=7,
    rotation=90,
)
ax.set_xlabel("coefficient (product, feature)")
ax.set_ylabel("value")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("exposure_offset_coefficients.png", dpi=100)
