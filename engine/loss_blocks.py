"""A loss curve of any length in at most MAX_BLOCKS blocks (each block's first and last iteration, and its
losses' count, min, max and mean), so a run's summary file stays small however long the run.

Not engine/history.py's Pyramid, which the monitor keeps in memory: these blocks are saved in the summary
file and a resumed run's log carries on from them as they are, without reading the log again; a
pyramid's finer levels could not be rebuilt from the file.
"""
from __future__ import annotations

import math

from .records import DamagedRecord, count, number

MAX_BLOCKS = 512
FIRST, LAST, COUNT, LOW, HIGH, TOTAL = range(6)  # a block: [first iteration, last iteration, count, min, max, sum]


class LossBlocks:
    """Consecutive batches' losses in blocks of `width` batches (the last block may hold fewer). When one
    more block than MAX_BLOCKS would be needed, neighbours merge in pairs and the width doubles.
    A NaN loss makes its block's min, max and mean NaN (as NumPy's would): a plot shows it."""

    def __init__(self, width: int = 1, blocks: list[list] | None = None):
        self.width = width
        self.blocks: list[list] = blocks if blocks is not None else []

    def add(self, iteration: int, loss: float) -> None:
        if self.blocks and self.blocks[-1][COUNT] < self.width:  # (in place: this runs for every batch)
            block = self.blocks[-1]
            block[LAST], block[COUNT], block[TOTAL] = iteration, block[COUNT] + 1, block[TOTAL] + loss
            block[LOW], block[HIGH] = _span(block[LOW], block[HIGH], loss, loss)
            return
        self.blocks.append([iteration, iteration, 1, loss, loss, loss])
        if len(self.blocks) > MAX_BLOCKS:  # an odd count: the newest block stays alone, the last and partial one
            pairs = zip(self.blocks[0::2], self.blocks[1::2])
            self.blocks = [_merged(a, b) for a, b in pairs] + self.blocks[len(self.blocks) // 2 * 2:]
            self.width *= 2

    def middles(self) -> list[float]:
        return [(b[FIRST] + b[LAST]) / 2 for b in self.blocks]

    def lows(self) -> list[float]:
        return [b[LOW] for b in self.blocks]

    def highs(self) -> list[float]:
        return [b[HIGH] for b in self.blocks]

    def means(self) -> list[float]:
        return [b[TOTAL] / b[COUNT] for b in self.blocks]

    def encode(self) -> dict:
        """JSON-ready, the sum kept as the mean; non-finite values as the text "nan", "inf", "-inf"."""
        return {"width": self.width, "blocks": [[*b[:LOW], *map(json_number, (b[LOW], b[HIGH], b[TOTAL] / b[COUNT]))]
                                                for b in self.blocks]}

    @classmethod
    def decode(cls, value, field: str = "loss") -> LossBlocks:
        """The blocks `encode` made; DamagedRecord when `value` is not what it makes."""
        if not isinstance(value, dict) or sorted(value) != ["blocks", "width"]:
            raise DamagedRecord(f"{field}: not an object with the fields width, blocks")
        width = count(value["width"], f"{field}.width")
        if width < 1 or width & (width - 1):
            raise DamagedRecord(f"{field}.width: {width} is not a power of two")
        blocks = value["blocks"]
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            raise DamagedRecord(f"{field}.blocks: not a list of at most {MAX_BLOCKS} blocks")
        decoded = []
        for i, block in enumerate(blocks):
            where = f"{field}.blocks[{i}]"
            if not isinstance(block, list) or len(block) != 6:
                raise DamagedRecord(f"{where}: not a list of 6 values")
            first, last = count(block[FIRST], f"{where} first"), count(block[LAST], f"{where} last")
            n = count(block[COUNT], f"{where} count", width)
            if n < 1 or n < width and i < len(blocks) - 1:
                raise DamagedRecord(f"{where}: {n} losses; every block but the last holds {width}")
            low, high, mean = (number(v, f"{where} {name}", finite=False)
                               for v, name in zip(block[LOW:], ("min", "max", "mean")))
            decoded.append([first, last, n, low, high, mean * n])
        return cls(width, decoded)


def _merged(a: list, b: list) -> list:
    """Block `a` followed by block `b`."""
    return [a[FIRST], b[LAST], a[COUNT] + b[COUNT], *_span(a[LOW], a[HIGH], b[LOW], b[HIGH]), a[TOTAL] + b[TOTAL]]


def _span(low: float, high: float, other_low: float, other_high: float) -> tuple[float, float]:
    """The min and max of two blocks' values (NaN both when either holds a NaN)."""
    if math.isnan(low) or math.isnan(other_low):
        return math.nan, math.nan
    return min(low, other_low), max(high, other_high)


def json_number(value: float) -> float | str:
    """`value` for JSON, which has no NaN or infinity: those as the text the log readers take ("nan", "inf")."""
    return value if math.isfinite(value) else str(value)
