"""The decisions behind the keys, terminal-free: the settings the user has asked for, whether training
can start, whether a setting applies now or on reset, the reset question, and what an attached monitor
may do. The App asks and shows the answers; nothing here draws."""
from __future__ import annotations

from dataclasses import dataclass

from engine import events as ev
from engine.config import ConfigError, TrainConfig
from engine.control import ControlError
from engine.controls import RunState

from .messages import DatasetReady
from .session import Session
from .settings import BY_NAME, display
from .state import DataState, MonitorState

RESET_QUESTION = "Reset training? The current run's progress is discarded."


@dataclass(frozen=True)
class Verdict:
    """What becomes of a setting typed into the form: a note beside it, or a refusal."""

    note: str = ""
    error: str | None = None
    live: bool = False  # it went to the trainer (a refusal of it is also worth a notification)


class Controller:
    def __init__(self, session: Session, state: MonitorState):
        self.session = session
        self.state = state
        self.pending: TrainConfig = session.config  # what the user has asked for: live ones sent, others on reset

    def why_not_train(self) -> str | None:
        """Why the training keys cannot act now (None when they can)."""
        if self.session.trainer is None:  # loading: without data at all, those keys are hidden
            return "The dataset is still loading."
        if self.state.state in (RunState.FINISHED, RunState.FAILED):
            return "This run has ended: " + self.session.ended_hint
        return None

    def set_live(self, name: str, value) -> Verdict:
        """Send a live setting to the trainer; refused (nothing changes) when it cannot take it."""
        if self.session.trainer is None:
            return Verdict(error="the dataset is still loading", live=True)
        try:
            self.session.trainer.set(name, value)
        except ConfigError as exc:
            return Verdict(error=exc.problems.get(name, str(exc)), live=True)
        except ControlError as exc:
            return Verdict(error=str(exc), live=True)
        self.pending = self.pending.with_changes(**{name: value})
        return Verdict("applies at the next batch", live=True)

    def submit(self, name: str, value) -> Verdict:
        """A value typed into the settings form."""
        if value == getattr(self.pending, name):
            return Verdict()  # unchanged (a Select also reports its initial value)
        if BY_NAME[name].live and self.state.state != DataState.UNAVAILABLE:  # else no trainer: it waits for r
            return self.set_live(name, value)
        if self.session.setting_refusal is not None:
            return Verdict(error=self.session.setting_refusal)
        try:
            self.pending = self.pending.with_changes(**{name: value})
        except ConfigError as exc:
            return Verdict(error=exc.problems.get(name, str(exc)))
        source = self.session.source_note(value) if name == "dataset" else None
        return Verdict("applies on reset (r)" + (f"; {source}" if source else ""))

    def reset_refusal(self) -> str | None:
        return self.session.reset_refusal

    def reset_question(self) -> str | None:
        """What to ask before a reset; None when there is nothing to lose (no data: it loads again at once)."""
        if self.state.state == DataState.UNAVAILABLE:
            return None
        changes = [f for f in BY_NAME if getattr(self.pending, f) != getattr(self.session.config, f)
                   and not BY_NAME[f].live]
        if not changes:
            return RESET_QUESTION
        return RESET_QUESTION + "\nNew settings: " + ", ".join(
            f"{BY_NAME[f].title.split(' (')[0]} {display(f, getattr(self.pending, f))}" for f in changes)

    def reset(self) -> None:
        """A new run with the requested settings; the one MonitorState starts over."""
        self.session.reset(self.pending)
        self.restart_state()

    def restart_state(self) -> None:
        self.state.reset(self.session.config)
        if self.session.dataset is not None:
            self.state.apply(DatasetReady(self.session.dataset, self.session.config))

    def status_note(self) -> str:
        """How the monitor is connected to the run; a run nobody trains any more is shown stopped."""
        note, trained = self.session.connection()
        if not trained and self.state.state in (RunState.RUNNING, RunState.PAUSED):
            self.state.stop()  # killed, or ended without a word in its log
        return note

    def quit_question(self) -> str | None:
        return self.session.quit_question(self.state.state)

    def follow(self, event) -> bool:
        """Keep the requested settings in step with the run; True when the form must show them afresh."""
        if isinstance(event, ev.ParamChanged):  # from these keys, or from a monitor attached elsewhere
            self.pending = self.pending.with_changes(**{event.name: event.new})
        elif isinstance(event, DatasetReady):  # the session's settings are the run's (a resumed run's own)
            self.pending = self.state.config = self.session.config
            return True
        elif isinstance(event, ev.Started) and self.session.settings_from_run:
            self.pending = self.state.config
            return True
        return False
