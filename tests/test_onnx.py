"""ONNX export through skl2onnx, checked against the model with onnxruntime."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV

skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")
import softmax_regression.onnx  # noqa: E402, F401  (registers the converters)


def run(model, X, **options):
    onx = skl2onnx.to_onnx(model, X[:1], options=options or None)
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def probabilities(outputs, classes, zipmap):
    if zipmap is True:
        return np.array([[row[label] for label in classes] for row in outputs[1]])
    if zipmap == "columns":
        return np.column_stack(outputs[1:])
    return outputs[1]


def problem(n_classes, string_labels):
    if n_classes == 10:
        X, y = load_digits(return_X_y=True)
    else:
        X, y = load_iris(return_X_y=True)
        keep = y < n_classes
        X, y = X[keep], y[keep]
    X = StandardScaler().fit_transform(X)
    if string_labels:
        y = np.array([f"class {label}" for label in y])
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3, 10])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zipmap", [True, False, "columns"])
@pytest.mark.parametrize("string_labels", [False, True])
def test_same_labels_and_probabilities(n_classes, dtype, zipmap, string_labels):
    X, y = problem(n_classes, string_labels)
    X = X.astype(dtype)
    model = SoftmaxRegression(C=10.0).fit(X, y)
    outputs = run(model, X, zipmap=zipmap)
    assert_array_equal(outputs[0], model.predict(X))
    proba = probabilities(outputs, model.classes_, zipmap)
    assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-6)
    if dtype == np.float64 and zipmap is False:
        assert proba.dtype == np.float64  # ZipMap's are float32 by ONNX's rule
        assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-14)


def test_cv_estimator_pipeline_and_sparse_coef():
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SoftmaxRegressionCV(Cs=3, cv=3))
    pipeline.fit(X, y)
    outputs = run(pipeline, X, zipmap=False)
    assert_array_equal(outputs[0], pipeline.predict(X))
    assert_allclose(outputs[1], pipeline.predict_proba(X), atol=1e-12)
    lasso = SoftmaxRegression(C=0.05, l1_ratio=1.0).fit(X, y).sparsify()
    outputs = run(lasso, X, zipmap=False)
    assert_array_equal(outputs[0], lasso.predict(X))
    assert_allclose(outputs[1], lasso.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_raw_scores_and_class_indices(n_classes):
    X, y = problem(n_classes, string_labels=True)
    model = SoftmaxRegression().fit(X, y)
    outputs = run(model, X, zipmap=False, raw_scores=True, nocl=True)
    assert_array_equal(outputs[0], np.searchsorted(model.classes_, model.predict(X)))
    scores = X @ model.coef_.T + model.intercept_
    assert_allclose(outputs[1], scores, rtol=1e-12, atol=1e-12)


def test_integral_float_and_boolean_labels():
    X, y = load_iris(return_X_y=True)
    for labels in (y.astype(float), y == 2):
        model = SoftmaxRegression().fit(X, labels)
        outputs = run(model, X, zipmap=False)
        assert_array_equal(outputs[0], model.predict(X).astype(int))
        assert_allclose(outputs[1], model.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("frame", [False, True])
def test_soft_target_model_exports(frame):
    """Soft targets and label smoothing change the fit, not the graph."""
    X, _ = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    targets = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    if frame:
        pd = pytest.importorskip("pandas")
        targets = pd.DataFrame(targets, columns=["setosa", "versicolor", "virginica"])
    model = SoftmaxRegression(label_smoothing=0.1).fit(X, targets)
    labels, probability = run(model, X, zipmap=False)
    assert_array_equal(labels, model.predict(X))
    assert_allclose(probability, model.predict_proba(X), atol=1e-6)
