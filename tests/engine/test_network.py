"""Network / TwoLayerNet: shapes, the params/grads contract, the book's training loop, init, dtypes."""
import numpy as np
import pytest

import engine.network as network_module
from engine import Network, TwoLayerNet
from engine.functions import softmax
from engine.layers import ReLU, Sigmoid


def blobs(rng, n, d=20, c=3, spread=0.5):
    """A small, linearly separable classification problem: c Gaussian blobs in d dimensions."""
    centers = rng.standard_normal((c, d))
    labels = rng.integers(0, c, size=n)
    x = centers[labels] + spread * rng.standard_normal((n, d))
    return x, labels


# --- shapes and the params / grads contract ----------------------------------

def test_two_layer_net_book_shapes():
    net = TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0))
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.params["W1"].shape == (784, 50)
    assert net.params["b1"].shape == (50,)
    assert net.params["W2"].shape == (50, 10)
    assert net.params["b2"].shape == (10,)
    assert net.architecture == "784-50-10"
    assert not net.params["b1"].any() and not net.params["b2"].any()
    assert list(net.layers) == ["Affine1", "ReLU1", "Affine2"]
    x = np.random.default_rng(1).random((5, 784))
    assert net.predict(x).shape == (5, 10)


def test_deeper_network_shapes_and_layers():
    net = Network(20, [16, 12], 5, "sigmoid", rng=np.random.default_rng(0))
    expected = {"W1": (20, 16), "b1": (16,), "W2": (16, 12), "b2": (12,), "W3": (12, 5), "b3": (5,)}
    assert {k: v.shape for k, v in net.params.items()} == expected
    assert list(net.params) == list(expected)
    assert net.architecture == "20-16-12-5"
    assert list(net.layers) == ["Affine1", "Sigmoid1", "Affine2", "Sigmoid2", "Affine3"]
    assert isinstance(net.layers["Sigmoid1"], Sigmoid)
    relu_net = Network(20, [16, 12], 5, "relu", rng=np.random.default_rng(0))
    assert isinstance(relu_net.layers["ReLU2"], ReLU)
    assert net.predict(np.zeros((3, 20))).shape == (3, 5)


def test_gradient_dict_contract():
    rng = np.random.default_rng(2)
    net = Network(20, [16, 12], 5, rng=rng)
    x, labels = rng.standard_normal((8, 20)), rng.integers(0, 5, size=8)
    grads = net.gradient(x, labels)
    assert list(grads) == list(net.params)
    for key, g in grads.items():
        assert g.shape == net.params[key].shape
        assert g.dtype == net.params[key].dtype
        assert g is not net.grads[key]  # gradient() returns fresh arrays
        np.testing.assert_array_equal(g, net.grads[key])
    assert np.abs(grads["W3"]).sum() > 0 and np.abs(grads["b1"]).sum() > 0
    snapshot = {k: g.copy() for k, g in grads.items()}
    net.gradient(x[:3] * 2, labels[:3])  # a later call does not change what was returned
    for key in grads:
        np.testing.assert_array_equal(grads[key], snapshot[key])


def test_backprop_fills_grads_in_place_and_returns_loss():
    rng = np.random.default_rng(3)
    net = Network(6, [4], 3, dtype=np.float64, rng=rng)
    x, labels = rng.standard_normal((5, 6)), rng.integers(0, 3, size=5)
    arrays = {k: id(v) for k, v in net.grads.items()}
    loss = net.backprop(x, labels)
    assert loss == pytest.approx(net.loss(x, labels), rel=1e-14)
    assert {k: id(v) for k, v in net.grads.items()} == arrays
    for k in range(1, 3):
        assert net.grads[f"W{k}"] is net.layers[f"Affine{k}"].dW
        assert net.grads[f"b{k}"] is net.layers[f"Affine{k}"].db
    # The same computation on the same arrays in one process: bit-equal is guaranteed.
    np.testing.assert_array_equal(net.grads["W2"], net.gradient(x, labels)["W2"])


def test_in_place_parameter_update_changes_predictions():
    rng = np.random.default_rng(4)
    net = TwoLayerNet(10, 8, 3, weight_init_std=0.5, dtype=np.float64, rng=rng)
    x, labels = rng.standard_normal((6, 10)), rng.integers(0, 3, size=6)
    before = net.predict(x).copy()
    loss_before = net.loss(x, labels)
    grad = net.gradient(x, labels)
    for key in ("W1", "b1", "W2", "b2"):
        net.params[key] -= 0.1 * grad[key]
    after = net.predict(x)
    assert not np.allclose(before, after)
    assert net.loss(x, labels) < loss_before  # a small step along -grad lowers the loss
    # The layers hold the very arrays in params.
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.layers["Affine2"].b is net.params["b2"]


def test_book_notebook_training_loop_learns_separable_problem():
    rng = np.random.default_rng(0)
    x_train, labels = blobs(rng, 600)
    t_train = np.eye(3)[labels]  # one-hot, as load_mnist(one_hot_label=True)
    np.random.seed(0)
    network = TwoLayerNet(input_size=20, hidden_size=50, output_size=3)
    iters_num, train_size, batch_size, learning_rate = 200, x_train.shape[0], 100, 0.1
    first_loss = network.loss(x_train, t_train)
    first_acc = network.accuracy(x_train, t_train)
    train_loss_list = []
    for _ in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
    assert first_loss == pytest.approx(np.log(3), abs=0.01)  # tiny init: near-uniform softmax
    assert first_acc < 0.6
    final_loss = network.loss(x_train, t_train)
    assert final_loss < 0.1 * first_loss
    assert np.mean(train_loss_list[-10:]) < 0.2 * np.mean(train_loss_list[:10])
    assert network.accuracy(x_train, t_train) > 0.95
    assert network.accuracy(x_train, labels) == network.accuracy(x_train, t_train)


# --- gradient vs numerical gradient ------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("label_form", ["labels", "one_hot"])
def test_backprop_matches_numerical_gradient(activation, label_form):
    rng = np.random.default_rng(5)
    net = Network(12, [7, 5], 4, activation, weight_init=0.5, dtype=np.float64, rng=rng)
    x = rng.standard_normal((6, 12))
    labels = rng.integers(0, 4, size=6)
    t = labels if label_form == "labels" else np.eye(4)[labels]
    backprop = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    assert list(numeric) == list(backprop)
    for key in backprop:
        assert numeric[key].dtype == np.float64
        diff = np.abs(backprop[key] - numeric[key])
        assert diff.mean() < 1e-8, key
        assert diff.max() < 1e-6, key
    assert sum(np.abs(g).sum() for g in backprop.values()) > 1e-3  # not trivially zero


def test_numerical_gradient_leaves_network_unchanged():
    rng = np.random.default_rng(6)
    net = Network(5, [3], 2, rng=rng)
    before = {k: v.copy() for k, v in net.params.items()}
    net.numerical_gradient(rng.standard_normal((2, 5)), np.array([0, 1]))
    for k, v in net.params.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])


# --- dtypes ------------------------------------------------------------------

def test_float32_is_the_default_dtype():
    net = TwoLayerNet(10, 5, 3, rng=np.random.default_rng(0))
    assert net.dtype == np.float32
    assert all(v.dtype == np.float32 for v in net.params.values())
    x = np.random.default_rng(1).standard_normal((4, 10))  # float64 input is cast
    assert net.predict(x).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.gradient(x, np.array([0, 1, 2, 0])).values())


def test_float64_option_and_same_seed_matches_float32():
    net64 = TwoLayerNet(10, 5, 3, dtype=np.float64, rng=np.random.default_rng(7))
    net32 = TwoLayerNet(10, 5, 3, rng=np.random.default_rng(7))
    assert net64.dtype == np.float64
    assert all(v.dtype == np.float64 for v in net64.params.values())
    for k in net64.params:
        np.testing.assert_array_equal(net32.params[k], net64.params[k].astype(np.float32))
    x = np.random.default_rng(1).standard_normal((4, 10))
    assert net64.predict(x).dtype == np.float64
    np.testing.assert_allclose(net32.predict(x), net64.predict(x), rtol=1e-5, atol=1e-7)


def test_astype_returns_independent_copy():
    net = Network(8, [6], 3, rng=np.random.default_rng(8))
    clone = net.astype(np.float64)
    assert clone is not net and isinstance(clone, Network)
    assert clone.dtype == np.float64 and net.dtype == np.float32
    assert clone.architecture == net.architecture and clone.activation == net.activation
    x = np.random.default_rng(9).standard_normal((3, 8))
    np.testing.assert_allclose(clone.predict(x), net.predict(x), rtol=1e-5, atol=1e-7)
    original = {k: v.copy() for k, v in net.params.items()}
    for v in clone.params.values():
        v += 1.0
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, original[k])
    assert not np.allclose(clone.predict(x), net.predict(x))
    # The clone's layers use the clone's arrays.
    assert clone.layers["Affine1"].W is clone.params["W1"]
    assert clone.layers["Affine1"].W is not net.params["W1"]
    same_dtype = net.astype(np.float32)
    assert same_dtype.params["W1"] is not net.params["W1"]
    same_dtype.params["W1"][0, 0] += 5.0
    assert net.params["W1"][0, 0] == original["W1"][0, 0]


def test_two_layer_net_astype_keeps_class():
    net = TwoLayerNet(4, 3, 2, rng=np.random.default_rng(0))
    assert type(net.astype(np.float64)) is TwoLayerNet


# --- initialisation ----------------------------------------------------------

@pytest.mark.parametrize(
    "weight_init, std_for_fan_in",
    [
        ("he", lambda fan_in: np.sqrt(2.0 / fan_in)),
        ("xavier", lambda fan_in: np.sqrt(1.0 / fan_in)),
        (0.05, lambda fan_in: 0.05),
        (0.01, lambda fan_in: 0.01),
    ],
)
def test_init_scales(weight_init, std_for_fan_in):
    net = Network(800, [400, 200], 100, weight_init=weight_init, dtype=np.float64, rng=np.random.default_rng(10))
    for k, fan_in in [(1, 800), (2, 400), (3, 200)]:
        W = net.params[f"W{k}"]
        assert W.std() == pytest.approx(std_for_fan_in(fan_in), rel=0.1), f"W{k}"
        assert abs(W.mean()) < 0.1 * std_for_fan_in(fan_in)
        assert not net.params[f"b{k}"].any()
    assert net.weight_init == weight_init


def test_init_std_function():
    assert network_module.init_std("he", 50) == pytest.approx(0.2)
    assert network_module.init_std("xavier", 100) == pytest.approx(0.1)
    assert network_module.init_std(0.01, 784) == 0.01
    assert network_module.init_std("0.3", 784) == 0.3


def test_seeded_generator_is_reproducible():
    a = Network(10, [8, 6], 4, rng=np.random.default_rng(123))
    b = Network(10, [8, 6], 4, rng=np.random.default_rng(123))
    c = Network(10, [8, 6], 4, rng=np.random.default_rng(124))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_global_numpy_seed_controls_init_like_the_book():
    np.random.seed(42)
    a = TwoLayerNet(784, 50, 10)
    np.random.seed(42)
    b = TwoLayerNet(784, 50, 10)
    np.random.seed(43)
    c = TwoLayerNet(784, 50, 10)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    # The book's TwoLayerNet: W1 = std * randn(784, 50), b1 = 0, W2 = std * randn(50, 10).
    np.random.seed(42)
    W1 = 0.01 * np.random.randn(784, 50)
    W2 = 0.01 * np.random.randn(50, 10)
    np.testing.assert_array_equal(a.params["W1"], W1.astype(np.float32))
    np.testing.assert_array_equal(a.params["W2"], W2.astype(np.float32))


# --- accuracy and inputs -----------------------------------------------------

def test_accuracy_with_labels_and_one_hot(monkeypatch):
    rng = np.random.default_rng(11)
    net = Network(6, [5], 4, weight_init=1.0, dtype=np.float64, rng=rng)
    x = rng.standard_normal((10, 6))
    predicted = net.predict(x).argmax(axis=1)
    labels = predicted.copy()
    labels[:3] = (labels[:3] + 1) % 4  # exactly 3 of 10 wrong
    assert net.accuracy(x, labels) == pytest.approx(0.7)
    assert net.accuracy(x, np.eye(4)[labels]) == pytest.approx(0.7)
    assert net.accuracy(x, predicted) == 1.0
    monkeypatch.setattr(network_module, "ACCURACY_CHUNK", 3)  # scored in chunks: same answer
    assert net.accuracy(x, labels) == pytest.approx(0.7)
    assert np.isnan(net.accuracy(x[:0], labels[:0]))


def test_probabilities_of_a_whole_set_are_the_softmax_of_the_logits_in_chunks(monkeypatch):
    rng = np.random.default_rng(14)
    net = Network(6, [5], 4, weight_init=1.0, rng=rng)
    x = rng.standard_normal((10, 6)).astype(np.float32)
    whole = net.probabilities(x)
    assert whole.shape == (10, 4) and whole.dtype == np.float32
    np.testing.assert_allclose(whole, softmax(net.predict(x).astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(whole.argmax(axis=1), net.predict(x).argmax(axis=1))
    monkeypatch.setattr(network_module, "ACCURACY_CHUNK", 3)
    # Equal to float32 precision, not bit-equal: BLAS may pick another kernel for a 3-row product than
    # for a 10-row one (OPENBLAS_CORETYPE=Haswell: 1 ulp apart, 1.2e-7).
    np.testing.assert_allclose(net.probabilities(x), whole, rtol=1e-5, atol=1e-6)
    assert net.probabilities(x[:0]).shape == (0, 4)


def test_uint8_input_is_pixels_scaled_to_unit_range():
    rng = np.random.default_rng(12)
    pixels = rng.integers(0, 256, size=(5, 16), dtype=np.uint8)
    for dtype, tol in [(np.float32, 1e-5), (np.float64, 1e-12)]:
        net = Network(16, [8], 3, weight_init=0.3, dtype=dtype, rng=np.random.default_rng(13))
        out = net.predict(pixels)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, net.predict(pixels / 255.0), rtol=tol, atol=tol)
        assert not np.allclose(out, net.predict(pixels.astype(np.float64)), rtol=1e-3)
        labels = np.array([0, 1, 2, 0, 1])
        assert net.loss(pixels, labels) == pytest.approx(net.loss(pixels / 255.0, labels), rel=tol)


def test_invalid_activation_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="'tanh'") as info:
        Network(4, [3], 2, activation="tanh")
    assert "relu" in str(info.value) and "sigmoid" in str(info.value)
