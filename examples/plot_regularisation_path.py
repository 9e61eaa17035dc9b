"""
Regularisation paths: choosing C and l1_ratio with SoftmaxRegressionCV
======================================================================

:class:`~softmax_regression.SoftmaxRegressionCV` fits every fold along a path
from strong to weak penalty, each fit starting from the previous solution, for
each ``l1_ratio``. Here, on digits: the cross-validated log-loss along the
paths, and how many coefficients the L1 part of the penalty sets exactly to
zero.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegressionCV

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
l1_ratios = [0.0, 0.5, 1.0]
search = SoftmaxRegressionCV(
    Cs=np.logspace(-3, 1, 9),
    l1_ratios=l1_ratios,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    scoring="neg_log_loss",
).fit(X, y)
print(f"best C = {search.C_:.3g}, best l1_ratio = {search.l1_ratio_:g}")
print(f"iterations along all paths: {search.n_iter_.sum()}")

# %%
# Cross-validated log-loss and sparsity along the paths
# -----------------------------------------------------
# ``coefs_paths_`` holds every fold's solution; its last column is the
# intercepts, which are not penalised.
fig, (ax_score, ax_zeros) = plt.subplots(1, 2, figsize=(10, 4))
for index, l1_ratio in enumerate(l1_ratios):
    mean_loss = -search.scores_[:, index].mean(axis=0)
    weights = search.coefs_paths_[:, index, :, :, :-1]
    zero_share = (weights == 0).mean(axis=(0, 2, 3))
    ax_score.plot(search.Cs_, mean_loss, marker="o", label=f"l1_ratio={l1_ratio:g}")
    ax_zeros.plot(search.Cs_, zero_share, marker="o", label=f"l1_ratio={l1_ratio:g}")
ax_score.set_xscale("log")
ax_score.set_xlabel("C")
ax_score.set_ylabel("cross-validated log-loss")
ax_score.legend()
ax_zeros.set_xscale("log")
ax_zeros.set_xlabel("C")
ax_zeros.set_ylabel("share of coefficients exactly zero")
fig.suptitle("SoftmaxRegressionCV on digits")
fig.savefig("regularisation_paths.png", dpi=100, bbox_inches="tight")
