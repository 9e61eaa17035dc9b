"""Which family an array belongs to, and bringing it to the host.

NumPy and scipy.sparse (in memory), another array API namespace under
``array_api_dispatch`` (a device), or a Dask collection (a cluster). A leaf
module: no optional package is imported here (Dask is looked up in
``sys.modules``: a Dask collection cannot exist unless Dask was imported).
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    get_namespace,
)


def any_dask(*values) -> bool:
    """Whether any of ``values`` is a Dask collection (Dask is not imported)."""
    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(v) for v in values)


def dispatched_namespace(X):
    """Return ``X``'s array namespace if the array API path should fit it.

    That is, under ``array_api_dispatch=True`` and for an array that is not
    NumPy's (nor a list, DataFrame or sparse matrix, which scikit-learn
    converts to NumPy); None otherwise.
    """
    if not get_config()["array_api_dispatch"]:
        return None
    xp, is_array_api = get_namespace(X)
    if not is_array_api or _is_numpy_namespace(xp):
        return None
    return xp


def to_host(array):
    """Return ``array`` as a NumPy array (or as it is if NumPy or sparse).

    Works with dispatch on or off: the namespace comes from the array itself.
    """
    if array is None or isinstance(array, np.ndarray) or not hasattr(array, "shape"):
        return array
    if not array_api_compat.is_array_api_obj(array):
        return array  # a scipy.sparse matrix
    return _convert_to_numpy(array, array_api_compat.array_namespace(array))


def is_sparse(X) -> bool:
    """Whether ``X`` is a scipy.sparse matrix, or a Dask array of them."""
    return sp.issparse(X) or sp.issparse(getattr(X, "_meta", None))
