"""The layers of "Deep Learning from Scratch" ch. 5: each is a class with forward/backward.

forward() keeps what backward() needs; backward(dout) returns the gradient with
respect to the layer's input and stores parameter gradients on the layer.
"""
from __future__ import annotations

import numpy as np

from .functions import sigmoid


class MulLayer:
    """z = x * y for scalars (or arrays): the book's first computational-graph node."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddLayer:
    """z = x + y: passes the upstream gradient unchanged to both inputs."""

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * 1, dout * 1


class ReLU:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


class Sigmoid:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out) * self.out


class Affine:
    """out = x @ W + b for a batch; inputs of shape (N, ...) are flattened to (N, D).

    W and b are held by reference, so in-place updates of a network's params are
    seen here. dW and db are preallocated and overwritten by each backward().
    `need_dx = False` skips the input gradient, which the first layer never needs.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)
        self.need_dx = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        out = self.x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self.x.T, dout, out=self.dW)
        np.add.reduce(dout, axis=0, out=self.db)  # np.sum without its Python-level wrapper
        if not self.need_dx:
            return None
        dx = dout @ self.W.T
        return dx if len(self.x_shape) == 2 else dx.reshape(self.x_shape)


class SoftmaxWithLoss:
    """Softmax followed by mean cross-entropy, fused.

    The loss is computed as log-sum-exp minus the target logit, which is exact
    and finite for any input (no +1e-7 inside a log as in the book).
    Labels may be one-hot (N, C) or integer class indices (N,).
    backward() returns (y - t) / N.
    """

    _rows = np.arange(0)  # row indices, replaced by an instance array of the batch size on first use

    def _row_index(self, n: int) -> np.ndarray:
        """np.arange(n), kept between calls (the batch size rarely changes)."""
        if len(self._rows) != n:
            self._rows = np.arange(n)
        return self._rows

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        n = x.shape[0]
        rows = self._row_index(n)
        # Each row's maximum, read at its argmax: the same values as x.max(axis=1),
        # but several times faster for the narrow rows (10 classes) of a classifier.
        shifted = x - x[rows, x.argmax(axis=1)][:, None]
        exp = np.exp(shifted)
        total = np.add.reduce(exp, axis=1, keepdims=True)
        exp /= total
        self.y = exp
        self.t = t
        log_z = np.log(total)
        if t.ndim == 1:
            return float(np.add.reduce(log_z[:, 0] - shifted[rows, t])) / n  # the mean, summed as np.mean does
        return float(-np.sum(t * (shifted - log_z)) / n)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.y.shape[0]
        if self.t.ndim == 1:
            dx = self.y.copy()
            dx[self._row_index(n), self.t] -= 1
        else:
            dx = self.y - self.t
        dx *= dout / n
        return dx
