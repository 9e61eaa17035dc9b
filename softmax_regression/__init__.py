"""Multinomial logistic (softmax) regression for scikit-learn.

:class:`SoftmaxRegression` minimises the same objective as
:class:`sklearn.linear_model.LogisticRegression`, so the same ``C`` gives the
same model; :class:`SoftmaxRegressionCV` chooses ``C`` and ``l1_ratio`` by
cross-validation; the functions are the maths they are built on.
"""

from ._cv import SoftmaxRegressionCV
from ._estimator import SoftmaxRegression
from ._inference import InferenceResult, SeparationWarning
from ._loss import cross_entropy, cross_entropy_grad, log_softmax, softmax
from ._paths import l1_min_c
from ._version import __version__

# Pickles and skops files name the estimators by their public path, which stays
# valid whatever private module they are defined in.
for _estimator in (SoftmaxRegression, SoftmaxRegressionCV):
    _estimator.__module__ = __name__
del _estimator

__all__ = [
    "InferenceResult",
    "SeparationWarning",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "__version__",
    "cross_entropy",
    "cross_entropy_grad",
    "l1_min_c",
    "log_softmax",
    "softmax",
]
