"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV


@parametrize_with_checks(
    [
        SoftmaxRegression(),
        SoftmaxRegression(fit_intercept=False),
        SoftmaxRegression(class_weight="balanced"),
        SoftmaxRegression(C=0.1, class_weight="balanced", fit_intercept=False),
        SoftmaxRegression(solver="newton-cg"),
        SoftmaxRegression(solver="trust-ncg"),
        SoftmaxRegression(solver="trust-krylov"),
        SoftmaxRegression(l1_ratio=0.5),
        SoftmaxRegressionCV(),  # the defaults: 5 folds, 10 Cs
        SoftmaxRegressionCV(Cs=3, cv=3),
        SoftmaxRegressionCV(Cs=[0.1, 1.0], l1_ratios=[0.0, 1.0], cv=3),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
