"""Tests of the thread policy."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from softmax_regression._parallel import (
    _MIN_WORK_PER_THREAD,
    available_cpus,
    effective_n_threads,
    single_threaded_blas,
)


def test_small_problems_use_one_thread():
    assert effective_n_threads(0) == 1
    assert effective_n_threads(_MIN_WORK_PER_THREAD - 1) == 1


def test_large_problems_use_the_available_cpus():
    assert 1 <= effective_n_threads(10**12) <= available_cpus()


def test_user_thread_limit_is_honoured():
    np.ones(1) @ np.ones(1)  # make sure BLAS is loaded
    with threadpool_limits(1, user_api="blas"):
        assert effective_n_threads(10**12) == 1


def test_single_threaded_blas_limits_and_restores():
    before = [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]
    with single_threaded_blas():
        inside = [
            info["num_threads"]
            for info in threadpool_info()
            if info["user_api"] == "blas"
        ]
        assert all(threads == 1 for threads in inside)
    after = [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]
    assert after == before
