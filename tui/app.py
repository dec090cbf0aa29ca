"""The live training monitor: layout, keys, the tick, and routing.

The trainer's worker thread only appends events to the session's queue. A timer on the UI thread
drains it about ten times a second, folds every event into the one MonitorState, and asks the shown
pane to redraw what changed, once per tick. Decisions live in terminal-free modules (controller,
pacing, hangup, session); each tab's views live in a pane (tui/panes/).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable

from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent

from engine import events as ev
from engine.control import ControlError
from engine.controls import RunState
from engine.export import export_run
from engine.gradcheck_lab import BUGS
from engine.records import Skipped, plain

from .controller import Controller, Verdict
from .hangup import GRACE as HANGUP_GRACE
from .hangup import HangUp
from .keys import KEY_HELP, KEYS, key_works
from .messages import DatasetUnavailable
from .notices import Notices
from .options import UiOptions
from .pacing import TICK, RedrawPacing
from .panes import (
    BackpropPane,
    DigitsPane,
    ErrorsPane,
    GraphPane,
    LabPane,
    LayersPane,
    MonitorPane,
    Pane,
    SettingsPane,
)
from .panes.backprop import BackpropBody
from .panes.digits import WORST, cell
from .panes.lab import LabBody
from .panes.layers import LayersBody
from .screens.confirm_screen import ConfirmScreen
from .screens.dataset_screen import RETRY, DatasetScreen
from .screens.help_screen import HelpScreen, key_label
from .screens.runs_screen import RunsScreen
from .session import Session
from .state import DataState, MonitorState
from .widgets.computational_graph import HELP as GRAPH_HELP
from .widgets.confusion_matrix import ConfusionMatrix
from .widgets.message_bar import MessageBar
from .widgets.settings_form import SettingsForm
from .widgets.status_bar import StatusBar

NARROW_WIDTH, NARROW_HEIGHT = 100, 30  # below either, panes stack (80x24 over SSH)


class BackpropApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "backprop-tui"
    AUTO_FOCUS = None  # focusing the first input would switch to the Settings tab
    BINDINGS = KEYS
    HELP = KEY_HELP

    def __init__(self, session: Session, ui: UiOptions | None = None):
        super().__init__()
        self.session = session
        self.ui = ui or UiOptions()
        self.pacing = RedrawPacing(self.ui)
        self.hangup = HangUp(session.stop, self._exit_from_any_thread)
        self.monitor = MonitorState(session.config)  # the one state, for the app's whole life
        self.controller = Controller(session, self.monitor)
        self._stale: set[str] = set()  # data changed since it was last drawn (names from MonitorState.apply)
        self.notices = Notices(self.monitor)

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: the timer reaches them whichever screen is on top.
        self.status_bar = StatusBar(id="status")
        self.message_bar = MessageBar(id="message")
        self.tabs = TabbedContent(id="tabs", initial="monitor")
        missing = self.session.missing_views
        self.monitor_pane = MonitorPane(self.monitor, self.pacing, self.ui)
        self.digits_pane = DigitsPane(self.monitor, self.pacing, self.ui)
        self.settings_pane = SettingsPane(lambda: self.pending)
        self.layers_pane = LayersPane(self.ui, missing)
        self.lab_pane = LabPane(self.monitor, self.digits_pane, self.session.request_parameters, self.ui)
        yield self.status_bar
        yield self.message_bar
        with self.tabs:
            yield self.monitor_pane
            yield self.digits_pane
            yield self.settings_pane
            yield ErrorsPane(self.ui, missing)
            yield self.layers_pane
            yield GraphPane()
            yield BackpropPane(self.monitor, self.digits_pane, self.session.request_parameters, self.ui)
            yield self.lab_pane
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; the footer needs the room at 80 columns

    def on_mount(self) -> None:
        self.query_one("#tabs Tabs").can_focus = False  # arrows page digits instead of switching tabs
        self.set_focus(None)
        self.set_class(self.ui.ascii, "ascii")
        self.set_interval(TICK, self.tick)
        self.refresh_status()
        if not self.is_headless:  # a real terminal (or the browser): a hang-up saves the run
            self.hangup.install()
        self.call_after_refresh(self.session.load)  # after the first frame: loading competes for the GIL

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < NARROW_WIDTH or event.size.height < NARROW_HEIGHT, "narrow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.key_works(action, self.screen)

    def key_works(self, action: str, screen: Screen) -> bool:
        return key_works(action, screen, self.monitor.state == DataState.UNAVAILABLE)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if self.key_works(binding.action.split("(")[0], screen):
                yield SystemCommand(self.HELP.get(binding.action, binding.description), f"key: {key_label(binding.key)}",
                                    lambda action=binding.action: self.run_action(action))
        if isinstance(screen, DatasetScreen):
            yield from screen.system_commands()
        for bug in BUGS:  # the lab's bugs by name: the palette puts one in and shows the Lab tab
            yield SystemCommand(f"Lab: inject “{bug.title}”", "into a copy of the layers; then g checks it",
                                lambda bug=bug: self.inject(bug))

    def inject(self, bug) -> None:
        self.action_show_tab("lab")
        self.lab_pane.put_in(bug)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification is plain text, its control characters replaced: many quote files or other processes."""
        super().notify(plain(message), title=plain(title), severity=severity, timeout=timeout, markup=False)

    @property
    def pane(self) -> Pane:
        """The pane of the tab shown."""
        return self.tabs.get_pane(self.tabs.active)

    # ---- event flow -----------------------------------------------------------------------

    def tick(self) -> None:
        """Drain the queue, fold the events into the state, redraw what changed once."""
        for event in self.session.drain():
            self._stale |= self.monitor.apply(event)
            self.react(event)
        self.redraw()

    def redraw(self) -> None:
        """Redraw the stale views that are on screen; the others wait until their tab is shown."""
        self._stale -= self.pane.show(self.monitor, self._stale)
        if self.pacing.status_due((self.monitor.state, self.pending.lr)):
            self.refresh_status()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.pacing.plots_now()  # a tab just shown is drawn at once
        self._stale |= event.pane.shown()
        if event.pane.focus_target() is not None:  # shown by a click too
            self.call_after_refresh(self._focus_pane)
        self.redraw()

    def react(self, event) -> None:
        """Side effects of a few events beyond the state: notifications, the form, screens."""
        if self.controller.follow(event):
            self.settings_pane.load()
        if (notice := self.notices.of(event, self.session.replaying)) is not None:
            self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=notice.timeout)
        elif isinstance(event, ev.ParamChanged):
            self.settings_pane.applied(event)
        elif isinstance(event, DatasetUnavailable):
            self.push_screen(DatasetScreen(self.session.config.dataset, event.message), self._dataset_screen_closed)

    def _dataset_screen_closed(self, choice: str | None) -> None:
        if choice == RETRY:
            self.controller.restart_state()
            self.session.load()
        elif choice is not None:
            self.action_show_tab(choice)  # Settings, to choose another dataset, or another tab

    def refresh_status(self) -> None:
        self.status_bar.show(self.monitor, self.pending.lr, self.controller.status_note())
        self.message_bar.show(self.monitor)

    # ---- training controls ------------------------------------------------------------------

    @property
    def trainer(self):
        return self.session.trainer

    @property
    def pending(self):
        """The settings the user has asked for (the controller's), which may wait for the next batch."""
        return self.controller.pending

    def _can_train(self) -> bool:
        if (problem := self.controller.why_not_train()) is not None:
            self.notify(problem, severity="warning")
            return False
        return True

    def _control(self, act) -> None:
        """Run a trainer control; an attached run's channel may have nobody listening."""
        try:
            act()
        except ControlError as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=8)

    def action_toggle_run(self) -> None:
        if not self._can_train():
            return
        if self.trainer.state == RunState.IDLE:
            self.session.ensure_started(paused=False)
        else:
            self._control(self.trainer.pause if self.monitor.state == RunState.RUNNING else self.trainer.resume)

    def _worker_command(self, name: str) -> None:
        """Call a trainer control that runs in the worker, starting the worker (paused) if need be."""
        if self._can_train():
            self.session.ensure_started(paused=True)
            self._control(getattr(self.trainer, name))

    def action_step(self) -> None:
        self._worker_command("step")

    def action_gradcheck(self) -> None:
        self._worker_command("request_gradcheck")

    def action_evaluate(self) -> None:
        self.pacing.preview_wanted = True
        self._worker_command("request_evaluation")

    def action_checkpoint(self) -> None:
        try:
            saving = self.session.checkpoint()
        except ControlError as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=8)
            return
        self.notices.checkpoint_asked = saving
        if not saving:
            self.notify("No run to save yet (start training), or runs are off.", severity="warning")

    def action_export(self) -> None:
        run_dir = self.session.export_dir()
        if run_dir is None:
            self.notify("No run to export yet (start training), or runs are off.", severity="warning")
            return
        skipped = Skipped()
        try:
            written = export_run(run_dir, "csv", {f"screen-{self.monitor.iteration:09d}.svg": self.export_screenshot()},
                                 skipped)
        except OSError as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        note = f"\n{skipped}" if skipped.count else ""
        self.notify(f"{', '.join(p.name for p in written)} in {run_dir}{note}", title="Exported", timeout=6)

    def action_lr(self, factor: float) -> None:
        self._show_verdict("lr", self.controller.set_live("lr", self.pending.lr * factor))

    def _show_verdict(self, name: str, verdict: Verdict) -> None:
        self.settings_pane.show_verdict(name, verdict)
        if verdict.error is not None and verdict.live:  # a refused key press: say so where the user looks
            self.notify(verdict.error, severity="error")

    def on_settings_form_submitted(self, message: SettingsForm.Submitted) -> None:
        if message.form.is_attached:  # not a Select's report arriving after the app closed the form (at exit)
            self._show_verdict(message.field, self.controller.submit(message.field, message.value))

    def action_reset(self) -> None:
        if (refusal := self.controller.reset_refusal()) is not None:
            self.notify(refusal, severity="warning")
            return
        if self.trainer is None and self.monitor.state == DataState.LOADING:
            return
        if (question := self.controller.reset_question()) is None:  # no data, so no run to lose: load again
            self._reset_confirmed(True)
        else:
            self.push_screen(ConfirmScreen(question), self._reset_confirmed)

    def _reset_confirmed(self, yes: bool | None) -> None:
        if not yes:
            return
        self.controller.reset()
        self._stale.clear()
        for pane in self.tabs.query(Pane):
            pane.restart(self.monitor)
        self.refresh_status()
        self.refresh_bindings()  # the keys hidden without data come back (a reset from no data shows no question)

    # ---- views -----------------------------------------------------------------------------

    def on_confusion_matrix_cell_chosen(self, message: ConfusionMatrix.CellChosen) -> None:
        self._choose_digits(cell(message.label, message.prediction))

    def action_worst(self) -> None:
        self._choose_digits(WORST)

    def _choose_digits(self, view: tuple) -> None:
        if self.monitor.predictions is None:
            self.notify("No score of the test set yet: press e, or train to an epoch's end.", severity="warning")
            return
        self.action_show_tab("digits")
        self.digits_pane.choose(view)

    def action_page(self, step: int) -> None:
        (self.layers_pane if self.pane is self.layers_pane else self.digits_pane).page(step)  # weights, else digits

    def action_select(self, step: int) -> None:
        self.digits_pane.move(step)

    def action_mistakes(self) -> None:
        self.digits_pane.toggle_mistakes()

    def action_log_scale(self) -> None:
        self.monitor_pane.toggle_log_scale()

    def action_smoothing(self) -> None:
        self.monitor_pane.toggle_smoothing()

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self.set_focus(None)
        self.call_after_refresh(self._focus_pane)  # a widget can take focus once its pane is shown

    def _focus_pane(self) -> None:
        """Not the settings form: typing there must be a choice (Tab), or keys like space become text."""
        self.set_focus(self.pane.focus_target())

    def action_escape(self) -> None:
        if not self.pane.escape():
            self.set_focus(None)

    def action_runs(self) -> None:
        self.push_screen(RunsScreen(self.session.runs_dir or "runs"))

    def action_help(self) -> None:
        entries = [(b.key, self.HELP.get(b.action, b.description)) for b in self.BINDINGS]
        entries += [(b.key, b.description) for b in (*ConfusionMatrix.BINDINGS, *LayersBody.BINDINGS,
                                                            *BackpropBody.BINDINGS, *LabBody.BINDINGS)]
        self.push_screen(HelpScreen(entries + GRAPH_HELP))

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit") asks too."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        if (question := self.controller.quit_question()) is not None:
            self.push_screen(ConfirmScreen(question), self._quit_confirmed)
        else:
            self._quit_confirmed(True)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.session.stop()
            self.exit()

    # ---- hang-ups ---------------------------------------------------------------------------

    def get_driver_class(self):
        """Textual's driver for this platform, or on a Unix terminal its hang-up-safe subclass (tui/driver.py)."""
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver" and driver.__module__ == "textual.drivers.linux_driver":
            from .driver import HangupSafeDriver

            return HangupSafeDriver
        return driver

    def hang_up(self, signum: int, grace: float = HANGUP_GRACE) -> None:
        """What SIGHUP or SIGTERM does (tui/hangup.py): save the run, exit with 128 + signum."""
        self.hangup.run(signum, grace)

    def _exit_from_any_thread(self, code: int) -> None:
        loop = self._loop
        if loop is not None and threading.current_thread() is not threading.main_thread():
            loop.call_soon_threadsafe(lambda: self.exit(return_code=code))
        else:
            self.exit(return_code=code)
