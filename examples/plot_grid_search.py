"""
Choosing C: a Pipeline with StandardScaler and GridSearchCV
===========================================================

:class:`~softmax_regression.SoftmaxRegression` is a scikit-learn classifier, so
it goes into a :class:`~sklearn.pipeline.Pipeline` and is tuned with
:class:`~sklearn.model_selection.GridSearchCV` like any other. Scaling inside
the pipeline keeps each fold's test data out of the scaler's statistics.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression

X, y = load_wine(return_X_y=True)
pipeline = make_pipeline(StandardScaler(), SoftmaxRegression())
search = GridSearchCV(
    pipeline,
    {"softmaxregression__C": np.logspace(-3, 4, 15)},
    cv=StratifiedKFold(5, shuffle=True, random_state=0),
    scoring="neg_log_loss",
).fit(X, y)
best_c = search.best_params_["softmaxregression__C"]
print(f"best C: {best_c:.4g}, cross-validated log-loss: {-search.best_score_:.4f}")

# %%
# Cross-validated log-loss against C
# ----------------------------------
# Too small a C underfits (everything near uniform probabilities), too large
# a C lets the model grow over-confident.
results = search.cv_results_
c_values = np.asarray(results["param_softmaxregression__C"], dtype=float)
fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(
    c_values,
    -results["mean_test_score"],
    yerr=results["std_test_score"],
    marker="o",
    capsize=3,
)
ax.axvline(best_c, color="k", linestyle="--", label=f"best C = {best_c:.3g}")
ax.set_xscale("log")
ax.set_xlabel("C")
ax.set_ylabel("cross-validated log-loss")
ax.set_title("Wine: choosing C with GridSearchCV")
ax.legend()
fig.savefig("grid_search_log_loss.png", dpi=100, bbox_inches="tight")
