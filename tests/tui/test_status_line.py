"""The status line at any width: the fields that matter least go first; the state and an attached
monitor's connection never do."""
from __future__ import annotations

import pytest

from engine import events as ev
from engine.config import TrainConfig
from tui.state import MonitorState
from tui.widgets.status_bar import render_status

READ_ONLY = "attached, read-only: no process trains it now"


def training() -> MonitorState:
    state = MonitorState(TrainConfig())
    state.apply(ev.Started(TrainConfig(), "784-50-10", "fashion-mnist", 60_000, 10_000))
    state.apply(ev.BatchDone(2050, 3.4, 0.4, 0.1, 120_000.0))
    state.apply(ev.Evaluated(2050, 0.9, 0.8712))
    return state


def test_a_wide_line_shows_every_field():
    line = render_status(training(), 0.1, "", width=120).plain
    assert line == render_status(training(), 0.1, "").plain
    for field in ("RUNNING", "fashion-mnist", "784-50-10", "iter 2,050/10,000", "ep 3.4", "lr 0.1", "test 87.12%",
                  "120k samples/s", "ETA"):
        assert field in line


@pytest.mark.parametrize("attached", ["", "attached to pid 4702"])
def test_at_80_columns_state_iteration_accuracy_and_eta_stay(attached):
    line = render_status(training(), 0.1, attached, width=80).plain
    assert len(line) <= 80
    for field in ("RUNNING", "iter 2,050/10,000", "test 87.12%", "· ETA 0:", attached):
        assert field in line, line
    assert "ep 3.4" not in line  # the epoch goes first


@pytest.mark.parametrize("width", [80, 60, 40, 20])
def test_the_state_and_the_connection_are_never_dropped(width):
    line = render_status(training(), 0.1, READ_ONLY, width=width).plain
    assert "RUNNING" in line and READ_ONLY in line
    assert len(line) <= width or line == " RUNNING  · " + READ_ONLY  # nothing else left to drop
