"""ONNX export of SoftmaxRegression and SoftmaxRegressionCV through skl2onnx.

Importing this module registers a converter for both estimators with
skl2onnx (install it with ``pip install "softmax-regression[onnx]"``)::

    import skl2onnx
    import softmax_regression.onnx  # noqa: F401  (registers the converters)

    onx = skl2onnx.to_onnx(model, X[:1])  # float32 or float64 X

The graph computes the scores ``X @ coef_.T + intercept_`` in the input's
dtype (float32 or float64), their softmax and the label of the largest score,
so it predicts what the model predicts: the same labels, and probabilities
equal to ``predict_proba`` up to the float rounding of the runtime (1e-6 and
better in float32). Two classes are handled like any other number, with both
rows of ``coef_``. ONNX's ZipMap holds float32 values only, so with float64
input and ``zipmap`` (the default) the probabilities are computed in float64
and rounded to float32 at the end; ``zipmap=False`` keeps them in float64.

It takes skl2onnx's classifier options:

- ``zipmap`` (default True): probabilities as a list of ``{label: p}``
  dictionaries; False gives a plain (n_samples, n_classes) tensor, and
  ``"columns"`` one output per class.
- ``nocl`` (default False): True outputs class indices, not labels.
- ``raw_scores`` (default False): True outputs the scores instead of the
  probabilities (all of them, also for two classes).

for example ``to_onnx(model, X[:1], options={"zipmap": False})``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from skl2onnx import update_registered_converter
from skl2onnx._parse import _apply_zipmap
from skl2onnx.common._apply_operation import apply_add, apply_cast, apply_softmax
from skl2onnx.common.data_types import (
    FloatTensorType,
    Int64TensorType,
    guess_numpy_type,
    guess_proto_type,
    guess_tensor_type,
)
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from skl2onnx.common.utils_classifier import (
    _finalize_converter_classes,
    get_label_classes,
)

from ._cv import SoftmaxRegressionCV
from ._estimator import SoftmaxRegression

__all__ = ["convert_softmax_regression", "parse_softmax_regression"]

_ALIASES = {
    SoftmaxRegression: "SoftmaxRegression",
    SoftmaxRegressionCV: "SoftmaxRegressionCV",
}
_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "raw_scores": [False, True],
}


def parse_softmax_regression(scope, model, inputs, custom_parsers=None):
    """Declare the estimator's outputs: labels, then probabilities (or ZipMap).

    skl2onnx's classifier parser, except that the probabilities handed to
    ZipMap are declared float32 whatever the input, as ZipMap requires.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Names in the graph.
    model : SoftmaxRegression or SoftmaxRegressionCV
        The fitted estimator.
    inputs : list of skl2onnx.common._topology.Variable
        The features.
    custom_parsers : dict, optional
        Unused; part of skl2onnx's parser signature.

    Returns
    -------
    outputs : list of skl2onnx.common._topology.Variable
    """
    if not isinstance(model.intercept_, np.ndarray):
        raise TypeError(
            f"{type(model).__name__} was fitted on arrays of "
            f"{type(model.intercept_).__module__.split('.')[0]} (array API "
            "dispatch); skl2onnx reads NumPy attributes. Move it to NumPy "
            "first: under sklearn.config_context(array_api_dispatch=True), "
            "model = sklearn.utils._array_api.move_estimator_to(model, numpy, "
            "'cpu')."
        )
    zipmap = scope.get_options(model, {"zipmap": True})["zipmap"]
    operator = scope.declare_local_operator(_ALIASES[type(model)], model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", Int64TensorType())
    probability_type = (
        FloatTensorType() if zipmap else guess_tensor_type(inputs[0].type)
    )
    probabilities = scope.declare_local_variable("probabilities", probability_type)
    operator.outputs.extend([label, probabilities])
    if not zipmap:
        return operator.outputs
    return _apply_zipmap(zipmap, scope, model, FloatTensorType(), operator.outputs)


def convert_softmax_regression(scope, operator, container) -> None:
    """Write the ONNX nodes of a fitted SoftmaxRegression (or its CV variant).

    A skl2onnx converter: the inputs are the (n_samples, n_features) features,
    float32 or float64; the outputs the labels and the probabilities (or the
    raw scores with option ``raw_scores``).

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Names in the graph.
    operator : skl2onnx.common._topology.Operator
        The estimator's operator; ``operator.raw_operator`` is the estimator.
    container : skl2onnx.common._container.ModelComponentContainer
        The graph being built.
    """
    model = operator.raw_operator
    options = container.get_options(model, {"raw_scores": False, "nocl": False})
    classes = np.asarray(get_label_classes(scope, model))
    dtype = guess_numpy_type(operator.inputs[0].type)
    proto_dtype = guess_proto_type(operator.inputs[0].type)
    coef = model.coef_.toarray() if sp.issparse(model.coef_) else model.coef_

    weights_name = scope.get_unique_variable_name("coef_T")
    weights = np.asarray(coef, dtype=dtype).T
    container.add_initializer(
        weights_name, proto_dtype, weights.shape, weights.ravel().tolist()
    )
    intercept_name = scope.get_unique_variable_name("intercept")
    intercept = np.asarray(model.intercept_, dtype=dtype).reshape(1, -1)
    container.add_initializer(
        intercept_name, proto_dtype, intercept.shape, intercept.ravel().tolist()
    )
    product_name = scope.get_unique_variable_name("product")
    container.add_node(
        "MatMul",
        [operator.inputs[0].full_name, weights_name],
        product_name,
        name=scope.get_unique_operator_name("MatMul"),
    )
    output_name = operator.outputs[1].full_name
    output_proto_dtype = guess_proto_type(operator.outputs[1].type)
    same_dtype = output_proto_dtype == proto_dtype
    scores_name = (
        output_name
        if options["raw_scores"] and same_dtype
        else scope.get_unique_variable_name("scores")
    )
    apply_add(scope, [product_name, intercept_name], scores_name, container)

    index_name = scope.get_unique_variable_name("index")
    container.add_node(
        "ArgMax",
        scores_name,
        index_name,
        name=scope.get_unique_operator_name("ArgMax"),
        axis=1,
    )
    _finalize_converter_classes(
        scope,
        index_name,
        operator.outputs[0].full_name,
        container,
        classes,
        proto_dtype,
    )
    # With float64 input, ZipMap's float32 values are computed in float64 and
    # rounded last.
    if options["raw_scores"]:
        if not same_dtype:
            apply_cast(
                scope, scores_name, output_name, container, to=output_proto_dtype
            )
        return
    if same_dtype:
        apply_softmax(scope, scores_name, output_name, container, axis=1)
        return
    probabilities_name = scope.get_unique_variable_name("probabilities64")
    apply_softmax(scope, scores_name, probabilities_name, container, axis=1)
    apply_cast(scope, probabilities_name, output_name, container, to=output_proto_dtype)


for _estimator, _alias in _ALIASES.items():
    update_registered_converter(
        _estimator,
        _alias,
        calculate_linear_classifier_output_shapes,
        convert_softmax_regression,
        parser=parse_softmax_regression,
        options=_OPTIONS,
    )
