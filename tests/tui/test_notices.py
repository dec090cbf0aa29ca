"""What the user is told when events arrive, without a terminal."""
from __future__ import annotations

from engine import events as ev
from engine.config import TrainConfig
from tui.messages import DatasetWarning
from tui.notices import UNVERIFIED, Notices
from tui.state import MonitorState


def notices() -> Notices:
    return Notices(MonitorState(TrainConfig()))


def told(n: Notices, event, replaying: bool = False):
    n.state.apply(event)  # as the app does: the state first, then the notice
    return n.of(event, replaying)


def test_news_is_told_as_it_happens_and_not_when_a_history_is_read_back():
    for event in (ev.Diverged(5, float("nan")), ev.Failed("boom"), ev.Finished(100, 2.5)):
        assert told(notices(), event) is not None, event
        assert told(notices(), event, replaying=True) is None, event
    assert told(notices(), ev.Finished(1200, 2.5)).message == "Finished at iteration 1,200 in 2.5 s."
    failed = told(notices(), ev.Failed("boom"))
    assert failed.severity == "error" and "Press r to reset" in failed.message


def test_a_checkpoint_is_told_only_when_asked_for_and_once():
    n = notices()
    assert told(n, ev.CheckpointSaved("/runs/a/ckpt.npz", 300)) is None  # the per-epoch ones are quiet
    n.checkpoint_asked = True
    assert told(n, ev.CheckpointSaved("/runs/a/ckpt.npz", 300)).title == "Saved"
    assert told(n, ev.CheckpointSaved("/runs/a/ckpt.npz", 600)) is None


def test_a_failed_write_is_an_error_and_forgets_the_asked_checkpoint():
    n = notices()
    n.checkpoint_asked = True
    notice = told(n, ev.WriteFailed("/runs/a/ckpt.npz", "No space left on device"))
    assert notice.severity == "error" and "No space left" in notice.message and not n.checkpoint_asked


def test_unverified_data_is_told_once_for_all_its_files():
    n = notices()
    assert told(n, DatasetWarning("train-images: no published checksum")).message == UNVERIFIED
    assert told(n, DatasetWarning("train-labels: no published checksum")) is None


def test_ordinary_events_tell_nothing():
    assert told(notices(), ev.Paused(3)) is None and told(notices(), ev.Resumed(3)) is None
