"""The Backprop lesson's steps hold the network's own values, the book's shapes and an input gradient that a
numerical gradient confirms."""
from __future__ import annotations

import numpy as np
import pytest

from engine.backprop_lesson import BACKWARD, FORWARD, input_gradient, lesson_network, walk
from engine.functions import numerical_gradient
from tests.conftest import trained_like


def digits(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)




def by_layer(steps, direction):
    return {s.layer: s for s in steps if s.direction == direction}


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("hidden, activation", [((50,), "relu"), ((100, 50), "relu"), ((50,), "sigmoid")])
def test_every_step_shows_the_layers_values(n, hidden, activation):
    net = trained_like(hidden, activation)
    x, t = digits(n)
    lesson = walk(lesson_network(net.sizes, activation, net.params), x, t)

    # The reference: the book's formulas in plain NumPy on the same float64 parameters ...
    p = {k: v.astype(np.float64) for k, v in net.params.items()}
    act = (lambda a: np.maximum(a, 0)) if activation == "relu" else (lambda a: 1 / (1 + np.exp(-a)))
    value = x.reshape(n, -1) / 255.0
    forward = by_layer(lesson.steps, FORWARD)
    depth = len(net.sizes) - 1
    for k in range(1, depth + 1):
        affine = forward[f"Affine{k}"]
        np.testing.assert_allclose(affine.values["x"], value, rtol=1e-12)
        value = value @ p[f"W{k}"] + p[f"b{k}"]
        np.testing.assert_allclose(affine.values["out"], value, rtol=1e-10, atol=1e-12)
        if k < depth:
            name = f"{'ReLU' if activation == 'relu' else 'Sigmoid'}{k}"
            value = act(value)
            np.testing.assert_allclose(forward[name].values["out"], value, rtol=1e-10, atol=1e-12)
    y = np.exp(value - value.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    softmax = forward["SoftmaxWithLoss"]
    np.testing.assert_allclose(softmax.values["y"], y, rtol=1e-10)
    assert float(softmax.values["L"]) == pytest.approx(-np.mean(np.log(y[np.arange(n), t])), rel=1e-10)

    # ... and the network's own backprop gradients (Network.gradient), which the steps must show.
    backward = by_layer(lesson.steps, BACKWARD)
    one_hot = np.eye(10)[t]
    np.testing.assert_allclose(backward["SoftmaxWithLoss"].values["dx"], (y - one_hot) / n, rtol=1e-9, atol=1e-15)
    grads = net.astype(np.float64).gradient(x, t)
    for k in range(1, depth + 1):
        step = backward[f"Affine{k}"]
        np.testing.assert_allclose(step.values["dW"], grads[f"W{k}"], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(step.values["db"], grads[f"b{k}"], rtol=1e-9, atol=1e-15)
        # dx = dout·Wᵀ, dW = xᵀ·dout, db = Σ dout: the formulas hold between the values shown.
        np.testing.assert_allclose(step.values["dx"], step.values["dout"] @ p[f"W{k}"].T, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(step.values["dW"], step.values["x"].T @ step.values["dout"], rtol=1e-10,
                                   atol=1e-15)
        np.testing.assert_allclose(step.values["db"], step.values["dout"].sum(axis=0), rtol=1e-10, atol=1e-15)
    # Each backward step's dout is the dx of the step before it (the layer after it in the network).
    steps = [s for s in lesson.steps if s.direction == BACKWARD]
    for later, earlier in zip(steps, steps[1:]):
        np.testing.assert_array_equal(earlier.values["dout"], later.values["dx"])
    if activation == "relu":
        relu = backward["ReLU1"]
        np.testing.assert_array_equal(relu.values["dx"], relu.values["dout"] * relu.values["mask"])
        np.testing.assert_array_equal(relu.values["mask"], forward["Affine1"].values["out"] > 0)


def test_the_steps_come_in_the_order_of_the_passes():
    net = trained_like((100, 50))
    lesson = walk(lesson_network(net.sizes, "relu", net.params), *digits(2))
    assert [(s.direction, s.layer) for s in lesson.steps] == [
        (FORWARD, "Affine1"), (FORWARD, "ReLU1"), (FORWARD, "Affine2"), (FORWARD, "ReLU2"), (FORWARD, "Affine3"),
        (FORWARD, "SoftmaxWithLoss"),
        (BACKWARD, "SoftmaxWithLoss"), (BACKWARD, "Affine3"), (BACKWARD, "ReLU2"), (BACKWARD, "Affine2"),
        (BACKWARD, "ReLU1"), (BACKWARD, "Affine1"),
    ]
    assert lesson.forward_count == 6
    assert all(len(s.formulas) == len(s.shapes) for s in lesson.steps)


def shapes(hidden, n):
    net = trained_like(hidden)
    lesson = walk(lesson_network(net.sizes, "relu", net.params), *digits(n))
    return {(s.direction, s.layer): s.shapes for s in lesson.steps}


def test_shapes_of_784_50_10():
    got = shapes((50,), 4)
    assert got[FORWARD, "Affine1"] == ("(4×784)·(784×50) + (50) = 4×50",)
    assert got[FORWARD, "Affine2"] == ("(4×50)·(50×10) + (10) = 4×10",)
    assert got[BACKWARD, "Affine1"] == ("(4×50)·(50×784) = 4×784", "(784×4)·(4×50) = 784×50",
                                        "4×50 summed over N=4 = 50")
    assert got[BACKWARD, "Affine2"] == ("(4×10)·(10×50) = 4×50", "(50×4)·(4×10) = 50×10", "4×10 summed over N=4 = 10")
    assert got[BACKWARD, "SoftmaxWithLoss"] == ("(4×10 - 4×10) / 4 = 4×10",)
    assert got[BACKWARD, "ReLU1"] == ("elementwise: 4×50 → 4×50",)


def test_shapes_of_a_deeper_net():
    got = shapes((100, 50), 1)
    assert got[FORWARD, "Affine2"] == ("(1×100)·(100×50) + (50) = 1×50",)
    assert got[BACKWARD, "Affine2"] == ("(1×50)·(50×100) = 1×100", "(100×1)·(1×50) = 100×50",
                                        "1×50 summed over N=1 = 50")
    assert got[BACKWARD, "Affine3"][1] == "(50×1)·(1×10) = 50×10"


def test_the_relu_step_says_how_many_units_passed_gradient():
    net = trained_like()
    x, t = digits(1)
    lesson = walk(lesson_network(net.sizes, "relu", net.params), x, t)
    mask = by_layer(lesson.steps, BACKWARD)["ReLU1"].values["mask"][0]
    passed = int(mask.sum())
    assert 0 < passed < 50
    assert (f"ReLU1 passed gradient to {passed} of 50 units: the other {50 - passed} were ≤ 0"
            in by_layer(lesson.steps, BACKWARD)["ReLU1"].explanation)


@pytest.mark.parametrize("target", ["true", "predicted"])
def test_input_gradient_matches_a_numerical_gradient_over_the_pixels(target):
    net64 = lesson_network(trained_like().sizes, "relu", trained_like().params)
    x, t = digits(1, seed=3)
    pixels = x.reshape(1, -1) / 255.0
    if target == "predicted":
        t = net64.predict(pixels).argmax(axis=1)
    analytic = input_gradient(net64, pixels, t)
    numeric = numerical_gradient(lambda _: net64.loss(pixels, t), pixels)  # the book's h = 1e-4: ~2e-8 here
    error = np.abs(analytic - numeric) / np.maximum(np.abs(analytic), np.abs(numeric))
    assert error.max() < 1e-6


def test_the_lesson_leaves_the_networks_parameters_alone():
    net = trained_like()
    before = {k: v.copy() for k, v in net.params.items()}
    walk(lesson_network(net.sizes, "relu", net.params), *digits(4))
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, before[k])
