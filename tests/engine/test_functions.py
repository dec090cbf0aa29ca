"""The book's reference functions: sigmoid, softmax, cross-entropy, numerical gradient, as_float."""
import numpy as np
import pytest

from engine.functions import as_float, cross_entropy_error, numerical_gradient, sigmoid, softmax

# --- sigmoid -----------------------------------------------------------------

def test_sigmoid_values():
    x = np.array([0.0, 1.0, -1.0, 2.0])
    expected = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(sigmoid(x), expected, rtol=1e-15)
    assert sigmoid(np.array([0.0]))[0] == 0.5


def test_sigmoid_extreme_inputs_do_not_overflow():
    x = np.array([-1000.0, -50.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        y = sigmoid(x)
    assert np.all(np.isfinite(y))
    assert y[0] == pytest.approx(0.0, abs=1e-300)
    assert y[-1] == 1.0
    np.testing.assert_allclose(y[1], np.exp(-50.0), rtol=1e-12)


# --- softmax -----------------------------------------------------------------

@pytest.mark.parametrize(
    "x, expected",
    [
        ([1000.0], [1.0]),
        ([-1000.0], [1.0]),
        ([1000.0, 1000.0], [0.5, 0.5]),
        ([-1000.0, -1000.0, -1000.0, -1000.0], [0.25] * 4),
        ([1000.0, 1001.0, 1002.0], [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]),
        ([-1000.0, -1001.0, -1002.0], [0.6652409557748219, 0.24472847105479767, 0.09003057317038046]),
    ],
)
def test_softmax_large_inputs_finite_and_sum_to_one(x, expected):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = softmax(np.array(x, dtype=np.float64))
    assert np.all(np.isfinite(y))
    assert y.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_softmax_is_row_wise_for_batches():
    x = np.array([[1000.0, 1001.0, 1002.0], [0.3, 2.9, 4.0], [-1000.0, 0.0, 1000.0]])
    y = softmax(x)
    assert y.shape == (3, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)
    # The book's example softmax([0.3, 2.9, 4.0]).
    np.testing.assert_allclose(y[1], [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)
    np.testing.assert_allclose(y[2], [0.0, 0.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(y[0], softmax(x[0]), rtol=1e-15)


def test_softmax_does_not_modify_input():
    x = np.array([[1.0, 2.0, 3.0]])
    before = x.copy()
    softmax(x)
    np.testing.assert_array_equal(x, before)


# --- cross_entropy_error -----------------------------------------------------

def test_cross_entropy_book_example():
    # The book's example: t = 2, y with 0.6 on class 2 -> 0.510825457099338.
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert cross_entropy_error(y, t) == pytest.approx(-np.log(0.6 + 1e-7), rel=1e-12)
    assert cross_entropy_error(y, t) == pytest.approx(0.510825457099338, rel=1e-9)
    y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    assert cross_entropy_error(y2, t) == pytest.approx(2.302584092994546, rel=1e-9)


def test_cross_entropy_single_sample_label_form():
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert cross_entropy_error(y, np.array(2)) == pytest.approx(-np.log(0.6 + 1e-7), rel=1e-12)
    assert cross_entropy_error(y, 2) == pytest.approx(-np.log(0.6 + 1e-7), rel=1e-12)


def test_cross_entropy_one_hot_and_labels_agree_for_batches():
    rng = np.random.default_rng(1)
    y = softmax(rng.standard_normal((7, 5)))
    labels = rng.integers(0, 5, size=7)
    one_hot = np.eye(5)[labels]
    by_label = cross_entropy_error(y, labels)
    by_one_hot = cross_entropy_error(y, one_hot)
    assert by_label == pytest.approx(by_one_hot, rel=1e-15)
    expected = -np.mean(np.log(y[np.arange(7), labels] + 1e-7))
    assert by_label == pytest.approx(expected, rel=1e-12)
    assert isinstance(by_label, float)


def test_cross_entropy_zero_probability_is_large_but_finite():
    y = np.array([[1.0, 0.0]])
    loss = cross_entropy_error(y, np.array([1]))
    assert np.isfinite(loss)
    assert loss == pytest.approx(-np.log(1e-7), rel=1e-12)


# --- numerical_gradient ------------------------------------------------------

def test_numerical_gradient_book_function_2():
    # The book's function_2 = x0^2 + x1^2; gradient at (3, 4) is (6, 8).
    f = lambda x: np.sum(x**2)
    for point, expected in [([3.0, 4.0], [6.0, 8.0]), ([0.0, 2.0], [0.0, 4.0]), ([3.0, 0.0], [6.0, 0.0])]:
        x = np.array(point)
        np.testing.assert_allclose(numerical_gradient(f, x), expected, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(x, point)  # restored after each element


def test_numerical_gradient_multidimensional_and_restores_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 4))
    before = x.copy()
    a = rng.standard_normal((3, 2, 4))
    grad = numerical_gradient(lambda z: np.sum(a * z**3), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, 3 * a * before**2, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, before)


# --- as_float ----------------------------------------------------------------

def test_as_float_scales_uint8_pixels():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    y = as_float(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[0.0, 0.2, 1.0]], rtol=1e-6)
    y64 = as_float(x, np.float64)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, x / 255.0, rtol=1e-15)


def test_as_float_casts_other_dtypes_without_scaling():
    x = np.array([[0.5, 2.0, 300.0]])
    y = as_float(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x.astype(np.float32))
    assert as_float(x, np.float64) is x  # already the right dtype: no copy
    ints = np.array([1, 2, 300], dtype=np.int64)
    np.testing.assert_array_equal(as_float(ints, np.float64), [1.0, 2.0, 300.0])


def test_as_float_writes_into_out():
    out = np.empty((1, 3), dtype=np.float32)
    res = as_float(np.array([[0, 255, 51]], dtype=np.uint8), np.float32, out=out)
    assert res is out
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.2]], rtol=1e-6)
    res = as_float(np.array([[1.5, 2.5, 3.5]]), np.float32, out=out)
    assert res is out
    np.testing.assert_array_equal(out, [[1.5, 2.5, 3.5]])
