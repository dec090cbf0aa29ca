"""When the views may redraw: plots within a share of the time, new digits at their interval, the status line
when its text would change. Terminal-free and driven by a clock, so it is tested without one."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable

from .options import UiOptions

TICK = 0.1  # seconds between queue drains and redraws
# Share of the time plot redraws may take while training (they also wait --plot-interval): both plots
# together cost 50-90 ms a frame at 120x40 (tui/widgets/ansi_frame.py), so they redraw about once a second.
PLOT_BUDGET = 0.1


class RedrawPacing:
    def __init__(self, ui: UiOptions, clock: Callable[[], float] = time.monotonic):
        self.ui = ui
        self.clock = clock
        self._last_plot = self._last_preview = self._last_status = -math.inf
        self._status_key: Hashable = None  # what the status line showed that must show at once when it changes
        self.preview_wanted = False  # e was pressed: show the next digits even with --preview-interval manual

    def plots_due(self, cost: float, running: bool) -> bool:
        """Stale plots that took `cost` seconds to draw last time may redraw now (and count as drawn)."""
        now = self.clock()
        # (Due half a tick early: checked once a tick, a redraw a second would otherwise come every 1.1 s.)
        if not running or now - self._last_plot >= max(self.ui.plot_interval, cost / PLOT_BUDGET) - TICK / 2:
            self._last_plot = now
            return True
        return False

    def plots_now(self) -> None:
        """The next plots_due() is True (a tab just shown is drawn at once)."""
        self._last_plot = -math.inf

    def preview_due(self, first: bool, running: bool) -> bool:
        """New digits may be shown: the `first` ones, asked-for ones (e), or --preview-interval has passed."""
        now = self.clock()
        interval = self.ui.preview_interval
        if first or self.preview_wanted or not running or (interval is not None and now - self._last_preview >= interval):
            self.preview_wanted, self._last_preview = False, now
            return True
        return False

    def status_due(self, key: Hashable) -> bool:
        """At most every --status-interval, but at once when `key` (what must show at once) changes."""
        now = self.clock()
        interval = self.ui.status_interval
        if interval <= TICK or key != self._status_key or now - self._last_status >= interval - TICK / 2:
            self._status_key, self._last_status = key, now
            return True
        return False
