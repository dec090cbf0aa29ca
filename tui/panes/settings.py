"""Tab 3: the settings form. It is mounted after the first frame: it is most of the DOM and not on
screen at start."""
from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.lazy import Lazy

from engine.config import TrainConfig
from engine.events import ParamChanged

from ..controller import Verdict
from ..state import MonitorState
from ..widgets.settings_form import SettingsForm
from .pane import Pane


class SettingsPane(Pane):
    def __init__(self, requested: Callable[[], TrainConfig]):
        """`requested`: the settings the user has asked for, which the form shows."""
        super().__init__("3 Settings", id="settings")
        self.requested = requested

    def compose(self) -> ComposeResult:
        yield Lazy(SettingsForm(self.requested, id="settings-form"))

    @property
    def form(self) -> SettingsForm | None:
        """The form, once mounted."""
        forms = self.query(SettingsForm)
        return forms.first() if forms and forms.first().fields_ready else None

    def load(self) -> None:
        """Show the requested settings afresh (once the form is there)."""
        if form := self.form:
            form.load(self.requested())

    def show_verdict(self, name: str, verdict: Verdict) -> None:
        """A setting's fate beside its field (once the form is there)."""
        if form := self.form:
            if verdict.error is not None:
                form.show_error(name, verdict.error)
            else:
                form.show_note(name, verdict.note)

    def applied(self, change: ParamChanged) -> None:
        """A live setting reached the trainer (from a key, the form, or a monitor attached elsewhere)."""
        if form := self.form:
            form.set_value(change.name, change.new)
            form.show_note(change.name, f"applied at iteration {change.iteration:,}")

    def shown(self) -> set[str]:
        if self.app.focused is None:
            self.load()  # the current values, not text left from a refused entry
        return set()

    def restart(self, state: MonitorState) -> None:
        self.load()
