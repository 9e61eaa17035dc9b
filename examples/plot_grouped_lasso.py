"""
Grouped selection: one set of features for all classes
======================================================

The L1 penalty of a multinomial model (``l1_type="ungrouped"``) zeroes single
coefficients: a feature can stay in the model for one class and leave it for
the others, so "which features does the model use?" has no single answer.
``l1_type="grouped"`` (glmnet's ``type.multinomial = "grouped"``) penalises
the Euclidean norm of each feature's coefficients over the classes: a
feature is kept or dropped for every class at once.

Here, on the wine data (13 chemical measurements, 3 cultivars), the path of
each feature's coefficient norm from :func:`~softmax_regression.l1_min_c`
(the largest ``C`` at which every coefficient is zero) upwards, fitted with
warm starts by ``solver="newton-cd"``, and how many features each penalty
needs at the same number of non-zero coefficients.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, l1_min_c

data = load_wine()
X = StandardScaler().fit_transform(data.data)
y = data.target
names = np.array(data.feature_names)


def path(l1_type):
    """Coefficients along C from where the path starts, warm-started."""
    C_min = l1_min_c(X, y, l1_type=l1_type)
    Cs = C_min * np.logspace(0, 2.5, 25)
    model = SoftmaxRegression(l1_ratio=1.0, l1_type=l1_type, warm_start=True)
    coefs = np.array([model.set_params(C=C).fit(X, y).coef_ for C in Cs])
    return Cs, coefs


Cs, grouped = path("grouped")
_, ungrouped = path("ungrouped")
norms = np.linalg.norm(grouped, axis=1)  # (n_Cs, n_features)
order = np.argsort([np.argmax(column > 0) for column in norms.T])
print("features in the order the grouped path selects them:")
for rank, feature in enumerate(order[:6], start=1):
    first = Cs[np.argmax(norms[:, feature] > 0)]
    print(f"  {rank}. {names[feature]:<30} from C = {first:.3g}")

# %%
# The grouped path
# ----------------
# Each line is one feature's norm over the three classes: it leaves zero once
# and for all classes.
fig, (ax_path, ax_count) = plt.subplots(1, 2, figsize=(11, 4))
for feature in order:
    ax_path.plot(Cs, norms[:, feature], label=names[feature])
ax_path.set_xscale("log")
ax_path.set_xlabel("C")
ax_path.set_ylabel(r"$\|W_{:,j}\|_2$")
ax_path.set_title("grouped L1 path on wine")
ax_path.legend(fontsize=6, ncol=2)

# %%
# Features used for a given number of non-zero coefficients
# ----------------------------------------------------------
# The ungrouped penalty spreads its non-zero coefficients over more features:
# a feature counts as used if any class gives it a weight.
for coefs, label in [(grouped, "grouped"), (ungrouped, "ungrouped")]:
    nonzero = (coefs != 0).sum(axis=(1, 2))
    features = np.any(coefs != 0, axis=1).sum(axis=1)
    ax_count.plot(nonzero, features, marker=".", label=label)
ax_count.set_xlabel("non-zero coefficients")
ax_count.set_ylabel("features used")
ax_count.legend()
fig.tight_layout()
fig.savefig("grouped_lasso_path.png", dpi=100)
