"""engine.insight: confusion matrix, worst mistakes, histograms, layer statistics, weight images."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.insight import HIST_BINS, confusion_matrix, histogram, layer_stats, weight_images, worst_mistakes
from engine.network import Network

# --- confusion matrix ----------------------------------------------------------


def test_confusion_matrix_of_a_known_case():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    expected = np.array([[1, 1, 0],
                         [0, 1, 0],
                         [1, 0, 2]])
    matrix = confusion_matrix(labels, predictions, 3)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == np.int64


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda classes: st.tuples(
    st.just(classes),
    st.lists(st.tuples(st.integers(0, classes - 1), st.integers(0, classes - 1)), max_size=300))))
def test_confusion_matrix_equals_a_double_loop(case):
    classes, pairs = case
    labels = np.array([p[0] for p in pairs], np.uint8)  # uint8 as the datasets hold them
    predictions = np.array([p[1] for p in pairs], np.intp)
    expected = np.zeros((classes, classes), np.int64)
    for true in range(classes):
        for predicted in range(classes):
            expected[true, predicted] = sum(1 for t, p in pairs if t == true and p == predicted)
    matrix = confusion_matrix(labels, predictions, classes)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == len(pairs)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=classes))


def test_confusion_matrix_refuses_out_of_range_and_mismatched_inputs():
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="predictions must lie in 0..2"):
        confusion_matrix(np.array([0, 1]), np.array([-1, 1]), 3)
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


# --- worst mistakes ------------------------------------------------------------


def test_worst_mistakes_of_a_known_case():
    probabilities = np.array([
        [0.9, 0.1, 0.0],  # predicts 0, label 0: right
        [0.2, 0.7, 0.1],  # predicts 1, label 0: wrong at 0.7
        [0.1, 0.3, 0.6],  # predicts 2, label 1: wrong at 0.6
        [0.05, 0.95, 0.0],  # predicts 1, label 2: wrong at 0.95
        [0.5, 0.4, 0.1],  # predicts 0, label 0: right
    ])
    labels = np.array([0, 0, 1, 2, 0])
    np.testing.assert_array_equal(worst_mistakes(probabilities, labels, 10), [3, 1, 2])
    np.testing.assert_array_equal(worst_mistakes(probabilities, labels, 2), [3, 1])
    assert worst_mistakes(probabilities, labels, 0).size == 0
    assert worst_mistakes(probabilities[[0, 4]], labels[[0, 4]], 5).size == 0  # no mistakes


@st.composite
def predictions_case(draw):
    n = draw(st.integers(0, 60))
    classes = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Coarse logits make equal confidences likely, to exercise the tie order.
    logits = rng.integers(-3, 4, (n, classes)).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, classes, n)
    return probabilities, labels, draw(st.integers(0, n + 2))


@settings(max_examples=300, deadline=None)
@given(predictions_case())
def test_worst_mistakes_are_all_wrong_the_most_confident_first(case):
    probabilities, labels, k = case
    found = worst_mistakes(probabilities, labels, k)
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    assert len(found) == min(k, len(wrong))
    assert len(set(found.tolist())) == len(found)
    assert np.all(predictions[found] != labels[found])
    confidence = probabilities[found, predictions[found]]
    assert np.all(np.diff(confidence) <= 0)  # descending
    left_out = np.setdiff1d(wrong, found)
    if len(found) and len(left_out):  # the top k: nothing left out is more confident than what was kept
        assert probabilities[left_out, predictions[left_out]].max() <= confidence[-1]
    for i in range(len(found) - 1):  # equal confidence: dataset order
        if confidence[i] == confidence[i + 1]:
            assert found[i] < found[i + 1]


# --- histograms ----------------------------------------------------------------


def in_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts by looking each value up among the edges (bins closed on the left, the last also on the right)."""
    index = np.minimum(np.searchsorted(edges, values.astype(np.float64).ravel(), side="right") - 1, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 40), st.floats(-8, 3), st.floats(-1e3, 1e3), st.integers(0, 2**32 - 1))
def test_histogram_counts_every_value_in_the_bin_its_edges_say(n, bins, scale, offset, seed):
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal(n) * 10**scale + offset).astype(np.float32)  # narrow ranges far from 0 too
    counts, edges = histogram(values, bins)
    assert counts.dtype == np.int64 and counts.shape == (bins,) and edges.shape == (bins + 1,)
    assert counts.sum() == values.size
    if values.min() < values.max():
        assert edges[0] == values.min() and edges[-1] == values.max()
    np.testing.assert_array_equal(counts, in_bins(values, edges))
    expected_counts, expected_edges = np.histogram(values.astype(np.float64), bins)
    np.testing.assert_array_equal(counts, expected_counts)
    np.testing.assert_array_equal(edges, expected_edges)


def test_histogram_of_values_on_the_edges():
    values = np.array([0, 0.25, 0.5, 0.5, 0.75, 1, 1], np.float32)
    counts, edges = histogram(values, bins=4)
    np.testing.assert_array_equal(edges, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(counts, [1, 1, 2, 3])  # left edges belong to their bin, the maximum to the last


def test_histogram_clips_non_finite_values_into_the_outer_bins():
    values = np.array([-np.inf, 0.0, 1.0, 2.0, 3.0, np.nan, np.inf, np.inf])
    counts, edges = histogram(values, bins=3)
    np.testing.assert_array_equal(edges, [0.0, 1.0, 2.0, 3.0])
    # finite: [0, 1) -> 1, [1, 2) -> 1, [2, 3] -> 2; then -inf to the first bin, NaN and 2 x inf to the last
    np.testing.assert_array_equal(counts, [2, 1, 5])
    assert counts.sum() == values.size
    only_nan, _ = histogram(np.full(4, np.nan), bins=5)
    assert only_nan.sum() == 4 and only_nan[-1] == 4


def test_histogram_of_a_constant():
    counts, edges = histogram(np.zeros(10), bins=4)
    assert counts.sum() == 10 and edges[0] < 0 < edges[-1]


# --- layer statistics ------------------------------------------------------------


def trained_once(activation="relu", hidden=(12, 7), seed=3) -> tuple[Network, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = Network(20, hidden, 5, activation, "he", rng=rng)
    x = rng.standard_normal((16, 20)).astype(np.float32)
    net.backprop(x, rng.integers(0, 5, 16))
    return net, x


def test_layer_stats_histograms_count_every_weight_and_gradient():
    net, _ = trained_once()
    rows = layer_stats(net)
    assert [r.name for r in rows] == ["Affine1", "Affine2", "Affine3"]
    for k, row in enumerate(rows, start=1):
        W, dW, db = net.params[f"W{k}"], net.grads[f"W{k}"], net.grads[f"b{k}"]
        assert len(row.weight_counts) == len(row.grad_counts) == HIST_BINS
        assert sum(row.weight_counts) == W.size and sum(row.grad_counts) == dW.size
        assert row.weight_edges[0] == W.min() and row.weight_edges[-1] == W.max()
        assert row.grad_edges[0] == dW.min() and row.grad_edges[-1] == dW.max()
        assert row.weight_grad_norm == pytest.approx(np.sqrt(np.sum(dW.astype(np.float64) ** 2)), rel=1e-6)
        assert row.bias_grad_norm == pytest.approx(np.sqrt(np.sum(db.astype(np.float64) ** 2)), rel=1e-6)
        assert row.weight_grad_norm > 0 and row.bias_grad_norm > 0
    assert rows[-1].dead_share is None  # the output layer has no ReLU after it
    assert all(0 <= r.dead_share <= 1 for r in rows[:-1])
    # Plain numbers in tuples: hashable, immutable, JSON as they are.
    assert all(type(c) is int for c in rows[0].weight_counts) and all(type(e) is float for e in rows[0].grad_edges)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].dead_share = 0.5


def test_dead_share_of_constructed_layers():
    net, x = trained_once(hidden=(8,))
    labels = np.zeros(len(x), np.intp)
    net.params["b1"][:] = -1e3  # every pre-activation far below zero: all units dead
    net.backprop(x, labels)
    assert layer_stats(net)[0].dead_share == 1.0
    assert layer_stats(net)[0].weight_grad_norm == 0.0  # no gradient reaches the first layer through dead units
    net.params["b1"][:] = 1e3  # every unit on for every sample
    net.backprop(x, labels)
    assert layer_stats(net)[0].dead_share == 0.0
    net.params["b1"][:3] = -1e3  # 3 of 8 dead
    net.backprop(x, labels)
    assert layer_stats(net)[0].dead_share == 3 / 8
    net.params["b1"][:] = 0.0  # one sample switching a unit on keeps it alive
    net.params["W1"][:] = 0.0
    net.params["W1"][0, :] = 1.0
    x_one = np.zeros_like(x)
    x_one[5, 0] = 1.0  # only sample 5 reaches the units
    net.backprop(x_one, labels)
    assert layer_stats(net)[0].dead_share == 0.0


def test_sigmoid_layers_have_no_dead_share():
    net, _ = trained_once(activation="sigmoid")
    rows = layer_stats(net)
    assert len(rows) == 3 and all(r.dead_share is None for r in rows)
    assert sum(rows[0].grad_counts) == net.grads["W1"].size


def test_before_any_pass_gradients_are_zero_and_dead_share_unknown():
    net = Network(6, [4], 3, rng=np.random.default_rng(0))
    row = layer_stats(net)[0]
    assert row.dead_share is None and row.weight_grad_norm == 0.0 and sum(row.grad_counts) == 24


def test_weight_images_show_each_units_incoming_weights():
    net = Network(12, [5], 3, rng=np.random.default_rng(2))
    images = weight_images(net, (3, 4))
    assert images.shape == (5, 3, 4) and images.dtype == np.float32
    for unit in range(5):
        np.testing.assert_array_equal(images[unit], net.params["W1"][:, unit].reshape(3, 4))
    assert not np.shares_memory(images, net.params["W1"])
