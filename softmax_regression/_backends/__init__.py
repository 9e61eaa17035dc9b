"""Backends: where the data lives decides which module validates, fits, predicts.

One function, :func:`backend_for`, picks the backend for the arguments of a
call; the estimators call every backend through the same functions (the
:class:`~._protocol.Backend` protocol). A new backend is a new module here
plus one line in :func:`backend_for`.

- :mod:`.memory`: NumPy and scipy.sparse, evaluated by our threads;
- :mod:`.array_api`: arrays of another namespace under ``array_api_dispatch``
  (PyTorch, CuPy, array-api-strict), on their device;
- :mod:`.dask`: Dask collections on a ``dask.distributed`` cluster (the
  ``[dask]`` extra, imported only when a Dask collection is passed).
"""

from __future__ import annotations

from .._arrays import any_dask, dispatched_namespace
from . import memory
from ._protocol import Backend, FitInput


def backend_for(X, *others) -> Backend:
    """Return the backend module for a call's data arguments.

    ``X``, then the others (``y``, ``sample_weight``, ``offset``): Dask if
    any of them is a Dask collection; the array API backend if ``X`` is an
    array of another namespace under ``array_api_dispatch``; in memory
    otherwise.
    """
    if any_dask(X, *others):
        from . import dask

        return dask
    if dispatched_namespace(X) is not None:
        from . import array_api

        return array_api
    return memory


__all__ = ["Backend", "FitInput", "backend_for", "memory"]
