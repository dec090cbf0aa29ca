"""SGD, Momentum, AdaGrad and Adam as in the book's common/optimizer.py.

update(params, grads) changes the parameter arrays in place. `lr` is a plain
attribute, so the learning rate can be changed between steps.
"""
from __future__ import annotations

import numpy as np


class SGD:
    SLOTS: tuple[str, ...] = ()  # per-parameter state, saved in checkpoints

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def update(self, params, grads):
        for key, p in params.items():
            p -= self.lr * grads[key]


class Momentum:
    SLOTS = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        for key, p in params.items():
            v = self.v[key]
            v *= self.momentum
            v -= self.lr * grads[key]
            p += v


class AdaGrad:
    SLOTS = ("h",)

    def __init__(self, lr: float = 0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(p) for k, p in params.items()}
        for key, p in params.items():
            g, h = grads[key], self.h[key]
            h += g * g
            p -= self.lr * g / (np.sqrt(h) + 1e-7)


class Adam:
    """Adam (Kingma & Ba, 2015) with the bias correction folded into the step size, as the book does."""

    SLOTS = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(p) for k, p in params.items()}
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key, p in params.items():
            g, m, v = grads[key], self.m[key], self.v[key]
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= lr_t * m / (np.sqrt(v) + 1e-7)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad, "adam": Adam}
# Learning rates that train the book's net well with each optimizer (SGD: the book's 0.1).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "adam": 0.001}


def make_optimizer(name: str, lr: float):
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
    return OPTIMIZERS[name](lr=lr)


def optimizer_state(optimizer) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Arrays keyed "slot/param" (empty before the first update) and scalars (Adam's step count)."""
    arrays = {
        f"{slot}/{key}": array
        for slot in optimizer.SLOTS
        if getattr(optimizer, slot) is not None
        for key, array in getattr(optimizer, slot).items()
    }
    return arrays, ({"iter": optimizer.iter} if hasattr(optimizer, "iter") else {})


def restore_optimizer(optimizer, arrays: dict[str, np.ndarray], scalars: dict[str, int]) -> None:
    """Put back what optimizer_state() returned (for the same optimizer type)."""
    for slot in optimizer.SLOTS:
        found = {key.split("/", 1)[1]: a.copy() for key, a in arrays.items() if key.split("/", 1)[0] == slot}
        setattr(optimizer, slot, found or None)
    for name, value in scalars.items():
        setattr(optimizer, name, int(value))
