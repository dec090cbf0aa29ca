"""The ch. 5 layers: the book's worked examples, and every backward() against central differences."""
import numpy as np
import pytest

from engine.functions import numerical_gradient, softmax
from engine.layers import AddLayer, Affine, MulLayer, ReLU, Sigmoid, SoftmaxWithLoss


def rel_error(a, b):
    """Largest elementwise |a - b| / max(|a|, |b|, 1e-8)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8)))


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Random float64 values with |v| in [low, high] and random sign (clear of the ReLU kink)."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# --- the book's examples -----------------------------------------------------

def test_buy_apple_mul_layers():
    apple, apple_num, tax = 100, 3, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    assert apple_price == 300
    assert price == pytest.approx(330.0)

    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert dapple_price == pytest.approx(1.1)
    assert dapple == pytest.approx(3.3)
    assert dapple_num == pytest.approx(110.0)
    assert dtax == pytest.approx(300.0)


def test_buy_apple_orange_add_layer():
    add = AddLayer()
    assert add.forward(2, 3) == 5
    assert add.backward(1) == (1, 1)
    dx, dy = add.backward(2.5)
    assert (dx, dy) == (2.5, 2.5)


def test_book_apple_orange_graph():
    # The book's 2 apples at 100 + 3 oranges at 150, tax 1.1 -> 715; gradients 2.2, 110, 3.3, 165, 650.
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    price = mul_tax.forward(add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3)), 1.1)
    assert price == pytest.approx(715.0)
    dall, dtax = mul_tax.backward(1)
    da, do = add.backward(dall)
    dorange, dorange_num = mul_orange.backward(do)
    dapple, dapple_num = mul_apple.backward(da)
    assert (dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx((110, 2.2, 3.3, 165, 650))


def test_relu_book_example():
    relu = ReLU()
    out = relu.forward(np.array([-1.0, 2.0, -3.0, 4.0]))
    np.testing.assert_array_equal(out, [0.0, 2.0, 0.0, 4.0])
    np.testing.assert_array_equal(relu.backward(np.ones(4)), [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(relu.backward(np.array([5.0, 6.0, 7.0, 8.0])), [0.0, 6.0, 0.0, 8.0])


def test_relu_does_not_modify_input():
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    before = x.copy()
    ReLU().forward(x)
    np.testing.assert_array_equal(x, before)


def test_sigmoid_backward_values():
    layer = Sigmoid()
    out = layer.forward(np.array([0.0, 1.0, -1.0]))
    np.testing.assert_allclose(out, [0.5, 0.7310585786300049, 0.2689414213699951], rtol=1e-12)
    dx = layer.backward(np.ones(3))
    np.testing.assert_allclose(dx, [0.25, 0.19661193, 0.19661193], atol=1e-8)


# --- backward against the numerical gradient ---------------------------------

SHAPES = [(1, 3), (4, 5), (7, 2), (3, 4, 6)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layer_cls", [ReLU, Sigmoid])
def test_activation_backward_matches_numerical(layer_cls, shape):
    rng = np.random.default_rng([len(layer_cls.__name__), *shape])
    x = away_from_zero(rng, shape)
    dout = away_from_zero(rng, shape, 0.5, 1.5)
    layer = layer_cls()
    layer.forward(x)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    numeric = numerical_gradient(lambda _: np.sum(layer_cls().forward(x) * dout), x)
    assert rel_error(dx, numeric) < 1e-6


@pytest.mark.parametrize("x_shape, out_size", [((1, 3), 2), ((5, 4), 3), ((6, 10), 1), ((2, 1, 4, 4), 3), ((3, 2, 3), 4)])
def test_affine_backward_matches_numerical(x_shape, out_size):
    rng = np.random.default_rng(sum(x_shape) * 31 + out_size)
    in_size = int(np.prod(x_shape[1:]))
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((in_size, out_size))
    b = rng.standard_normal(out_size)
    dout = rng.standard_normal((x_shape[0], out_size))
    layer = Affine(W, b)

    out = layer.forward(x)
    assert out.shape == (x_shape[0], out_size)
    np.testing.assert_allclose(out, x.reshape(x_shape[0], -1) @ W + b, rtol=1e-12)
    dx = layer.backward(dout)
    assert dx.shape == x_shape  # reshaped back to the input's shape
    assert layer.dW.shape == W.shape and layer.db.shape == b.shape

    f = lambda _: np.sum(layer.forward(x) * dout)
    assert rel_error(dx, numerical_gradient(f, x)) < 1e-6
    assert rel_error(layer.dW, numerical_gradient(f, W)) < 1e-6
    assert rel_error(layer.db, numerical_gradient(f, b)) < 1e-6


def test_affine_without_dx_still_fills_parameter_gradients():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 1, 2, 3))
    W, b = rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    layer = Affine(W, b)
    layer.need_dx = False
    layer.forward(x)
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.dW, x.reshape(4, 6).T @ dout, rtol=1e-12)
    np.testing.assert_allclose(layer.db, dout.sum(axis=0), rtol=1e-12)


def test_affine_holds_parameters_by_reference_and_overwrites_gradients():
    rng = np.random.default_rng(6)
    W, b = rng.standard_normal((3, 2)), np.zeros(2)
    layer = Affine(W, b)
    dW_array = layer.dW
    x = rng.standard_normal((2, 3))
    W -= 1.0  # in-place update is seen by the layer
    b += 0.5
    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-12)
    layer.backward(np.ones((2, 2)))
    first = layer.dW.copy()
    layer.forward(2 * x)
    layer.backward(np.ones((2, 2)))
    assert layer.dW is dW_array  # preallocated, overwritten (not accumulated)
    np.testing.assert_allclose(layer.dW, 2 * first, rtol=1e-12)


@pytest.mark.parametrize("n, c", [(1, 3), (4, 10), (8, 2), (5, 5)])
@pytest.mark.parametrize("label_form", ["labels", "one_hot"])
def test_softmax_with_loss_backward_matches_numerical(n, c, label_form):
    rng = np.random.default_rng(n * 100 + c)
    x = rng.standard_normal((n, c))
    labels = rng.integers(0, c, size=n)
    t = labels if label_form == "labels" else np.eye(c)[labels]
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    expected = -np.mean(np.log(softmax(x)[np.arange(n), labels]))
    assert loss == pytest.approx(expected, rel=1e-12)
    dx = layer.backward(1.0)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, (softmax(x) - np.eye(c)[labels]) / n, rtol=1e-12, atol=1e-15)
    numeric = numerical_gradient(lambda _: SoftmaxWithLoss().forward(x, t), x)
    assert rel_error(dx, numeric) < 1e-6


def test_softmax_with_loss_label_and_one_hot_forms_agree():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    a, b = SoftmaxWithLoss(), SoftmaxWithLoss()
    assert a.forward(x, labels) == pytest.approx(b.forward(x, np.eye(4)[labels]), rel=1e-14)
    np.testing.assert_allclose(a.backward(2.0), b.backward(2.0), rtol=1e-14)


def test_softmax_with_loss_huge_logits_stay_finite():
    x = np.array([[1e4, 0.0, -1e4], [5e3, 1e4, 1e4]])
    layer = SoftmaxWithLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = layer.forward(x, np.array([2, 1]))
        dx = layer.backward(1.0)
    # Sample 0: log-sum-exp is 1e4 and the target logit is -1e4 -> 2e4; sample 1: log 2.
    assert np.isfinite(loss)
    assert loss == pytest.approx((2e4 + np.log(2.0)) / 2, rel=1e-12)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, [[0.5, 0.0, -0.5], [0.0, -0.25, 0.25]], atol=1e-12)
    assert SoftmaxWithLoss().forward(np.array([[1e4, 0.0, -1e4]]), np.array([0])) == pytest.approx(0.0, abs=1e-12)
