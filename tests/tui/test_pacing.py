"""Redraw pacing, on a fake clock: plots within their share of the time, digits at their interval, status on change."""
from __future__ import annotations

from tui.options import UiOptions
from tui.pacing import PLOT_BUDGET, RedrawPacing


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pacing(**options) -> tuple[RedrawPacing, Clock]:
    clock = Clock()
    return RedrawPacing(UiOptions(**options), clock), clock


def test_plots_redraw_within_their_budget_while_training_and_at_once_otherwise():
    p, clock = pacing(plot_interval=1.0)
    assert p.plots_due(0.05, running=True)  # the first time
    clock.now += 0.5
    assert not p.plots_due(0.05, running=True)  # --plot-interval 1 s
    assert p.plots_due(0.05, running=False)  # paused: no reason to wait
    clock.now += 1.0
    assert not p.plots_due(0.2, running=True)  # 0.2 s a redraw: at most every 0.2 / PLOT_BUDGET = 2 s
    clock.now += 0.2 / PLOT_BUDGET - 1.0 - 0.1
    assert not p.plots_due(0.2, running=True)
    clock.now += 0.1  # (half a tick early: checked once a tick)
    assert p.plots_due(0.2, running=True)
    clock.now += 0.96  # a second a redraw, checked every 0.1 s tick: due at the tenth tick, not the eleventh
    assert p.plots_due(0.05, running=True)
    p.plots_now()  # a tab just shown
    assert p.plots_due(0.2, running=True)


def test_new_digits_wait_for_their_interval_unless_first_asked_for_or_not_running():
    p, clock = pacing(preview_interval=10.0)
    assert p.preview_due(first=True, running=True)
    clock.now += 1
    assert not p.preview_due(first=False, running=True)
    p.preview_wanted = True  # e
    assert p.preview_due(first=False, running=True) and not p.preview_wanted
    assert p.preview_due(first=False, running=False)
    clock.now += 10
    assert p.preview_due(first=False, running=True)
    manual, clock = pacing(preview_interval=None)  # --preview-interval manual
    manual.preview_due(first=True, running=True)
    clock.now += 1e6
    assert not manual.preview_due(first=False, running=True)


def test_the_status_line_waits_its_interval_but_not_for_a_change_that_must_show():
    p, clock = pacing(status_interval=1.0)
    assert p.status_due(("running", 0.1))
    clock.now += 0.5
    assert not p.status_due(("running", 0.1))
    assert p.status_due(("paused", 0.1))  # a state change shows at once
    clock.now += 0.96  # a tick's jitter early still counts as the interval
    assert p.status_due(("paused", 0.1))
    every_tick, clock = pacing(status_interval=0.1)
    assert every_tick.status_due("a") and every_tick.status_due("a")
