"""Made for SSH servers: any terminal, ASCII mode, bounded redraws, hang-ups that lose nothing, the browser.

Pilot tests check the display options and the hang-up path inside the app; a few
tests run `python -m tui` on a pseudo-terminal (tests/tui/pty_app.py) as a user's
terminal, tmux or an SSH session would, on tiny IDX data. Bandwidth figures are
measured by bench/bandwidth_bench.py, not here.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from rich.color import ColorSystem

from engine.runs import latest_checkpoint, read_events
from tests.fakes import scripted_samples
from tests.tui.harness import (
    fake_app,
    press,
    region_text,
    run_async,
    running,
    screen_text,
    settle,
    status_text,
)
from tests.tui.pty_app import ROOT, PtyApp, colour_depths, sgr_codes
from tui.app import HANGUP_GRACE, BackpropApp
from tui.cli import app_command, build_parser, is_loopback
from tui.options import LOW_BANDWIDTH, UiOptions, ui_options_from_args
from tui.widgets.digit_preview import ASCII_RAMP, digit_text

SWALLOWED = {"ctrl+s", "ctrl+q", "ctrl+b", "ctrl+a", "ctrl+z", "ctrl+backslash"}  # flow control, tmux, screen, job control


def tui_args(data_dir: Path, runs: Path, *extra: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--runs-dir", str(runs), "--hidden", "16", "--batch-size", "40", *extra]


# ---- options ----------------------------------------------------------------------------------

def test_low_bandwidth_preset_and_single_flags_override_it():
    parse = build_parser().parse_args
    assert ui_options_from_args(parse([])) == UiOptions()
    assert ui_options_from_args(parse(["--low-bandwidth"])) == LOW_BANDWIDTH
    assert LOW_BANDWIDTH.plot_interval >= 5 and LOW_BANDWIDTH.preview_interval is None
    options = ui_options_from_args(parse(["--low-bandwidth", "--plot-interval", "2", "--preview-interval", "30",
                                          "--ascii"]))
    assert (options.plot_interval, options.status_interval, options.preview_interval, options.ascii) == (2, 2, 30, True)
    assert ui_options_from_args(parse(["--preview-interval", "manual"])).preview_interval is None


@pytest.mark.parametrize("flag,value", [("--plot-interval", "soon"), ("--status-interval", "-1"),
                                        ("--preview-interval", "nan"), ("--plot-interval", "1e9")])
def test_bad_display_values_are_refused_with_the_flag_named(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([flag, value])
    assert exit_.value.code == 2 and flag in capsys.readouterr().err


# ---- ASCII mode and colours ----------------------------------------------------------------------

@run_async
async def test_ascii_mode_draws_plots_and_digits_in_ascii_only():
    app = fake_app(ui=UiOptions(ascii=True))
    async with running(app) as pilot:
        await press(pilot, "space")
        app.trainer.advance(60)
        await press(pilot, "right_square_bracket")  # a learning-rate marker with its label on the plot
        app.trainer.advance(60)
        await press(pilot, "e", "space")  # paused: the plots are drawn at once
        for plot in (app.monitor_pane.loss_plot, app.monitor_pane.accuracy_plot):
            text = region_text(app, plot)
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
            assert "+--" in text and "|" in text  # the frame, in ASCII
        assert "*" in region_text(app, app.monitor_pane.loss_plot)  # the EMA line
        await press(pilot, "2")
        for pane in (app.digits_pane.preview, app.digits_pane.probabilities):
            text = region_text(app, pane)
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
        assert "@" in region_text(app, app.digits_pane.preview) and "->" in region_text(app, app.digits_pane.preview)
        assert "#" in region_text(app, app.digits_pane.probabilities)
        await press(pilot, "4")  # the insight panes too
        for pane in (app.query_one("#confusion"), app.query_one("#worst")):
            text = region_text(app, pane)
            assert text.isascii() and "predicted >" in region_text(app, app.query_one("#confusion")), text
        await press(pilot, "5")
        for pane in (app.layers_pane.layer_stats, app.layers_pane.weight_images):
            text = region_text(app, pane)
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
        assert "#" in region_text(app, app.layers_pane.weight_images) and "=" in region_text(app, app.layers_pane.weight_images)


@run_async
async def test_without_ascii_the_same_panes_use_braille_and_half_blocks():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        app.trainer.advance(60)
        await press(pilot, "e", "space")
        assert not region_text(app, app.monitor_pane.loss_plot).isascii()
        await press(pilot, "2")
        assert "▀" in region_text(app, app.digits_pane.preview)


@pytest.mark.parametrize("system", [ColorSystem.EIGHT_BIT, ColorSystem.STANDARD], ids=["256", "16"])
def test_digits_stay_readable_without_truecolor(system):
    """Ink and paper of a half-block digit map to different colours in 256 and in 16 colours."""
    image = np.zeros((4, 4), dtype=np.uint8)
    image[0, :2] = 255  # top row ink, the row under it paper
    image[2, :] = 128  # a mid-gray stroke
    text = digit_text(image)
    styles = [span.style for span in text.spans]
    ink_over_paper, gray_over_paper = styles[0], styles[4]

    def number(color):
        return color.downgrade(system).number

    assert number(ink_over_paper.color) != number(ink_over_paper.bgcolor)
    assert number(gray_over_paper.color) != number(gray_over_paper.bgcolor)


def test_ascii_digits_use_a_ramp_from_blank_to_at():
    image = np.zeros((4, 3))
    image[0:2, 0] = 1.0
    image[0:2, 1] = 0.5
    lines = digit_text(image, ascii=True).plain.splitlines()
    assert lines == ["@=" + ASCII_RAMP[0], "   "]


# ---- redraw rates -------------------------------------------------------------------------------

@run_async
async def test_status_line_redraws_at_its_interval_but_a_state_change_at_once():
    app = fake_app(ui=UiOptions(status_interval=30.0))
    async with running(app) as pilot:
        await press(pilot, "space")
        assert "RUNNING" in status_text(app) and "iter 0/" in status_text(app)
        app.trainer.advance(5)
        await settle(pilot)
        assert "iter 0/" in status_text(app)  # not yet: 30 s have not passed
        await press(pilot, "space")
        assert "PAUSED" in status_text(app) and "iter 5/" in status_text(app)  # at once, with the latest figures


@run_async
async def test_preview_manual_takes_new_digits_only_when_asked():
    app = fake_app(ui=UiOptions(preview_interval=None))
    async with running(app) as pilot:
        await press(pilot, "space", "2")
        assert app.digits_pane.preview.samples.iteration == 0  # the first digits are always shown
        app.trainer.advance(3)
        app.session.events.append(scripted_samples(3))  # an epoch's evaluation while training runs
        await settle(pilot)
        assert app.digits_pane.preview.samples.iteration == 0
        await press(pilot, "e")  # asked for: the digits of that evaluation are shown
        assert app.digits_pane.preview.samples.iteration == 3


# ---- keys and themes ------------------------------------------------------------------------------

def test_key_bindings_avoid_keys_terminals_and_tmux_swallow():
    from tui.screens import confirm_screen, dataset_screen, help_screen, runs_screen
    from tui.widgets import computational_graph

    classes = [BackpropApp, confirm_screen.ConfirmScreen, dataset_screen.DatasetScreen, help_screen.HelpScreen,
               runs_screen.RunsScreen, computational_graph.ComputationalGraph]
    for cls in classes:
        own = [b for b in cls.__dict__.get("BINDINGS", []) if not isinstance(b, tuple)]
        keys = {k.strip() for binding in own for k in binding.key.split(",")}
        assert keys and not keys & SWALLOWED, (cls, keys & SWALLOWED)


@run_async
async def test_theme_switcher_is_offered_and_every_theme_renders():
    app = fake_app()
    async with running(app) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Theme" in titles
        await press(pilot, "space")
        app.trainer.advance(30)
        await settle(pilot)
        themes = [t for t in ("textual-light", "nord", "gruvbox", "solarized-light", "textual-dark")
                  if t in app.available_themes]
        assert len(themes) >= 4 and len(app.available_themes) > 5
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            app.monitor_pane.loss_plot.refresh()
            await pilot.pause()
            assert "loss per batch" in screen_text(app)


# ---- hang-ups -------------------------------------------------------------------------------------

@run_async
async def test_hang_up_stops_the_run_without_asking_and_exits_with_the_signal():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "space")
        trainer = app.trainer
        trainer.advance(3)
        app.hang_up(signal.SIGTERM, grace=0)  # what the SIGTERM handler runs, here on the UI thread
        await pilot.pause()
    assert trainer.calls[-1] == "stop" and trainer.state == "stopped"
    assert app.return_code == 128 + signal.SIGTERM


class _HungUpTerminal:
    """A terminal file whose writes fail as a hung-up terminal's do (EIO), after the first `good` writes."""

    def __init__(self, good: int = 0):
        self.good, self.written = good, []

    def write(self, text):
        if len(self.written) >= self.good:
            raise OSError(errno.EIO, "Input/output error")
        self.written.append(text)
        return len(text)

    def flush(self):
        if len(self.written) >= self.good:
            raise OSError(errno.EIO, "Input/output error")

    def fileno(self):
        return 2

    def isatty(self):
        return True


def _write_then_stop(writer, count: int) -> threading.Thread:
    """What the app does while it exits: many repaints into the writer, then stop() (in a thread: it may block)."""
    def run():
        for i in range(count):
            writer.write(f"frame {i}")
        writer.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Textual's writer dying
def test_screen_writer_outlives_a_hung_up_terminal_so_the_exit_does_not_block():
    from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread

    from tui.driver import TerminalOutput

    # The cause of the blocked hang-up exit, in Textual's writer: a write error ends its thread, the
    # bounded queue fills, and stop() blocks for ever (a blocked thread never finishes: no timing here).
    plain = WriterThread(_HungUpTerminal(good=1))
    plain.start()
    blocked = _write_then_stop(plain, 3 * MAX_QUEUED_WRITES)
    plain.join(10)  # the writer dies at its second write
    assert not plain.is_alive()
    blocked.join(0.2)
    assert blocked.is_alive()  # stuck in put(): the queue is full and nobody reads it
    while blocked.is_alive():  # free it: read the queue for the dead writer
        with contextlib.suppress(queue.Empty):
            plain._queue.get(timeout=0.1)

    terminal = _HungUpTerminal(good=1)
    output = TerminalOutput(terminal)
    writer = WriterThread(output)
    writer.start()
    done = _write_then_stop(writer, 3 * MAX_QUEUED_WRITES)
    done.join(10)  # an event, not a duration: it returns as soon as the writes and stop() are through
    assert not done.is_alive() and not writer.is_alive()
    assert terminal.written == ["frame 0"] and output.gone  # written while it could be, then dropped
    output.flush()  # no error once gone


def test_terminal_output_passes_writes_to_a_live_terminal():
    from tui.driver import TerminalOutput

    terminal = _HungUpTerminal(good=10)
    output = TerminalOutput(terminal)
    assert output.write("abc") == 3 and output.isatty() and output.fileno() == 2
    output.flush()
    assert terminal.written == ["abc"] and not output.gone


def test_sigcont_resumes_the_screen_only_after_ctrl_z_not_after_a_hang_up(monkeypatch):
    """A terminal hang-up sends SIGHUP and SIGCONT: the SIGCONT must not start application mode again."""
    from textual.drivers.linux_driver import LinuxDriver

    from tui.driver import HangupSafeDriver

    calls = []
    for name in ("start_application_mode", "stop_application_mode", "close"):
        monkeypatch.setattr(LinuxDriver, name, lambda self, name=name: calls.append(name))
    monkeypatch.setattr(os, "kill", lambda pid, signum: calls.append(signal.Signals(signum).name))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}

    async def make():
        return HangupSafeDriver(fake_app())

    with open(os.devnull) as stdin:
        monkeypatch.setattr(sys, "__stdin__", stdin)  # CI may run without one
        try:
            driver = asyncio.run(make())
            assert signal.getsignal(signal.SIGCONT) == driver._sigcont_application
            driver._sigcont_application(signal.SIGCONT, None)  # what a hang-up sends
            assert calls == []
            driver._sigtstp_application(signal.SIGTSTP, None)  # ctrl+z: suspend, then stop the process
            assert calls == ["stop_application_mode", "close", "SIGSTOP"]
            driver._sigcont_application(signal.SIGCONT, None)  # fg: back
            assert calls[3:] == ["start_application_mode"]
            driver._sigcont_application(signal.SIGCONT, None)  # a stray one changes nothing
            assert calls[4:] == []
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)


def test_the_app_runs_on_the_hang_up_safe_driver_unless_textual_is_told_another(monkeypatch):
    from textual import constants
    from textual.drivers.linux_driver import LinuxDriver

    from tui.driver import HangupSafeDriver

    monkeypatch.setattr(constants, "DRIVER", None)  # TEXTUAL_DRIVER, as Textual read it at import
    assert issubclass(HangupSafeDriver, LinuxDriver)
    assert fake_app().get_driver_class() is HangupSafeDriver
    monkeypatch.setattr(constants, "DRIVER", "textual.drivers.headless_driver:HeadlessDriver")  # e.g. --serve's
    assert fake_app().get_driver_class().__name__ == "HeadlessDriver"


def _train_then(app: PtyApp, end) -> float:
    """Start training on the pty, let it run a moment, then end it with `end()`; seconds until it exited."""
    app.wait_for("IDLE")
    app.send(b" ")
    app.wait_for("RUNNING")
    time.sleep(1.0)
    began = time.monotonic()
    end()
    app.wait(10)
    return time.monotonic() - began


@pytest.mark.parametrize("how", ["SIGTERM", "hang-up"])
def test_sigterm_or_hang_up_checkpoints_the_run_which_resumes(how, data_dir, tmp_path):
    runs = tmp_path / "runs"
    app = PtyApp(tui_args(data_dir, runs, "--iters", "10000000"), size=(80, 24), term="screen-256color")
    try:
        seconds = _train_then(app, (lambda: app.signal(signal.SIGTERM)) if how == "SIGTERM" else app.hang_up)
    finally:
        app.close()
    signum = signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP
    assert app.proc.returncode == 128 + signum
    # The clean exit, not the watchdog's os._exit, which fires HANGUP_GRACE (5 s) after the checkpoint,
    # so after `began`: any time under the grace rules the watchdog out. The clean exit took 0.5-1.0 s
    # with two busy loops on 2 cores (5x margin); it took the fallback's 5.1-5.3 s when a hang-up's
    # SIGCONT restarted the screen into the dead terminal (tui/driver.py).
    assert seconds < HANGUP_GRACE, seconds
    if how == "SIGTERM":
        assert "Traceback" not in app.screen_text()
    (run,) = list(runs.iterdir())
    iterations = [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"]
    checkpoint = latest_checkpoint(run)
    assert iterations and checkpoint.iteration == iterations[-1]  # saved where it stopped: nothing lost
    # --resume continues it: the same run, one curve without gap or repeat.
    from engine.cli import main

    target = checkpoint.iteration + 20
    assert main(["train", "--resume", str(run), "--data-dir", str(data_dir), "--iters", str(target)]) == 0
    assert [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"] == list(range(1, target + 1))


# ---- terminals --------------------------------------------------------------------------------------

TERMINALS = {
    "xterm-256color": ("xterm-256color", {}, {"256"}),
    "screen-256color": ("screen-256color", {}, {"256"}),
    "tmux-256color": ("tmux-256color", {}, {"256"}),
    "linux": ("linux", {}, {"16"}),
    "NO_COLOR": ("xterm-256color", {"NO_COLOR": "1"}, {"256"}),
}
GRAYS_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


@pytest.mark.parametrize("name", TERMINALS)
def test_the_app_starts_and_renders_in_each_terminal(name, data_dir, tmp_path):
    term, env, depths = TERMINALS[name]
    app = PtyApp(tui_args(data_dir, tmp_path / "runs"), size=(80, 24), term=term, env=env)
    try:
        app.wait_for("IDLE")
        app.wait_for("1 Monitor")
        app.wait_for("Quit")
        app.signal(signal.SIGTERM)
        assert app.wait(10) == 128 + signal.SIGTERM
    finally:
        app.close()
    raw = app.raw()
    assert "Traceback" not in app.screen_text()
    used = colour_depths(raw)
    assert "truecolor" not in used  # COLORTERM is unset: no 24-bit colour
    assert used <= depths | {"16"}, used
    if name == "NO_COLOR":  # Textual turns every colour to gray
        numbers = {codes[i + 2] for codes in sgr_codes(raw) for i in range(len(codes) - 2)
                   if codes[i] in (38, 48) and codes[i + 1] == 5}
        assert numbers and numbers <= GRAYS_256, numbers - GRAYS_256


def test_without_a_terminal_it_says_what_to_run_and_exits_2(data_dir):
    done = subprocess.run([sys.executable, "-m", "tui", "--data-dir", str(data_dir)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "python -m engine train" in lines[0] and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_term_dumb_on_a_terminal_says_what_to_run_and_exits_2(data_dir):
    app = PtyApp(["--data-dir", str(data_dir)], term="dumb")
    try:
        assert app.wait(30) == 2
    finally:
        app.close()
    text = app.screen_text()
    assert "python -m engine train" in text and "TERM=dumb" in text and "\x1b[?1049h" not in app.raw().decode()


# ---- the browser -----------------------------------------------------------------------------------

def test_serve_command_drops_the_serve_flags_and_knows_loopback():
    command = app_command(["--serve", "--host", "127.0.0.1", "--port=8123", "--lr", "0.05", "--ascii"])
    assert command.endswith("-m tui --lr 0.05 --ascii") and "--serve" not in command and "8123" not in command
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.1.2.3"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "::", "example.com"))



def test_abbreviated_flags_are_refused_so_serve_cannot_pass_itself_on(capsys):
    from tui.cli import build_parser

    for abbreviation in (["--serv"], ["--po", "9000"], ["--hos", "0.0.0.0"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(abbreviation)
        assert exit_.value.code == 2
        assert f"unrecognized arguments: {' '.join(abbreviation)}" in capsys.readouterr().err


def test_the_terminal_check_looks_at_the_streams_textual_uses(monkeypatch):
    import io

    from tui import cli

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    monkeypatch.setattr(cli.sys, "stdin", Tty())
    monkeypatch.setattr(cli.sys, "__stderr__", Tty())
    monkeypatch.setattr(cli.sys, "stdout", io.StringIO())  # python -m tui | tee log: it still draws
    assert cli.no_terminal() is None
    monkeypatch.setattr(cli.sys, "__stderr__", io.StringIO())  # 2>file: where it would draw is a file
    assert cli.no_terminal() == "stderr is not a terminal"


def test_serve_warns_when_not_loopback(monkeypatch, capsys):
    pytest.importorskip("textual_serve")
    import tui.serve

    made = []

    class FakeServer:
        def __init__(self, command, host, port, title=None):
            made.append((command, host, port))

        def serve(self):
            pass

    monkeypatch.setattr(tui.serve, "GuardedServer", FakeServer)
    from tui.cli import main

    assert main(["--serve"]) == 0
    assert made[-1][1:] == ("127.0.0.1", 8000) and "warning" not in capsys.readouterr().err
    assert main(["--serve", "--host", "0.0.0.0", "--port", "8001"]) == 0
    assert made[-1][1:] == ("0.0.0.0", 8001) and "warning: serving on 0.0.0.0" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("textual_serve") is None, reason="the web extra is not installed")
def test_serve_answers_on_loopback_and_runs_the_app(data_dir, tmp_path):
    import asyncio

    import aiohttp

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tui", "--serve", "--port", str(port), *tui_args(data_dir, tmp_path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[bytes] = queue.Queue()  # its output, read as it comes (the URL to open holds a token)
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    try:
        found = None
        while found is None:
            found = re.search(r"http://\S+\?token=(\S+)", lines.get(timeout=20).decode(errors="replace"))
        token, deadline, page = found.group(1), time.monotonic() + 20, None
        while page is None:  # printed at startup, a moment before it listens
            with contextlib.suppress(OSError):
                page = urllib.request.urlopen(found.group(0), timeout=2).read().decode()
            if page is None:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not answer"
                time.sleep(0.2)
        assert f"ws://127.0.0.1:{port}/ws" in page

        async def first_screen() -> bytes:  # what a browser gets: the app itself, drawn by its web driver
            got = b""
            async with aiohttp.ClientSession() as session, \
                    session.ws_connect(f"http://127.0.0.1:{port}/ws?token={token}") as ws:
                await ws.send_json(["resize", {"width": 100, "height": 30}])
                end = time.monotonic() + 20
                while b"1 Monitor" not in got and time.monotonic() < end:
                    with contextlib.suppress(asyncio.TimeoutError):
                        message = await ws.receive(timeout=1)
                        if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                            break
                        got += message.data if isinstance(message.data, bytes) else message.data.encode()
            return got

        assert b"1 Monitor" in asyncio.run(first_screen())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.parametrize("theme, fewer", [("dark", 0.7), ("pro", 0.9), ("clear", 0.9)])
def test_plot_strips_keep_every_cell_rich_would_show_with_fewer_style_runs(theme, fewer):
    """tui/widgets/ansi_frame.py against rich's own ANSI decoding as the reference."""
    from rich.console import Console
    from rich.text import Text
    from textual_plotext.plot import Plot

    from tui.widgets.ansi_frame import ansi_strips

    plot = Plot()
    plot.plotsize(60, 20)
    plot._set_size(60, 20)
    plot.theme(theme)
    plot.title("loss")
    xs = list(range(300))
    plot.plot(xs, [1 / (x + 1) + (x % 7) / 50 for x in xs], marker="braille", color="gray", label="batch")
    plot.plot(xs, [1 / (x + 1) for x in xs], marker="braille", color="orange", label="EMA")
    picture = plot.build()
    console = Console(width=60, color_system="truecolor")
    reference = [list(line.render(console)) for line in Text.from_ansi(picture).split("\n", allow_blank=True)]
    strips = ansi_strips(picture, 60, 20)

    def cells(segments):  # what shows: a blank's foreground does not
        return [(c, s.bgcolor if s else None, s.color if s and c != " " else None, s.bold if s else None)
                for text, s, _ in segments for c in text]

    for line, strip in zip(reference, strips):
        expected = cells(line)
        assert cells(strip)[:len(expected)] == expected and strip.cell_length == 60
    runs = sum(len(line) for line in reference)
    assert sum(len(list(strip)) for strip in strips) < fewer * runs
