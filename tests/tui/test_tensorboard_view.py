"""python -m tui --view LOGDIR: a TensorBoard log folder, read-only, following another process's writes."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import tfevents as tf
from tests.tui.harness import screen_text, wait_until

ROOT = Path(__file__).resolve().parents[2]

# Another process's job: a header and 20 steps of two tags, then one more tag each time a line comes on stdin.
WRITER = textwrap.dedent("""
    import sys, time
    from engine import tfevents as tf
    with open(sys.argv[1], "ab", buffering=0) as f:
        f.write(tf.frame(tf.event(0, time.time(), file_version="brain.Event:2")))
        for step in range(20):
            f.write(tf.frame(tf.event(step, time.time(), [tf.scalar("train/loss", 3.0 / (step + 1)),
                                                          tf.scalar("train/lr", 0.1)])))
        for n, line in enumerate(sys.stdin):
            f.write(tf.frame(tf.event(100 + n, time.time(), [tf.scalar("eval/accuracy", 0.5 + n / 10)])))
""")


def run(coroutine):
    return asyncio.run(coroutine)


def shown(app) -> str:
    """The screen's words, one space apart: a long title wraps onto two rows."""
    return " ".join(screen_text(app).split())


def test_a_live_log_shows_every_tag_follows_new_ones_and_counts_damage(tmp_path):
    from tui.view_app import ViewApp
    from tui.widgets.scalar_plot import ScalarPlot

    logdir = tmp_path / "logs"
    (logdir / "job").mkdir(parents=True)
    path = logdir / "job" / "events.out.tfevents.1.host"

    async def test():
        app = ViewApp(logdir)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: "no event files" in shown(app), what="the waiting title")
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE, text=True,
                                      cwd=ROOT)
            try:
                plot = app.screen.query_one(ScalarPlot)
                await wait_until(pilot, lambda: "0.15 @ 19" in shown(app) and "0.1 @ 19" in shown(app),
                                 what="both tags at step 19")
                text = shown(app)
                assert "train/loss" in text and "train/lr" in text and "1 run · 2 scalar tags" in text
                assert plot.tag == "train/loss" and plot.log_scale  # a loss starts on a log scale
                assert "train/loss (log scale)" in text
                series = dict(app.screen.state.of("train/loss"))["job"]
                assert series.points == 20 and series.last_value == pytest.approx(0.15, rel=1e-6)  # float32

                writer.stdin.write("go\n")
                writer.stdin.flush()
                await wait_until(pilot, lambda: "eval/accuracy" in shown(app), what="the new tag")
                assert plot.tag == "train/loss"  # the highlight stays on its tag when the list grows
                await pilot.press("up")  # eval/accuracy sorts first
                assert plot.tag == "eval/accuracy" and not plot.log_scale
                await pilot.press("l")
                await wait_until(pilot, lambda: "eval/accuracy (log scale)" in shown(app), what="log scale")

                writer.stdin.write("go\n")
                writer.stdin.flush()
                await wait_until(pilot, lambda: "0.6 @ 101" in shown(app), what="the tag's next value")
            finally:
                writer.stdin.close()
                writer.wait(timeout=30)
            damaged = bytearray(tf.frame(tf.event(200, 1.0, [tf.scalar("train/loss", 9.0)])))
            damaged[-1] ^= 0xFF
            with open(path, "ab") as f:
                f.write(bytes(damaged) + tf.frame(tf.event(201, 1.0, [tf.scalar("train/loss", 0.05)])))
            await wait_until(pilot, lambda: "1 damaged record skipped" in shown(app), what="the damage")
            assert dict(app.screen.state.of("train/loss"))["job"].last_step == 201

    run(test())


def test_the_view_flag_needs_a_folder_and_no_run(tmp_path):
    for argv, message in ((["--view", str(tmp_path / "missing")], "is not a folder"),
                          (["--view", str(tmp_path), "--attach", "x"], "not allowed with")):
        result = subprocess.run([sys.executable, "-m", "tui", *argv], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 2 and message in result.stderr


def test_a_long_backlog_is_folded_in_a_bounded_piece_per_tick(tmp_path):
    """Catching up on a long log: each drain folds in at most DRAIN_POINTS, so keys answer between ticks,
    and the title says it is still reading until the inbox is empty."""
    from engine.tensorboard_log import Point
    from tui.screens.tensorboard_screen import DRAIN_POINTS
    from tui.view_app import ViewApp

    async def test():
        app = ViewApp(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            await wait_until(pilot, lambda: screen.caught_up, what="the empty folder read")
            for timer in list(screen._timers):  # drained by hand below (private: no public list of timers)
                timer.stop()
            points = [Point("job", "loss", step, 1.0) for step in range(2 * DRAIN_POINTS + 5)]
            screen.inbox.append((points, "", True, (100, 100)))
            screen.drain()
            assert dict(screen.state.of("loss"))["job"].points == DRAIN_POINTS and not screen.caught_up
            screen.drain()
            screen.drain()
            assert dict(screen.state.of("loss"))["job"].points == len(points) and screen.caught_up
            await pilot.pause()
            assert "following" in shown(app)

    run(test())


def test_question_mark_lists_the_viewer_keys(tmp_path):
    from tui.screens.help_screen import HelpScreen
    from tui.screens.tensorboard_screen import TensorBoardScreen
    from tui.view_app import ViewApp

    async def test():
        app = ViewApp(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert "Choose a tag" in shown(app) and "Log scale" in shown(app)
            await pilot.press("escape")
            assert isinstance(app.screen, TensorBoardScreen)

    run(test())
