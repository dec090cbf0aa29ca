"""Samples per second of whole work: training steps, epoch-end scoring and checkpoints alike.

The rate is measured in wall time over a sliding window (WINDOW seconds), so an ETA made from it
counts the scoring and checkpoints still to come at the share they have taken so far; one step's
speed would leave them out (and was 3-10x too optimistic). Paused time is not work: pause()
and resume() move the window past the gap. The window keeps at most MARKS points however fast
the steps come, so its memory stays bounded.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 30.0  # seconds of work the rate averages over: several epoch ends on any dataset this app trains
MARKS = 64  # points kept in the window (a point at most every WINDOW / MARKS seconds)


class Throughput:
    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.perf_counter):
        self.window = window
        self.clock = clock
        self.samples = 0  # done since start(), this process only
        self._marks: deque[tuple[float, int]] = deque()  # (time, samples done by then), oldest first
        self._paused_at: float | None = None

    def start(self) -> None:
        """Work begins now (what comes before it, e.g. loading data, is not counted)."""
        self._marks.clear()
        self._marks.append((self.clock(), self.samples))
        self._paused_at = None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        """Work goes on: the paused gap is taken out of the window."""
        if self._paused_at is not None:
            gap = self.clock() - self._paused_at
            self._marks = deque((t + gap, s) for t, s in self._marks)
            self._paused_at = None

    def done(self, samples: int) -> float:
        """Count `samples` as done now; return the rate over the window (0.0 before any time has passed)."""
        if not self._marks:
            self.start()
        now = self.clock()
        self.samples += samples
        marks = self._marks
        if now - marks[-1][0] >= self.window / MARKS:  # closer points add nothing the newest sample misses
            marks.append((now, self.samples))
        while len(marks) > 2 and now - marks[1][0] >= self.window:
            marks.popleft()
        began, before = marks[0]
        return (self.samples - before) / (now - began) if now > began else 0.0


def seconds_left(samples_left: float, samples_per_s: float) -> float | None:
    """The time the remaining work takes at this rate; None when the rate is not known yet."""
    return max(samples_left, 0.0) / samples_per_s if samples_per_s > 0 else None
