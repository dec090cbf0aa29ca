"""What the TensorBoard viewer holds: every scalar series of a log folder, by tag and run, each with its EMA.

Terminal-free: the viewer's screen feeds it points (engine.tensorboard_log) and its plot draws from it.
Each series is kept at every resolution in bounded memory (engine.history.Pyramid), smoothed with the
monitor's own EMA (engine.history.Ema), so a tag's curve reads like the loss plot of a run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.history import Ema, Pyramid
from engine.tensorboard_log import Point

MAX_SERIES = 256  # (run, tag) pairs kept; the points of any more are counted, not kept
CAPACITY = 256  # blocks per resolution a series keeps (engine/history.py): about 40 KB a level


@dataclass
class Series:
    values: Pyramid = field(default_factory=lambda: Pyramid(CAPACITY))
    smoothed: Pyramid = field(default_factory=lambda: Pyramid(CAPACITY))
    ema: Ema = field(default_factory=Ema)
    points: int = 0
    last_step: int = 0
    last_value: float = 0.0

    def add(self, step: int, value: float) -> None:
        self.values.append(step, value)
        self.smoothed.append(step, self.ema(value))
        self.points += 1
        self.last_step, self.last_value = step, value


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
