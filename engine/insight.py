"""A look inside the network: confusion, worst mistakes, and per-layer weight and gradient statistics.

Pure functions of arrays and of a Network's current state; the trainer calls
them and wraps the results in events.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers import Affine, ReLU
from .network import Network

HIST_BINS = 30  # bins of the weight and gradient histograms: about one terminal column each


@dataclass(frozen=True)
class LayerStatsRow:
    """One Affine layer: histograms of its weights W and of their gradient, gradient norms, dead units.

    Tuples of plain numbers, so a row is immutable and goes to JSON as it is.
    """

    name: str  # the layer's key in Network.layers: "Affine1", "Affine2", ...
    weight_counts: tuple[int, ...]  # HIST_BINS counts, summing to W.size
    weight_edges: tuple[float, ...]  # HIST_BINS + 1 bin edges
    grad_counts: tuple[int, ...]  # of dW from the latest backward pass
    grad_edges: tuple[float, ...]
    weight_grad_norm: float  # L2 norm of dW
    bias_grad_norm: float  # L2 norm of db
    dead_share: float | None  # share of the following ReLU's units that were 0 for the whole batch; None if no ReLU


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) int64 counts: row = true label, column = predicted class."""
    labels = np.asarray(labels, np.int64)
    predictions = np.asarray(predictions, np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and not (0 <= values.min() and values.max() < classes):
            raise ValueError(f"{name} must lie in 0..{classes - 1}")
    # One pass: each (label, prediction) pair is a cell number of the flattened matrix.
    return np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)


def worst_mistakes(probabilities: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of at most k wrong predictions, the most confident (in the wrong class) first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    confidence = probabilities[wrong, predictions[wrong]]
    # Stable, so equally confident mistakes keep their dataset order (the same list every time).
    return wrong[np.argsort(-confidence, kind="stable")[:k]]


def histogram(values: np.ndarray, bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(counts int64, edges) as np.histogram's `bins` equal bins over the range of the finite values.

    Counts sum to values.size: non-finite values are clipped into the outer bins
    rather than dropped, so a blown-up layer still shows (-inf in the first bin,
    +inf and NaN in the last).
    """
    values = np.ravel(values)
    finite = np.isfinite(values)
    # Sorted, the count of each bin is the distance between where its edges would go: under half
    # np.histogram's time, which works value by value (this runs on the worker thread). Sorted in
    # the values' own dtype (float32 sorts 3x faster), then compared in float64, so even a narrow
    # float32 range gets distinct edges.
    ordered = np.sort(values if finite.all() else values[finite]).astype(np.float64)
    lo, hi = (ordered[0], ordered[-1]) if ordered.size else (0.0, 1.0)
    if lo == hi:  # one value: a bin of width 1 around it, as np.histogram does
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    # Each bin holds edges[i] <= v < edges[i + 1], the last one its upper edge too.
    ends = np.concatenate(([0], np.searchsorted(ordered, edges[1:-1]), [ordered.size]))
    counts = np.diff(ends).astype(np.int64, copy=False)
    below = int(np.count_nonzero(values == -np.inf)) if ordered.size < values.size else 0
    counts[0] += below
    counts[-1] += values.size - ordered.size - below
    return counts, edges


def dead_share(relu: ReLU) -> float | None:
    """Share of units that output 0 for every sample of the relu's last forward pass (None before any)."""
    mask = getattr(relu, "mask", None)
    if mask is None:
        return None
    return float(np.count_nonzero(~mask.any(axis=0)) / mask.shape[1])


def layer_stats(network: Network, bins: int = HIST_BINS) -> tuple[LayerStatsRow, ...]:
    """A row per Affine layer, from the current weights and the gradients and ReLU masks of the last batch.

    Reads only what the last forward and backward pass left in the layers (no pass
    of its own), so call it before anything else runs the network forward.
    """
    rows = []
    layers = list(network.layers.items())
    for i, (name, layer) in enumerate(layers):
        if not isinstance(layer, Affine):
            continue
        following = layers[i + 1][1] if i + 1 < len(layers) else None
        # Histograms of W only: the few biases start at 0 and would stand as a spike in the middle.
        weight_counts, weight_edges = histogram(layer.W, bins)
        grad_counts, grad_edges = histogram(layer.dW, bins)
        rows.append(LayerStatsRow(
            name=name,
            weight_counts=tuple(weight_counts.tolist()),
            weight_edges=tuple(weight_edges.tolist()),
            grad_counts=tuple(grad_counts.tolist()),
            grad_edges=tuple(grad_edges.tolist()),
            weight_grad_norm=float(np.linalg.norm(layer.dW)),
            bias_grad_norm=float(np.linalg.norm(layer.db)),
            dead_share=dead_share(following) if isinstance(following, ReLU) else None,
        ))
    return tuple(rows)


def weight_images(network: Network, image_shape: tuple[int, ...]) -> np.ndarray:
    """The first layer's weights as one image per hidden unit, (hidden_units, *image_shape) float32.

    Column j of W1 weighs each input pixel for unit j: drawn as an image, it shows
    the pattern that unit responds to.
    """
    return np.ascontiguousarray(network.params["W1"].T, np.float32).reshape(-1, *image_shape)
