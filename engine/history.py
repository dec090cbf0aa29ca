"""A series of any length kept as a summary at every resolution, so memory and a plot's cost stay bounded.

`Pyramid` takes (iteration, value) points in order. Level k holds blocks of 2**k consecutive points,
each as its first iteration, the sum of its iterations (a block is drawn at their mean), and the min,
max and sum of its values. A level keeps only its newest `capacity` to 2 x `capacity` blocks; the
coarsest level holds the whole series, and when it fills a coarser one takes over. So memory is
O(capacity x levels), with levels about log2(points / capacity), however long the series, and level 0
(the points themselves) holds the newest `capacity` or more points exactly: all of a series of up to
2 x `capacity` points.

`query(a, b, width)` gives the points for iterations a to b at about `width` columns: the blocks of the
finest level that holds that range with at most RATIO x width of them, grouped into `width` columns
as a plot draws them, or as they are when there are at most 2 x width. Its cost is bounded by that,
not by the series' length.

Values may be nan or ±inf. nan ranks above +inf: a block's max is nan when any of its values is, its
min is nan only when all are, and its mean is nan when any value is.
Iterations are expected never to decrease (a query of a series whose iterations go back finds the
wrong blocks, but never fails).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CAPACITY = 2048  # blocks each level keeps at least (and at most twice that)
RATIO = 16  # blocks per column a query may take from a level, at most: enough that columns are even
SETTLE_EVERY = 512  # points appended one by one are added to the levels in groups of this many
FIRST, XSUM, LOW, HIGH, SUM = range(5)  # a block's columns
EMA_WEIGHT = 0.02  # weight of the newest value in a smoothed series


class Ema:
    """A series' exponential moving average, one value at a time. Bias-corrected as TensorBoard's smoothing:
    early values are not pulled toward 0. A nan or inf is left out: it would stay in the average for good."""

    def __init__(self, weight: float = EMA_WEIGHT):
        self.weight, self.raw, self.count = weight, 0.0, 0  # count: the finite values in it

    def __call__(self, value: float) -> float:
        """The average with `value` in it."""
        if math.isfinite(value):
            self.raw = (1 - self.weight) * self.raw + self.weight * value
            self.count += 1
        return self.raw / (1 - (1 - self.weight) ** self.count) if self.count else value


@dataclass(frozen=True)
class Summary:
    """Entries in iteration order, each a block of points (or a column's worth of blocks)."""

    iteration: np.ndarray  # where each entry sits: the mean iteration of its points
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    count: np.ndarray  # its points (int64)

    def __len__(self) -> int:
        return len(self.count)

    def binned(self, edges: np.ndarray) -> Summary:
        """The entries gathered into the columns between `edges` (ascending), an entry by where it sits: one
        entry per column that has any, at the column's middle. With the same edges, new points change only
        the columns they fall in, so a plot drawn from them changes only there (tui/widgets/cell_canvas.py)."""
        column = np.clip(np.searchsorted(edges, self.iteration, "right") - 1, 0, len(edges) - 2)
        if not len(column):
            return self
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
        count = np.add.reduceat(self.count, starts)
        middle = (edges[column[starts]] + edges[column[starts] + 1]) / 2
        return Summary(middle, np.fmin.reduceat(self.low, starts), np.maximum.reduceat(self.high, starts),
                       np.add.reduceat(self.mean * self.count, starts) / count, count)


class _Level:
    """The newest blocks of 2**k points: held in `blocks[:size]`, of `total` ever added, `paired` merged upward."""

    def __init__(self, k: int, capacity: int):
        self.span = 1 << k
        self.blocks = np.empty((2 * capacity, 5))
        self.size = self.total = self.paired = 0

    @property
    def held(self) -> np.ndarray:
        return self.blocks[:self.size]

    def holds_from(self, iteration: float) -> bool:
        """Whether every block from the one holding `iteration` on is still here."""
        return self.size > 0 and (self.total == self.size or self.blocks[0, FIRST] <= iteration)

    def add(self, new: np.ndarray) -> None:
        n, room = len(new), len(self.blocks)
        if self.size + n > room:  # keep the newest half: the level above covers the older ones
            keep = room // 2
            if n >= keep:
                self.blocks[:keep] = new[n - keep:]
            else:
                self.blocks[:keep - n] = self.blocks[self.size - (keep - n):self.size]
                self.blocks[keep - n:keep] = new
            self.size = keep
        else:
            self.blocks[self.size:self.size + n] = new
            self.size += n
        self.total += n


def _merged(blocks: np.ndarray) -> np.ndarray:
    """Each pair of neighbouring blocks as one."""
    a, b = blocks[0::2], blocks[1::2]
    out = np.empty_like(a)
    out[:, FIRST] = a[:, FIRST]
    out[:, XSUM] = a[:, XSUM] + b[:, XSUM]
    out[:, LOW] = np.fmin(a[:, LOW], b[:, LOW])  # nan only when both are
    out[:, HIGH] = np.maximum(a[:, HIGH], b[:, HIGH])  # nan when either is
    out[:, SUM] = a[:, SUM] + b[:, SUM]
    return out


class Pyramid:
    """A series' min/max/mean at every resolution (see the module's docstring)."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._levels = [_Level(0, capacity)]
        self._iterations: list[int] = []  # appended, not yet in the levels
        self._values: list[float] = []

    def append(self, iteration: int, value: float) -> None:
        self._iterations.append(iteration)
        self._values.append(value)
        if len(self._values) >= SETTLE_EVERY:
            self._settle()

    def extend(self, iterations, values) -> None:
        """Many points at once (arrays of equal length), faster than appending them one by one."""
        self._settle()
        self._add_points(np.asarray(iterations, dtype=np.float64), np.asarray(values, dtype=np.float64))

    def __len__(self) -> int:
        return self._levels[0].total + len(self._values)

    @property
    def last_iteration(self) -> int | None:
        self._settle()
        level = self._levels[0]
        return int(level.blocks[level.size - 1, FIRST]) if level.size else None

    @property
    def first_iteration(self) -> int | None:
        self._settle()
        top = self._levels[-1]  # holds the whole series
        return int(top.blocks[0, FIRST]) if top.size else None

    def stored(self) -> int:
        """Blocks held over all levels, plus points waiting to be added: what the memory grows with."""
        return sum(level.size for level in self._levels) + len(self._values)

    def query(self, a: float, b: float, width: int) -> Summary:
        """The series from iteration `a` to `b` at about `width` columns: at most 2 x `width` entries.

        The blocks of the finest level that holds the range (taking at most RATIO x `width` of them, else
        the coarsest level's), then the newer blocks of finer levels not yet in one of its blocks; a block
        that holds `a` is included whole. More than 2 x `width` are grouped into `width` columns, evenly
        by count of blocks.
        """
        width = max(int(width), 1)
        return _columns(*self._blocks(a, b, width), width)

    def blocks(self, a: float, b: float, width: int) -> Summary:
        """The blocks `query` would group, as they are: at most about RATIO x `width` of them."""
        blocks, count = self._blocks(a, b, max(int(width), 1))
        return Summary(blocks[:, XSUM] / count, blocks[:, LOW], blocks[:, HIGH], blocks[:, SUM] / count, count)

    def _blocks(self, a: float, b: float, width: int) -> tuple[np.ndarray, np.ndarray]:
        last = self.last_iteration
        if last is None or b < a or a > last:
            return np.empty((0, 5)), np.empty(0, dtype=np.int64)
        for k, level in enumerate(self._levels):
            first = level.held[:, FIRST]
            lo = max(int(np.searchsorted(first, a, "right")) - 1, 0)
            hi = max(int(np.searchsorted(first, b, "right")), lo)
            if level.holds_from(a) and hi - lo <= RATIO * width or k == len(self._levels) - 1:
                break
        entries, counts = [level.held[lo:hi]], [np.full(hi - lo, level.span)]
        if hi == level.size:  # the newest points, not yet in a block of this level
            for finer in reversed(self._levels[:k]):
                if finer.total > finer.paired:  # at most one block each
                    entries.append(finer.held[-1:])
                    counts.append(np.full(1, finer.span))
        blocks, count = np.concatenate(entries), np.concatenate(counts)
        start = max(int(np.searchsorted(blocks[:, FIRST], a, "right")) - 1, 0)
        end = max(int(np.searchsorted(blocks[:, FIRST], b, "right")), start)
        return blocks[start:end], count[start:end]

    def _settle(self) -> None:
        if self._values:
            iterations, values = self._iterations, self._values
            self._iterations, self._values = [], []
            self._add_points(np.array(iterations, dtype=np.float64), np.array(values, dtype=np.float64))

    def _add_points(self, iterations: np.ndarray, values: np.ndarray) -> None:
        if len(values):
            self._add(0, np.column_stack([iterations, iterations, values, values, values]))

    def _add(self, k: int, new: np.ndarray) -> None:
        level = self._levels[k]
        if k + 1 == len(self._levels) and level.size + len(new) > len(level.blocks):
            self._levels.append(_Level(k + 1, self.capacity))  # the coarsest level is full: a coarser one
        if k + 1 < len(self._levels):
            waiting = np.concatenate([level.held[level.size - (level.total - level.paired):], new])
            pairs = len(waiting) // 2
            if pairs:
                self._add(k + 1, _merged(waiting[:2 * pairs]))
                level.paired += 2 * pairs
        level.add(new)


def _columns(blocks: np.ndarray, count: np.ndarray, width: int) -> Summary:
    """`blocks` as they are when there are at most 2 x `width`, else grouped into `width` columns."""
    x, low, high, total = blocks[:, XSUM], blocks[:, LOW], blocks[:, HIGH], blocks[:, SUM]
    if len(blocks) > 2 * width:
        starts = np.linspace(0, len(blocks), width + 1).astype(int)[:-1]
        count, x, total = (np.add.reduceat(column, starts) for column in (count, x, total))
        low, high = np.fmin.reduceat(low, starts), np.maximum.reduceat(high, starts)
    return Summary(x / count, low, high, total / count, count)


def thin(points: list, cap: int) -> None:
    """Keep a list that only grows by appending at most `cap` long: past it, every second point goes (the
    first and the newest stay). Older points end up sparser than recent ones; memory stays bounded."""
    if len(points) > cap:
        newest, odd = points[-1], len(points) % 2
        del points[1::2]
        if not odd:
            points.append(newest)
