"""The incremental gradient check: rows, agreement with the book's reference, and that it can fail."""
import numpy as np
import pytest

from engine import Network, TwoLayerNet
from engine.functions import as_float
from engine.gradcheck import ATOL, GradCheckCancelled, GradCheckRow, gradient_check
from engine.layers import ReLU


def mnist_like(rng, n, size=784):
    """Float64 inputs in [0, 1] with zero 'border' columns, like MNIST pixels / 255."""
    x = rng.random((n, size))
    x[:, :100] = 0.0
    x[:, -100:] = 0.0
    x[:, 300:310] = 0.0
    return x


def small_net(activation="relu", seed=1, hidden=(7, 5)):
    return Network(12, list(hidden), 4, activation, weight_init=0.5, rng=np.random.default_rng(seed))


def small_batch(seed=2, n=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 12)), rng.integers(0, 4, size=n)


def by_name(rows):
    return {r.name: r for r in rows}


def test_two_layer_net_book_check_rows():
    rng = np.random.default_rng(0)
    net = TwoLayerNet(784, 50, 10, rng=rng)
    x = mnist_like(rng, 3)
    t = np.eye(10)[[3, 7, 1]]  # one-hot, as the book's gradient_check notebook
    rows = gradient_check(net, x, t)
    assert all(isinstance(r, GradCheckRow) for r in rows)
    assert [r.name for r in rows] == ["W1", "b1", "W2", "b2"]
    assert [r.shape for r in rows] == [(784, 50), (50,), (50, 10), (10,)]
    assert [r.count for r in rows] == [39200, 50, 500, 10]
    assert [r.checked for r in rows] == [39200, 50, 500, 10]
    for r in rows:
        assert r.passed, r
        assert r.kinks == 0
        assert 0 <= r.mean_abs_diff < 1e-9, r
        assert r.mean_abs_diff <= r.max_abs_diff
        assert np.isfinite(r.max_rel_error)


def test_labels_and_one_hot_give_the_same_rows():
    net = small_net()
    x, labels = small_batch()
    assert gradient_check(net, x, labels) == gradient_check(net, x, np.eye(4)[labels])


def test_check_leaves_network_unchanged():
    net = small_net()
    before = {k: v.copy() for k, v in net.params.items()}
    x, labels = small_batch()
    gradient_check(net, x, labels)
    for k, v in net.params.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_rows_agree_with_reference_numerical_gradient(activation):
    net = small_net(activation)
    x, labels = small_batch()
    rows = gradient_check(net, x, labels)
    net64 = net.astype(np.float64)
    backprop = net64.gradient(x, labels)
    reference = net64.numerical_gradient(x, labels)  # the book's one-element-at-a-time central difference
    assert [r.name for r in rows] == list(reference) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for row in rows:
        ref_diff = np.abs(backprop[row.name] - reference[row.name])
        assert row.passed and row.kinks == 0
        assert row.checked == row.count == reference[row.name].size
        assert row.mean_abs_diff < 1e-9 and ref_diff.mean() < 1e-9, row
        assert row.max_abs_diff < ATOL and ref_diff.max() < ATOL, row


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_incremental_numeric_equals_reference_numeric(monkeypatch, activation):
    # Make the "backprop" side the book's reference numerical gradient: the rows then compare the
    # check's own incremental central differences against the reference, element by element.
    monkeypatch.setattr(Network, "gradient", lambda self, x, t: self.numerical_gradient(x, t))
    net = small_net(activation, hidden=(6, 5, 4))
    x, labels = small_batch(n=4)
    rows = gradient_check(net, x, labels)
    assert [r.name for r in rows] == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    for row in rows:
        assert row.passed, row
        assert row.max_abs_diff < 1e-10, row


def test_wrong_output_layer_gradient_fails_the_check(monkeypatch):
    original = Network.gradient

    def scaled_w2(self, x, t):
        grads = original(self, x, t)
        grads["W2"] *= 1.01  # a 1% error in one tensor
        return grads

    monkeypatch.setattr(Network, "gradient", scaled_w2)
    rng = np.random.default_rng(3)
    net = TwoLayerNet(784, 50, 10, rng=rng)
    rows = by_name(gradient_check(net, mnist_like(rng, 3), np.array([1, 2, 3])))
    assert rows["W2"].passed is False
    assert rows["W2"].max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert rows["W2"].max_abs_diff > ATOL
    assert rows["W1"].passed and rows["b1"].passed and rows["b2"].passed


def test_wrong_relu_backward_fails_the_rows_upstream_of_it(monkeypatch):
    monkeypatch.setattr(ReLU, "backward", lambda self, dout: dout)  # forgets the mask
    net = small_net("relu")
    x, labels = small_batch()
    rows = by_name(gradient_check(net, x, labels))
    for name in ("W1", "b1", "W2", "b2"):
        assert rows[name].passed is False, name
    assert rows["W3"].passed and rows["b3"].passed  # nothing after the last ReLU is affected


def test_sample_limits_elements_checked_per_tensor():
    net = small_net()  # W1 84, b1 7, W2 35, b2 5, W3 20, b3 4 elements
    x, labels = small_batch()
    rows = gradient_check(net, x, labels, sample=6)
    assert [(r.name, r.count, r.checked) for r in rows] == [
        ("W1", 84, 6), ("b1", 7, 6), ("W2", 35, 6), ("b2", 5, 5), ("W3", 20, 6), ("b3", 4, 4),
    ]
    assert all(r.passed for r in rows)
    again = gradient_check(net, x, labels, sample=6)
    assert again == rows  # the default sampling generator is seeded
    other = gradient_check(net, x, labels, sample=6, rng=np.random.default_rng(99))
    assert [r.checked for r in other] == [6, 6, 6, 5, 6, 4]


def test_cancelled_raises():
    net = small_net()
    x, labels = small_batch()
    with pytest.raises(GradCheckCancelled):
        gradient_check(net, x, labels, cancelled=lambda: True)
    calls = []

    def cancel_on_third_poll():
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(GradCheckCancelled):
        gradient_check(net, x, labels, cancelled=cancel_on_third_poll)
    assert len(calls) == 3
    polls = []
    rows = gradient_check(net, x, labels, cancelled=lambda: polls.append(1) or False)
    assert len(rows) == 6 and len(polls) >= 6  # polled at least once per tensor


def test_relu_kink_in_first_layer_is_reported_and_excluded():
    rng = np.random.default_rng(4)
    net = Network(6, [4], 3, "relu", weight_init=0.5, dtype=np.float64, rng=rng)
    x = rng.uniform(0.5, 1.0, size=(3, 6))
    labels = np.array([0, 1, 2])
    # Pre-activation of hidden unit 0 for sample 0 is 1e-6: any step of h * x (>= 5e-5) crosses zero.
    net.params["b1"][0] = 1e-6 - x[0] @ net.params["W1"][:, 0]
    pre = x @ net.params["W1"] + net.params["b1"]
    assert pre[0, 0] == pytest.approx(1e-6, abs=1e-12)
    assert np.all(np.abs(pre.ravel()[1:]) > 1e-3)  # no other unit anywhere near its kink
    rows = by_name(gradient_check(net, x, labels))
    assert rows["W1"].kinks == 6  # column 0 of W1: every input weight of that unit
    assert rows["b1"].kinks == 1
    assert rows["W2"].kinks == 0 and rows["b2"].kinks == 0
    assert all(r.passed for r in rows.values())
    # The kink elements really are off (half a slope): the book's reference difference shows it ...
    reference, backprop = net.numerical_gradient(x, labels), net.gradient(x, labels)
    assert abs(reference["b1"][0] - backprop["b1"][0]) > 1e-4
    # ... and leaving them out of the statistics is what keeps the rows meaningful and passing.
    assert rows["b1"].max_abs_diff < 1e-8 and rows["W1"].max_abs_diff < 1e-8
    assert rows["b1"].max_rel_error < 1e-6


def test_relu_kink_in_deeper_layer_is_reported():
    rng = np.random.default_rng(5)
    net = Network(6, [5, 4], 3, "relu", weight_init=0.5, dtype=np.float64, rng=rng)
    x = rng.uniform(0.5, 1.0, size=(2, 6))
    labels = np.array([1, 2])
    hidden = np.maximum(x @ net.params["W1"] + net.params["b1"], 0)
    net.params["b2"][1] = 1e-6 - hidden[0] @ net.params["W2"][:, 1]
    rows = by_name(gradient_check(net, x, labels))
    assert rows["b2"].kinks == 1
    assert rows["W2"].kinks >= 1
    assert rows["W3"].kinks == 0 and rows["b3"].kinks == 0
    assert all(r.passed for r in rows.values())


def test_sigmoid_net_reports_no_kinks():
    net = small_net("sigmoid")
    x, labels = small_batch()
    assert all(r.kinks == 0 and r.passed for r in gradient_check(net, x, labels))


def test_uint8_inputs_are_checked_as_the_network_sees_them():
    rng = np.random.default_rng(6)
    net = Network(16, [8], 3, weight_init=0.5, rng=rng)
    pixels = rng.integers(0, 256, size=(3, 16), dtype=np.uint8)
    labels = np.array([0, 1, 2])
    # as_float(pixels, float64) is exactly the input Network.predict / loss / gradient use for uint8.
    assert gradient_check(net, pixels, labels) == gradient_check(net, as_float(pixels, np.float64), labels)
