"""
Iris: decision regions and class probabilities
===============================================

Fit :class:`~softmax_regression.SoftmaxRegression` on two features of the iris
data set, draw the decision regions it induces, and the probability it gives to
each class along a line through feature space. The regions of a softmax model
are convex polygons: class ``k`` wins where ``w_k . x + b_k`` is the largest.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris

from softmax_regression import SoftmaxRegression

iris = load_iris()
X = iris.data[:, :2]  # sepal length and width
y = iris.target
model = SoftmaxRegression(C=10.0).fit(X, y)
print(f"training accuracy on two features: {model.score(X, y):.3f}")

# %%
# Decision regions
# ----------------
# ``predict`` on a grid; the most probable class colours each cell.
x_min, x_max = X[:, 0].min() - 0.5, X[:, 0].max() + 0.5
y_min, y_max = X[:, 1].min() - 0.5, X[:, 1].max() + 0.5
grid_x, grid_y = np.meshgrid(
    np.linspace(x_min, x_max, 300), np.linspace(y_min, y_max, 300)
)
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
regions = model.predict(grid).reshape(grid_x.shape)

fig, ax = plt.subplots(figsize=(6, 5))
ax.contourf(grid_x, grid_y, regions, alpha=0.3, levels=[-0.5, 0.5, 1.5, 2.5])
scatter = ax.scatter(X[:, 0], X[:, 1], c=y, edgecolor="k", s=25)
ax.set_xlabel(iris.feature_names[0])
ax.set_ylabel(iris.feature_names[1])
ax.set_title("SoftmaxRegression decision regions (C=10)")
ax.legend(scatter.legend_elements()[0], iris.target_names, loc="upper left")
fig.savefig("iris_decision_regions.png", dpi=100, bbox_inches="tight")

# %%
# Probabilities along a line
# --------------------------
# Moving along sepal length at the mean sepal width, the softmax hands the
# probability from one class to the next; the three curves sum to one.
sepal_length = np.linspace(x_min, x_max, 200)
line = np.column_stack([sepal_length, np.full_like(sepal_length, X[:, 1].mean())])
probabilities = model.predict_proba(line)

fig, ax = plt.subplots(figsize=(6, 4))
for k, name in enumerate(iris.target_names):
    ax.plot(sepal_length, probabilities[:, k], label=name)
ax.set_xlabel(iris.feature_names[0])
ax.set_ylabel("probability")
ax.set_title("Class probabilities at mean sepal width")
ax.legend()
fig.savefig("iris_probabilities.png", dpi=100, bbox_inches="tight")
