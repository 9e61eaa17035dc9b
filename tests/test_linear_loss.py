"""Tests of the linear-model objective against an independent reference."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from numpy.testing import assert_allclose

import softmax_regression._shard as shard_module
from softmax_regression._backends.memory import in_memory_loss
from softmax_regression._linear_loss import SplitL1Loss

N_SAMPLES, N_FEATURES, N_CLASSES = 30, 4, 3


def make_problem(dtype=np.float64, sparse=False, weighted=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0
        X = sp.csr_matrix(X)
    y = rng.integers(0, N_CLASSES, size=N_SAMPLES)
    sample_weight = (
        rng.uniform(0, 3, size=N_SAMPLES).astype(dtype) if weighted else None
    )
    return X, y, sample_weight


def reference_objective(
    coef, X, y, sample_weight, l2_reg_strength, fit_intercept, n_classes=N_CLASSES
):
    """The objective written directly with scipy.special.logsumexp, in float64."""
    X = X.toarray() if sp.issparse(X) else X
    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    weights = coef[: n_classes * n_features].reshape(n_classes, n_features)
    intercept = coef[n_classes * n_features :] if fit_intercept else np.zeros(n_classes)
    raw = X @ weights.T + intercept
    per_sample = scipy.special.logsumexp(raw, axis=1) - raw[np.arange(len(y)), y]
    return (
        np.average(per_sample, weights=sample_weight)
        + 0.5 * l2_reg_strength * (weights**2).sum()
    )


def five_point_gradient(func, x, eps=1e-4):
    """Central five-point stencil gradient of scalar ``func`` at ``x``."""
    return np.array(
        [
            (
                -func(x + 2 * eps * e)
                + 8 * func(x + eps * e)
                - 8 * func(x - eps * e)
                + func(x - 2 * eps * e)
            )
            / (12 * eps)
            for e in np.eye(x.size)
        ]
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2_reg_strength", [0.0, 0.3])
@pytest.mark.parametrize("sparse", [False, True])
def test_loss_and_gradient(fit_intercept, weighted, l2_reg_strength, sparse):
    X, y, sample_weight = make_problem(sparse=sparse, weighted=weighted)
    loss = in_memory_loss(
        X, y, N_CLASSES, sample_weight, l2_reg_strength, fit_intercept
    )
    coef = np.random.default_rng(1).normal(size=loss.n_coef)
    value, gradient = loss.loss_gradient(coef)
    expected = reference_objective(
        coef, X, y, sample_weight, l2_reg_strength, fit_intercept
    )
    assert_allclose(value, expected, rtol=1e-13)
    numerical = five_point_gradient(loss.loss, coef)
    assert_allclose(gradient, numerical, rtol=1e-7, atol=1e-9)
    assert gradient.dtype == np.float64


def test_repeated_evaluations_are_identical():
    # The score buffer is reused: one evaluation must not leak into the next.
    X, y, sample_weight = make_problem(weighted=True)
    loss = in_memory_loss(X, y, N_CLASSES, sample_weight, 0.1, True)
    rng = np.random.default_rng(2)
    coef_a, coef_b = rng.normal(size=(2, loss.n_coef))
    first = loss.loss_gradient(coef_a)
    loss.loss_gradient(coef_b)
    second = loss.loss_gradient(coef_a)
    assert first[0] == second[0]
    assert_allclose(first[1], second[1], rtol=0, atol=0)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_computed_in_float32(sparse):
    X32, y, sample_weight = make_problem(dtype=np.float32, sparse=sparse, weighted=True)
    X64 = X32.astype(np.float64)
    loss32 = in_memory_loss(X32, y, N_CLASSES, sample_weight, 0.1, True)
    loss64 = in_memory_loss(
        X64, y, N_CLASSES, sample_weight.astype(np.float64), 0.1, True
    )
    assert all(
        block.scores.dtype == np.float32 for block in loss32.data_term.shard._blocks
    )
    coef = np.random.default_rng(3).normal(size=loss32.n_coef)
    value32, gradient32 = loss32.loss_gradient(coef)
    value64, gradient64 = loss64.loss_gradient(coef)
    assert_allclose(value32, value64, rtol=1e-6)
    assert_allclose(gradient32, gradient64, rtol=1e-4, atol=1e-6)


def test_unpack_returns_views_in_documented_layout():
    X, y, _ = make_problem()
    loss = in_memory_loss(X, y, N_CLASSES, None, 0.0, True)
    coef = np.arange(loss.n_coef, dtype=np.float64)
    weights, intercept = loss.unpack(coef)
    assert weights.shape == (N_CLASSES, N_FEATURES)
    assert_allclose(weights[1], np.arange(N_FEATURES, 2 * N_FEATURES))
    assert_allclose(intercept, np.arange(N_CLASSES * N_FEATURES, loss.n_coef))
    assert np.shares_memory(weights, coef) and np.shares_memory(intercept, coef)


def test_x_is_referenced_not_copied():
    X, y, _ = make_problem()
    X.flags.writeable = False
    loss = in_memory_loss(X, y, N_CLASSES, None, 0.0, True)
    loss.loss_gradient(np.zeros(loss.n_coef))
    assert loss.data_term.X is X


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("layout", ["C", "F", "csr", "csc", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_blocks_and_threads_do_not_change_the_result(
    monkeypatch, n_threads, layout, weighted
):
    # Tiny blocks: many of them per thread, of unequal sizes.
    monkeypatch.setattr(shard_module.NumpyOperations, "block_bytes", 1)
    monkeypatch.setattr(shard_module, "_MIN_BLOCK_ROWS", 7)
    rng = np.random.default_rng(5)
    n_samples, n_features, n_classes = 101, 6, 4
    X = rng.normal(size=(n_samples, n_features))
    X[rng.uniform(size=X.shape) < 0.3] = 0
    y = rng.integers(0, n_classes, size=n_samples)
    sample_weight = rng.uniform(0, 2, size=n_samples) if weighted else None
    X_layout = {
        "C": X,
        "F": np.asfortranarray(X),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "float32": X.astype(np.float32),
    }[layout]
    coef = rng.normal(size=n_classes * (n_features + 1))
    expected = reference_objective(
        coef, X, y, sample_weight, 0.2, True, n_classes=n_classes
    )
    with in_memory_loss(
        X_layout, y, n_classes, sample_weight, 0.2, True, n_threads=n_threads
    ) as loss:
        if layout in ("C", "F", "float32"):
            assert len(loss.data_term.shard._blocks) > n_threads
        value, gradient = loss.loss_gradient(coef)
        assert_allclose(value, loss.loss_gradient(coef)[0], rtol=1e-15)
    with in_memory_loss(X, y, n_classes, sample_weight, 0.2, True) as single:
        _, expected_gradient = single.loss_gradient(coef)
    rtol = 1e-5 if layout == "float32" else 1e-12
    assert_allclose(value, expected, rtol=rtol)
    assert_allclose(gradient, expected_gradient, rtol=rtol, atol=rtol * 1e-2)


def test_blocks_of_sparse_x_are_views():
    X, y, _ = make_problem(sparse=True)
    with in_memory_loss(X, y, N_CLASSES, None, 0.0, True, n_threads=2) as loss:
        shard = loss.data_term.shard
        assert len(shard._blocks) == 2
        for block in shard._blocks:
            view = shard_module._row_view(X, block.start, block.stop)
            assert np.shares_memory(view.data, X.data)
        # The blocks' scores are consecutive views of one buffer.
        first, second = (block.scores for block in shard._blocks)
        assert first.base is second.base is not None


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_hessian_products_match_finite_differences_of_the_gradient(
    monkeypatch, fit_intercept, weighted, sparse, n_threads
):
    # Blocks of 7 rows, shared among the threads.
    monkeypatch.setattr(shard_module.NumpyOperations, "block_bytes", 1)
    monkeypatch.setattr(shard_module, "_MIN_BLOCK_ROWS", 7)
    X, y, sample_weight = make_problem(sparse=sparse, weighted=weighted)
    rng = np.random.default_rng(6)
    with in_memory_loss(
        X, y, N_CLASSES, sample_weight, 0.3, fit_intercept, n_threads=n_threads
    ) as loss:
        coef = rng.normal(size=loss.n_coef)
        direction = rng.normal(size=loss.n_coef)
        eps = 1e-4

        def gradient_at(step):
            return loss.loss_gradient(coef + step * direction)[1]

        numerical = (
            -gradient_at(2 * eps)
            + 8 * gradient_at(eps)
            - 8 * gradient_at(-eps)
            + gradient_at(-2 * eps)
        ) / (12 * eps)
        # hessp after evaluations elsewhere: it must not reuse stale probabilities.
        assert_allclose(loss.hessp(coef, direction), numerical, rtol=1e-7, atol=1e-9)

        # The Hessian formed for small problems, column by column, after an
        # evaluation elsewhere; symmetric, and its products are hessp's.
        loss.loss_gradient(coef + 1.0)
        hessp = loss.dense_hessp()
        matrix = np.column_stack([hessp(coef, e) for e in np.eye(loss.n_coef)])
        numerical = five_point_gradient(lambda c: loss.loss_gradient(c)[1], coef)
        assert_allclose(matrix, numerical.T, rtol=1e-7, atol=1e-9)
        assert_allclose(matrix, matrix.T, rtol=1e-14, atol=1e-16)
        assert_allclose(hessp(coef, direction), loss.hessp(coef, direction), rtol=1e-12)
        loss.loss_gradient(coef - 1.0)  # a formed matrix is not reused elsewhere
        assert_allclose(
            hessp(coef - 1.0, direction),
            loss.hessp(coef - 1.0, direction),
            rtol=1e-12,
        )


@pytest.mark.parametrize("soft", [False, True])
def test_formed_hessian_of_float32_soft_and_smoothed_targets(soft):
    X, y, sample_weight = make_problem(np.float32, weighted=True)
    if soft:
        y = np.random.default_rng(9).dirichlet(np.ones(N_CLASSES), N_SAMPLES)
    rng = np.random.default_rng(10)
    with in_memory_loss(
        X, y, N_CLASSES, sample_weight, 0.1, True, label_smoothing=0.2
    ) as loss:
        coef = rng.normal(size=loss.n_coef)
        direction = rng.normal(size=loss.n_coef)
        # The formed matrix is float64; hessp computes in float32.
        assert_allclose(
            loss.dense_hessp()(coef, direction),
            loss.hessp(coef, direction),
            rtol=1e-5,
        )


def test_hessp_is_symmetric_and_positive_semidefinite():
    X, y, sample_weight = make_problem(weighted=True)
    rng = np.random.default_rng(7)
    with in_memory_loss(X, y, N_CLASSES, sample_weight, 0.0, True) as loss:
        coef = rng.normal(size=loss.n_coef)
        loss.loss_gradient(coef)
        for _ in range(5):
            u, v = rng.normal(size=(2, loss.n_coef))
            u_hv = u @ loss.hessp(coef, v)
            v_hu = v @ loss.hessp(coef, u)
            assert_allclose(u_hv, v_hu, rtol=1e-12)
            assert u @ loss.hessp(coef, u) >= -1e-12


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_split_l1_loss_value_gradient_and_round_trip(fit_intercept):
    X, y, sample_weight = make_problem(weighted=True)
    smooth = in_memory_loss(X, y, N_CLASSES, sample_weight, 0.2, fit_intercept)
    split = SplitL1Loss(smooth, 0.05)
    rng = np.random.default_rng(8)
    coef = rng.normal(size=smooth.n_coef)
    variables = split.from_coef(coef)
    assert_allclose(split.to_coef(variables), coef)
    n_weights = N_CLASSES * N_FEATURES
    assert np.all(variables[: 2 * n_weights] >= 0)
    value, _ = split.loss_gradient(variables)
    expected = smooth.loss(coef) + 0.05 * np.abs(coef[:n_weights]).sum()
    assert_allclose(value, expected, rtol=1e-13)
    # Away from the bounds, the split is smooth: finite differences apply.
    interior = variables + 0.5
    assert_allclose(
        split.loss_gradient(interior)[1],
        five_point_gradient(lambda v: split.loss_gradient(v)[0], interior),
        rtol=1e-7,
        atol=1e-9,
    )
    assert np.all(split.bounds.lb[: 2 * n_weights] == 0)
    assert np.all(np.isneginf(split.bounds.lb[2 * n_weights :]))


@pytest.mark.parametrize("exponent", [45, 60, 66])
def test_hessp_of_huge_float32_features_is_finite_and_right(exponent):
    # Features of 2**60 ~ 1e18 in float32, and directions of the gradient's
    # size (as the Newton solvers' CG makes them): the products overflow
    # float32 unless they are scaled into range.
    X, y, _ = make_problem()
    X32 = (X * 2.0**exponent).astype(np.float32)
    rng = np.random.default_rng(8)
    with (
        in_memory_loss(X32, y, N_CLASSES, None, 0.0, True) as loss32,
        in_memory_loss(X32.astype(np.float64), y, N_CLASSES, None, 0.0, True) as loss64,
    ):
        coef = rng.normal(size=loss32.n_coef) * 2.0**-exponent
        direction = rng.normal(size=loss32.n_coef) * 2.0**exponent
        product32 = loss32.hessp(coef, direction)
        product64 = loss64.hessp(coef, direction)
    assert np.all(np.isfinite(product32))
    assert_allclose(
        product32, product64, rtol=2e-4, atol=1e-5 * np.abs(product64).max()
    )


def test_hessp_scaling_changes_no_bit_in_range():
    # The power-of-two scaling is exact: a direction 2**k times larger gives a
    # product exactly 2**k times larger.
    X, y, sample_weight = make_problem(weighted=True)
    rng = np.random.default_rng(9)
    with in_memory_loss(X, y, N_CLASSES, sample_weight, 0.3, True) as loss:
        coef = rng.normal(size=loss.n_coef)
        direction = rng.normal(size=loss.n_coef)
        product = loss.hessp(coef, direction)
        for exponent in (-30, 7, 90):
            scaled = loss.hessp(coef, direction * 2.0**exponent)
            np.testing.assert_array_equal(scaled, product * 2.0**exponent)


def test_hessp_beyond_float64_is_inf_without_warnings():
    X, y, _ = make_problem()
    with in_memory_loss(X * 1e200, y, N_CLASSES, None, 0.0, True) as loss:
        product = loss.hessp(np.zeros(loss.n_coef), np.ones(loss.n_coef))
    assert not np.all(np.isfinite(product))  # 1e400: the driver stops on it


def test_weights_whose_sum_overflows():
    X, y, _ = make_problem()
    huge = np.full(N_SAMPLES, 1e307)
    coef = np.random.default_rng(10).normal(size=N_CLASSES * (N_FEATURES + 1))
    with (
        in_memory_loss(X, y, N_CLASSES, huge, 0.0, True) as weighted,
        in_memory_loss(X, y, N_CLASSES, None, 0.0, True) as unweighted,
    ):
        loss, gradient = weighted.loss_gradient(coef)
        expected_loss, expected_gradient = unweighted.loss_gradient(coef)
    assert loss == pytest.approx(expected_loss, rel=1e-14)
    assert_allclose(gradient, expected_gradient, rtol=1e-13, atol=1e-15)
