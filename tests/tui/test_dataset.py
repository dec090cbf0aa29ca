"""The dataset: download progress, unverified data, and the screen shown when it cannot be had."""
from __future__ import annotations

import dataclasses

from textual.widgets import Select

from engine.config import TrainConfig
from engine.dataset import DatasetError
from tests.conftest import make_dataset
from tests.fakes import FAKE_CONFIG, BlockingLoader, ScriptedTrainer, failing_loader, points, toy_loader
from tests.tui.harness import (
    fake_app,
    message_text,
    note,
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
from tui.session import LocalSession


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
        assert points(app.monitor.losses)[0] == [1, 2, 3, 4, 5]
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
