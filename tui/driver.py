"""Textual's terminal driver, made safe for a terminal that goes away (SSH dropped, tmux pane killed).

Two things in Textual's LinuxDriver turn a hang-up into a blocked exit (the 5 s HANGUP_GRACE
fallback in tui/app.py fired instead of the clean exit):

1. The kernel sends SIGHUP *and SIGCONT* to the session leader when its terminal hangs up. The
   driver's SIGCONT handler takes that for a return from ctrl+z and starts application mode again:
   a second output thread (the first is orphaned) and a full set-up and repaint, written to a
   terminal that is gone.
2. The screen is written by a thread fed from a bounded queue (30 writes). A write error (EIO once
   the terminal has hung up) ends that thread; the queue fills with the next repaints, and the
   exit's own writes (restore the terminal, then the stop marker) block for ever.

The driver here resumes on SIGCONT only after it suspended itself (ctrl+z), and its output thread
writes through a file that drops output once a write failed, so the thread never dies and nothing
waits on it.
"""
from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver


class TerminalOutput:
    """The driver's output file: passes writes on until one fails, then drops them (the terminal is gone)."""

    def __init__(self, file):
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO/EPIPE: hung up; ValueError: the file was closed
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.gone = True

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


class HangupSafeDriver(LinuxDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._file is not None:
            self._file = TerminalOutput(self._file)
        self._suspended = False

    def suspend_application_mode(self) -> None:
        self._suspended = True
        super().suspend_application_mode()

    def resume_application_mode(self) -> None:
        self._suspended = False
        super().resume_application_mode()

    def _sigcont_application(self, *args) -> None:
        if self._suspended:  # back from ctrl+z; a SIGCONT that comes with a hang-up is not a resume
            super()._sigcont_application(*args)
