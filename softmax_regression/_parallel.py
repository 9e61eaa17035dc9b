"""How many threads a fit uses, and keeping BLAS out of their way."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from functools import cache

from threadpoolctl import ThreadpoolController

# Multiply-adds of one pass over X (n_samples * n_features * n_classes, or
# nnz * n_classes) below which a second thread costs more than it saves: a
# thread round trip is ~60 us per evaluation (see benchmarks/README.md).
_MIN_WORK_PER_THREAD = 1_500_000


@cache
def _controller() -> ThreadpoolController:
    """Discover the loaded BLAS/OpenMP libraries once (about a millisecond)."""
    return ThreadpoolController()


def available_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def effective_n_threads(work: int) -> int:
    """Threads worth using for ``work`` multiply-adds per evaluation.

    At most the CPUs available and the current BLAS thread limit (so that
    ``threadpoolctl.threadpool_limits(1)`` or ``OMP_NUM_THREADS=1`` around a
    fit is honoured), and one per ``_MIN_WORK_PER_THREAD``.

    Parameters
    ----------
    work : int
        Multiply-adds of one pass over the data.

    Returns
    -------
    n_threads : int
        At least 1.
    """
    blas_limits = [
        info["num_threads"] for info in _controller().select(user_api="blas").info()
    ]
    limit = min([available_cpus(), *blas_limits])
    return max(1, min(limit, work // _MIN_WORK_PER_THREAD))


def single_threaded_blas() -> AbstractContextManager:
    """Limit BLAS to one thread: parallelism comes from our own blocks.

    Nested BLAS threads would oversubscribe the cores; on small problems they
    cost far more than they save (scikit-learn's lbfgs fit of digits is several
    times slower with them on two cores).
    """
    return _controller().limit(limits=1, user_api="blas")
