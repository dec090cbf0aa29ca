"""The live training monitor.

The trainer's worker thread only appends events to the session's queue. A
timer on the UI thread drains it about ten times a second, folds every event
into MonitorState, and redraws each affected view once per tick.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from engine import events as ev
from engine.atomic import write_bytes_atomic
from engine.control import ControlError
from engine.export import export_run
from engine.run_lock import UNNAMED
from engine.runs import LogReplaced

from .controller import Controller, Verdict
from .hangup import GRACE as HANGUP_GRACE
from .hangup import HangUp
from .messages import DatasetUnavailable, DatasetWarning
from .options import UiOptions
from .pacing import TICK, RedrawPacing
from .screens.confirm_screen import ConfirmScreen
from .screens.dataset_screen import RETRY, DatasetScreen
from .screens.help_screen import HelpScreen, key_label
from .screens.runs_screen import RunsScreen
from .session import Session
from .state import MonitorState
from .widgets.accuracy_plot import AccuracyPlot
from .widgets.computational_graph import HELP as GRAPH_HELP
from .widgets.computational_graph import ComputationalGraph
from .widgets.confusion_matrix import ConfusionMatrix
from .widgets.digit_preview import DigitPreview
from .widgets.gradcheck_table import GradCheckTable
from .widgets.layer_stats import LayerStatsView
from .widgets.loss_plot import LossPlot
from .widgets.message_bar import MessageBar
from .widgets.probability_bars import ProbabilityBars
from .widgets.settings_form import SettingsForm
from .widgets.status_bar import StatusBar
from .widgets.weight_images import WeightImagesView
from .widgets.worst_mistakes import WorstMistakes

LR_FACTOR = 2.0
ATTACHED_ERRORS = ("Attached: a run's log holds no predictions for the whole test set (too big), so the "
                   "confusion matrix and worst mistakes show in the process that trains it.")
GRADCHECK_HINT = "gradient check: press g, or set an interval in Settings (3)"
NARROW_WIDTH, NARROW_HEIGHT = 100, 30  # below either, panes stack (80x24 over SSH)


class BackpropApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "backprop-tui"
    AUTO_FOCUS = None  # focusing the first input would switch to the Settings tab
    # The footer shows the first few; the help screen (?) and the command palette list them all.
    BINDINGS = [
        Binding("space", "toggle_run", "Run/pause"),
        Binding("s", "step", "Step"),
        Binding("r", "reset", "Reset"),
        Binding("g", "gradcheck", "Grad check"),
        Binding("left_square_bracket", "lr_down", "lr÷2"),
        Binding("right_square_bracket", "lr_up", "lr×2"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
        Binding("e", "evaluate", "Evaluate now: accuracy and fresh digits", show=False),
        Binding("c", "checkpoint", "Save a checkpoint into the run directory", show=False),
        Binding("x", "export", "Export metrics (CSV) and this screen (SVG) into the run directory", show=False),
        Binding("o", "runs", "Runs: list saved runs, open one's curves, overlay two (space marks)", show=False),
        Binding("n,right,pagedown", "next_page", "Next page of digits", show=False),
        Binding("p,left,pageup", "prev_page", "Previous page of digits", show=False),
        Binding("down", "select_next", "Select the next digit", show=False),
        Binding("up", "select_prev", "Select the previous digit", show=False),
        Binding("m", "mistakes", "Show only mistakes (toggle)", show=False),
        Binding("l", "log_scale", "Loss plot: log scale (toggle)", show=False),
        Binding("t", "smoothing", "Loss plot: EMA line (toggle)", show=False),
        Binding("1", "show_tab('monitor')", "Monitor tab", show=False),
        Binding("2", "show_tab('digits')", "Digits tab", show=False),
        Binding("3", "show_tab('settings')", "Settings tab", show=False),
        Binding("4", "show_tab('errors')", "Errors tab: confusion matrix, worst mistakes", show=False),
        Binding("5", "show_tab('layers')", "Layers tab: histograms, gradient norms, dead units, weight images",
                show=False),
        Binding("6", "show_tab('graph')", "Graph tab: the computational-graph lesson", show=False),
        Binding("w", "worst", "Digits: the most confidently wrong test digits", show=False),
        Binding("escape", "escape", "Digits: back to all; Settings: leave the form", show=False),
    ]
    # What the footer's short labels mean, for the help screen and the command palette.
    HELP = {
        "toggle_run": "Start training, pause it, resume it",
        "step": "Run exactly one batch, then stay paused",
        "reset": "Reset: a new run with the current settings (asks first)",
        "gradcheck": "Gradient check now: backprop vs numerical, per tensor",
        "lr_down": "Halve the learning rate (at the next batch)",
        "lr_up": "Double the learning rate (at the next batch)",
        "help": "This help",
        "quit_app": "Quit (asks while training runs)",
    }

    def __init__(self, session: Session, ui: UiOptions | None = None):
        super().__init__()
        self.session = session
        self.ui = ui or UiOptions()
        self.pacing = RedrawPacing(self.ui)
        self.hangup = HangUp(session.stop, self._exit_from_any_thread)
        self.monitor = MonitorState(session.config)  # the one state, for the app's whole life
        self.controller = Controller(session, self.monitor)
        self._stale: set[str] = set()  # views whose data changed since they were last drawn
        self._checkpoint_asked = False  # c was pressed: say when that checkpoint is saved
        self.digit_view: tuple | None = None  # the Digits tab shows ("cell", label, prediction) or ("worst",)
        self._replaying = False  # this tick's events are history: no notifications

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Views are kept as attributes: the timer must reach them whichever screen is on top.
        self.status_bar = StatusBar(id="status")
        self.message_bar = MessageBar(id="message")
        self.tabs = TabbedContent(id="tabs", initial="monitor")
        self.loss_plot = LossPlot(self.monitor, id="loss-plot", ascii_only=self.ui.ascii)
        self.accuracy_plot = AccuracyPlot(self.monitor, id="accuracy-plot", ascii_only=self.ui.ascii)
        self.gradcheck_title = Static(GRADCHECK_HINT, id="gradcheck-title")
        self.gradcheck_table = GradCheckTable(id="gradcheck")
        self.preview = DigitPreview(id="preview", ascii_only=self.ui.ascii)
        self.probabilities = ProbabilityBars(id="probabilities", ascii_only=self.ui.ascii)
        attached = self.session.follower is not None
        self.confusion = ConfusionMatrix(id="confusion", ascii=self.ui.ascii,
                                         **({"placeholder": ATTACHED_ERRORS} if attached else {}))
        self.worst = WorstMistakes(id="worst", ascii=self.ui.ascii)
        self.layer_stats = LayerStatsView(id="layer-stats", ascii=self.ui.ascii)
        self.weight_images = WeightImagesView(id="weight-images", ascii=self.ui.ascii, **(
            {"placeholder": "Attached: weight images are not in the run's log; the statistics above are."}
            if attached else {}))
        yield self.status_bar
        yield self.message_bar
        with self.tabs:
            with TabPane("1 Monitor", id="monitor"):
                with Horizontal(id="monitor-top"):
                    yield self.loss_plot
                    yield self.accuracy_plot
                yield self.gradcheck_title
                yield self.gradcheck_table
            with TabPane("2 Digits", id="digits"):
                with Horizontal(id="digits-body"):
                    yield self.preview
                    yield self.probabilities
            with TabPane("3 Settings", id="settings"):
                # Mounted after the first frame: the form is most of the DOM and is not on screen at start.
                yield Lazy(SettingsForm(lambda: self.pending, id="settings-form"))
            with TabPane("4 Errors", id="errors"):
                yield self.confusion
                yield self.worst
            with TabPane("5 Layers", id="layers"):
                yield self.layer_stats
                yield self.weight_images
            with TabPane("6 Graph", id="graph"):
                yield Lazy(ComputationalGraph(id="graph-lesson"))
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
        """False hides a key from the footer and the palette, and ignores it: while the run browser, help, a
        question or the dataset screen is on top, the monitor's keys wait (no training unseen); without
        data, the keys that need it are gone rather than answering "There is no data"."""
        if action not in BINDING_ACTIONS:
            return True
        if isinstance(screen, (RunsScreen, HelpScreen, ConfirmScreen, DatasetScreen)):
            return False
        return not (action in NEEDS_DATA and self.monitor.state == "unavailable")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if self.key_works(binding.action.split("(")[0], screen):
                yield SystemCommand(self.HELP.get(binding.action, binding.description), f"key: {key_label(binding.key)}",
                                    lambda action=binding.action: self.run_action(action))
        if isinstance(screen, DatasetScreen):
            yield from screen.system_commands()

    # ---- event flow -----------------------------------------------------------------------

    def tick(self) -> None:
        """Drain the queue, fold the events into the state, redraw what changed once."""
        follower = self.session.follower
        was_caught_up = follower is None or follower.caught_up
        events = self.session.drain()
        # Attached, the run's history (read over a few ticks; read again after a resume) brings no toasts.
        self._replaying = not was_caught_up or any(isinstance(e, LogReplaced) for e in events)
        for event in events:
            self._stale |= self.monitor.apply(event)
            self.react(event)
        self.redraw()

    def redraw(self) -> None:
        """Redraw the stale views that are on screen; the others wait until their tab is shown."""
        tab = self.tabs.active
        if tab == "monitor":
            plots = [plot for name, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot))
                     if name in self._stale]
            if plots and self.pacing.plots_due(sum(p.cost for p in plots), self.monitor.state == "running"):
                for plot in plots:
                    plot.refresh()
                self._stale -= {"loss", "accuracy"}
            if "gradcheck" in self._stale:
                self.show_gradcheck()
        elif tab == "digits" and ("samples" in self._stale or "errors" in self._stale and self.digit_view) \
                and self.pacing.preview_due(self.preview.samples is None, self.monitor.state == "running"):
            self.show_digits()
            self._stale.discard("samples")
        elif tab == "errors" and "errors" in self._stale:
            self.show_errors()
        elif tab == "layers" and "layers" in self._stale:
            self.layer_stats.show(self.monitor)
            self.weight_images.show(self.monitor.weight_images)
            self._stale.discard("layers")
        if self.pacing.status_due((self.monitor.state, self.pending.lr, self.monitor.latest_accuracy)):
            self.refresh_status()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.pacing.plots_now()  # a tab just shown is drawn at once
        if event.pane.id in ("errors", "graph"):  # shown by a click too
            self.call_after_refresh(self._focus_pane)
        if event.pane.id in ("errors", "layers"):  # drawn when first shown, placeholders included
            self._stale.add(event.pane.id)
        if event.pane.id == "settings" and (form := self.settings_form()) and self.focused is None:
            form.load(self.pending)  # the current values, not text left from a refused entry
        self.redraw()

    def show_digits(self) -> None:
        """The Digits tab: the latest preview digits, or the chosen set of test digits."""
        m, view = self.monitor, self.digit_view
        if view is None or m.predictions is None:
            self.preview.set_samples(m.samples, m.class_names)
        elif view[0] == "worst":
            self.preview.set_samples(m.test_digits(m.worst), m.class_names, "the most confidently wrong test digits")
        else:
            _, label, prediction = view
            names = m.class_names
            self.preview.set_samples(m.test_digits(m.confused(label, prediction)), names,
                                     f"true {names[label]}, predicted {names[prediction]}")
        self.refresh_probabilities()

    def show_errors(self) -> None:
        m = self.monitor
        self.confusion.show(m.confusion, m.class_names, m.predictions.iteration if m.predictions else 0)
        self.worst.show(m)
        self._stale.discard("errors")

    def on_confusion_matrix_cell_chosen(self, message: ConfusionMatrix.CellChosen) -> None:
        self._show_view(("cell", message.label, message.prediction))

    def action_worst(self) -> None:
        self._show_view(("worst",))

    def _show_view(self, view: tuple) -> None:
        if self.monitor.predictions is None:
            self.notify("No score of the test set yet: press e, or train to an epoch's end.", severity="warning")
            return
        self.digit_view = view
        self.action_show_tab("digits")
        self.show_digits()

    def show_gradcheck(self) -> None:
        m = self.monitor
        self._stale.discard("gradcheck")
        if m.gradcheck_iteration is None:  # none yet in this run
            self.gradcheck_table.clear()
            self.gradcheck_title.update(GRADCHECK_HINT)
            return
        self.gradcheck_table.show(m.gradcheck, m.gradcheck_iteration)
        self.gradcheck_title.update(
            f"gradient check at iteration {m.gradcheck_iteration:,} ({1000 * m.gradcheck_seconds:.0f} ms): "
            f"backprop vs central differences, float64, {sum(r.checked for r in m.gradcheck):,} elements"
        )

    def react(self, event) -> None:
        """Side effects of a few events beyond the state: notifications and screens."""
        if self.session.follower is not None and self._follow(event):
            return
        if self._replaying and isinstance(event, (ev.Diverged, ev.Failed, ev.CheckpointSaved, ev.WriteFailed,
                                                  ev.Finished)):
            return
        if self.controller.follow(event) and (form := self.settings_form()):
            form.load(self.pending)
        if isinstance(event, ev.Diverged):
            self.notify(self.monitor.message, title="Diverged: paused", severity="warning", timeout=8)
        elif isinstance(event, ev.Failed):
            self.notify(event.message + "\nPress r to reset.", title="Training failed", severity="error", timeout=12)
        elif isinstance(event, ev.CheckpointSaved) and self._checkpoint_asked:  # not the per-epoch ones
            self._checkpoint_asked = False
            self.notify(f"Checkpoint at iteration {event.iteration:,}: {event.path}", title="Saved", timeout=4)
        elif isinstance(event, ev.WriteFailed):
            self._checkpoint_asked = False
            self.notify(self.monitor.message, title="Cannot write: paused", severity="error", timeout=12)
        elif isinstance(event, ev.Finished):
            self.notify(f"Finished at iteration {event.iteration:,} in {event.seconds:.1f} s.", title="Done")
        elif isinstance(event, ev.ParamChanged) and (form := self.settings_form()):
            form.set_value(event.name, event.new)
            form.show_note(event.name, f"applied at iteration {event.iteration:,}")
        elif isinstance(event, DatasetWarning) and len(self.monitor.warnings) == 1:  # one toast for all files
            self.notify("The data folder's files match no published checksum, so they are not the official "
                        "files; they were used after checking their structure.",
                        title="Unverified data", severity="warning", timeout=10)
        elif isinstance(event, DatasetUnavailable):
            self.push_screen(DatasetScreen(self.session.config.dataset, event.message), self._dataset_screen_closed)

    def _follow(self, event) -> bool:
        """Attached: the run was resumed from a checkpoint, so its log is read again. True when it was."""
        if isinstance(event, LogReplaced):
            self.monitor.reset(self.session.config)
            self._stale |= {"loss", "accuracy", "gradcheck"}  # the preview keeps its digits
            return True
        return False

    def settings_form(self) -> SettingsForm | None:
        """The form, once mounted (it is mounted lazily, just after the first frame)."""
        forms = self.query(SettingsForm)
        return forms.first() if forms and forms.first().fields_ready else None
    
    def _dataset_screen_closed(self, choice: str | None) -> None:
        if choice == RETRY:
            self.controller.restart_state()
            self.session.load()
        elif choice is not None:
            self.action_show_tab(choice)  # Settings, to choose another dataset, or another tab

    def refresh_status(self) -> None:
        self.status_bar.show(self.monitor, self.pending.lr, self.attached_note())
        self.message_bar.show(self.monitor)

    def refresh_probabilities(self) -> None:
        preview = self.preview
        self.probabilities.show(preview.samples, preview.selected_index(), preview.class_names)

    # ---- training controls ------------------------------------------------------------------

    @property
    def trainer(self):
        return self.session.trainer

    def attached_note(self) -> str:
        """How an attached monitor is connected (empty when it trains the run itself)."""
        if self.session.follower is None:
            return ""
        pid = self.trainer.listener()
        if pid is not None:
            return f"attached to pid {pid}" if pid != UNNAMED else "attached"
        if self.monitor.state in ("running", "paused"):
            self.monitor.stop()  # killed, or ended without a word in the log: it is not running
        return "attached, read-only: no process trains it now"

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
        if self.trainer.state == "idle":
            self.session.ensure_started(paused=False)
        elif self.monitor.state == "running":
            self._control(self.trainer.pause)
        else:
            self._control(self.trainer.resume)

    def _worker_command(self, name: str) -> None:
        """Call a trainer control that runs in the worker, starting the worker (paused) if need be."""
        if self._can_train():
            self.session.ensure_started(paused=True)
            self._control(getattr(self.trainer, name))

    def action_step(self) -> None:
        self._worker_command("step")

    def action_export(self) -> None:
        log, follower = self.session.run_log, self.session.follower
        if log is None and follower is None:
            self.notify("No run to export yet (start training), or runs are off.", severity="warning")
            return
        if log is not None:
            log.flush()
        run_dir = log.run_dir if log is not None else follower.run_dir  # attached: the followed run
        try:
            written = export_run(run_dir, "csv")
            screen = Path(run_dir) / f"screen-{self.monitor.iteration:09d}.svg"
            write_bytes_atomic(screen, self.export_screenshot().encode())  # owner-only, like the run's other files
        except (OSError, ValueError) as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        names = ", ".join(p.name for p in written) + f", {screen.name}"
        self.notify(f"{names} in {run_dir}", title="Exported", timeout=6)

    def action_checkpoint(self) -> None:
        self._checkpoint_asked = True
        try:
            saving = self.session.checkpoint()
        except ControlError as exc:
            self._checkpoint_asked = False
            self.notify(str(exc), title="Not sent", severity="error", timeout=8)
            return
        if not saving:
            self.notify("No run to save yet (start training), or runs are off.", severity="warning")

    def action_gradcheck(self) -> None:
        self._worker_command("request_gradcheck")

    def action_evaluate(self) -> None:
        self.pacing.preview_wanted = True
        self._worker_command("request_evaluation")

    # From the settings the user has asked for, which may still wait for the next batch.
    def action_lr_down(self) -> None:
        self._set_live("lr", self.pending.lr / LR_FACTOR)

    def action_lr_up(self) -> None:
        self._set_live("lr", self.pending.lr * LR_FACTOR)

    @property
    def pending(self):
        """The settings the user has asked for (the controller's)."""
        return self.controller.pending

    def _set_live(self, name: str, value) -> None:
        self._show_verdict(name, self.controller.set_live(name, value))

    def _show_verdict(self, name: str, verdict: Verdict) -> None:
        """A setting's fate beside its field (once the form is there); a refused live one as a notification too."""
        form = self.settings_form()
        if verdict.error is not None:
            if form:
                form.show_error(name, verdict.error)
            if verdict.live:
                self.notify(verdict.error, severity="error")
        elif form:
            form.show_note(name, verdict.note)

    def on_settings_form_submitted(self, message: SettingsForm.Submitted) -> None:
        if message.form.is_attached:  # not a Select's report arriving after the app closed the form (at exit)
            self._show_verdict(message.field, self.controller.submit(message.field, message.value))

    def action_reset(self) -> None:
        if (refusal := self.controller.reset_refusal()) is not None:
            self.notify(refusal, severity="warning")
            return
        if self.trainer is None and self.monitor.state == "loading":
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
        if form := self.settings_form():
            form.load(self.pending)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.refresh()
        self.show_gradcheck()
        self.digit_view = None
        preview = self.preview
        preview.set_samples(None, self.monitor.class_names)
        preview.page = preview.selected = 0
        self.refresh_probabilities()
        self.show_errors()
        self.layer_stats.show(self.monitor)
        self.weight_images.show(None)
        self.refresh_status()
        self.refresh_bindings()  # the keys hidden without data come back (a reset from no data shows no question)

    # ---- views -----------------------------------------------------------------------------

    def _preview_action(self, act) -> None:
        act(self.preview)
        self.refresh_probabilities()

    def action_next_page(self) -> None:
        if self.tabs.active == "layers":
            self.weight_images.next_page(1)
        else:
            self._preview_action(lambda p: p.next_page(1))

    def action_prev_page(self) -> None:
        if self.tabs.active == "layers":
            self.weight_images.next_page(-1)
        else:
            self._preview_action(lambda p: p.next_page(-1))

    def action_select_next(self) -> None:
        self._preview_action(lambda p: p.move(1))

    def action_select_prev(self) -> None:
        self._preview_action(lambda p: p.move(-1))

    def action_mistakes(self) -> None:
        self._preview_action(lambda p: p.toggle_mistakes())

    def action_log_scale(self) -> None:
        plot = self.loss_plot
        plot.log_scale = not plot.log_scale
        plot.refresh()

    def action_smoothing(self) -> None:
        plot = self.loss_plot
        plot.smoothing = not plot.smoothing
        plot.refresh()

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self.set_focus(None)
        self.call_after_refresh(self._focus_pane)  # a widget can take focus once its pane is shown

    def _focus_pane(self) -> None:
        self.set_focus(self.pane_focus(self.tabs.active))

    def pane_focus(self, tab: str):
        """What has the keys on a tab. Not the settings form: typing there must be a choice (Tab), or
        keys like space become text. The confusion matrix and the graph lesson take arrows and letters."""
        if tab == "errors":
            return self.confusion
        if tab == "graph":
            return self.query(ComputationalGraph).first() if self.query(ComputationalGraph) else None
        return None

    def action_escape(self) -> None:
        if self.tabs.active == "digits" and self.digit_view is not None:
            self.digit_view = None
            self.show_digits()
        elif self.tabs.active not in ("errors", "graph"):  # those panes keep the keys they use
            self.set_focus(None)

    def action_runs(self) -> None:
        self.push_screen(RunsScreen(self.session.runs_dir or "runs"))

    def action_help(self) -> None:
        entries = [(b.key, self.HELP.get(b.action, b.description)) for b in self.BINDINGS]
        entries += [(b.key, b.description) for b in ConfusionMatrix.BINDINGS]
        self.push_screen(HelpScreen(entries + GRAPH_HELP))

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit") asks too."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        if self.monitor.state == "running" and self.session.follower is None:  # attached: the run goes on
            self.push_screen(ConfirmScreen("Training is running. Quit anyway?"), self._quit_confirmed)
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


# The actions of the monitor's own keys (quit excepted: it works from anywhere), for check_action.
BINDING_ACTIONS = {b.action.split("(")[0] for b in BackpropApp.BINDINGS} - {"quit_app"}
# Those with nothing to act on when the dataset is unavailable (reset retries; the views just stay empty).
NEEDS_DATA = {"toggle_run", "step", "gradcheck", "lr_down", "lr_up", "evaluate", "checkpoint", "export"}
