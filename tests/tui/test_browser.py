"""`python -m tui --serve` in a real browser: headless Chromium, driven by Playwright (issue 18).

The server runs as a user would start it, on a free loopback port, on tiny IDX data. Chromium opens the URL
with its token, the test reads the terminal that the page draws (xterm.js), presses space and watches the
iteration count rise. Then it closes the tab: textual-serve tells the app to quit, and the app's process,
which textual-serve starts (through `sh -c`) under the server, must end and leave a checkpoint where its run
stopped.

Skipped without Playwright (pip install playwright: the Python package only, it never downloads a browser
here) or without a Chromium binary: BACKPROP_CHROMIUM=/path, else /usr/bin/chromium, else chromium or
chromium-browser on PATH.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.run_lock import holder
from engine.runs import latest_checkpoint
from tests.conftest import ROOT, logged_batches

ENABLE = ("pip install playwright and apt-get install chromium, or set BACKPROP_CHROMIUM=/path to a Chromium "
          "binary")
pytest.importorskip("textual_serve", reason="the web extra (textual-serve) is not installed")
pytest.importorskip("playwright.sync_api", reason=f"Playwright is not installed: {ENABLE}")

from playwright.sync_api import sync_playwright

DEADLINE = 60.0  # seconds for each thing awaited: a slow, busy 2-core VM running the suite on both cores
CHROMIUM_FLAGS = [  # as root it needs no sandbox (Playwright's default); and no calls out of this closed network
    "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic",
]
# textual.js keeps its xterm.js Terminal in `this.terminal` and exposes it nowhere, and draws it on a canvas
# (WebGL), so the page's DOM holds no text. This script runs before the page's own: the first `terminal`
# property assigned anywhere is kept as window.__xterm as well, for screen() to read its buffer.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active && !window.__xterm) window.__xterm = value;
  },
});
"""
# The terminal's rows as text; the DOM renderer's rows if xterm.js fell back to it; "" before either exists.
SCREEN = """
() => {
  const term = window.__xterm;
  if (term) {
    const buffer = term.buffer.active, rows = [];
    for (let y = 0; y < term.rows; y++) {
      const line = buffer.getLine(buffer.viewportY + y);
      rows.push(line ? line.translateToString(true) : "");
    }
    return rows.join("\\n");
  }
  const rows = document.querySelector(".xterm-rows");
  return rows ? rows.innerText : "";
}
"""
ITERATION = re.compile(r"\biter ([\d,]+)/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str | None:
    named = os.environ.get("BACKPROP_CHROMIUM")
    if named:
        return named
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def wait_for(what: str, check, timeout: float = DEADLINE, explain=lambda: ""):
    """Poll check() until it returns something true (returned); fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{explain()}")
        time.sleep(0.1)


def parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (name) state": the parent's pid


def ended(pid: int) -> bool:
    """The process is gone, or a zombie (it ended; its parent has not collected its status yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        pid = parent(pid) or 0
        if pid == ancestor:
            return True
    return False


class Server:
    """`python -m tui --serve` as a subprocess, its output kept as it comes (the URL holds the token)."""

    def __init__(self, args: list[str]):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "tui", "--serve", "--port", str(self.port), *args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace")
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def url(self) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.proc.poll() is None, f"the server exited:\n{self.log()}"
                continue
            if found := re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line):
                return found.group(0)
        pytest.fail(f"the server printed no URL in {DEADLINE:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return "server output:\n" + "".join(self.output[-60:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_the_app_in_headless_chromium_trains_and_closing_the_tab_checkpoints_it(data_dir, tmp_path):
    binary = chromium()
    if binary is None or not os.access(binary, os.X_OK):
        pytest.skip(f"no Chromium binary ({binary or 'none found'}): {ENABLE}")
    runs = tmp_path / "runs"
    # --checkpoint-every 3600: no epoch checkpoint on the way, so the one found is the one saved at the end
    server = Server(["--data-dir", str(data_dir), "--runs-dir", str(runs), "--hidden", "16", "--batch-size", "40",
                     "--iters", "10000000", "--checkpoint-every", "3600"])
    app = None
    try:
        url = server.url()
        origin = url.split("/?", 1)[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                # only this server: the page also asks for a web font, which a closed network would make wait
                page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin)
                           else route.abort())
                page.add_init_script(CATCH_TERMINAL)
                page.goto(url)

                def screen() -> str:
                    return page.evaluate(SCREEN)

                def explain() -> str:
                    return f"the page shows:\n{screen()}\n{server.log()}"

                def status(text: str) -> str:
                    return next((line for line in text.splitlines() if ITERATION.search(line)), "")

                def idle() -> bool:  # the data loaded (LOADING until then), the tabs drawn
                    text = screen()
                    return "IDLE" in status(text) and "iter 0/" in status(text) and "1 Monitor" in text

                def training() -> int:
                    """The status line's iteration count while it says RUNNING, else 0."""
                    line = status(screen())
                    found = ITERATION.search(line)
                    return int(found.group(1).replace(",", "")) if found and "RUNNING" in line else 0

                wait_for("the app's status line, idle", idle, explain=explain)
                page.locator(".xterm-helper-textarea").press("Space")  # xterm.js's keyboard input
                first = wait_for("training to start", training, explain=explain)
                wait_for(f"the iteration count to rise past {first}", lambda: training() > first, explain=explain)

                (run,) = wait_for("the run's directory", lambda: list(runs.iterdir()) if runs.exists() else [])
                app = wait_for("the run's lock to name its holder", lambda: max(holder(run) or 0, 0))  # its pid
                assert app != server.proc.pid
                assert descends_from(app, server.proc.pid), "the app is not a process that the server started"
                assert not (run / "checkpoints").exists() or not list((run / "checkpoints").iterdir())

                page.close()  # the tab: its WebSocket closes, textual-serve sends the app "quit"
                wait_for("the app's process to end once its tab closed",
                         lambda: ended(app) and holder(run) is None, explain=server.log)
                assert server.proc.poll() is None  # the server goes on serving other tabs
            finally:
                browser.close()
        checkpoint = latest_checkpoint(run)
        batches = logged_batches(run)
        assert batches and checkpoint.iteration == batches[-1] >= first  # saved where it stopped: nothing lost
        assert "Traceback" not in "".join(server.output) and "not written" not in "".join(server.output)
    finally:
        server.stop()
        if app is not None and not ended(app):  # a failed test leaves no app training
            os.kill(app, signal.SIGKILL)
