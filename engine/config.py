"""Training configuration: one frozen dataclass, validated on construction.

Every setting the CLI and the TUI accept is a field here, so a wrong value is
refused in one place with one message, whichever front end typed it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .network import ACTIVATIONS, WEIGHT_INITS
from .optimizers import OPTIMIZERS
from .registry import REGISTRY

MAX_HIDDEN = 8192  # units per layer; beyond this a step takes seconds on a laptop CPU
MAX_LAYERS = 8
MAX_BATCH = 65536
MAX_ITERS = 10_000_000


class ConfigError(ValueError):
    """One or more settings are invalid; `problems` maps each field name to its message."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "mnist"
    hidden_sizes: tuple[int, ...] = (50,)
    activation: str = "relu"
    weight_init: str = "0.01"  # a standard deviation, "he" or "xavier"
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 100
    iters: int = 10_000
    epochs: int | None = None  # when set, train this many passes over the data instead of `iters`
    seed: int = 0
    dtype: str = "float32"
    gradcheck_every: int = 0  # iterations between automatic gradient checks; 0 = off
    gradcheck_batch: int = 3  # training samples the gradient check uses (the book uses 3)
    gradcheck_sample: int = 50_000  # elements checked per tensor; larger tensors are sampled
    preview_count: int = 500  # test digits sent for the preview pane each evaluation
    insight_every: int = 200  # iterations between layer stats and weight images (also sent at each score); 0 = off

    def __post_init__(self):
        if isinstance(self.hidden_sizes, (list, tuple)):
            object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        problems = {f.name: p for f in fields(self) if (p := self._check(f.name))}
        if problems:
            raise ConfigError(problems)

    def _check(self, name: str) -> str | None:
        value = getattr(self, name)
        if name == "hidden_sizes":
            if not isinstance(value, tuple):
                return f"hidden sizes must be a list of layer sizes like (100, 50), got {value!r}"
            if not 1 <= len(value) <= MAX_LAYERS:
                return f"hidden sizes: give 1 to {MAX_LAYERS} layers, got {len(value)}"
            bad = [v for v in value if not _is_int(v) or not 1 <= v <= MAX_HIDDEN]
            return f"hidden sizes: each must be a whole number from 1 to {MAX_HIDDEN}, got {bad[0]!r}" if bad else None
        if name == "dataset" and value not in REGISTRY:
            return f"dataset must be one of {', '.join(REGISTRY)}, got {value!r}"
        if name == "activation" and value not in ACTIVATIONS:
            return f"activation must be one of {', '.join(ACTIVATIONS)}, got {value!r}"
        if name == "optimizer" and value not in OPTIMIZERS:
            return f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {value!r}"
        if name == "dtype" and value not in ("float32", "float64"):
            return f"dtype must be float32 or float64, got {value!r}"
        if name == "weight_init":
            return None if parse_weight_init(value) is not None else (
                f"weight init must be a positive standard deviation, 'he' or 'xavier', got {value!r}"
            )
        if name == "lr":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 100
            return None if ok else f"learning rate must be a number in (0, 100], got {value!r}"
        bounds = {
            "batch_size": (1, MAX_BATCH),
            "iters": (1, MAX_ITERS),
            "epochs": (1, 100_000),
            "seed": (0, 2**32 - 1),
            "gradcheck_every": (0, MAX_ITERS),
            "gradcheck_batch": (1, 100),
            "gradcheck_sample": (1, 10_000_000),
            "preview_count": (0, 10_000),
            "insight_every": (0, MAX_ITERS),
        }
        if name in bounds and not (name == "epochs" and value is None):
            lo, hi = bounds[name]
            if not _is_int(value) or not lo <= value <= hi:
                return f"{name.replace('_', ' ')} must be a whole number from {lo} to {hi}, got {value!r}"
        return None

    def with_changes(self, **changes) -> "TrainConfig":
        """A validated copy with some fields changed (raises ValueError, leaving this one as it was)."""
        return replace(self, **changes)

    @property
    def init(self) -> str | float:
        return parse_weight_init(self.weight_init)


def parse_weight_init(value) -> str | float | None:
    """'he' / 'xavier' / a positive std as float; None when invalid."""
    if value in WEIGHT_INITS:
        return value
    try:
        std = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int too big for a float
        return None
    return std if 0 < std <= 10 else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
