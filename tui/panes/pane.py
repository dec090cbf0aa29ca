"""What every tab's pane answers to; the App routes to the active one and knows nothing of their views."""
from __future__ import annotations

from textual.widget import Widget
from textual.widgets import TabPane

from ..state import MonitorState


class Pane(TabPane):
    def show(self, state: MonitorState, changed: set[str]) -> set[str]:
        """Redraw the views whose data is in `changed` (names from `MonitorState.apply`), if it is their
        time; return the names drawn. Called only while the pane is shown."""
        return set()

    def shown(self) -> set[str]:
        """The pane was just shown: the names to draw now even if unchanged (placeholders included)."""
        return set()

    def restart(self, state: MonitorState) -> None:
        """A reset: draw the empty run at once, shown or not."""

    def focus_target(self) -> Widget | None:
        """What has the keys while the pane is shown (None: the App's keys alone)."""
        return None

    def escape(self) -> bool:
        """Escape pressed on this pane; False lets the App take the focus back."""
        return False
