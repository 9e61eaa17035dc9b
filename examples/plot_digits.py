"""
Digits: accuracy, confusion matrix and the learned weights
==========================================================

Fit :class:`~softmax_regression.SoftmaxRegression` on the 8x8 digits, report
the test accuracy, draw the confusion matrix and show the ten weight vectors
as 8x8 images: each is the template its class's score is the dot product with.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)
scaler = StandardScaler().fit(X_train)
model = SoftmaxRegression(C=0.1).fit(scaler.transform(X_train), y_train)
accuracy = model.score(scaler.transform(X_test), y_test)
print(f"test accuracy: {accuracy:.4f} after {model.n_iter_[0]} iterations")

# %%
# Confusion matrix
# ----------------
fig, ax = plt.subplots(figsize=(6, 6))
ConfusionMatrixDisplay.from_estimator(
    model, scaler.transform(X_test), y_test, ax=ax, colorbar=False
)
ax.set_title(f"Digits, test accuracy {accuracy:.3f}")
fig.savefig("digits_confusion_matrix.png", dpi=100, bbox_inches="tight")

# %%
# The ten weight vectors
# ----------------------
# Red pixels raise the class's score, blue ones lower it (standardised pixels,
# so the scale is comparable across pixels).
fig, axes = plt.subplots(2, 5, figsize=(10, 4.5))
limit = np.abs(model.coef_).max()
for k, ax in enumerate(axes.ravel()):
    ax.imshow(model.coef_[k].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"class {model.classes_[k]}")
    ax.axis("off")
fig.suptitle("SoftmaxRegression coef_ as 8x8 images")
fig.savefig("digits_coefficients.png", dpi=100, bbox_inches="tight")
