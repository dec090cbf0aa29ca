"""The gradient-check lab: classic backprop bugs, injected into a copy of the network, and what the check says.

Each bug is one a learner makes (the book's and micrograd's issue trackers): a layer class with a broken
forward or backward put in place of the right one, gradients added over two backward passes, or the
numerical side computed in a dtype that cannot hold p + h. `lab_check` runs the gradient check on a
float64 copy of the parameters with the bug in (the training run never sees it) and `diagnose` says,
from what failed and by how much, where the bug most likely is: each layer's backward is also checked
on its own against its forward (a few sampled elements), which names the broken layer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .gradcheck import H, TensorCheck, check_inputs, check_tensors
from .layers import Affine, ReLU, Sigmoid, SoftmaxWithLoss
from .network import Network


class _SoftmaxMaxOverBatch(SoftmaxWithLoss):
    """softmax shifted by each column's max over the batch (axis=0) instead of each row's: not a softmax."""

    def forward(self, x, t):
        exp = np.exp(x - x.max(axis=0))
        self.y = exp / exp.sum(axis=1, keepdims=True)
        self.t = t
        return float(-np.mean(np.log(self.y[np.arange(len(t)), t])))


class _SoftmaxNoN(SoftmaxWithLoss):
    """dx = y - t: the / N of the mean loss forgotten."""

    def backward(self, dout=1.0):
        return super().backward(dout) * self.y.shape[0]


class _AffineNoTranspose(Affine):
    """dx = dout · W instead of dout · Wᵀ (it runs only where W is square)."""

    def backward(self, dout):
        super().backward(dout)
        return dout @ self.W


class _AffineBiasAllAxes(Affine):
    """db = Σ dout over every axis (one number for all units) instead of over the batch axis only."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.db[...] = dout.sum()
        return dx


class _ReLUPassesAll(ReLU):
    """The mask taken from the output, which is ≥ 0 everywhere: every unit passes gradient."""

    def forward(self, x):
        out = super().forward(x)
        self.mask = out >= 0
        return out


class _SigmoidUsesInput(Sigmoid):
    """dx = dout · x · (1 - x) with x the input, instead of the output y."""

    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * (1.0 - self.x) * self.x


@dataclass(frozen=True)
class Bug:
    key: str
    title: str  # as the menu says it
    where: str  # the code it breaks, in the book's words
    layer: type | None = None  # the broken class, put in place of the right one ...
    replaces: type | None = None  # ... of this class
    doubled: bool = False  # gradients added over two backward passes
    numeric_dtype: type | None = None  # the numerical gradient computed in an array of this dtype

    def applies_to(self, net: Network) -> str | None:
        """None when the bug can be put into `net`, else why not."""
        layers = [*net.layers.values(), net.last_layer]
        if self.replaces is not None and not any(type(layer) is self.replaces for layer in layers):
            return f"this network has no {self.replaces.__name__} layer"
        if self.layer is _AffineNoTranspose and _square_affine(net) is None:
            return "dout · W only runs where W is square: needs two equal hidden layers (e.g. --hidden 50,50)"
        return None


BUGS = (
    Bug("softmax-axis", "softmax: max over the batch (axis=0), not per row", "softmax(x): x - np.max(x, axis=1)",
        _SoftmaxMaxOverBatch, SoftmaxWithLoss),
    Bug("no-n", "SoftmaxWithLoss.backward without / N", "dx = (self.y - self.t) / batch_size", _SoftmaxNoN,
        SoftmaxWithLoss),
    Bug("affine-no-transpose", "Affine.backward: dx = dout · W, not dout · Wᵀ", "dx = np.dot(dout, self.W.T)",
        _AffineNoTranspose, Affine),
    Bug("bias-axes", "Affine.backward: db summed over every axis", "self.db = np.sum(dout, axis=0)",
        _AffineBiasAllAxes, Affine),
    Bug("relu-mask", "ReLU.backward: mask taken from the output (≥ 0 everywhere)",
        "self.mask = (x <= 0); dout[self.mask] = 0", _ReLUPassesAll, ReLU),
    Bug("sigmoid-input", "Sigmoid.backward with the input, not the output",
        "dx = dout * (1.0 - self.out) * self.out", _SigmoidUsesInput, Sigmoid),
    Bug("twice", "gradients added over two backward passes", "grads[key] = ..., not += (or reset them)",
        doubled=True),
    Bug("numeric-int", "numerical gradient in an integer array", "x = x.astype(float): x[idx] = tmp + h truncates",
        numeric_dtype=np.int64),
    Bug("numeric-float16", "numerical gradient in a float16 array", "compute it in float64 (h = 1e-4 is lost)",
        numeric_dtype=np.float16),
)
BY_KEY = {bug.key: bug for bug in BUGS}


def _square_affine(net: Network) -> str | None:
    """The first Affine after the first (it has an upstream) whose W is square."""
    for name, layer in list(net.layers.items())[1:]:
        if isinstance(layer, Affine) and layer.W.shape[0] == layer.W.shape[1]:
            return name
    return None


def with_bug(net: Network, bug: Bug | None) -> Network:
    """A float64 copy of `net` with the bug's layer class in place (the parameters are copies)."""
    copy = Network.from_params(net.sizes, net.activation, net.params, np.float64)
    if bug is None or bug.layer is None:
        return copy
    if bug.layer is _AffineNoTranspose:
        names = [_square_affine(copy)]
    else:
        names = [name for name, layer in copy.layers.items() if type(layer) is bug.replaces]
    for name in names:
        old = copy.layers[name]
        new = bug.layer(old.W, old.b) if isinstance(old, Affine) else bug.layer()
        if isinstance(old, Affine):
            new.need_dx = old.need_dx
            copy.grads[f"W{name.removeprefix('Affine')}"] = new.dW
            copy.grads[f"b{name.removeprefix('Affine')}"] = new.db
        copy.layers[name] = new
    if bug.replaces is SoftmaxWithLoss:
        copy.last_layer = bug.layer()
    return copy


def _stored(dtype: type) -> Callable[[np.ndarray, float], np.ndarray]:
    """The step really taken when p and p ± h are stored in `dtype` (an integer array truncates both)."""
    def step(p: np.ndarray, h: float) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return (p + h).astype(dtype).astype(np.float64) - p.astype(dtype).astype(np.float64)
    return step


@dataclass(frozen=True)
class LabResult:
    bug: Bug | None
    checks: tuple[TensorCheck, ...]
    layer_checks: dict[str, bool]  # each layer's backward against its own forward: True when they agree
    hint: str


def lab_check(net: Network, x: np.ndarray, t: np.ndarray, bug: Bug | None, h: float = H,
              rng: np.random.Generator | None = None) -> LabResult:
    """The gradient check of `net` (any dtype; it is copied) on (x, t), with `bug` injected; None: no bug."""
    x, labels = check_inputs(x, t)
    broken = with_bug(net, bug)
    backprop = broken.gradient(x, labels)
    if bug is not None and bug.doubled:
        backprop = {k: g + broken.gradient(x, labels)[k] for k, g in backprop.items()}
    correct = with_bug(net, None)  # the numerical side differentiates the true loss
    step = _stored(bug.numeric_dtype) if bug is not None and bug.numeric_dtype is not None else None
    checks = tuple(check_tensors(correct, x, labels, backprop, h, step=step))
    layer_checks = layer_by_layer(broken, x, labels, rng or np.random.default_rng(0))
    return LabResult(bug, checks, layer_checks, diagnose(checks, layer_checks, len(x)))


DIRECTIONS = 2  # random directions per array in a layer's own check: a wrong gradient misses both by chance only


def layer_by_layer(net: Network, x: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict[str, bool]:
    """Each layer's backward against a central difference of its own forward, on the inputs the batch gave it:
    with a random dout, the gradient's dot product with a random direction must match the forward's change
    along it. A layer that fails here is broken whatever the others do."""
    inputs, value = {}, x
    for name, layer in net.layers.items():
        inputs[name] = value
        value = layer.forward(value)
    last = net.last_layer
    results = {"SoftmaxWithLoss": _agrees(lambda a: last.forward(a, labels),
                                          (last.forward(value, labels), last.backward(1.0))[1], value, rng)}
    for name, layer in net.layers.items():
        a = inputs[name]
        dout = rng.standard_normal(layer.forward(a).shape)
        if isinstance(layer, Affine):
            need, layer.need_dx = layer.need_dx, True
        dx = layer.backward(dout)
        ok = _agrees(lambda v, layer=layer, dout=dout: float(np.sum(layer.forward(v) * dout)), dx, a, rng)
        if isinstance(layer, Affine):
            layer.need_dx = need
            dW, db = layer.dW.copy(), layer.db.copy()
            f = lambda _, layer=layer, a=a, dout=dout: float(np.sum(layer.forward(a) * dout))
            ok = ok and _agrees(f, dW, layer.W, rng) and _agrees(f, db, layer.b, rng)
        results[name] = ok
    return results


def _agrees(f: Callable[[np.ndarray], float], gradient: np.ndarray, a: np.ndarray, rng, h: float = 1e-6) -> bool:
    """`gradient` (of f at a) against central differences of f along random directions; `a` is moved in place
    and put back."""
    keep = a.copy()
    for _ in range(DIRECTIONS):
        direction = rng.standard_normal(a.shape)
        a[...] = keep + h * direction
        plus = f(a)
        a[...] = keep - h * direction
        minus = f(a)
        a[...] = keep
        numeric, analytic = (plus - minus) / (2 * h), float(np.sum(gradient * direction))
        if abs(analytic - numeric) > 1e-6 + 1e-4 * abs(numeric):
            return False
    return True


def diagnose(checks: tuple[TensorCheck, ...], layer_checks: dict[str, bool], n: int) -> str:
    """One line naming the likely cause, from which tensors fail, by how much, and which layer's own check fails."""
    passed = {c.name: c.row.passed for c in checks}
    failing = [name for name, ok in passed.items() if not ok]
    if not failing:
        return "Every tensor passes: backprop agrees with the numerical gradient."
    passing = [name for name, ok in passed.items() if ok]
    numeric = np.concatenate([c.numeric for c in checks])
    backprop = np.concatenate([c.backprop for c in checks])
    big = np.abs(numeric) > 1e-6
    ratio = float(np.median(backprop[big] / numeric[big])) if big.any() else float("nan")
    fail = f"{', '.join(failing)} fail"
    if np.abs(numeric).max(initial=0) < 1e-12 < np.abs(backprop).max(initial=0):
        return (f"{fail}: the numerical gradient is 0 everywhere, so its array cannot hold p + h (an integer "
                "array truncates x[idx] = tmp + h): compute it in float64.")
    broken = [name for name, ok in layer_checks.items() if not ok]
    if not broken:
        if abs(ratio - 2) < 0.01:
            return (f"{fail}, every gradient twice too big, yet each layer's backward is right on its own: "
                    "gradients added over two backward passes (assign them, or reset them to 0 first).")
        return (f"{fail}, yet each layer's backward is right on its own: the numerical side is off (compute it "
                "in float64, h = 1e-4) or the gradients are put together wrongly.")
    culprit = " and ".join(broken)
    scale = (f"; every gradient is {ratio:.3g}× too big with N = {n}: the / N is missing"
             if n > 1 and abs(ratio - n) < 0.01 * n else "")
    if all(name.startswith("b") for name in failing):
        return (f"Only the biases fail ({', '.join(failing)}); {culprit}: backward is not the derivative of "
                "forward, so db is wrong there: it must sum dout over the batch axis only, np.sum(dout, axis=0).")
    after = f" {', '.join(passing)} pass: the gradient is right until it reaches {broken[-1]}." if passing else ""
    return f"{fail}. {culprit}: backward is not the derivative of forward, the bug is there{scale}.{after}"
