"""Gradient check: backprop against central differences of the real loss, for every parameter.

The book perturbs one weight at a time and runs a full forward pass for each,
which costs two forward passes per parameter. Here the forward pass is shared:
perturbing W[i, j] or b[j] of layer k changes only the pre-activation column j
of that layer (by h * input[:, i], or by h), so for a chunk of perturbations we
rebuild only that column and push all of them through the remaining layers in
one batched forward. Every parameter still gets its own (L(p + h) - L(p - h)) / 2h
of the same loss, in float64.

A ReLU whose input crosses zero inside [p - h, p + h] makes the central
difference meaningless there (the function has a kink). Such elements are
counted as `kinks` and checked another way: the backprop value must lie between
the one-sided differences (L(p) - L(p - h)) / h and (L(p + h) - L(p)) / h, the
slopes on either side (a subgradient check); `kink_failures` counts those that do not.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .functions import as_float
from .layers import Affine, ReLU
from .network import Network

H = 1e-4  # the book's step
# An element passes when |backprop - numerical| <= ATOL + RTOL * |numerical| (numpy.isclose's rule).
RTOL = 1e-4
ATOL = 1e-7
REL_FLOOR = 1e-8  # relative errors of gradients smaller than this are roundoff, not signal
# A one-sided difference is off by O(h · curvature), not O(h²): a kink's bracket gets this much slack.
KINK_RTOL = 1e-2
CHUNK_ELEMENTS = 1 << 20  # bound on the (perturbations x batch x width) arrays of one batched forward


class GradCheckCancelled(Exception):
    """The caller's `cancelled()` returned True between two chunks of work."""


@dataclass(frozen=True)
class GradCheckRow:
    name: str
    shape: tuple[int, ...]
    count: int  # elements in the tensor
    checked: int  # elements compared (all of them unless sampled)
    mean_abs_diff: float
    max_abs_diff: float
    max_rel_error: float
    kinks: int  # elements straddling a ReLU kink: left out of the statistics, checked between one-sided slopes
    passed: bool  # every smooth element within tolerance, and every kink within its slopes
    kink_failures: int = 0  # kinks whose backprop value lies outside their one-sided slopes


@dataclass(frozen=True)
class TensorCheck:
    """One tensor's elements compared: the arrays behind a GradCheckRow (for error maps and diagnoses)."""

    name: str
    shape: tuple[int, ...]
    flat: np.ndarray  # the elements checked (flat indices)
    backprop: np.ndarray
    numeric: np.ndarray  # central differences
    kinks: np.ndarray  # bool: a ReLU input crosses zero within ±h
    kink_ok: np.ndarray  # bool: at a kink, backprop lies between the one-sided slopes (True elsewhere)

    @cached_property
    def row(self) -> GradCheckRow:
        """Statistics over the elements away from kinks: at a kink the central difference measures nothing."""
        smooth = ~self.kinks
        backprop, numeric = self.backprop[smooth], self.numeric[smooth]
        diff = np.abs(backprop - numeric)
        scale = np.maximum(np.maximum(np.abs(backprop), np.abs(numeric)), REL_FLOOR)
        kink_failures = int(np.count_nonzero(~self.kink_ok))
        return GradCheckRow(
            name=self.name,
            shape=self.shape,
            count=int(np.prod(self.shape)),
            checked=int(len(self.flat)),
            mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
            max_abs_diff=float(diff.max()) if diff.size else 0.0,
            max_rel_error=float((diff / scale).max()) if diff.size else 0.0,
            kinks=int(self.kinks.sum()),
            passed=bool(np.all(diff <= ATOL + RTOL * np.abs(numeric))) and kink_failures == 0,
            kink_failures=kink_failures,
        )


class _Forward:
    """The float64 baseline forward pass, kept per layer for incremental re-evaluation.

    Logits are kept shifted by each sample's baseline maximum: a perturbation of
    size h moves them by O(h), so exp() of the shifted logits cannot overflow and
    the loss log(sum(exp(l - top))) - (l_t - top) needs no further max.
    """

    def __init__(self, net: Network, x: np.ndarray, labels: np.ndarray):
        self.affines = [layer for layer in net.layers.values() if isinstance(layer, Affine)]
        self.activation = next((type(l) for l in net.layers.values() if not isinstance(l, Affine)), ReLU)
        self.relu = self.activation is ReLU
        self.labels = labels
        self.inputs, self.pre = [], []  # input and pre-activation of each Affine
        z = x
        for affine in self.affines:
            self.inputs.append(z)
            self.pre.append(z @ affine.W + affine.b)
            z = self.activate(self.pre[-1])
        logits = self.pre[-1]
        self.top = logits.max(axis=1)
        self.pre[-1] = logits - self.top[:, None]  # shifted logits
        self.exp = np.exp(self.pre[-1])
        self.total = self.exp.sum(axis=1)
        self.target = self.pre[-1][np.arange(len(labels)), labels]
        self.sample_losses = np.log(self.total) - self.target
        self.loss = float(self.sample_losses.mean())  # L(p): a kink's one-sided slopes need it

    def activate(self, a: np.ndarray) -> np.ndarray:
        return self.activation().forward(a)

    def perturbed_losses(self, k: int, cols: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss and kink flag for each perturbation p: column cols[p] of layer k's pre-activation += delta[p].

        delta has shape (P, N); the result has shape (P,).
        """
        base = self.pre[k][:, cols].T  # (P, N)
        col = base + delta
        kink = np.zeros(len(cols), dtype=bool)
        last = len(self.affines) - 1
        if k == last:  # one logit per sample moves: update the softmax sum instead of recomputing it
            step = col - base
            total = self.total + self.exp[:, cols].T * np.expm1(step)
            target = self.target + np.where(cols[:, None] == self.labels, step, 0.0)
            return (np.log(total) - target).mean(axis=1), kink
        if self.relu:
            kink |= np.any((col > 0) != (base > 0), axis=1)
        dz = self.activate(col) - self.activate(base)  # (P, N): the one hidden unit that changed
        W = self.affines[k + 1].W[cols]  # (P, width of layer k + 1)
        if k + 1 == last:  # only the (perturbation, sample) pairs whose hidden unit moved change their loss
            moved_p, moved_n = np.nonzero(dz)
            step = dz[moved_p, moved_n]
            logits = self.pre[last][moved_n] + step[:, None] * W[moved_p]
            losses = np.log(np.exp(logits).sum(axis=1)) - (self.target[moved_n] + step * W[moved_p, self.labels[moved_n]])
            change = np.bincount(moved_p, losses - self.sample_losses[moved_n], minlength=len(cols))
            return self.loss + change / len(self.labels), kink
        else:
            a = self.pre[k + 1] + dz[:, :, None] * W[:, None, :]
            for m in range(k + 1, last):
                if self.relu:
                    kink |= np.any((a > 0) != (self.pre[m] > 0), axis=(1, 2))
                a = self.activate(a) @ self.affines[m + 1].W + self.affines[m + 1].b
            logits = a - self.top[:, None]
            target = logits[:, np.arange(len(self.labels)), self.labels]
        return (np.log(np.exp(logits).sum(axis=2)) - target).mean(axis=1), kink


def gradient_check(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    h: float = H,
    sample: int | None = None,
    rng: np.random.Generator | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[GradCheckRow]:
    """Compare backprop and numerical gradients for every parameter tensor, in float64.

    `sample`: check at most this many elements per tensor, chosen at random (for
    very large nets); None checks all of them. `cancelled` is polled between
    chunks; when it returns True the check stops with GradCheckCancelled.
    """
    net = network.astype(np.float64)
    x, labels = check_inputs(x, t)
    return [c.row for c in check_tensors(net, x, labels, net.gradient(x, labels), h, sample, rng, cancelled)]


def check_inputs(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs as float64 rows (uint8 pixels scaled as the network does) and labels as class indices."""
    x = as_float(x, np.float64).reshape(len(x), -1)
    return x, (np.asarray(t).argmax(axis=1) if np.ndim(t) == 2 else np.asarray(t))


Step = Callable[[np.ndarray, float], np.ndarray]  # (parameter values, ±h) -> the step really taken


def check_tensors(
    net: Network,
    x: np.ndarray,
    labels: np.ndarray,
    backprop: dict[str, np.ndarray],
    h: float = H,
    sample: int | None = None,
    rng: np.random.Generator | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    step: Step | None = None,
) -> list[TensorCheck]:
    """Every tensor of the float64 `net` compared with `backprop` (a gradient per tensor, as Network.gradient
    gives). `step` models how a perturbation is stored (the numerical gradient computed in another dtype):
    by default exactly ±h."""
    fwd = _Forward(net, x, labels)
    rng = rng or np.random.default_rng(0)
    checks = []
    for k in range(1, len(fwd.affines) + 1):
        for name in (f"W{k}", f"b{k}"):
            param = net.params[name]
            flat = np.arange(param.size) if sample is None or sample >= param.size else np.sort(
                rng.choice(param.size, sample, replace=False)
            )
            steps = None if step is None else (step(param.ravel()[flat], h), step(param.ravel()[flat], -h))
            numeric, kinks, kink_ok = _numerical(fwd, k - 1, name[0] == "W", flat, param.shape[-1], h, cancelled,
                                                 backprop[name].ravel()[flat], steps)
            checks.append(TensorCheck(name, tuple(param.shape), flat, backprop[name].ravel()[flat], numeric, kinks,
                                      kink_ok))
    return checks


def _numerical(fwd: _Forward, k: int, is_weight: bool, flat: np.ndarray, width: int, h: float, cancelled,
               backprop: np.ndarray, steps: tuple[np.ndarray, np.ndarray] | None):
    n = fwd.inputs[k].shape[0]
    if is_weight:
        rows_in, cols = np.divmod(flat, width)
        unit = fwd.inputs[k][:, rows_in].T  # d(pre-activation)/d(W[i, j]) = input[:, i]
    else:
        cols, unit = flat, np.ones((len(flat), n))
    plus_step, minus_step = steps if steps is not None else (np.full(len(flat), h), np.full(len(flat), -h))
    numeric = np.zeros(len(flat))
    kinks = np.zeros(len(flat), dtype=bool)
    kink_ok = np.ones(len(flat), dtype=bool)
    # A weight whose input is zero for the whole batch leaves the loss bit-for-bit unchanged.
    live = np.flatnonzero(np.any(unit != 0, axis=1))
    downstream = max([a.W.shape[1] for a in fwd.affines[k + 1 :]], default=1)
    chunk = max(1, CHUNK_ELEMENTS // (n * downstream))
    for start in range(0, len(live), chunk):
        if cancelled():
            raise GradCheckCancelled
        idx = live[start : start + chunk]
        plus, kink_p = fwd.perturbed_losses(k, cols[idx], plus_step[idx, None] * unit[idx])
        minus, kink_m = fwd.perturbed_losses(k, cols[idx], minus_step[idx, None] * unit[idx])
        numeric[idx] = (plus - minus) / (2 * h)
        kinks[idx] = kink = kink_p | kink_m
        if kink.any():  # the slopes on either side of p; backprop takes the one of the side p is on
            left, right = (fwd.loss - minus[kink]) / h, (plus[kink] - fwd.loss) / h
            low, high = np.minimum(left, right), np.maximum(left, right)
            slack = ATOL + KINK_RTOL * np.maximum(np.abs(low), np.abs(high))
            value = backprop[idx[kink]]
            kink_ok[idx[kink]] = (low - slack <= value) & (value <= high + slack)
    return numeric, kinks, kink_ok
