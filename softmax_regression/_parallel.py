"""How many threads a fit uses, and keeping BLAS out of their way.

A fit evaluates its objective in blocks of rows spread over its own threads,
each block calling BLAS. A multi-threaded BLAS under those threads would
oversubscribe the cores, and on small problems its threads cost more than they
save, so BLAS is limited to one thread while a fit evaluates. That limit is
process-wide state for most BLAS builds (OpenBLAS with pthreads, BLIS), and fits
may overlap in time (several Python threads, a threaded ``GridSearchCV``), so it
is reference-counted here: the first fit to start pins BLAS to one thread, the
last to finish restores exactly the limits the first one found, whatever the
order in which they finish. For builds whose limit is per thread (MKL, OpenBLAS
with OpenMP, under threadpoolctl >= 3.8) each thread that calls BLAS pins itself.

If BLAS cannot be pinned (threadpoolctl 3.8 lets only one Python thread at a
time control a process-wide OpenBLAS, and another thread may hold it), the fit
runs in its own thread only: BLAS's threads then do the parallel work, and
nothing is oversubscribed. Fits running at the same time also share the CPUs:
together they start no more evaluation threads than there are CPUs (each has
at least its own).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController

# Multiply-adds of one pass over X (n_samples * n_features * n_classes, or
# nnz * n_classes) below which a second thread costs more than it saves: a
# thread round trip is ~60 us per evaluation (see benchmarks/README.md).
_MIN_WORK_PER_THREAD = 1_500_000


@cache
def _controller() -> ThreadpoolController:
    """Discover the loaded BLAS libraries once (about a millisecond)."""
    return ThreadpoolController().select(user_api="blas")


def available_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _set_limit(library, n_threads: int) -> int:
    """Set one BLAS library's thread limit; return the limit now seen here.

    threadpoolctl >= 3.8 lets a single Python thread, the first to set a limit,
    control a process-wide OpenBLAS until it lets go; setting is silently
    ignored in the others. Letting go right after setting keeps this thread
    from holding that control, so whichever fit finishes last can restore the
    limits, and the user's own ``threadpool_limits`` keep working.
    """
    library.set_num_threads(n_threads)
    release = getattr(type(library), "clear_controlling_thread", None)
    if release is not None:
        release()  # only lets go if this thread holds the control
    return library.get_num_threads()


def _limit_seen_from_new_thread(library) -> int | None:
    """Return the library's thread limit as a freshly started thread sees it."""
    seen = []
    probe = threading.Thread(target=lambda: seen.append(library.get_num_threads()))
    probe.start()
    probe.join()
    return seen[0]


class _ProcessState:
    """What overlapping fits share: who pinned BLAS, and the CPUs in use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fits = 0  # fits between enter and exit of evaluation_threads
        self.busy_threads = 0  # evaluation threads those fits use
        self.saved: list[tuple[object, int]] = []  # process-wide limits to restore
        self.per_thread: dict[str, bool] = {}  # library path -> is its limit local


_STATE = _ProcessState()


def _is_per_thread(library) -> bool:
    """Whether setting ``library``'s limit in one thread leaves the others alone.

    Called right after this thread set the limit to 1 from something else;
    decided once per library by asking a new thread what it sees.
    """
    key = library.filepath
    if key not in _STATE.per_thread:
        _STATE.per_thread[key] = _limit_seen_from_new_thread(library) != 1
    return _STATE.per_thread[key]


def pin_current_thread() -> list[tuple[object, int]]:
    """Limit every per-thread BLAS to one thread, in the calling thread only.

    Process-wide limits are left alone (they are pinned once, by the first fit).
    Used by the evaluation threads, which start while their fit holds the pin.

    Returns
    -------
    previous : list of (library, limit)
        What to set back in this thread to undo it.
    """
    previous = []
    for library in _controller().lib_controllers:
        limit = library.get_num_threads()
        if limit != 1 and _STATE.per_thread.get(library.filepath, False):
            _set_limit(library, 1)
            previous.append((library, limit))
    return previous


@contextmanager
def evaluation_threads(n_threads_wanted: int) -> Iterator[int]:
    """Pin BLAS to one thread for a fit, and say how many threads it may use.

    Use it around everything that evaluates the objective, including the
    shutdown of the evaluation threads: BLAS stays pinned until they are gone,
    also when an exception (a KeyboardInterrupt, say) ends the fit.

    Parameters
    ----------
    n_threads_wanted : int
        Threads the fit would like, at least 1.

    Yields
    ------
    n_threads : int
        Threads the fit may use: at most ``n_threads_wanted``, the CPUs
        available, and the BLAS limit the user set (e.g. with
        ``threadpoolctl.threadpool_limits(1)``, honoured as a request for one
        thread); fewer when fits running at the same time already use the CPUs,
        and 1 if BLAS could not be pinned. The calling thread counts as one.
    """
    state = _STATE
    restore_here: list[tuple[object, int]] = []
    with state.lock:
        user_limits = []
        for library in _controller().lib_controllers:
            limit = library.get_num_threads()
            held = next((saved for lib, saved in state.saved if lib is library), None)
            user_limits.append(held if held is not None else limit)
            if limit == 1:
                continue
            if _set_limit(library, 1) != 1:
                continue  # another thread controls it: see ``pinned`` below
            if _is_per_thread(library):
                restore_here.append((library, limit))
            elif held is None:  # else another fit already saved the original
                state.saved.append((library, limit))
        pinned = all(
            library.get_num_threads() == 1 for library in _controller().lib_controllers
        )
        n_threads = min([n_threads_wanted, available_cpus(), *user_limits])
        if not pinned:
            n_threads = 1
        n_threads = max(1, min(n_threads, available_cpus() - state.busy_threads))
        state.busy_threads += n_threads
        state.fits += 1
    try:
        yield n_threads
    finally:
        with state.lock:
            state.busy_threads -= n_threads
            state.fits -= 1
            for library, limit in restore_here:
                _set_limit(library, limit)
            if state.fits == 0:
                for library, limit in state.saved:
                    _set_limit(library, limit)
                state.saved.clear()


def threads_for_work(work: int) -> int:
    """Threads worth using for ``work`` multiply-adds per evaluation.

    One per ``_MIN_WORK_PER_THREAD``, at least 1; :func:`evaluation_threads`
    then caps it by what the machine and the other fits leave.

    Parameters
    ----------
    work : int
        Multiply-adds of one pass over the data.

    Returns
    -------
    n_threads : int
    """
    return max(1, work // _MIN_WORK_PER_THREAD)
