"""What the user is told when an event arrives, terminal-free: a notification's text, title and severity.
An attached monitor reading a run's history back tells nothing of it: that news is old."""
from __future__ import annotations

from dataclasses import dataclass

from engine import events as ev

from .messages import DatasetWarning
from .state import MonitorState

NEWS = (ev.Diverged, ev.Failed, ev.CheckpointSaved, ev.WriteFailed, ev.Finished)
UNVERIFIED = ("The data folder's files match no published checksum, so they are not the official files; they were "
              "used after checking their structure.")


@dataclass(frozen=True)
class Notice:
    message: str
    title: str = ""
    severity: str = "information"
    timeout: float | None = None  # None: Textual's default


class Notices:
    def __init__(self, state: MonitorState):
        self.state = state
        self.checkpoint_asked = False  # c was pressed: say when that checkpoint is saved (not the per-epoch ones)

    def of(self, event, replaying: bool = False) -> Notice | None:
        """The notice `event` deserves (after the state has applied it); None for most."""
        if replaying and isinstance(event, NEWS):
            return None
        if isinstance(event, ev.Diverged):
            return Notice(self.state.message, "Diverged: paused", "warning", 8)
        if isinstance(event, ev.Failed):
            return Notice(event.message + "\nPress r to reset.", "Training failed", "error", 12)
        if isinstance(event, ev.CheckpointSaved) and self.checkpoint_asked:
            self.checkpoint_asked = False
            return Notice(f"Checkpoint at iteration {event.iteration:,}: {event.path}", "Saved", timeout=4)
        if isinstance(event, ev.WriteFailed):
            self.checkpoint_asked = False
            return Notice(self.state.message, "Cannot write: paused", "error", 12)
        if isinstance(event, ev.Finished):
            return Notice(f"Finished at iteration {event.iteration:,} in {event.seconds:.1f} s.", "Done")
        if isinstance(event, DatasetWarning) and len(self.state.warnings) == 1:  # one notice for all files
            return Notice(UNVERIFIED, "Unverified data", "warning", 10)
        return None
