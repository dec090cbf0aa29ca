"""A layered network of Affine + activation layers ending in SoftmaxWithLoss.

`params` maps "W1", "b1", "W2", ... to arrays that the layers hold by reference,
so `params[key] -= lr * grads[key]` (the book's update) trains the network.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import functions
from .layers import Affine, ReLU, Sigmoid, SoftmaxWithLoss

ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid}
WEIGHT_INITS = ("he", "xavier")  # or a positive number: the standard deviation
ACCURACY_CHUNK = 1024  # rows per forward pass when scoring a whole dataset (a chunk stays in cache)


def init_std(weight_init: str | float, fan_in: int) -> float:
    """He: sqrt(2 / fan_in) (for ReLU); Xavier: sqrt(1 / fan_in) (for sigmoid); else a fixed std."""
    if weight_init == "he":
        return float(np.sqrt(2.0 / fan_in))
    if weight_init == "xavier":
        return float(np.sqrt(1.0 / fan_in))
    return float(weight_init)


class ScoringCancelled(Exception):
    """The caller's `cancelled()` returned True between two chunks of a whole-dataset pass."""


def fraction_correct(predictions: np.ndarray, t: np.ndarray) -> float:
    """Share of predicted classes equal to the labels `t` (one-hot or indices); NaN for none."""
    if len(predictions) == 0:
        return float("nan")
    labels = t.argmax(axis=1) if t.ndim != 1 else t
    return np.count_nonzero(predictions == labels) / len(predictions)


class Network:
    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init: str | float = 0.01,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        self.sizes = [int(input_size), *map(int, hidden_sizes), int(output_size)]
        self.activation = activation
        self.weight_init = weight_init
        self.dtype = np.dtype(dtype)
        # Without a generator, draw from numpy's global state as the book does,
        # so np.random.seed() in a notebook still controls initialisation.
        randn = (lambda *shape: rng.standard_normal(shape)) if rng is not None else np.random.randn
        params = {}
        for k, (fan_in, fan_out) in enumerate(zip(self.sizes, self.sizes[1:]), start=1):
            # Draw in float64 so a float32 and a float64 net from the same seed match.
            params[f"W{k}"] = init_std(weight_init, fan_in) * np.asarray(randn(fan_in, fan_out), np.float64)
            params[f"b{k}"] = np.zeros(fan_out)
        self._build({k: v.astype(self.dtype) for k, v in params.items()})

    def _build(self, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.layers: dict[str, object] = {}
        depth = len(self.sizes) - 1
        for k in range(1, depth + 1):
            self.layers[f"Affine{k}"] = Affine(params[f"W{k}"], params[f"b{k}"])
            if k < depth:
                act = ACTIVATIONS[self.activation]
                self.layers[f"{act.__name__}{k}"] = act()
        self.layers["Affine1"].need_dx = False  # nothing upstream of the input needs it
        self.last_layer = SoftmaxWithLoss()
        self.grads = {}
        for k in range(1, depth + 1):
            self.grads[f"W{k}"] = self.layers[f"Affine{k}"].dW
            self.grads[f"b{k}"] = self.layers[f"Affine{k}"].db

    @property
    def architecture(self) -> str:
        return "-".join(map(str, self.sizes))

    @classmethod
    def from_params(cls, sizes: Sequence[int], activation: str, params: dict[str, np.ndarray], dtype=np.float32,
                    weight_init: str | float = 0.01) -> "Network":
        """A network holding copies of `params` (as saved in a checkpoint), converted to `dtype`."""
        net = object.__new__(cls)
        net.sizes, net.activation, net.weight_init = [int(n) for n in sizes], activation, weight_init
        net.dtype = np.dtype(dtype)
        net._build({k: np.array(v, net.dtype) for k, v in params.items()})
        return net

    def astype(self, dtype) -> "Network":
        """A copy of this network with parameters converted to `dtype`."""
        return type(self).from_params(self.sizes, self.activation, self.params, dtype, self.weight_init)

    def _input(self, x: np.ndarray) -> np.ndarray:
        return functions.as_float(x, self.dtype)  # uint8 pixels are scaled to [0, 1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits (scores before softmax) for a batch."""
        x = self._input(x)
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.last_layer.forward(self.predict(x), t)

    def probabilities(self, x: np.ndarray, cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
        """Softmax class probabilities (n, classes) for a whole dataset, scored in chunks so it fits in memory.

        `cancelled` is polled before each chunk; when it returns True, ScoringCancelled is raised.
        """
        out = np.empty((len(x), self.sizes[-1]), self.dtype)
        for start in range(0, len(x), ACCURACY_CHUNK):
            if cancelled():
                raise ScoringCancelled
            out[start : start + ACCURACY_CHUNK] = functions.softmax(self.predict(x[start : start + ACCURACY_CHUNK]))
        return out

    def accuracy(self, x: np.ndarray, t: np.ndarray, cancelled: Callable[[], bool] = lambda: False) -> float:
        """Fraction classified correctly (the most probable class is the prediction); `cancelled` as in probabilities."""
        return fraction_correct(self.probabilities(x, cancelled).argmax(axis=1), t)

    def backprop(self, x: np.ndarray, t: np.ndarray) -> float:
        """Forward and backward pass; fills `self.grads` in place and returns the loss."""
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return loss

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The book's gradient(): backprop gradients of the loss, as fresh arrays."""
        self.backprop(x, t)
        return {k: g.copy() for k, g in self.grads.items()}

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The book's element-by-element central difference, in float64 (slow; the reference)."""
        net = self.astype(np.float64)
        loss = lambda _: net.loss(x, t)
        return {k: functions.numerical_gradient(loss, p) for k, p in net.params.items()}


class TwoLayerNet(Network):
    """The book's TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01)."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float32, rng=None):
        super().__init__(input_size, [hidden_size], output_size, "relu", weight_init_std, dtype, rng)
