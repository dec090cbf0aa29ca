"""Running the app headless in tests: build it on the scripted trainer, drive it with Pilot, read the screen.

fake_app() builds the app on ScriptedTrainer (tests/fakes.py); running() is run_test() that waits for
the dataset and stops the app's 0.1 s timer, so a test drains the queue itself with settle() (or
press()); wait_until() lets the app run until something holds. status_text(), message_text(),
notifications(), screen_text() and region_text() read what the app shows.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable

from engine.config import TrainConfig
from tests.fakes import FAKE_CONFIG, ScriptedTrainer, toy_loader


def fake_app(config: TrainConfig = FAKE_CONFIG, loader=toy_loader, trainer_factory=ScriptedTrainer, ui=None):
    """The app on the scripted trainer; its status line redraws at every drain (default: twice a second), so
    that a test reads it right after settle()."""
    from tui.app import BackpropApp
    from tui.options import UiOptions
    from tui.session import LocalSession

    return BackpropApp(LocalSession(config, trainer_factory=trainer_factory, loader=loader),
                       UiOptions(status_interval=0.1) if ui is None else ui)


def stop_ticking(app) -> None:
    """Stop the app's 0.1 s queue-draining timer; tests then drain with settle().

    run_test() shuts the app down while its timers still run: Textual removes the
    screens' widgets first and stops the app's timers after that, and a tick in
    between raises NoMatches (StatusBar is gone). A real quit (app.exit()) stops
    the timers first, so only tests need this.
    """
    # Private: Textual has no public list of an app's timers, and the app keeps no handle on its tick timer.
    for timer in list(app._timers):
        if getattr(timer, "_callback", None) == app.tick:
            timer.stop()


@contextlib.asynccontextmanager
async def running(app, size: tuple[int, int] = (120, 40), wait_ready: bool = True, ticking: bool = False):
    """run_test() that waits for the dataset, then (unless `ticking`) stops the 0.1 s timer.

    With the scripted trainer nothing arrives between the test's own calls, so
    settle() drains the queue exactly when needed and the timer would only add
    CPU noise that makes Pilot wait longer for idle. Tests of the timer itself,
    of loading and of the real engine keep it (wait_ready=False or ticking=True).
    """
    async with app.run_test(size=size) as pilot:
        try:
            if wait_ready:
                await ready(pilot)
                if not ticking:
                    stop_ticking(app)
            yield pilot
        finally:
            stop_ticking(app)


def run_async(test):
    """Run an async test function with asyncio (no pytest-asyncio needed)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return wrapper


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run (its 0.1 s tick included) until predicate() holds; fail after `timeout`.

    It returns as soon as the predicate holds; the timeout only bounds a failure. Under load (two busy
    loops and other test suites on 2 cores) the app's first load took up to 4.7 s: 20 s keeps 4x.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            monitor = getattr(pilot.app, "monitor", None)  # (the TensorBoard viewer has none)
            raise AssertionError(f"timed out waiting for {what or predicate}"
                                 + (f"; monitor state {monitor.state!r}" if monitor else ""))
        await pilot.pause(0.05)


async def settle(pilot) -> None:
    """Drain the event queue now (what the 0.1 s timer does) and let the app redraw."""
    pilot.app.tick()
    await pilot.pause()


async def ready(pilot) -> None:
    """Wait until the dataset is loaded and the app shows the idle state."""
    await wait_until(pilot, lambda: pilot.app.monitor.state == "idle" and pilot.app.trainer is not None,
                     what="the dataset to load")


async def press(pilot, *keys: str) -> None:
    """Press keys, then drain what the scripted trainer emitted."""
    await pilot.press(*keys)
    await settle(pilot)


def status_text(app) -> str:
    from tui.widgets.status_bar import StatusBar

    return app.query_one(StatusBar).shown.plain


def message_text(app) -> str:
    from tui.widgets.message_bar import MessageBar

    return str(app.query_one(MessageBar).render())


def note(app, field: str):
    """The note under a Settings field: (its text, whether it shows an error)."""
    widget = app.query_one(f"#note-{field}")
    return str(widget.render()), widget.has_class("error")


def notifications(app) -> list:
    return list(app._notifications)  # private: Textual has notify() and clear_notifications(), no public list


def screen_text(app) -> str:
    """The characters on the app's screen, one line per row (what export_screenshot draws)."""
    # Private: no public API gives the screen as text; export_screenshot() gives SVG, made by the same compositor.
    from textual._context import visible_screen_stack

    visible_screen_stack.set(app._background_screens)
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def region_text(app, widget) -> str:
    """The characters a widget occupies on the screen."""
    region = widget.region
    lines = screen_text(app).splitlines()[region.y : region.y + region.height]
    return "\n".join(line[region.x : region.x + region.width] for line in lines)
