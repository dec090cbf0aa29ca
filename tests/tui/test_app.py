"""The Textual monitor driven by Pilot: keys in, state and screen out.

Most tests use ScriptedTrainer (tests/fakes.py), which emits fixed
events synchronously: a test presses a key, calls settle() to drain the queue
the way the app's 0.1 s timer does, and checks MonitorState, the trainer and
the widgets. A few tests at the end run the real engine on tiny data.
"""
from __future__ import annotations

import dataclasses
import io
import math
import os

import pytest
from textual.widgets import Input, Select

from engine import events as ev
from engine.config import ConfigError, TrainConfig
from engine.dataset import DatasetError
from engine.trainer import Trainer
from tests.conftest import make_dataset, mnist_folder
from tests.fakes import (
    FAKE_CONFIG,
    MISTAKES,
    SAMPLE_COUNT,
    BlockingLoader,
    ScriptedTrainer,
    failing_loader,
    gradcheck_rows,
    toy_loader,
    write_run,
)
from tests.tui.harness import (
    fake_app,
    message_text,
    notifications,
    press,
    ready,
    run_async,
    running,
    screen_text,
    settle,
    status_text,
    wait_until,
)
from tui.app import BackpropApp
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.dataset_screen import DatasetScreen
from tui.screens.help_screen import HelpScreen, key_label
from tui.session import AttachedSession, LocalSession
from tui.widgets.digit_preview import DigitPreview
from tui.widgets.gradcheck_table import GradCheckTable
from tui.widgets.probability_bars import ProbabilityBars


def param_changes(trainer) -> list[ev.ParamChanged]:
    return [e for e in trainer.emitted if isinstance(e, ev.ParamChanged)]


def bars_text(app) -> str:
    return str(app.query_one(ProbabilityBars).render())


def note(app, field: str):
    widget = app.query_one(f"#note-{field}")
    return str(widget.render()), widget.has_class("error")


async def type_into(pilot, field: str, text: str, keys: bool = False) -> None:
    """Replace a settings field's text with `text` (typed key by key when `keys`), then press enter."""
    box = pilot.app.query_one(f"#field-{field}", Input)
    box.focus()
    box.value = "" if keys else text
    await pilot.pause()
    await pilot.press(*(text if keys else ""), "enter")
    await settle(pilot)


# ---- the event flow --------------------------------------------------------------------------

@run_async
async def test_the_timer_drains_the_queue_without_help():
    app = fake_app()
    async with running(app, wait_ready=False) as pilot:
        # Only the app's 0.1 s ticks drain the queue here: DatasetReady arrives by itself.
        await wait_until(pilot, lambda: app.monitor.state == "idle", what="the timer to drain DatasetReady")
        assert app.monitor.architecture == "784-50-10"
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "running", what="the timer to drain Started")
        assert "RUNNING" in status_text(app)


# ---- start / pause / step / reset ------------------------------------------------------------

@run_async
async def test_space_starts_pauses_and_resumes_and_s_steps():
    app = fake_app()
    async with running(app) as pilot:
        assert "IDLE" in status_text(app)
        await press(pilot, "space")
        trainer = app.trainer
        assert isinstance(trainer, ScriptedTrainer)
        assert trainer.state == "running" and app.monitor.state == "running"
        trainer.advance(3)
        await settle(pilot)
        assert app.monitor.iteration == 3 and len(app.monitor.losses) == 3
        status = status_text(app)
        assert "RUNNING" in status and "iter 3/1,000" in status and "12k samples/s" in status
        await press(pilot, "space")
        assert trainer.state == "paused" and app.monitor.state == "paused"
        assert "PAUSED" in status_text(app)
        trainer.advance(5)  # a paused trainer trains nothing
        await press(pilot, "space")
        assert trainer.state == "running" and app.monitor.state == "running"
        assert app.monitor.iteration == 3
        # While running, s pauses first and then runs exactly one batch.
        await press(pilot, "s")
        assert app.monitor.state == "paused" and app.monitor.iteration == 4
        await press(pilot, "s")
        assert app.monitor.state == "paused" and app.monitor.iteration == 5
        assert "PAUSED" in status_text(app) and "iter 5/" in status_text(app)
        assert trainer.calls == ["start", "pause", "resume", "step", "step"]


@run_async
async def test_step_from_idle_starts_paused():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        assert app.trainer.calls == ["start", "step"]
        assert app.monitor.state == "paused" and app.monitor.iteration == 1
        assert app.monitor.accuracy and app.monitor.samples is not None  # the initial evaluation


@run_async
async def test_reset_asks_then_starts_a_fresh_run():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        old = app.trainer
        old.advance(5)
        await press(pilot, "g")
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Reset training?" in app.screen.question
        await press(pilot, "n")  # no: nothing happens
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.trainer is old and app.monitor.iteration == 5 and old.state == "running"
        await press(pilot, "r")
        await press(pilot, "y")
        assert app.trainer is not old and old.state == "stopped" and "stop" in old.calls
        assert app.trainer.state == "idle"
        m = app.monitor
        assert (m.state, m.iteration, m.losses, m.accuracy, m.markers) == ("idle", 0, [], [], [])
        assert app.query_one(GradCheckTable).row_count == 0
        assert app.query_one(DigitPreview).samples is None
        assert "IDLE" in status_text(app) and "iter 0/" in status_text(app)
        # Events the old trainer sends after the reset are dropped.
        old.state = "running"
        old.advance(3)
        await settle(pilot)
        assert app.monitor.iteration == 0 and app.monitor.state == "idle"
        # The new run starts from scratch.
        await press(pilot, "s")
        assert app.monitor.iteration == 1


# ---- live settings ---------------------------------------------------------------------------

@run_async
async def test_lr_keys_change_the_rate_with_an_event_a_marker_and_the_status():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        trainer = app.trainer
        await press(pilot, "right_square_bracket")
        assert trainer.config.lr == pytest.approx(0.2)
        assert [(e.name, e.old, e.new, e.iteration) for e in param_changes(trainer)] == [("lr", 0.1, 0.2, 1)]
        assert [(m.iteration, m.label) for m in app.monitor.markers] == [(1, "lr=0.2")]
        assert "lr 0.2 " in status_text(app)
        await press(pilot, "s")
        await press(pilot, "left_square_bracket")
        await press(pilot, "left_square_bracket")
        assert trainer.config.lr == pytest.approx(0.05)
        assert [m.label for m in app.monitor.markers] == ["lr=0.2", "lr=0.1 lr=0.05"]  # one label per batch
        assert [m.iteration for m in app.monitor.markers] == [1, 2]
        assert "lr 0.05 " in status_text(app)
        # The settings form follows, and the next batch reports the new rate.
        assert app.query_one("#field-lr", Input).value == "0.05"
        assert "applied at iteration 2" in note(app, "lr")[0]
        await press(pilot, "s")
        assert app.monitor.lr == pytest.approx(0.05)


@run_async
async def test_invalid_learning_rate_is_refused_and_training_unaffected():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        trainer = app.trainer
        await press(pilot, "3")
        assert app.focused is None  # keys stay keys until the user chooses to edit
        await press(pilot, "tab")
        assert app.focused is app.query_one("#field-lr")
        for text in ["abc", "-1", "0", "1e9"]:
            await type_into(pilot, "lr", text, keys=text != "1e9")
            message, is_error = note(app, "lr")
            assert is_error and "learning rate" in message, (text, message)
            assert trainer.config.lr == 0.1 and app.monitor.config.lr == 0.1 and app.pending.lr == 0.1
            assert param_changes(trainer) == [] and app.monitor.markers == []
            assert trainer.state == "paused" and app.monitor.iteration == 1
            assert "lr 0.1 " in status_text(app)
        assert trainer.calls == ["start", "step"]


@run_async
async def test_live_settings_from_the_form():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        await press(pilot, "3")
        for text in ["0", "-5", "ten", "100000"]:
            await type_into(pilot, "batch_size", text)
            message, is_error = note(app, "batch_size")
            assert is_error and "batch size" in message, (text, message)
            assert app.trainer.config.batch_size == 100 and app.pending.batch_size == 100
            assert param_changes(app.trainer) == []
        await type_into(pilot, "batch_size", "25")
        assert app.trainer.config.batch_size == 25
        assert not note(app, "batch_size")[1]
        app.query_one("#field-optimizer", Select).value = "adam"
        await pilot.pause()  # Select.Changed, then the form's message to the app
        await settle(pilot)
        assert app.trainer.config.optimizer == "adam"
        assert [(e.name, e.old, e.new) for e in param_changes(app.trainer)] == [
            ("batch_size", 100, 25), ("optimizer", "sgd", "adam")]
        assert [m.label for m in app.monitor.markers] == ["batch=25 opt=adam"]


@run_async
async def test_the_choices_given_at_start_survive_the_settings_form_coming_up():
    # The form is mounted lazily; its Selects first report the first option (sgd, relu). That report
    # arriving after the form had shown the real values switched an adam run to sgd at its start.
    app = fake_app(dataclasses.replace(FAKE_CONFIG, optimizer="adam", activation="sigmoid"))
    async with running(app) as pilot:
        await wait_until(pilot, lambda: app.settings_pane.form is not None, what="the settings form")
        await pilot.pause()
        await press(pilot, "s")
        assert app.trainer.config.optimizer == app.pending.optimizer == "adam" and app.pending.activation == "sigmoid"
        assert param_changes(app.trainer) == [] and app.monitor.markers == []


@run_async
async def test_error_note_clears_when_the_field_is_valid_again():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "3")
        await type_into(pilot, "lr", "abc")
        assert note(app, "lr")[1]
        await type_into(pilot, "lr", "0.1")  # the rate in effect
        message, is_error = note(app, "lr")
        assert not is_error and "must be" not in message


@run_async
async def test_structural_settings_are_checked_and_apply_only_after_reset():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        first = app.trainer
        await press(pilot, "3")
        for text in ["50,x", "0", ""]:  # the last two parse, but TrainConfig refuses them
            await type_into(pilot, "hidden_sizes", text)
            message, is_error = note(app, "hidden_sizes")
            assert is_error and message, text
            assert app.pending.hidden_sizes == (50,)
        await type_into(pilot, "hidden_sizes", "30,20")
        message, is_error = note(app, "hidden_sizes")
        assert not is_error and "applies on reset" in message
        assert app.pending.hidden_sizes == (30, 20)
        assert first.config.hidden_sizes == (50,) and app.monitor.architecture == "784-50-10"
        await press(pilot, "s")  # focus is in the form: the key goes into the field, not to step
        await press(pilot, "escape")
        assert app.focused is None
        await press(pilot, "s")  # still the old network
        assert app.trainer is first and app.monitor.iteration == 2
        assert "784-50-10" in status_text(app)
        await press(pilot, "r")
        assert "New settings: hidden sizes 30,20" in app.screen.question
        await press(pilot, "y")
        assert app.trainer is not first and app.trainer.config.hidden_sizes == (30, 20)
        assert app.monitor.architecture == "784-30-20-10"
        assert "784-30-20-10" in status_text(app)
        # One grad-check row per tensor of the new network.
        await press(pilot, "g", "1")
        table = app.query_one(GradCheckTable)
        assert [str(key.value) for key in table.rows] == ["W1", "b1", "W2", "b2", "W3", "b3"]
        assert [table.get_cell(n, "shape") for n in ("W1", "W2", "W3", "b3")] == ["784x30", "30x20", "20x10", "10"]


# ---- grad check ------------------------------------------------------------------------------

@run_async
async def test_gradcheck_fills_one_row_per_tensor():
    hidden, names = (50,), ["W1", "b1", "W2", "b2"]
    app = fake_app()
    async with running(app) as pilot:
        table = app.query_one("#gradcheck", GradCheckTable)
        assert table.row_count == 0
        await press(pilot, "g")
        assert app.trainer.calls == ["start", "gradcheck"] and app.trainer.state == "paused"
        assert table.row_count == len(names)
        assert [str(key.value) for key in table.rows] == names
        sizes = [784, *hidden, 10]
        assert table.get_cell("W1", "shape") == f"784x{hidden[0]}"
        assert table.get_cell("b1", "shape") == str(hidden[0])
        assert table.get_cell("W1", "count") == f"{784 * hidden[0]:,}"
        assert table.get_cell(names[-2], "shape") == f"{sizes[-2]}x10"
        for name in names:
            result = table.get_cell(name, "result")
            assert result.plain == "pass" and "green" in str(result.style)
            assert table.get_cell(name, "iter") == "0"
        text = screen_text(app)
        assert "pass" in text and "gradient check at iteration 0" in text
        # A later check updates the same rows in place.
        await press(pilot, "s", "s", "g")
        assert table.row_count == len(names) and table.get_cell("W1", "iter") == "2"
        # A failing tensor shows FAIL in red.
        rows = [dataclasses.replace(r, passed=r.name != "b2") for r in gradcheck_rows([784, 50, 10])]
        app.trainer._emit(ev.GradCheckDone(tuple(rows), 2, 0.01))
        await settle(pilot)
        cell = table.get_cell("b2", "result")
        assert cell.plain == "FAIL" and "red" in str(cell.style)
        assert table.get_cell("W1", "result").plain == "pass"


# ---- digits ------------------------------------------------------------------------------------

@run_async
async def test_digit_paging():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "e", "2")
        preview = app.query_one(DigitPreview)
        assert preview.samples is not None and len(preview.samples.labels) == SAMPLE_COUNT
        pages = preview.pages
        assert pages > 2 and preview.page == 0
        assert f"page 1/{pages}" in screen_text(app)
        await press(pilot, "n")
        assert preview.page == 1
        assert preview.selected == preview.page_size  # the selection follows to the page's first digit
        assert f"page 2/{pages}" in screen_text(app)
        await press(pilot, "right")
        assert preview.page == 2
        await press(pilot, "pagedown")
        assert preview.page == 3 % pages
        await press(pilot, "p", "left", "pageup")
        assert preview.page == 0
        await press(pilot, "left")  # wraps to the last page
        assert preview.page == pages - 1
        assert f"page {pages}/{pages}" in screen_text(app)
        # Selecting digits: the probability bars follow.
        await press(pilot, "right")
        assert preview.page == 0 and preview.selected_index() == 0
        assert "#0: true 0" in bars_text(app) and "55.0%" in bars_text(app)
        await press(pilot, "down")
        assert preview.selected_index() == 1
        assert "#1: true 1" in bars_text(app) and "59.0%" in bars_text(app)  # sample 1 is 59% sure
        await press(pilot, "up")
        assert "#0: true 0" in bars_text(app)
        await press(pilot, "up")  # wraps to the last digit, on the last page
        assert preview.selected_index() == SAMPLE_COUNT - 1 and preview.page == pages - 1
        assert f"#{SAMPLE_COUNT - 1}: true {(SAMPLE_COUNT - 1) % 10}" in bars_text(app)


@run_async
async def test_mistakes_only_shows_only_mistakes():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "e", "2")
        preview = app.query_one(DigitPreview)
        await press(pilot, "m")
        assert preview.mistakes_only
        samples = preview.samples
        visible = preview.visible
        assert visible.tolist() == list(MISTAKES)
        assert all(samples.predictions[i] != samples.labels[i] for i in visible)
        # Every page holds only mistakes, and the probabilities follow the selection.
        for _ in range(preview.pages):
            text = screen_text(app)
            assert "✗" in text and "✓" not in text
            assert "mistakes" in text
            index = preview.selected_index()
            assert samples.predictions[index] != samples.labels[index]
            label = int(samples.labels[index])
            assert f"#{index}: true {label}, pred {(label + 3) % 10}" in bars_text(app)
            await press(pilot, "n")
        await press(pilot, "m")
        assert not preview.mistakes_only and len(preview.visible) == SAMPLE_COUNT
        assert "✓" in screen_text(app)


# ---- help ----------------------------------------------------------------------------------------

@run_async
async def test_help_lists_every_binding():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        # The table, rendered wide enough that nothing wraps (the dialog scrolls).
        from rich.console import Console
        from textual.widgets import Static

        console = Console(width=300, record=True, file=io.StringIO())
        console.print(app.screen.query_one(Static).content)
        table = console.export_text()
        for binding in BackpropApp.BINDINGS:
            assert key_label(binding.key) in table, binding.key
            description = BackpropApp.HELP.get(binding.action, binding.description)
            assert description in table, description
        assert "backprop-tui keys" in screen_text(app)
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
        await press(pilot, "question_mark", "question_mark")  # ? closes it too
        assert not isinstance(app.screen, HelpScreen)


# ---- small terminals -----------------------------------------------------------------------

@pytest.mark.parametrize("size", [(80, 24), (20, 5)])
@run_async
async def test_small_terminals_render(size):
    app = fake_app()
    async with running(app, size=size) as pilot:
        for keys in (["s", "g"], ["2", "m"], ["3"], ["escape", "1", "space", "question_mark"]):
            await press(pilot, *keys)
            assert screen_text(app)  # renders without raising
        assert app.monitor.iteration == 1 and app.monitor.gradcheck and app.monitor.state == "running"
        assert app.is_running and app.return_code is None
        assert app.has_class("narrow")


# ---- quitting ----------------------------------------------------------------------------------

@run_async
async def test_quit_while_running_asks():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        await press(pilot, "q")
        assert isinstance(app.screen, ConfirmScreen) and "Quit" in app.screen.question
        await press(pilot, "n")
        assert app.is_running and trainer.state == "running"
        await press(pilot, "q")
        await pilot.press("y")
    assert app.return_code == 0
    assert trainer.state == "stopped" and trainer.calls[-1] == "stop"


@pytest.mark.parametrize("keys", [[], ["s"]], ids=["idle", "paused"])
@run_async
async def test_quit_when_not_running_exits_at_once(keys):
    app = fake_app()
    async with running(app) as pilot:
        if keys:
            await press(pilot, *keys)
        await pilot.press("q")
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code == 0


# ---- divergence and failure -------------------------------------------------------------------

@run_async
async def test_diverged_pauses_with_a_notification():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        trainer.advance(4)
        trainer.diverge(float("nan"))
        await settle(pilot)
        assert app.monitor.state == "diverged"
        assert "DIVERGED" in status_text(app)
        assert "diverged at iteration 5" in message_text(app)
        titles = [n.title for n in notifications(app)]
        assert any("Diverged" in t for t in titles), titles
        # Lower the rate and resume.
        await press(pilot, "left_square_bracket")
        assert trainer.config.lr == pytest.approx(0.05)
        await press(pilot, "space")
        assert app.monitor.state == "running" and message_text(app).strip() == ""


@run_async
async def test_failed_shows_the_message_and_reset_recovers():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        trainer.advance(2)
        trainer.fail("MemoryError: cannot allocate 3.2 GiB")
        await settle(pilot)
        assert app.monitor.state == "failed"
        assert "FAILED" in status_text(app)
        assert "MemoryError: cannot allocate 3.2 GiB" in message_text(app)
        assert "MemoryError: cannot allocate 3.2 GiB" in screen_text(app)
        assert any(n.severity == "error" for n in notifications(app))
        # Space and s are refused (the run has ended); the app stays up.
        await press(pilot, "space", "s")
        assert trainer.calls.count("resume") == 0 and trainer.calls.count("step") == 0
        assert app.is_running
        await press(pilot, "r", "y")
        assert app.trainer is not trainer and app.monitor.state == "idle"
        assert message_text(app).strip() == ""
        await press(pilot, "s")
        assert app.monitor.iteration == 1


@run_async
async def test_finished_notifies_and_refuses_to_continue():
    app = fake_app(FAKE_CONFIG.with_changes(iters=3))
    async with running(app) as pilot:
        await press(pilot, "space")
        app.trainer.advance(10)
        await settle(pilot)
        assert app.monitor.state == "finished" and app.monitor.iteration == 3
        assert any("Finished at iteration 3" in n.message for n in notifications(app))
        await press(pilot, "space")
        assert app.trainer.calls.count("resume") == 0


# ---- the dataset -----------------------------------------------------------------------------

@run_async
async def test_after_a_failed_load_and_a_retry_the_plots_show_the_new_run():
    """The retry starts the one MonitorState over; the plots must not keep reading a replaced one."""
    calls = []

    def loader(*args, **kwargs):
        calls.append(args)
        return failing_loader("no network here")(*args, **kwargs) if len(calls) == 1 else toy_loader(*args, **kwargs)

    app = fake_app(loader=loader)
    async with running(app, wait_ready=False) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen")
        await press(pilot, "r")
        await ready(pilot)
        for _ in range(5):
            await press(pilot, "s")
        assert app.monitor.iterations == [1, 2, 3, 4, 5]
        for plot in (app.monitor_pane.loss_plot, app.monitor_pane.accuracy_plot):
            assert plot.state is app.monitor
        assert len(app.monitor_pane.loss_plot.state.losses) == 5


@run_async
async def test_unavailable_dataset_shows_how_to_get_it():
    message = "mnist: cannot download https://example.org/train-images-idx3-ubyte.gz: network unreachable"
    calls = []

    def loader(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            return failing_loader(message)(*args, **kwargs)
        raise OSError("disk on fire")  # not a DatasetError: must reach the screen all the same

    app = fake_app(loader=loader)
    async with running(app, wait_ready=False) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen")
        await pilot.pause()
        text = screen_text(app)
        assert "network unreachable" in text and "--data-dir" in text
        assert "Traceback" not in text
        assert app.monitor.state == "unavailable"
        await press(pilot, "r")  # retry: the loader runs again and fails differently
        await wait_until(pilot, lambda: len(calls) == 2 and isinstance(app.screen, DatasetScreen)
                         and "disk on fire" in app.screen.message, what="the second dataset screen")
        await pilot.pause()
        text = screen_text(app)
        assert "OSError: disk on fire" in text and "--data-dir" in text and "Traceback" not in text
        assert app.is_running
        await pilot.press("q")
    assert app.return_code == 0


def footer_text(app) -> str:
    return screen_text(app).splitlines()[-1]


TRAINING_KEYS = ("Run/pause", "Step", "Grad check", "lr÷2", "lr×2")


async def choose_dataset(pilot, name: str) -> None:
    pilot.app.query_one("#field-dataset", Select).value = name
    await pilot.pause()  # Select.Changed, then the form's message to the app
    await settle(pilot)


@run_async
async def test_an_unavailable_dataset_chosen_in_settings_does_not_strand_the_user(tmp_path, monkeypatch):
    """kmnist cannot be had: its screen leads back to Settings, mnist comes back from its --data-dir and trains."""
    monkeypatch.setenv("BACKPROP_TUI_DATA", str(tmp_path / "empty-cache"))
    loads = []

    def loader(name, data_dir=None, progress=None, **kwargs):
        loads.append((name, data_dir))
        if name == "kmnist":
            raise DatasetError("could not download train-images-idx3-ubyte.gz (Kuzushiji-MNIST): offline")
        return toy_loader(name)

    app = BackpropApp(LocalSession(FAKE_CONFIG, data_dir="/data/mnist", loader=loader, trainer_factory=ScriptedTrainer))
    async with running(app) as pilot:
        await press(pilot, "3")
        await choose_dataset(pilot, "kmnist")
        message, is_error = note(app, "dataset")
        # Not refused (it may download): said to need the network.
        assert not is_error and "applies on reset" in message and "not in the cache" in message
        await press(pilot, "r")
        assert "New settings: dataset kmnist" in app.screen.question
        await press(pilot, "y")
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen")
        await pilot.pause()
        assert loads == [("mnist", "/data/mnist"), ("kmnist", None)]
        footer = footer_text(app)
        assert all(key in footer for key in ("r Retry", "3 Settings", "esc Back", "q Quit")), footer
        assert not any(key in footer for key in TRAINING_KEYS), footer

        await press(pilot, "3")  # back to Settings, to choose another dataset
        assert not isinstance(app.screen, DatasetScreen) and app.tabs.active == "settings"
        assert app.monitor.state == "unavailable" and "offline" in message_text(app)
        await pilot.pause()
        footer = footer_text(app)
        assert all(key in footer for key in ("r Reset", "? Help", "q Quit")), footer
        assert not any(key in footer for key in TRAINING_KEYS), footer
        await press(pilot, "space", "g", "right_square_bracket")  # gone with the data: no "There is no data" toasts
        assert notifications(app) == [] and app.trainer is None and app.pending.lr == FAKE_CONFIG.lr

        await choose_dataset(pilot, "mnist")
        assert note(app, "dataset") == ("applies on reset (r); from /data/mnist", False)
        await press(pilot, "r")  # no run to lose: no question, it loads at once
        await ready(pilot)
        assert loads[-1] == ("mnist", "/data/mnist")  # the folder it was started with, not the cache
        await pilot.pause()
        assert all(key in footer_text(app) for key in TRAINING_KEYS)
        await press(pilot, "space")
        app.trainer.advance(3)
        await settle(pilot)
        assert app.monitor.state == "running" and app.monitor.iteration == 3 and app.monitor.dataset == "toy"


@run_async
async def test_the_dataset_screen_takes_esc_the_tab_keys_and_the_palette():
    app = fake_app(loader=failing_loader("no network here"))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen")
        await press(pilot, "5")
        assert not isinstance(app.screen, DatasetScreen) and app.tabs.active == "layers"
        await press(pilot, "r")  # retried at once (no run to lose), and refused again
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen again")
        await press(pilot, "escape")
        assert not isinstance(app.screen, DatasetScreen) and app.tabs.active == "layers"
        await press(pilot, "1")
        await press(pilot, "r")
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the dataset screen again")
        screen = app.screen
        await pilot.press("ctrl+p")
        await pilot.press(*"Settings: choose")
        await wait_until(pilot, lambda: "Settings: choose another dataset" in screen_text(app), what="the command")
        assert "Run/pause" not in screen_text(app)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: app.tabs.active == "settings", what="the Settings tab")
        assert app.screen is not screen and not isinstance(app.screen, DatasetScreen)
        await press(pilot, "ctrl+p")
        await pilot.press(*"Run")
        await pilot.pause(0.3)
        assert "Start training, pause it" not in screen_text(app)  # no data: not offered


@run_async
async def test_starting_with_an_unavailable_dataset_keeps_the_settings_asked_for():
    """The form's choices report their values when mounted: those must be the settings, not each first choice."""
    loads = []

    def loader(name, data_dir=None, progress=None, **kwargs):
        loads.append(name)
        raise DatasetError("offline")

    app = fake_app(config=dataclasses.replace(FAKE_CONFIG, dataset="kmnist", activation="sigmoid"), loader=loader)
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DatasetScreen) and app.settings_pane.form is not None,
                         what="the dataset screen and the settings form")
        await press(pilot, "escape", "r")  # a reset with the settings asked for: kmnist again
        await wait_until(pilot, lambda: len(loads) == 2 and isinstance(app.screen, DatasetScreen),
                         what="the second dataset screen")
        assert loads == ["kmnist", "kmnist"]
        assert (app.pending.dataset, app.pending.activation) == ("kmnist", "sigmoid")


@run_async
async def test_download_progress_shows_while_loading():
    loader = BlockingLoader()
    app = fake_app(loader=loader)
    try:
        async with running(app, wait_ready=False) as pilot:
            await wait_until(pilot, lambda: app.monitor.download is not None, what="download progress")
            await pilot.pause(0.15)
            assert app.monitor.state == "loading"
            assert "LOADING" in status_text(app)
            text = message_text(app)
            assert "downloading train-images-idx3-ubyte.gz" in text and "4.2/9.9 MB (42%)" in text
            assert "downloading" in screen_text(app)
            await press(pilot, "space", "s", "g", "r")  # nothing to train yet: refused, no crash
            assert app.trainer is None and not isinstance(app.screen, ConfirmScreen)
            loader.release.set()
            await ready(pilot)
            assert "downloading" not in screen_text(app)
            await press(pilot, "s")
            assert app.monitor.iteration == 1
    finally:
        loader.release.set()


# ---- the real engine on tiny data --------------------------------------------------------------

REAL = TrainConfig(hidden_sizes=(16,), iters=30, batch_size=20, preview_count=20, seed=0)
TINY = make_dataset(n_train=200, n_test=50, side=28)


def tiny_loader(name, data_dir=None, progress=None, **kwargs):
    return TINY


def real_app(config: TrainConfig = REAL) -> BackpropApp:
    return fake_app(config, loader=tiny_loader, trainer_factory=Trainer)


@pytest.mark.parametrize("name, value", [("lr", 0), ("lr", -1.0), ("lr", "abc"), ("batch_size", 0),
                                         ("optimizer", "rmsprop"), ("gradcheck_every", -1)])
def test_scripted_trainer_refuses_settings_like_the_real_one(name, value):
    for cls in (Trainer, ScriptedTrainer):
        events = []
        trainer = cls(TINY, REAL, events.append)
        with pytest.raises(ConfigError) as info:
            trainer.set(name, value)
        assert name in info.value.problems, cls
        assert events == [] and trainer.config == REAL


@run_async
async def test_real_engine_runs_to_the_end():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        assert isinstance(app.trainer, Trainer)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await pilot.pause()
        m = app.monitor
        assert m.iteration == 30 and len(m.losses) == 30
        assert all(math.isfinite(loss) for loss in m.losses)
        assert m.accuracy and m.samples is not None and m.architecture == "784-16-10"
        assert "FINISHED" in status_text(app) and "iter 30/30" in status_text(app)
        assert any("Finished" in n.message for n in notifications(app))


@run_async
async def test_real_engine_step_and_reset():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="one step")
        assert app.monitor.state == "paused"
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: app.monitor.markers, what="the lr marker")
        assert app.monitor.markers[0].label == "lr=0.2"
        assert app.trainer.config.lr == pytest.approx(0.2) and "lr 0.2 " in status_text(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 2, what="a second step")
        assert app.monitor.lr == pytest.approx(0.2)
        await pilot.press("g")
        await wait_until(pilot, lambda: len(app.monitor.gradcheck) == 4, what="the gradient check")
        assert all(row.passed for row in app.monitor.gradcheck)
        assert app.query_one(GradCheckTable).row_count == 4
        old = app.trainer
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.monitor.state == "idle", what="the reset")
        assert app.trainer is not old and not old.alive and old.state == "stopped"
        assert app.monitor.iteration == 0 and app.monitor.losses == []
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="a step of the new run")


@run_async
async def test_real_engine_gradcheck_after_the_run_ended_is_not_ignored():
    app = real_app()
    async with running(app, ticking=True) as pilot:
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await pilot.pause()
        before = len(notifications(app))
        await pilot.press("g")
        await pilot.pause(0.5)
        assert app.monitor.gradcheck or len(notifications(app)) > before


@run_async
async def test_real_engine_lr_keys_before_start_compound():
    app = real_app(REAL.with_changes(iters=10_000))
    async with running(app, ticking=True) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.monitor.iteration == 1, what="one step")
        await pilot.pause(0.2)
        assert app.trainer.config.lr == pytest.approx(0.4)


@run_async
async def test_unverified_data_is_one_notification():
    def loader(name, data_dir, progress=None, warn=None):
        for kind in ("train images", "train labels"):
            warn(f"{kind}: matches no published checksum")
        return make_dataset(side=28)

    app = BackpropApp(LocalSession(TrainConfig(iters=10), loader=loader, trainer_factory=ScriptedTrainer))
    async with running(app, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "idle", what="the data")
        toasts = [n for n in notifications(app) if n.title == "Unverified data"]
        assert len(toasts) == 1 and len(app.monitor.warnings) == 2
        assert not app.message_bar.display


@run_async
async def test_textual_quit_asks_while_running_too():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        await app.run_action("quit")  # what ctrl+q and the palette's own "Quit" run
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")
        assert app.is_running and app.monitor.state == "running"


@run_async
async def test_a_run_started_in_the_app_is_logged_and_c_saves_a_checkpoint(tmp_path):
    from engine.runs import checkpoints, read_events

    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path)))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        (run,) = list(tmp_path.iterdir())
        await press(pilot, "c")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in notifications(app)), what="the save")
        assert [p.name for p in checkpoints(run)][-1] == "ckpt-000000030-manual.npz"  # kept apart from rotation
        await press(pilot, "r", "y")  # a reset ends the run: its log is closed
        await settle(pilot)
    assert [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"] == list(range(1, 31))
    assert len(list(tmp_path.iterdir())) == 1  # the reset run was not started, so it has no directory


@run_async
async def test_resume_replays_the_curves_and_continues_the_same_run(tmp_path):
    from engine.cli import main
    from engine.runs import checkpoints, read_events

    data = mnist_folder(tmp_path / "data", TINY)

    assert main(["train", "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs"), "--hidden", "16",
                 "--batch-size", "20", "--iters", "30"]) == 0
    (run,) = list((tmp_path / "runs").iterdir())
    checkpoints(run)[-1].unlink()  # as if killed before the final checkpoint: resume from an earlier one
    start = int(checkpoints(run)[-1].stem.split("-")[1])
    app = BackpropApp(LocalSession(FAKE_CONFIG, str(data), resume=run))
    async with running(app, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "idle" and app.monitor.iterations, what="the replay")
        assert app.monitor.iterations == list(range(1, start + 1)) and app.monitor.accuracy
        assert app.pending.iters == 30 and app.pending.hidden_sizes == (16,)
        assert "784-16-10" in status_text(app)  # the run's network, not the flags' default
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        assert app.monitor.iterations == list(range(1, 31))  # one curve: no gap, no repeat
        app.session.stop()
    assert [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"] == list(range(1, 31))


@run_async
async def test_x_exports_metrics_and_the_screen_into_the_run(tmp_path):
    import csv

    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path)))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "x")
        assert any("No run to export" in str(n.message) for n in notifications(app))
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await press(pilot, "x")
        await wait_until(pilot, lambda: any(n.title == "Exported" for n in notifications(app)), what="the export")
        (run,) = list(tmp_path.iterdir())
        with open(run / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["iteration"]) for r in rows] == list(range(0, 31))
        assert (run / "screen-000000030.svg").read_text().startswith("<svg")


@run_async
async def test_attach_follows_a_log_another_process_writes_and_steers_it(tmp_path):
    from engine.config import TrainConfig as Config
    from engine.run_lock import RunLock
    from engine.runs import RunLog, new_run_dir

    config = Config(hidden_sizes=(16,), iters=100_000, batch_size=20, preview_count=0)
    run = new_run_dir(tmp_path, config, "784-16-10")
    lock = RunLock(run)
    log = RunLog(run)
    writer = Trainer(TINY, config, log)  # stands for the other process: it writes the same log
    log.attach(writer)
    writer.start()
    try:
        app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
        async with running(app, wait_ready=False, ticking=True) as pilot:
            await wait_until(pilot, lambda: app.monitor.state == "running" and app.monitor.iterations,
                             what="the attached run's events")
            seen = app.monitor.iteration
            await wait_until(pilot, lambda: app.monitor.iteration > seen + 10, what="new events")
            assert f"attached to pid {os.getpid()}" in status_text(app)
            assert app.monitor.iterations == list(range(1, len(app.monitor.iterations) + 1))
            assert app.pending.hidden_sizes == (16,)  # the run's settings, not this monitor's flags

            await press(pilot, "space")  # through the run's command file to the writer
            await wait_until(pilot, lambda: writer.state == "paused" and app.monitor.state == "paused",
                             what="the writer to pause")
            paused_at = writer.iteration
            await press(pilot, "s")
            await wait_until(pilot, lambda: app.monitor.iteration == paused_at + 1, what="one step")
            await press(pilot, "right_square_bracket")
            await wait_until(pilot, lambda: writer.config.lr == 0.2 and app.monitor.lr == 0.2,
                             what="the new learning rate")
            await press(pilot, "space")
            await wait_until(pilot, lambda: app.monitor.state == "running", what="the writer to resume")

            writer.stop()  # the other process ends: nothing listens any more
            log.close()
            lock.release()
            await pilot.pause(0.3)
            assert "read-only: no process trains it now" in status_text(app)
            assert app.monitor.state == "stopped"
            await press(pilot, "space")
            assert any(n.title == "Not sent" and "--resume" in str(n.message) for n in notifications(app))
    finally:
        writer.stop()
        log.close()
        lock.release()


@run_async
async def test_run_browser_lists_runs_opens_one_and_overlays_two(tmp_path):
    import time as clock

    from tui.screens.runs_screen import RunsScreen
    from tui.widgets.run_curves import RunCurves

    first = write_run(tmp_path, 0.1, [2.3, 1.0, 0.5, 0.2] * 5, [0.5, 0.9], finished=True)
    clock.sleep(1.05)  # run names carry the start second
    second = write_run(tmp_path, 0.02, [2.3, 2.0, 1.8] * 4, [0.3], finished=False)
    app = fake_app()
    app.session.runs_dir = str(tmp_path)
    async with running(app, size=(80, 24)) as pilot:
        await press(pilot, "o")
        assert isinstance(app.screen, RunsScreen)
        await wait_until(pilot, lambda: len(app.screen.runs) == 2, what="the runs to be read")
        await pilot.pause()
        text = screen_text(app)
        assert "2 runs in" in text
        row_new = next(line for line in text.splitlines() if "lr 0.02" in line)
        row_old = next(line for line in text.splitlines() if "lr 0.1 " in line)
        assert text.index(row_new) < text.index(row_old)  # newest first
        assert "mnist 784-16-10" in row_old and "20" in row_old and "90.00%" in row_old and "finished" in row_old
        assert "12" in row_new and "30.00%" in row_new and "stopped" in row_new  # no process: resumable
        loss, accuracy = app.screen.query(RunCurves)
        assert [r.path for r in loss.runs] == [second]  # the highlighted run's curves
        await press(pilot, "down")
        assert [r.path for r in loss.runs] == [first] and [r.path for r in accuracy.runs] == [first]
        await press(pilot, "space", "up", "space")  # mark both: their curves overlaid
        assert [r.path for r in loss.runs] == [first, second]
        await pilot.pause()
        assert "1 vs 2" in screen_text(app)
        assert app.monitor.state == "idle"  # space marked runs: it did not start training
        await press(pilot, "space")  # unmark the second
        assert [r.path for r in loss.runs] == [first]
        await press(pilot, "s", "5", "r")  # the monitor's keys wait while the browser is on top
        assert app.monitor.state == "idle" and app.tabs.active == "monitor" and isinstance(app.screen, RunsScreen)
        await press(pilot, "down", "space", "enter")  # enter: the highlighted run alone, marks dropped
        assert [r.path for r in loss.runs] == [first] and app.screen.marked == []
        await press(pilot, "escape")
        assert not isinstance(app.screen, RunsScreen)


@run_async
async def test_run_browser_with_no_runs_says_where_they_come_from(tmp_path):
    app = fake_app()
    app.session.runs_dir = str(tmp_path / "none")
    async with running(app, size=(80, 24)) as pilot:
        await press(pilot, "o")
        await wait_until(pilot, lambda: "No runs in" in screen_text(app), what="the empty list")
        assert "python -m engine train" in screen_text(app)


@run_async
async def test_an_attached_monitor_starts_over_when_a_resume_rewrites_the_log(tmp_path):
    import json

    from engine.runs import event_record, truncate_log

    run = write_run(tmp_path, 0.1, [2.0, 1.5, 1.2, 1.0, 0.9, 0.8], [0.5], finished=False)
    with open(run / "events.jsonl", "a") as f:
        f.write(json.dumps(event_record(ev.GradCheckDone(gradcheck_rows([784, 16, 10]), 6, 0.01))) + "\n")
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.iteration == 6 and app.monitor.gradcheck_iteration == 6,
                         what="the run's log")
        truncate_log(run, 4)  # another process resumed the run from a checkpoint at iteration 4
        with open(run / "events.jsonl", "a") as f:
            f.write(json.dumps(event_record(ev.BatchDone(5, 0.5, 0.7, 0.1, 1000.0))) + "\n")
        await wait_until(pilot, lambda: app.monitor.iterations == [1, 2, 3, 4, 5], what="the rewritten log")
        assert app.monitor.losses[-1] == 0.7 and app.monitor.gradcheck_iteration is None
        await pilot.pause(0.2)
        assert "gradient check: press g" in screen_text(app)


@run_async
async def test_a_setting_changed_from_an_attached_monitor_becomes_the_apps_own():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "s")
        app.trainer.set("lr", 0.025)  # as the run's command channel does for an attached monitor
        await settle(pilot)
        assert app.pending.lr == 0.025 and "lr 0.025 " in status_text(app) and "→" not in status_text(app)
        await press(pilot, "right_square_bracket")
        assert app.trainer.config.lr == 0.05


@run_async
async def test_attaching_to_an_ended_run_replays_it_without_notifications(tmp_path):
    import json

    from engine.runs import event_record

    run = write_run(tmp_path, 0.1, [2.0, 1.0, 0.5], [0.6], finished=True)
    with open(run / "events.jsonl", "a") as f:
        f.write(json.dumps(event_record(ev.WriteFailed("x.npz", "disk full"))) + "\n")
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "finished", what="the run's history")
        await pilot.pause(0.3)
        assert notifications(app) == []  # history, not news
        with open(run / "events.jsonl", "a") as f:  # something new: that one is news
            f.write(json.dumps(event_record(ev.WriteFailed("y.npz", "disk full"))) + "\n")
        await wait_until(pilot, lambda: any("y.npz" in str(n.message) for n in notifications(app)),
                         what="the new event's notification")


@run_async
async def test_the_app_keeps_as_many_checkpoints_as_asked(tmp_path):
    from engine.runs import checkpoints
    from tui.cli import build_parser

    assert build_parser().parse_args(["--keep-checkpoints", "1"]).keep_checkpoints == 1
    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path), keep=1))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await press(pilot, "c")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in notifications(app)), what="the save")
        (run,) = list(tmp_path.iterdir())
        # The epochs' ones pruned to the newest; the one asked for by hand is not rotated.
        assert [p.name for p in checkpoints(run)] == ["ckpt-000000030.npz", "ckpt-000000030-manual.npz"]
