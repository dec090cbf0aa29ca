"""SIGHUP (SSH dropped, tmux pane killed) and SIGTERM: save the run and exit with 128 + the signal, without asking.

A plain signal handler rather than the event loop's: it runs even when the loop is stuck writing to a
terminal that has gone away. The work is done in a thread, and the process ends itself GRACE seconds
after the checkpoint if restoring the terminal hangs (tui/driver.py keeps that from happening).
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

SIGNALS = (signal.SIGHUP, signal.SIGTERM)  # SSH dropped, tmux pane killed, kill PID
GRACE = 5.0  # seconds after the checkpoint for a clean exit, before the process ends itself


class HangUp:
    """`save()` ends the run as quitting does; `exit(code)` closes the app (callable from any thread)."""

    def __init__(self, save: Callable[[], None], exit: Callable[[int], None]):
        self.save = save
        self.exit = exit
        self.signum: int | None = None  # the signal that is ending the app

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
            threading.Thread(target=self.run, args=(signum,), name="backprop-hangup", daemon=True).start()

    def run(self, signum: int, grace: float = GRACE) -> None:
        """Save, then exit with 128 + signum; `grace` > 0 ends the process that many seconds later regardless."""
        self.signum = signum
        code = 128 + signum
        try:
            self.save()
        except Exception:  # nowhere to report it (the terminal may be gone), and the exit must still happen
            pass
        if grace:
            watchdog = threading.Timer(grace, os._exit, (code,))
            watchdog.daemon = True  # harmless once the process has ended
            watchdog.start()
        self.exit(code)
