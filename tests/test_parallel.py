"""Tests of the thread policy: BLAS pinned during fits, restored exactly after."""

import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification
from threadpoolctl import ThreadpoolController, threadpool_limits

from softmax_regression import SoftmaxRegression
from softmax_regression._parallel import (
    _MIN_WORK_PER_THREAD,
    available_cpus,
    evaluation_threads,
    threads_for_work,
)
from softmax_regression._shard import CrossEntropyShard

np.ones(2) @ np.ones(2)  # BLAS is loaded before any limit is read
BLAS = ThreadpoolController().select(user_api="blas")
needs_two_cpus = pytest.mark.skipif(
    available_cpus() < 2, reason="needs two CPUs for two evaluation threads"
)


def blas_limits():
    return [library.get_num_threads() for library in BLAS.lib_controllers]


def set_blas_limits(limits):
    """Set the limits without keeping control of them (threadpoolctl >= 3.8)."""
    for library, limit in zip(BLAS.lib_controllers, limits, strict=True):
        library.set_num_threads(limit)
        release = getattr(type(library), "clear_controlling_thread", None)
        if release is not None:
            release()


@pytest.fixture
def limits_above_one():
    """Run with every BLAS at 2 threads, so that pinning to 1 is visible."""
    original = blas_limits()
    set_blas_limits([2] * len(original))
    try:
        if any(limit == 1 for limit in blas_limits()):
            pytest.skip("BLAS cannot run two threads here")
        yield blas_limits()
    finally:
        set_blas_limits(original)


@pytest.fixture
def evaluations(monkeypatch):
    """Record, at every evaluation of a block group, its BLAS limits and threads."""
    records = []
    group_loss_gradient = CrossEntropyShard._group_loss_gradient

    def recording(self, blocks, X, weights, intercept):
        records.append((blas_limits(), len(self._groups)))
        return group_loss_gradient(self, blocks, X, weights, intercept)

    monkeypatch.setattr(CrossEntropyShard, "_group_loss_gradient", recording)
    return records


def problem(n_samples, seed=0):
    # 3 classes x 30 features: above the threshold for two threads at 20,000 rows.
    return make_classification(
        n_samples=n_samples,
        n_features=30,
        n_informative=10,
        n_classes=3,
        random_state=seed,
    )


def test_threads_for_work():
    assert threads_for_work(0) == 1
    assert threads_for_work(_MIN_WORK_PER_THREAD - 1) == 1
    assert threads_for_work(3 * _MIN_WORK_PER_THREAD) == 3


def test_evaluation_threads_pins_and_restores(limits_above_one):
    with evaluation_threads(10**6) as n_threads:
        assert 1 <= n_threads <= available_cpus()
        assert blas_limits() == [1] * len(limits_above_one)
    assert blas_limits() == limits_above_one


def test_user_thread_limit_is_honoured():
    with threadpool_limits(1, user_api="blas"), evaluation_threads(8) as n_threads:
        assert n_threads == 1


def test_overlapping_pins_restore_whatever_the_order(limits_above_one):
    # Two fits in two threads; the first to start finishes first.
    first_in, second_in, first_out = (threading.Event() for _ in range(3))
    seen = {}

    def first():
        with evaluation_threads(1):
            first_in.set()
            second_in.wait()
        first_out.set()

    def second():
        first_in.wait()
        with evaluation_threads(1):
            second_in.set()
            first_out.wait()
            seen["after the first ended"] = blas_limits()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["after the first ended"] == [1] * len(limits_above_one)
    assert blas_limits() == limits_above_one


@needs_two_cpus
# Fits cut at max_iter=60 on purpose (lengths differ): only threads are tested.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_overlapping_fits_share_the_cpus_and_restore_the_limits(
    limits_above_one, evaluations
):
    # Fits of different lengths in four threads: every interleaving of starts
    # and ends. No evaluation may run our threads over a multi-threaded BLAS.
    def fit(n_samples, seed):
        X, y = problem(n_samples, seed)
        SoftmaxRegression(tol=1e-8, max_iter=60).fit(X, y)

    sizes = [20_000, 40_000, 20_000, 60_000]
    threads = [
        threading.Thread(target=fit, args=(size, seed))
        for seed, size in enumerate(sizes)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert blas_limits() == limits_above_one
    assert evaluations
    for limits, n_groups in evaluations:
        assert limits == [1] * len(limits), (limits, n_groups)
    assert max(n_groups for _, n_groups in evaluations) <= available_cpus()


@needs_two_cpus
# Fits cut short on purpose: only threads are tested.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_fit_that_cannot_pin_blas_runs_in_one_thread(evaluations):
    controller = ThreadpoolController().select(user_api="blas")
    process_wide = [
        library
        for library in controller.lib_controllers
        if getattr(library, "threading_layer", None) == "pthreads"
        and hasattr(type(library), "clear_controlling_thread")
    ]
    if not process_wide:
        pytest.skip("needs threadpoolctl >= 3.8 and a pthreads OpenBLAS")
    X, y = problem(40_000)
    errors = []

    def fit():
        try:
            SoftmaxRegression(max_iter=20, tol=0.0).fit(X, y)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    # This thread takes control of OpenBLAS (threadpoolctl >= 3.8), so the fit's
    # thread cannot change its limit: it must not add threads of its own.
    with threadpool_limits(2, user_api="blas"):
        before = blas_limits()
        if any(limit == 1 for limit in before):
            pytest.skip("BLAS cannot run two threads here")
        thread = threading.Thread(target=fit)
        thread.start()
        thread.join()
        assert blas_limits() == before
    assert not errors
    assert evaluations
    assert all(n_groups == 1 for _, n_groups in evaluations)


@needs_two_cpus
def test_blas_stays_pinned_until_the_evaluation_threads_are_gone(
    limits_above_one, monkeypatch
):
    # An interrupt reaches the fit while another block group is still running:
    # that group must finish under the pinned BLAS before the limit returns.
    seen_by_slow_group = []
    slow_group_started = threading.Event()
    group_loss_gradient = CrossEntropyShard._group_loss_gradient

    def interrupted(self, blocks, X, weights, intercept):
        if blocks[0] is self._groups[0][0]:
            slow_group_started.wait(timeout=10)
            raise KeyboardInterrupt
        slow_group_started.set()
        time.sleep(0.3)
        seen_by_slow_group.append(blas_limits())
        return group_loss_gradient(self, blocks, X, weights, intercept)

    monkeypatch.setattr(CrossEntropyShard, "_group_loss_gradient", interrupted)
    X, y = problem(40_000)
    with pytest.raises(KeyboardInterrupt):
        SoftmaxRegression().fit(X, y)
    assert seen_by_slow_group == [[1] * len(limits_above_one)]
    assert blas_limits() == limits_above_one
