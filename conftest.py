"""pytest configuration shared by the doctests of the package and tests/."""

import importlib.util
import os

# scikit-learn's array API dispatch needs scipy's, which reads this variable
# when scipy is first imported: before any test module imports it. It makes
# scikit-learn's estimator checks run the array API checks (array-api-strict,
# and PyTorch where installed) instead of skipping them.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# softmax_regression/onnx.py needs the [onnx] extra; without it there is
# nothing of it to doctest.
collect_ignore = []
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore.append("softmax_regression/onnx.py")
