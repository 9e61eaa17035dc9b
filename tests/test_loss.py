"""Tests of softmax_regression._loss against scipy.special and finite differences."""

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from numpy.testing import assert_allclose, assert_array_equal

from softmax_regression import cross_entropy, cross_entropy_grad, log_softmax, softmax

FLOAT_DTYPES = [np.float32, np.float64]


def logits(dtype=np.float64, max_magnitude=1e4, min_dims=1, max_dims=3):
    """Arrays of finite logits of any small shape."""
    return arrays(
        dtype=dtype,
        shape=array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=6),
        elements=st.floats(
            -max_magnitude,
            max_magnitude,
            allow_nan=False,
            width=np.dtype(dtype).itemsize * 8,
        ),
    )


def five_point_gradient(func, x, eps=1e-4):
    """Central five-point stencil derivative of scalar ``func`` at ``x``."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (
            -func(x + 2 * step)
            + 8 * func(x + step)
            - 8 * func(x - step)
            + func(x - 2 * step)
        ) / (12 * eps)
    return grad


# -- softmax and log_softmax ------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_matches_scipy(axis):
    rng = np.random.default_rng(0)
    raw = rng.normal(scale=5, size=(7, 5))
    assert_allclose(
        softmax(raw, axis=axis),
        scipy.special.softmax(raw, axis=axis),
        rtol=1e-12,
        atol=0,
    )
    assert_allclose(
        log_softmax(raw, axis=axis),
        scipy.special.log_softmax(raw, axis=axis),
        rtol=1e-12,
        atol=0,
    )


def test_softmax_batch_shapes():
    raw = np.random.default_rng(1).normal(size=(2, 3, 4))
    assert softmax(raw).shape == raw.shape
    assert_allclose(softmax(raw, axis=1).sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(
        log_softmax(raw, axis=0), scipy.special.log_softmax(raw, axis=0), rtol=1e-12
    )


def test_softmax_extreme_logits_are_finite():
    raw = np.array([[1e4, 0.0, -1e4], [1e300, -1e300, 0.0], [-1e4, -1e4, -1e4]])
    probabilities = softmax(raw)
    assert np.all(np.isfinite(probabilities))
    assert_allclose(probabilities[0], [1, 0, 0])
    assert_allclose(probabilities[2], [1 / 3] * 3)
    log_probabilities = log_softmax(raw[:1])
    assert np.all(np.isfinite(log_probabilities))
    assert_allclose(log_probabilities, [[0.0, -1e4, -2e4]])


def test_softmax_negative_infinity_means_zero_probability():
    probabilities = softmax([0.0, -np.inf, 0.0])
    assert_array_equal(probabilities, [0.5, 0.0, 0.5])


def test_log_softmax_finite_where_softmax_underflows():
    raw = np.array([0.0, 800.0])
    assert softmax(raw)[0] == 0.0
    assert log_softmax(raw)[0] == -800.0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_is_kept(dtype):
    raw = np.ones((3, 4), dtype=dtype)
    assert softmax(raw).dtype == dtype
    assert log_softmax(raw).dtype == dtype
    y = np.array([0, 1, 2])
    assert cross_entropy(raw, y).dtype == dtype
    assert cross_entropy_grad(raw, y).dtype == dtype


def test_integer_input_gives_float64():
    assert softmax([1, 2, 3]).dtype == np.float64


def test_input_not_modified():
    raw = np.random.default_rng(2).normal(size=(4, 3))
    original = raw.copy()
    softmax(raw)
    log_softmax(raw)
    cross_entropy(raw, np.array([0, 1, 2, 0]))
    cross_entropy_grad(raw, np.array([0, 1, 2, 0]))
    assert_array_equal(raw, original)


@settings(max_examples=200, deadline=None)
@given(raw=logits())
def test_softmax_rows_sum_to_one_and_are_probabilities(raw):
    probabilities = softmax(raw)
    assert np.all(np.isfinite(probabilities))
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(raw=logits(max_magnitude=1e100))
def test_extreme_logits_stay_finite(raw):
    assert np.all(np.isfinite(softmax(raw)))
    log_probabilities = log_softmax(raw)
    assert np.all(np.isfinite(log_probabilities))
    assert np.all(log_probabilities <= 0)


@settings(max_examples=200, deadline=None)
@given(raw=logits(), shift=st.floats(-1e3, 1e3))
def test_shift_invariance(raw, shift):
    assert_allclose(softmax(raw + shift), softmax(raw), rtol=1e-9, atol=1e-12)
    # log p moves with the rounding of raw + shift, at most ~eps * |raw + shift|.
    assert_allclose(log_softmax(raw + shift), log_softmax(raw), rtol=1e-9, atol=1e-8)


@settings(max_examples=100, deadline=None)
@given(raw=logits(dtype=np.float32, max_magnitude=2.0**100))
def test_float32_stays_float32_and_finite(raw):
    probabilities = softmax(raw)
    log_probabilities = log_softmax(raw)
    assert probabilities.dtype == log_probabilities.dtype == np.float32
    assert np.all(np.isfinite(probabilities))
    assert np.all(np.isfinite(log_probabilities))
    assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


@settings(max_examples=100, deadline=None)
@given(raw=logits(max_magnitude=50))
def test_log_softmax_is_log_of_softmax(raw):
    assert_allclose(np.exp(log_softmax(raw)), softmax(raw), rtol=1e-12, atol=1e-300)


# -- cross-entropy ----------------------------------------------------------


def test_cross_entropy_single_sample_is_seed_formula():
    raw = np.array([2.0, -1.0, 0.5])
    for label in range(3):
        expected = -np.log(scipy.special.softmax(raw)[label])
        assert_allclose(cross_entropy(raw, label), expected, rtol=1e-14)
        one_hot = np.eye(3)[label]
        assert_allclose(
            cross_entropy_grad(raw, label),
            scipy.special.softmax(raw) - one_hot,
            rtol=1e-14,
            atol=1e-16,
        )


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_batch_matches_scipy(weighted):
    rng = np.random.default_rng(3)
    raw = rng.normal(scale=3, size=(20, 4))
    y = rng.integers(0, 4, size=20)
    sample_weight = rng.uniform(0, 2, size=20) if weighted else None
    per_sample = scipy.special.logsumexp(raw, axis=1) - raw[np.arange(20), y]
    expected = np.average(per_sample, weights=sample_weight)
    assert_allclose(cross_entropy(raw, y, sample_weight), expected, rtol=1e-13)


def test_cross_entropy_extreme_logits_finite():
    raw = np.array([[1e4, -1e4], [-1e4, 1e4]])
    assert_allclose(cross_entropy(raw, np.array([1, 0])), 2e4)
    assert_allclose(cross_entropy(raw, np.array([0, 1])), 0.0)
    gradient = cross_entropy_grad(raw, np.array([1, 0]))
    assert_allclose(gradient, [[0.5, -0.5], [-0.5, 0.5]])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("single_sample", [False, True])
def test_cross_entropy_grad_finite_differences(weighted, single_sample):
    rng = np.random.default_rng(4)
    if single_sample:
        raw, y, sample_weight = rng.normal(size=5), 3, None
    else:
        raw = rng.normal(size=(6, 4))
        y = rng.integers(0, 4, size=6)
        sample_weight = rng.uniform(0, 3, size=6) if weighted else None
    numerical = five_point_gradient(
        lambda r: float(cross_entropy(r, y, sample_weight)), raw
    )
    assert_allclose(
        cross_entropy_grad(raw, y, sample_weight), numerical, rtol=1e-8, atol=1e-10
    )


def test_sample_weight_scale_invariance_and_zero_weight():
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(5, 3))
    y = np.array([0, 1, 2, 1, 0])
    weights = np.array([1.0, 2.0, 0.0, 1.0, 3.0])
    assert_allclose(cross_entropy(raw, y, weights), cross_entropy(raw, y, 10 * weights))
    kept = weights > 0
    assert_allclose(
        cross_entropy(raw, y, weights), cross_entropy(raw[kept], y[kept], weights[kept])
    )


@pytest.mark.parametrize("weight", [1e308, 1e-320])
def test_weights_at_the_ends_of_the_float64_range(weight):
    # Their sum overflows (or they are subnormal): the weighted mean is still
    # the mean, and the gradient still the mean's.
    rng = np.random.default_rng(6)
    raw = rng.normal(size=(4, 3))
    y = np.array([0, 1, 2, 1])
    weights = np.full(4, weight)
    assert cross_entropy(raw, y, weights) == pytest.approx(cross_entropy(raw, y))
    assert_allclose(cross_entropy_grad(raw, y, weights), cross_entropy_grad(raw, y))


def test_zero_weight_leaves_out_an_infinite_loss():
    # The second sample's true class has raw score -inf: its loss is +inf,
    # and a weight of zero must leave it out rather than make nan.
    raw = np.array([[0.0, 1.0], [0.0, -np.inf]])
    y = np.array([1, 1])
    loss = cross_entropy(raw, y, [1.0, 0.0])
    assert loss == pytest.approx(np.log1p(np.exp(-1.0)))
    gradient = cross_entropy_grad(raw, y, [1.0, 0.0])
    assert np.all(np.isfinite(gradient))
    assert_array_equal(gradient[1], [0.0, 0.0])
    assert cross_entropy(raw, y, [1.0, 1.0]) == np.inf


@pytest.mark.parametrize(
    ("raw", "y", "sample_weight", "match"),
    [
        (np.zeros((3, 2)), np.array([0, 1]), None, "one label per row"),
        (np.zeros(3), np.array([0, 1]), None, "single integer label"),
        (np.zeros((2, 2, 2)), np.array([0, 1]), None, "1-D .* or 2-D"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), None, "integer class indices"),
        (np.zeros((2, 2)), np.array([0, 2]), None, r"class indices in \[0, 2\)"),
        (np.zeros((2, 2)), np.array([0, 1]), [1.0], "sample_weight must have shape"),
        (np.zeros((2, 2)), np.array([0, 1]), [1.0, -1.0], "non-negative"),
        (np.zeros((2, 2)), np.array([0, 1]), [1.0, np.nan], "finite"),
        (np.zeros((2, 2)), np.array([0, 1]), [0.0, 0.0], "positive sum"),
        (np.zeros((0, 2)), np.array([], dtype=int), None, "no sample"),
    ],
)
def test_cross_entropy_errors(raw, y, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        cross_entropy(raw, y, sample_weight)
    with pytest.raises(ValueError, match=match):
        cross_entropy_grad(raw, y, sample_weight)
