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

# The compiled kernels (numba, cache=True) are compiled once per environment:
# on a fresh clone that is about 40 s of one core, paid by whichever test
# first fits with them. A child process compiles them into numba's cache at
# the start of the session, beside the tests on the other core; a test that
# needs a kernel before it is cached compiles it itself, as without it.
# Results do not depend on it; only the suite's time does.
_WARM_KERNELS = """
import numpy as np, scipy.sparse as sp
from softmax_regression import SoftmaxRegression
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4))
y = np.arange(60) % 3
for data in (X, X.astype(np.float32), sp.csr_matrix(X), sp.csr_matrix(X.astype("f4"))):
    SoftmaxRegression(C=0.1, l1_ratio=0.5, max_iter=3).fit(data, y)
    SoftmaxRegression(solver="saga", max_iter=2, random_state=0).fit(data, y)
"""


def pytest_sessionstart(session):
    """Start compiling the kernels into numba's cache in a child process."""
    import subprocess
    import sys

    session.config._warm_kernels = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", _WARM_KERNELS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pytest_sessionfinish(session):
    """Stop the child if it is still compiling."""
    process = getattr(session.config, "_warm_kernels", None)
    if process is not None and process.poll() is None:
        process.kill()
    if process is not None:
        process.wait()
