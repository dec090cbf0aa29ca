"""The latest warning or error, or download progress; hidden when there is nothing to say. Messages may
quote file names and files: shown as text, their control characters replaced."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.controls import RunState
from engine.records import plain

from ..state import DataState, MonitorState


class MessageBar(Static):
    def show(self, state: MonitorState) -> None:
        text = render_message(state)
        if text.plain != str(self.render()):  # re-layout only when the message changes
            self.update(text)
            self.display = bool(text.plain)


def render_message(state: MonitorState) -> Text:
    if state.download is not None and state.state == DataState.LOADING:
        d = state.download
        return Text(f" downloading {d.file}: {d.done / 1e6:.1f}/{d.total / 1e6:.1f} MB "
                    f"({100 * d.done / max(d.total, 1):.0f}%)", style="cyan")
    if state.message:
        return Text(plain(f" {state.message}"), style="red" if state.state in (RunState.FAILED, DataState.UNAVAILABLE) else "yellow")
    return Text(plain(f" {state.damaged}") if state.damaged else "", style="yellow")
