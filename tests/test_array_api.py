"""The array API path: fits and predictions on arrays of other namespaces.

array-api-strict (in the test extra) always runs: it accepts only what the
standard specifies, and its "device1" is a device of its own, so any array
that leaves it by accident, or any operation mixing it with the host, fails.
PyTorch (CPU, and CUDA where present) and CuPy run where installed.
Every result is compared with the NumPy fit.
"""

import numpy as np
import pytest
import sklearn
from bad_input import spoil
from numpy.testing import assert_allclose, assert_array_equal
from optimum import assert_same_fit, assert_same_optimum, flat_coef, objective_for
from sklearn.datasets import make_classification
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import get_namespace_and_device, move_estimator_to

from softmax_regression import SoftmaxRegression, SoftmaxRegressionCV
from softmax_regression import _weights as weights_module
from softmax_regression._arrays import to_host
from softmax_regression._backends import array_api as array_api_module
from softmax_regression._backends.array_api import ArrayAPIData, ArrayAPIOperations
from softmax_regression._backends.memory import InMemoryData
from softmax_regression._shard import CrossEntropyShard
from softmax_regression._weights import normalised_weights


def _namespaces():
    yield pytest.param(("array_api_strict", "device1"), id="array_api_strict")
    yield pytest.param(("torch", "cpu"), id="torch-cpu")
    yield pytest.param(("torch", "cuda"), id="torch-cuda")
    yield pytest.param(("cupy", None), id="cupy")


@pytest.fixture(params=list(_namespaces()))
def namespace(request):
    """``(xp, device)``: the module and a device of it; skipped if missing."""
    name, device_name = request.param
    module = pytest.importorskip(name)
    if name == "array_api_strict":
        return module, module.Device(device_name)
    if name == "torch" and device_name == "cuda" and not module.cuda.is_available():
        pytest.skip("no CUDA device")
    if name == "cupy":
        try:
            module.cuda.runtime.getDeviceCount()
        except Exception:
            pytest.skip("no CUDA device")
        return module, None
    return module, module.device(device_name)


def _to(namespace, array):
    xp, device = namespace
    return None if array is None else xp.asarray(array, device=device)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=400,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    weight = np.random.default_rng(0).uniform(0, 3, size=X.shape[0])
    return X, y, weight


def _dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def _assert_on_device(array, reference):
    """``array`` is in the namespace and on the device of ``reference``."""
    with _dispatch():
        xp, _, device = get_namespace_and_device(array)
        xp_reference, _, device_reference = get_namespace_and_device(reference)
    assert xp.__name__ == xp_reference.__name__
    assert device == device_reference


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "lbfgs"},
        {"solver": "newton-cg"},
        {"solver": "trust-ncg"},
        {"solver": "trust-krylov"},
        {"solver": "auto"},
        {"solver": "lbfgs", "l1_ratio": 0.5, "C": 0.5},
        {"solver": "newton-cg", "fit_intercept": False},
        {"solver": "newton-cg", "class_weight": "balanced"},
    ],
    ids=lambda params: "-".join(f"{key}={value}" for key, value in params.items()),
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_fit_equals_numpy_fit(namespace, data, params, weighted):
    """The NumPy fit's model, on the device.

    The device rounds differently, so the two fits stop at different points
    of their stopping regions: compared by what their gradients imply
    (tests/optimum.py); the elastic net's zeros may differ only where a
    coefficient is within that bound of zero.
    """
    X, y, weight = data
    sample_weight = weight if weighted else None
    settings = {"tol": 1e-8, "max_iter": 1000, **params}
    expected = SoftmaxRegression(**settings).fit(X, y, sample_weight=sample_weight)
    X_xp = _to(namespace, X)
    with _dispatch():
        model = SoftmaxRegression(**settings).fit(
            X_xp, _to(namespace, y), sample_weight=_to(namespace, sample_weight)
        )
    for name in ("coef_", "intercept_", "n_iter_"):
        _assert_on_device(getattr(model, name), X_xp)
    agreement = assert_same_fit(
        model, expected, X, y, sample_weight=sample_weight, needed=1e-3
    )
    if params.get("l1_ratio"):
        differ = (to_host(model.coef_) == 0) != (expected.coef_ == 0)
        assert np.all(np.abs(expected.coef_[differ]) <= agreement.distance)
    assert to_host(model.coef_).dtype == np.float64
    assert_array_equal(to_host(model.classes_), expected.classes_)
    assert to_host(model.n_iter_).dtype == np.int32


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_equal_numpy(namespace, data, n_classes):
    """Every prediction method, in X's namespace and on its device: the same
    model's predictions on the host (the fits are compared in
    test_fit_equals_numpy_fit), so only the prediction's rounding differs."""
    X, y, weight = data
    y = y % n_classes
    settings = {"solver": "newton-cg", "tol": 1e-8}
    X_xp, y_xp = _to(namespace, X), _to(namespace, y)
    with _dispatch():
        model = SoftmaxRegression(**settings).fit(
            X_xp, y_xp, sample_weight=_to(namespace, weight)
        )
        expected = move_estimator_to(model, np, "cpu")
        for method in (
            "decision_function",
            "predict",
            "predict_proba",
            "predict_log_proba",
        ):
            result = getattr(model, method)(X_xp)
            _assert_on_device(result, X_xp)
            reference = getattr(expected, method)(X)
            assert tuple(result.shape) == reference.shape
            assert_allclose(to_host(result), reference, rtol=1e-12, atol=1e-14)
        score = model.score(X_xp, y_xp, sample_weight=_to(namespace, weight))
    assert isinstance(score, float)
    assert score == pytest.approx(expected.score(X, y, sample_weight=weight))


def test_factors_bounds_and_offset_on_the_device(namespace, data):
    """Penalty factors, bounds and an offset on the device: the NumPy model.

    The two fits round differently, so they stop at different points of
    L-BFGS-B's stopping region: compared by what their gradients imply
    (tests/optimum.py), the coefficients both hold at a bound exactly.
    """
    X, y, weight = data
    offset = np.random.default_rng(3).normal(size=(y.size, 3))
    settings = {
        "tol": 1e-8,
        "penalty_factor": np.r_[0.0, 2.0, 1.0, 0.5, 1.0, 3.0],
        "lower_bounds": -0.5,
        "upper_bounds": np.full(X.shape[1], 2.0),
    }
    expected = SoftmaxRegression(**settings).fit(
        X, y, sample_weight=weight, offset=offset
    )
    X_xp, offset_xp = _to(namespace, X), _to(namespace, offset)
    with _dispatch():
        model = SoftmaxRegression(**settings).fit(
            X_xp,
            _to(namespace, y),
            sample_weight=_to(namespace, weight),
            offset=offset_xp,
        )
        proba = model.predict_proba(X_xp, offset=offset_xp)
        _assert_on_device(proba, X_xp)
        score = model.score(X_xp, _to(namespace, y), offset=offset)
    loss = objective_for(
        X,
        y,
        3,
        sample_weight=weight,
        penalty_factor=settings["penalty_factor"],
        offset=offset,
    )
    n_features = X.shape[1]
    bounds = (np.full((3, n_features), -0.5), np.full((3, n_features), 2.0))
    tolerance = assert_same_optimum(
        loss, flat_coef(model), flat_coef(expected), needed=1e-3, bounds=bounds, X=X
    ).probability
    assert_allclose(
        to_host(proba), expected.predict_proba(X, offset=offset), atol=tolerance
    )
    assert score == expected.score(X, y, offset=offset)
    assert np.all(to_host(model.coef_) >= -0.5) and np.all(to_host(model.coef_) <= 2.0)
    with _dispatch(), pytest.raises(ValueError, match="offset must have shape"):
        model.predict(X_xp, offset=offset_xp[:, :2])
    with _dispatch(), pytest.raises(ValueError, match="offset must not contain"):
        model.predict(X_xp, offset=_to(namespace, np.full((y.size, 3), np.nan)))


def test_float32_stays_float32(namespace, data):
    xp, _ = namespace
    X, y, _ = data
    X32 = X.astype(np.float32)
    expected = SoftmaxRegression().fit(X32, y)
    X_xp = _to(namespace, X32)
    with _dispatch():
        model = SoftmaxRegression().fit(X_xp, _to(namespace, y))
        probabilities = model.predict_proba(X_xp)
    assert model.coef_.dtype == xp.float32
    assert probabilities.dtype == xp.float32
    # float32 arithmetic in another order: as close as float32 allows.
    assert_allclose(to_host(model.coef_), expected.coef_, rtol=1e-4, atol=1e-4)
    assert_allclose(to_host(probabilities), expected.predict_proba(X32), atol=1e-5)


def test_labels_and_weights_follow_x(data):
    """y and sample_weight of another namespace (NumPy, strings) move to X's."""
    xp = pytest.importorskip("array_api_strict")
    X, y, weight = data
    labels = np.array(["ant", "bee", "cat"])[y]
    settings = {"solver": "newton-cg", "tol": 1e-8}
    expected = SoftmaxRegression(**settings).fit(X, labels, sample_weight=weight)
    X_xp = xp.asarray(X, device=xp.Device("device1"))
    with _dispatch():
        model = SoftmaxRegression(**settings).fit(X_xp, labels, sample_weight=weight)
        predicted = model.predict(X_xp)
    _assert_on_device(model.coef_, X_xp)
    assert isinstance(model.classes_, np.ndarray)  # strings stay NumPy
    assert_array_equal(predicted, expected.predict(X))
    assert_allclose(to_host(model.coef_), expected.coef_, rtol=1e-10, atol=1e-12)


def test_only_coefficient_sized_arrays_cross(monkeypatch, data):
    """Each evaluation moves n_coef numbers each way; nothing of n_samples.

    Counts every transfer to the host and every upload of the solver's
    coefficients, on data with many more samples than coefficients.
    """
    xp = pytest.importorskip("array_api_strict")
    X, y, weight = data
    X = np.tile(X, (10, 1))  # 4,000 samples, 21 coefficients
    y, weight = np.tile(y, 10), np.tile(weight, 10)
    n_coef = 3 * (X.shape[1] + 1)
    sizes = {"to_host": [], "from_host": []}
    original_to_host = array_api_module.to_host
    original_from_host = ArrayAPIOperations.from_host

    def recording_to_host(array):
        sizes["to_host"].append(int(np.prod(array.shape)))
        return original_to_host(array)

    def recording_from_host(self, array, dtype):
        sizes["from_host"].append(array.size)
        return original_from_host(self, array, dtype)

    # Set-up sums (class totals) come to the host through the weights' module.
    monkeypatch.setattr(array_api_module, "to_host", recording_to_host)
    monkeypatch.setattr(weights_module, "to_host", recording_to_host)
    monkeypatch.setattr(ArrayAPIOperations, "from_host", recording_from_host)
    device = xp.Device("device1")
    with _dispatch():
        SoftmaxRegression(solver="newton-cg").fit(
            xp.asarray(X, device=device),
            xp.asarray(y, device=device),
            sample_weight=xp.asarray(weight, device=device),
        )
    assert max(sizes["to_host"]) <= n_coef + 1  # gradient and loss together
    # The coefficients, and the constant row of the stop's duality gap
    # (softmax_regression._duality) at each point the stop checks it.
    assert set(sizes["from_host"]) == {n_coef, 3}
    # One transfer back per upload (per loss/gradient, Hessian product or
    # duality gap's row), plus the per-class and per-feature sums of the
    # set-up and of the duality gap.
    assert len(sizes["to_host"]) - len(sizes["from_host"]) <= 7


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block_bytes", [1 << 30, 256], ids=["one-block", "blocks"])
def test_data_term_equals_numpy(namespace, dtype, block_bytes, monkeypatch):
    """The shard with the array API primitives is the NumPy shard's maths."""
    monkeypatch.setattr(ArrayAPIOperations, "block_bytes", block_bytes)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 7)).astype(dtype)
    y = rng.integers(0, 4, size=300)
    normalised_weight = normalised_weights(rng.uniform(0, 2, size=300), 300)
    coef = rng.normal(size=4 * 8)
    direction = rng.normal(size=4 * 8)
    X_xp = _to(namespace, X)
    with _dispatch():
        xp, _, device = get_namespace_and_device(X_xp)
        operations = ArrayAPIOperations(xp, device)
        shard = CrossEntropyShard(
            X_xp,
            _to(namespace, y),
            4,
            _to(namespace, normalised_weight),
            True,
            operations=operations,
        )
        if block_bytes == 256:
            assert len(shard._blocks) > 1
        loss, gradient = shard.loss_gradient(X_xp, coef)
        product = shard.hessp(X_xp, coef, direction)
    reference = CrossEntropyShard(X, y, 4, normalised_weight, True)
    expected_loss, expected_gradient = reference.loss_gradient(X, coef)
    expected_product = reference.hessp(X, coef, direction)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected_loss, rel=rtol)
    assert gradient.dtype == product.dtype == np.float64
    assert_allclose(gradient, expected_gradient, rtol=rtol, atol=rtol)
    assert_allclose(product, expected_product, rtol=rtol, atol=rtol)


def test_warm_start_on_device(namespace, data):
    X, y, _ = data
    X_xp, y_xp = _to(namespace, X), _to(namespace, y)
    with _dispatch():
        model = SoftmaxRegression(warm_start=True, tol=1e-8).fit(X_xp, y_xp)
        n_iter = int(to_host(model.n_iter_)[0])
        model.fit(X_xp, y_xp)
    assert int(to_host(model.n_iter_)[0]) < n_iter
    _assert_on_device(model.coef_, X_xp)


def test_inputs_not_modified(namespace, data):
    X, y, weight = data
    X_xp, y_xp, weight_xp = (_to(namespace, a) for a in (X, y, weight))
    with _dispatch():
        SoftmaxRegression(class_weight="balanced").fit(
            X_xp, y_xp, sample_weight=weight_xp
        )
    assert_array_equal(to_host(X_xp), X)
    assert_array_equal(to_host(y_xp), y)
    assert_array_equal(to_host(weight_xp), weight)


def test_without_dispatch_numpy_path(data):
    """Without array_api_dispatch, arrays are converted to NumPy as before."""
    torch = pytest.importorskip("torch")
    X, y, _ = data
    model = SoftmaxRegression().fit(torch.asarray(X), torch.asarray(y))
    assert isinstance(model.coef_, np.ndarray)
    assert_array_equal(model.coef_, SoftmaxRegression().fit(X, y).coef_)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan", "NaN"),
        ("negative_weight", "Negative values in data passed to .?sample_weight"),
        ("one_class", "at least 2 classes"),
        ("short_y", "inconsistent numbers of samples"),
        ("continuous_y", "Unknown label type"),
        ("zero_weight_class", "positive weight"),
    ],
)
def test_errors(namespace, data, change, message):
    X, y, weight = data
    if change == "zero_weight_class":
        weight = np.where(y == 0, weight, 0.0)
    else:
        X, y, weight = spoil(change, X, y, weight)
    with _dispatch(), pytest.raises(ValueError, match=message):
        SoftmaxRegression().fit(
            _to(namespace, X), _to(namespace, y), sample_weight=_to(namespace, weight)
        )


def test_cv_says_it_does_not_fit_device_arrays(data):
    xp = pytest.importorskip("array_api_strict")
    X, y, _ = data
    with _dispatch(), pytest.raises(TypeError, match=r"SoftmaxRegression\(C=\.\.\.\)"):
        SoftmaxRegressionCV(Cs=2, cv=2).fit(xp.asarray(X), xp.asarray(y))


def test_predict_with_other_namespace_raises(data):
    xp = pytest.importorskip("array_api_strict")
    X, y, _ = data
    with _dispatch():
        model = SoftmaxRegression().fit(xp.asarray(X), xp.asarray(y))
        with pytest.raises(ValueError, match="must use the same namespace"):
            model.predict_proba(X)


def test_module_imports_no_array_library():
    """Importing the package imports no array library it does not need."""
    code = (
        "import sys, softmax_regression; "
        "print([m for m in ('torch', 'cupy', 'array_api_strict', 'jax') "
        "if m in sys.modules])"
    )
    import subprocess
    import sys

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_move_to_numpy_then_sparsify_and_export(data):
    """A device model says how to move it; moved, it is the NumPy model."""
    xp = pytest.importorskip("array_api_strict")
    X, y, _ = data
    settings = {"l1_ratio": 0.5, "C": 0.1}
    with _dispatch():
        model = SoftmaxRegression(**settings).fit(
            xp.asarray(X, device=xp.Device("device1")), xp.asarray(y)
        )
        with pytest.raises(TypeError, match="move_estimator_to"):
            model.sparsify()
        moved = move_estimator_to(model, np, "cpu")
    assert isinstance(moved.coef_, np.ndarray)
    moved.sparsify()  # a NumPy model again
    expected = SoftmaxRegression(**settings).fit(X, y)
    # Two fits at tol="auto": the same objective within the promised gap.
    assert_same_fit(moved, expected, X, y, relative_gap=1e-6)
    skl2onnx = pytest.importorskip("skl2onnx")
    import softmax_regression.onnx  # noqa: F401 (registers the converters)

    with pytest.raises(TypeError, match="move_estimator_to"):
        skl2onnx.to_onnx(model, X[:1])
    assert skl2onnx.to_onnx(moved, X[:1]) is not None


def test_data_keeps_the_device_outside_dispatch(data):
    """ArrayAPIData reads X's device itself, not through scikit-learn's config."""
    xp = pytest.importorskip("array_api_strict")
    X, y, weight = data
    device = xp.Device("device1")
    device_data = ArrayAPIData(
        xp.asarray(X, device=device),
        xp.asarray(y, device=device),
        3,
        xp.asarray(weight, device=device),
        array_api_compat.array_namespace(xp.asarray(X, device=device)),
    )
    host_data = InMemoryData(X, y, 3, weight)
    assert device_data.ops.device == device
    assert_allclose(device_data.class_priors(), host_data.class_priors(), rtol=1e-14)
    assert_allclose(
        device_data.column_square_means(), host_data.column_square_means(), rtol=1e-14
    )
    coef = np.random.default_rng(2).normal(size=3 * 7)
    with (
        device_data.objective(0.1, True, None) as device_loss,
        host_data.objective(0.1, True, 1) as host_loss,
    ):
        assert_allclose(
            device_loss.loss_gradient(coef)[1],
            host_loss.loss_gradient(coef)[1],
            rtol=1e-12,
        )


@pytest.mark.parametrize(
    "params", [{}, {"label_smoothing": 0.2}, {"class_weight": "balanced"}], ids=str
)
def test_soft_targets_and_smoothing_on_the_device(namespace, data, params):
    X, y, weight = data
    targets = np.random.default_rng(3).dirichlet(np.ones(3), size=X.shape[0])
    settings = {"solver": "newton-cg", "tol": 1e-8, **params}
    X_xp = _to(namespace, X)
    for target in (targets, y):
        expected = SoftmaxRegression(**settings).fit(X, target, sample_weight=weight)
        with _dispatch():
            model = SoftmaxRegression(**settings).fit(
                X_xp, _to(namespace, target), sample_weight=_to(namespace, weight)
            )
            score = model.score(X_xp, _to(namespace, targets))
        _assert_on_device(model.coef_, X_xp)
        assert_allclose(to_host(model.coef_), expected.coef_, rtol=1e-10, atol=1e-10)
        assert score == pytest.approx(expected.score(X, targets), rel=1e-12)


def test_bad_targets_on_the_device_name_the_row(data):
    xp = pytest.importorskip("array_api_strict")
    X, _, _ = data
    targets = np.full((X.shape[0], 3), 1 / 3)
    targets[17] = [0.5, 0.5, 0.5]
    device = xp.Device("device1")
    with _dispatch(), pytest.raises(ValueError, match=r"row 17 sums to 1\.5"):
        SoftmaxRegression().fit(
            xp.asarray(X, device=device), xp.asarray(targets, device=device)
        )
