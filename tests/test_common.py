"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from softmax_regression import SoftmaxRegression


@parametrize_with_checks(
    [
        SoftmaxRegression(),
        SoftmaxRegression(fit_intercept=False),
        SoftmaxRegression(class_weight="balanced"),
        SoftmaxRegression(C=0.1, class_weight="balanced", fit_intercept=False),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
