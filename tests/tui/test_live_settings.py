"""Settings from the lr keys and the Settings form.

Live ones apply at once, structural ones on reset, refused ones change nothing.
"""
from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Input, Select

from engine import events as ev
from tests.fakes import FAKE_CONFIG
from tests.tui.harness import fake_app, note, press, run_async, running, settle, status_text, wait_until
from tui.widgets.gradcheck_table import GradCheckTable


def param_changes(trainer) -> list[ev.ParamChanged]:
    return [e for e in trainer.emitted if isinstance(e, ev.ParamChanged)]


async def type_into(pilot, field: str, text: str, keys: bool = False) -> None:
    """Replace a settings field's text with `text` (typed key by key when `keys`), then press enter."""
    box = pilot.app.query_one(f"#field-{field}", Input)
    box.focus()
    box.value = "" if keys else text
    await pilot.pause()
    await pilot.press(*(text if keys else ""), "enter")
    await settle(pilot)


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
        assert table.names == ["W1", "b1", "W2", "b2", "W3", "b3"]
        assert [table.get_cell(n, "shape") for n in ("W1", "W2", "W3", "b3")] == ["784x30", "30x20", "20x10", "10"]


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
