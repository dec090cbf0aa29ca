"""Backprop through the real network, layer by layer, for a few chosen digits (the Backprop tab reads it).

The chapter's idea on the network it trains: the forward pass runs each layer's forward(), and the
backward pass each layer's backward(dout), which returns the dout of the layer before and keeps its
own dW and db. `walk()` runs the project's own layers on a float64 copy of the parameters and records
every value each step computed, with the step's formula as the book writes it, its shapes and one
line on what happened. Nothing here is re-implemented for display.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .functions import as_float
from .layers import Affine, ReLU, Sigmoid, SoftmaxWithLoss
from .network import Network

FORWARD, BACKWARD = "forward", "backward"
LOSS = "SoftmaxWithLoss"

FORMULAS = {
    (Affine, FORWARD): ("out = x·W + b",),
    (Affine, BACKWARD): ("dx = dout·Wᵀ", "dW = xᵀ·dout", "db = Σ dout  (summed over the N rows)"),
    (ReLU, FORWARD): ("out = x where x > 0, else 0",),
    (ReLU, BACKWARD): ("dx = dout where x > 0, else 0",),
    (Sigmoid, FORWARD): ("out = 1 / (1 + exp(-x))",),
    (Sigmoid, BACKWARD): ("dx = dout · out · (1 - out)",),
    (SoftmaxWithLoss, FORWARD): ("y = softmax(a)", "L = -Σ t log y / N"),
    (SoftmaxWithLoss, BACKWARD): ("dx = (y - t) / N",),
}


@dataclass(frozen=True)
class Step:
    """One layer's forward or backward: what it computed, named as in the formulas, in float64."""

    direction: str  # FORWARD or BACKWARD
    layer: str  # the layer's key in Network.layers ("Affine1", "ReLU1"), or "SoftmaxWithLoss"
    kind: str  # its class: "Affine", "ReLU", "Sigmoid" or "SoftmaxWithLoss"
    formulas: tuple[str, ...]
    shapes: tuple[str, ...]  # one per formula: its shapes, e.g. "(784×4)·(4×50) = 784×50" for dW = xᵀ·dout
    values: dict[str, np.ndarray]  # name -> a read-only copy: x, W, b, out; dout, dx, dW, db; mask; y, t, L
    explanation: str


@dataclass(frozen=True)
class Walk:
    """A whole forward and backward pass on a batch of N digits."""

    steps: tuple[Step, ...]  # the forward steps, then the backward ones
    loss: float
    probabilities: np.ndarray  # (N, classes)
    labels: np.ndarray  # (N,) the targets the loss was taken against
    input_gradient: np.ndarray  # (N, inputs): d loss / d pixel, Affine1's dx

    @property
    def forward_count(self) -> int:
        return sum(step.direction == FORWARD for step in self.steps)


def _frozen(array) -> np.ndarray:
    out = np.array(array, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def lesson_network(sizes, activation: str, params: dict[str, np.ndarray]) -> Network:
    """A float64 copy of the network whose first Affine also returns dx: the gradient on the pixels."""
    net = Network.from_params(sizes, activation, params, np.float64)
    net.layers["Affine1"].need_dx = True
    return net


def walk(net: Network, x: np.ndarray, t: np.ndarray, class_names: tuple[str, ...] | None = None) -> Walk:
    """Forward and backward through every layer of `net` for the inputs `x` (N, ...) and labels `t` (N,)."""
    x = as_float(np.asarray(x).reshape(len(x), -1), np.float64)
    t = np.asarray(t, np.int64)
    names = class_names or tuple(str(c) for c in range(net.sizes[-1]))
    n = len(x)
    steps = []
    inputs = {}
    value = x
    for name, layer in net.layers.items():
        inputs[name] = value
        value = layer.forward(value)
        steps.append(_forward_step(name, layer, inputs[name], value, n))
    scores = value
    loss = net.last_layer.forward(scores, t)
    y = net.last_layer.y
    steps.append(Step(
        FORWARD, LOSS, LOSS, FORMULAS[SoftmaxWithLoss, FORWARD],
        (f"{_dims(scores.shape)} → {_dims(y.shape)}, each row sums to 1",
         f"{_dims(y.shape)} → a scalar, the mean over N={n}"),
        {"a": _frozen(scores), "y": _frozen(y), "t": _frozen(_one_hot(t, y.shape[1])), "L": _frozen(loss)},
        _softmax_story(y, t, loss, names),
    ))
    dout = net.last_layer.backward(1.0)
    steps.append(Step(
        BACKWARD, LOSS, LOSS, FORMULAS[SoftmaxWithLoss, BACKWARD],
        (f"({_dims(y.shape)} - {_dims(y.shape)}) / {n} = {_dims(dout.shape)}",),
        {"y": _frozen(y), "t": _frozen(_one_hot(t, y.shape[1])), "dx": _frozen(dout)},
        _softmax_gradient_story(dout, t, n, names),
    ))
    for name, layer in reversed(net.layers.items()):
        dx = layer.backward(dout)
        steps.append(_backward_step(name, layer, inputs[name], dout, dx, n))
        dout = dx
    return Walk(tuple(steps), float(loss), _frozen(y), t, _frozen(dout))


def _one_hot(t: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[t]


def _forward_step(name: str, layer, x: np.ndarray, out: np.ndarray, n: int) -> Step:
    kind = type(layer)
    if isinstance(layer, Affine):
        (d, units) = layer.W.shape
        shapes = (f"({n}×{d})·({d}×{units}) + ({units}) = {n}×{units}",)
        values = {"x": x, "W": layer.W, "b": layer.b, "out": out}
        story = (f"{name}: each of the {units} outputs is a weighted sum of the {d} inputs plus its bias; "
                 f"they range from {out.min():+.3g} to {out.max():+.3g}.")
    else:
        shapes = (f"elementwise: {_dims(x.shape)} → {_dims(out.shape)}",)
        values = {"x": x, "out": out}
        if isinstance(layer, ReLU):
            values["mask"] = layer.mask
            active = int(layer.mask[0].sum())
            units = layer.mask.shape[1]
            story = (f"{name}: {active} of {units} units are > 0 and pass their value on"
                     f"{' (for the first digit)' if n > 1 else ''}; the other {units - active} output 0.")
        else:
            story = f"{name}: every value is squashed into (0, 1); the outputs range from {out.min():.3g} to {out.max():.3g}."
    return Step(FORWARD, name, kind.__name__, FORMULAS[kind, FORWARD], shapes, {k: _frozen(v) for k, v in values.items()}, story)


def _backward_step(name: str, layer, x: np.ndarray, dout: np.ndarray, dx: np.ndarray, n: int) -> Step:
    kind = type(layer)
    if isinstance(layer, Affine):
        d, units = layer.W.shape
        shapes = (f"({n}×{units})·({units}×{d}) = {n}×{d}",
                  f"({d}×{n})·({n}×{units}) = {d}×{units}",
                  f"{n}×{units} summed over N={n} = {units}")
        values = {"dout": dout, "x": x, "W": layer.W, "dx": dx, "dW": layer.dW, "db": layer.db}
        zero_rows = int(np.count_nonzero(~x.any(axis=0)))
        summed = "input i × dout j" if n == 1 else f"input i × dout j summed over the N={n} digits"
        story = (f"{name}: dW = xᵀ·dout has W's shape ({d}×{units}): the transpose lines up each input i with each "
                 f"output j, so dW[i, j] = {summed}. An input that was 0 gets no gradient "
                 f"({_count(zero_rows, 'row')} of dW {'is' if zero_rows == 1 else 'are'} 0). "
                 f"dx = dout·Wᵀ sends dout back along the same weights to the {d} inputs. "
                 "The /N came with dout, from the loss.")
        if n == 1 and name == "Affine1":
            story += " Each column of dW is the input times one number, dout j: every unit's gradient looks like the digit."
    else:
        shapes = (f"elementwise: {_dims(dout.shape)} → {_dims(dx.shape)}",)
        values = {"dout": dout, "dx": dx}
        if isinstance(layer, ReLU):
            values["mask"] = layer.mask
            units = layer.mask.shape[1]
            passed = int(layer.mask[0].sum())
            story = (f"{name} passed gradient to {passed} of {units} units"
                     f"{' (for the first digit)' if n > 1 else ''}: the other {units - passed} were ≤ 0 "
                     "in the forward pass, so their gradient is 0.")
        else:
            story = (f"{name}: dout is scaled by out·(1 - out), at most 0.25: "
                     "a sigmoid always shrinks the gradient, most where it saturated near 0 or 1.")
    return Step(BACKWARD, name, kind.__name__, FORMULAS[kind, BACKWARD], shapes, {k: _frozen(v) for k, v in values.items()}, story)


def _softmax_story(y: np.ndarray, t: np.ndarray, loss: float, names: tuple[str, ...]) -> str:
    p = float(y[0, t[0]])
    predicted = int(y[0].argmax())
    first = "the first digit's " if len(t) > 1 else ""
    return (f"Softmax turns the scores into probabilities: {first}true class {names[t[0]]} gets {p:.3f} "
            f"(predicted: {names[predicted]}, {y[0, predicted]:.3f}); "
            f"L = {loss:.4f}" + (f", the mean over N={len(t)} digits." if len(t) > 1 else f" = -log {p:.3f}."))


def _softmax_gradient_story(dx: np.ndarray, t: np.ndarray, n: int, names: tuple[str, ...]) -> str:
    true = float(dx[0, t[0]])
    others = np.delete(dx[0], t[0])
    return (f"y - t, divided by N={n}: only the true class {names[t[0]]} is negative ({true:+.4f}), which would "
            f"raise its score; every other class is positive (up to {others.max():+.4f}), lowering its score. "
            "The gradient is that simple because softmax and cross-entropy fit together.")


def input_gradient(net: Network, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d loss / d pixel for the targets `t` (N, inputs): what would raise (+) or lower (-) the loss."""
    return walk(net, x, t).input_gradient
