"""Training settings: live ones apply at the next batch, structural ones on reset.

Each field has its own message line; the form only parses text and reports
(field, value) upward. The app validates through TrainConfig and writes the
verdict back with show_error() / show_note().
"""
from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from engine.config import ConfigError, TrainConfig

from ..settings import FIELDS, display, parse


class SettingsForm(VerticalScroll):
    can_focus = False  # Tab goes straight to the first field; the form scrolls to follow focus
    class Submitted(Message):
        def __init__(self, form: "SettingsForm", field: str, value):
            super().__init__()
            self.form, self.field, self.value = form, field, value

    def __init__(self, current: Callable[[], TrainConfig], **kwargs):
        """`current` gives the settings to show when the form is mounted."""
        super().__init__(**kwargs)
        self.current = current
        self.fields_ready = False  # until mounted, its fields cannot be set

    def on_mount(self) -> None:
        self.load(self.current())
        self.fields_ready = True

    def compose(self) -> ComposeResult:
        yield Static("● live: applies at the next batch; the others when you reset (r). "
                     "Tab: edit the fields, Enter: apply a value, Esc: back to the keys.", classes="hint")
        current = self.current()
        with Grid(id="settings-grid"):
            for field in FIELDS:
                yield Label(field.title + (" ●" if field.live else ""), classes="field-title")
                if field.choices:
                    # A Select reports its first value when mounted: it must be the current one, not the first choice.
                    yield Select([(c, c) for c in field.choices], allow_blank=False, compact=True,
                                 value=getattr(current, field.name), id=f"field-{field.name}")
                else:
                    yield Input(compact=True, id=f"field-{field.name}")
                yield Static("", id=f"note-{field.name}", classes="field-note")

    def load(self, config: TrainConfig) -> None:
        """Show `config`'s values in every field, with no notes (nor reports of them as submissions)."""
        for field in FIELDS:
            self.set_value(field.name, getattr(config, field.name))
            self.show_note(field.name, "")

    def set_value(self, name: str, value) -> None:
        widget = self.query_one(f"#field-{name}")
        with widget.prevent(Input.Changed, Select.Changed):
            widget.value = display(name, value) if isinstance(widget, Input) else value

    def show_error(self, name: str, message: str) -> None:
        note = self.query_one(f"#note-{name}", Static)
        note.update(Text(message))  # not markup: it may quote what was typed
        note.set_class(True, "error")

    def show_note(self, name: str, message: str) -> None:
        note = self.query_one(f"#note-{name}", Static)
        note.update(Text(message))
        note.set_class(False, "error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(event.input.id.removeprefix("field-"), event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        # A Select reports the first option it was built with, and that report can arrive after
        # load() set the real value: taken as a choice, it switched --optimizer adam to sgd.
        if event.value is not Select.BLANK and event.value == event.select.value:
            self._submit(event.select.id.removeprefix("field-"), str(event.value))

    def _submit(self, name: str, text: str) -> None:
        try:
            value = parse(name, text)
        except ConfigError as exc:
            self.show_error(name, exc.problems[name])
            return
        self.post_message(self.Submitted(self, name, value))
