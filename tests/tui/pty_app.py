"""Run `python -m tui` (or any command) on a pseudo-terminal, as a user's terminal or tmux would.

The child gets the pty as its controlling terminal, of the given size (TIOCSWINSZ
before the spawn), and the environment given (TERM, NO_COLOR, COLORTERM unset by
default). A reader thread keeps everything it writes; `screen_text()` is that
output with escape sequences removed, for looking for words.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

from tests.conftest import ROOT

ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()][0-9A-Za-z]|[=>78])")
SGR = re.compile(rb"\x1b\[([0-9;:]*)m")


class PtyApp:
    def __init__(self, args: list[str], size: tuple[int, int] = (120, 40), term: str = "xterm-256color",
                 env: dict[str, str] | None = None, module: str = "tui"):
        columns, rows = size
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environ = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TEXTUAL", "TEXTUAL_DRIVER")}
        environ.update(TERM=term, COLUMNS=str(columns), LINES=str(rows), **(env or {}))

        def controlling_tty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=environ, stdin=slave,
                                     stdout=slave, stderr=slave, preexec_fn=controlling_tty, close_fds=True)
        os.close(slave)
        self.master: int | None = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except (OSError, TypeError):  # EIO: the child closed the terminal; or we closed our end
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def raw(self, since: int = 0) -> bytes:
        with self._lock:
            return bytes(self.output[since:])

    def screen_text(self, since: int = 0) -> str:
        return ESCAPES.sub(b"", self.raw(since)).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 20.0, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.screen_text(since):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = self.screen_text()[-600:]
                raise AssertionError(f"{needle!r} not shown (exit status {self.proc.poll()}); output ends {tail!r}")
            time.sleep(0.05)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def hang_up(self) -> None:
        """What a dropped SSH connection or a killed tmux pane does: the terminal goes away (SIGHUP)."""
        master, self.master = self.master, None
        os.close(master)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self._reader.join(2)


def sgr_codes(raw: bytes) -> list[list[int]]:
    """The parameters of every SGR (colour and style) sequence in `raw`."""
    return [[int(p) for p in re.split(rb"[;:]", m) if p] for m in SGR.findall(raw)]


def colour_depths(raw: bytes) -> set[str]:
    """Which colour encodings the output uses: "truecolor" (38;2 / 48;2), "256" (38;5 / 48;5), "16"."""
    found = set()
    for codes in sgr_codes(raw):
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48, 58) and i + 1 < len(codes):
                found.add("truecolor" if codes[i + 1] == 2 else "256")
                i += 5 if codes[i + 1] == 2 else 3
                continue
            if 30 <= code <= 37 or 40 <= code <= 47 or 90 <= code <= 97 or 100 <= code <= 107:
                found.add("16")
            i += 1
    return found
