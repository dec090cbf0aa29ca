"""Reference functions from "Deep Learning from Scratch" (ch. 3-4), kept readable.

The layers in `layers.py` use fused, faster versions of these; the functions
here are the book's definitions that tests and the reference gradient check use.
"""
from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row maximum keeps exp finite for any input."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
    """Mean cross-entropy of probabilities `y` against one-hot or integer labels `t`.

    As in the book, 1e-7 is added inside the log so a zero probability gives a
    large finite loss instead of inf.
    """
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.size == y.size else t.reshape(1)
    if t.size == y.size:  # one-hot -> label indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The book's central difference, one element at a time: (f(x+h) - f(x-h)) / 2h.

    `f` is called with no meaningful argument after `x` is modified in place,
    exactly as in the book; `x` is restored after each element.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)
        x[idx] = original
        it.iternext()
    return grad


def as_float(x: np.ndarray, dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
    """Inputs as floats: uint8 arrays are pixel intensities and are scaled to [0, 1]; others are cast."""
    x = np.asarray(x)
    if out is None:
        if x.dtype == np.uint8:
            return np.multiply(x, np.asarray(1 / 255, dtype=dtype), dtype=dtype)
        return x.astype(dtype, copy=False)
    out[...] = x  # casting copy, then scaling in place: faster than a mixed-type multiply
    if x.dtype == np.uint8:
        out *= np.asarray(1 / 255, dtype=out.dtype)
    return out
