"""What the TensorBoard viewer holds: every scalar series of a log folder, by tag and run, each with its EMA.

Terminal-free: the viewer's screen feeds it points (engine.tensorboard_log) and its plot draws from it.
Each series is kept at every resolution in bounded memory (engine.history.Pyramid), smoothed with the
monitor's own EMA (engine.history.Ema), so a tag's curve reads like the loss plot of a run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.history import Ema, Pyramid
from engine.tensorboard_log import Point

MAX_SERIES = 256  # (run, tag) pairs kept; the points of any more are counted, not kept
CAPACITY = 256  # blocks per resolution a series keeps (engine/history.py): about 40 KB a level


MAX_CUTS = 100  # times a series is cut back (below); a file that goes back and forth more is drawn as it comes


@dataclass
class Series:
    values: Pyramid = field(default_factory=lambda: Pyramid(CAPACITY))
    smoothed: Pyramid = field(default_factory=lambda: Pyramid(CAPACITY))
    ema: Ema = field(default_factory=Ema)
    points: int = 0
    last_step: int | None = None
    last_value: float = 0.0
    cuts: int = 0

    def add(self, step: int, value: float) -> None:
        if self.last_step is not None and step <= self.last_step and self.cuts < MAX_CUTS:
            self.cut_before(step)
        self.values.append(step, value)
        self.smoothed.append(step, self.ema(value))
        self.points += 1
        self.last_step, self.last_value = step, value

    def cut_before(self, step: int) -> None:
        """Keep only the points before `step`: a job restarted or resumed there logs them again (TensorBoard
        drops them the same way), and a file copied over again is read again from its start.

        What is kept is the summary at CAPACITY blocks: each block's low and high (so the band stays),
        its EMA's mean; the EMA goes on from there."""
        self.cuts += 1
        values, smoothed, first = self.values, self.smoothed, self.values.first_iteration
        self.values, self.smoothed, self.ema, self.points = Pyramid(CAPACITY), Pyramid(CAPACITY), Ema(), 0
        if first is None or first >= step:
            return
        kept, kept_smoothed = values.blocks(first, step - 1, CAPACITY), smoothed.blocks(first, step - 1, CAPACITY)
        self.values.extend(np.repeat(kept.iteration, 2), np.column_stack([kept.low, kept.high]).ravel())
        self.smoothed.extend(kept_smoothed.iteration, kept_smoothed.mean)
        self.ema(float(kept_smoothed.mean[-1]))
        self.points = int(kept.count.sum())


@dataclass
class ScalarsState:
    series: dict[tuple[str, str], Series] = field(default_factory=dict)  # by (tag, run)
    dropped: int = 0  # points of series past MAX_SERIES

    def apply(self, points: list[Point]) -> set[str]:
        """Fold in new points; return the tags that changed."""
        changed = set()
        for point in points:
            key = (point.tag, point.run)
            series = self.series.get(key)
            if series is None:
                if len(self.series) >= MAX_SERIES:
                    self.dropped += 1
                    continue
                series = self.series[key] = Series()
            series.add(point.step, point.value)
            changed.add(point.tag)
        return changed

    def tags(self) -> list[str]:
        return sorted({tag for tag, _ in self.series})

    def runs(self) -> list[str]:
        return sorted({run for _, run in self.series})

    def of(self, tag: str) -> list[tuple[str, Series]]:
        """The tag's series, by run name."""
        return sorted(((run, series) for (t, run), series in self.series.items() if t == tag), key=lambda item: item[0])
