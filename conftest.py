"""pytest configuration shared by the doctests of the package and tests/."""

import importlib.util

# softmax_regression/onnx.py needs the [onnx] extra; without it there is
# nothing of it to doctest.
collect_ignore = []
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore.append("softmax_regression/onnx.py")
