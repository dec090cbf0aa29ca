"""The settings the app lets you change: which apply at the next batch (live) and which on reset, and
how each is typed. Terminal-free: the form draws them, the controller decides with them."""
from __future__ import annotations

from dataclasses import dataclass

from engine.config import ConfigError
from engine.controls import LIVE_SETTINGS
from engine.network import ACTIVATIONS
from engine.optimizers import OPTIMIZERS
from engine.options import parse_hidden
from engine.registry import REGISTRY


@dataclass(frozen=True)
class Field:
    name: str  # the TrainConfig field
    title: str
    choices: tuple[str, ...] = ()  # a Select when given, else an Input

    @property
    def live(self) -> bool:
        """Applies at the next batch (the others on reset)."""
        return self.name in LIVE_SETTINGS


FIELDS = (
    Field("lr", "learning rate"),
    Field("batch_size", "batch size"),
    Field("optimizer", "optimizer", tuple(OPTIMIZERS)),
    Field("gradcheck_every", "grad-check interval (0 = off)"),
    Field("insight_every", "layer-stats interval (0 = off)"),
    Field("hidden_sizes", "hidden sizes (e.g. 100,50)"),
    Field("activation", "activation", tuple(ACTIVATIONS)),
    Field("weight_init", "weight init (std, he, xavier)"),
    Field("iters", "iterations"),
    Field("epochs", "epochs (blank = use iterations)"),
    Field("seed", "seed"),
    Field("dataset", "dataset", tuple(REGISTRY)),
)
BY_NAME = {f.name: f for f in FIELDS}


def display(name: str, value) -> str:
    if name == "hidden_sizes":
        return ",".join(map(str, value))
    return "" if value is None else str(value)


def parse(name: str, text: str):
    """Text typed into a field as the TrainConfig value; ConfigError naming the field when it is not one."""
    text = text.strip()
    try:
        if name == "hidden_sizes":
            return parse_hidden(text)
        if name == "lr":
            return float(text)
        if name == "epochs":
            return int(text) if text else None
        if name in ("batch_size", "gradcheck_every", "insight_every", "iters", "seed"):
            return int(text)
    except ConfigError:
        raise
    except ValueError:
        kind = "a number" if name == "lr" else "a whole number"
        raise ConfigError({name: f"{BY_NAME[name].title.split(' (')[0]} must be {kind}, got {text!r}"}) from None
    return text
