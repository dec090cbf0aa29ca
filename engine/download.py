"""Downloading dataset files: stream to a temp file, verify size and SHA-256, rename.

Each mirror is tried in order; transient failures (timeouts, dropped
connections, server errors) are retried with backoff first. A file that fails
verification is deleted, so the cache only ever holds complete, verified files.

Each attempt has an overall deadline, deadline_for(size) = DEADLINE_BASE + size / MIN_RATE
(60 s plus 1 s per 50 kB: 4.3 min for MNIST's 9.9 MB of training images), enforced by closing
the connection when it passes, so a server sending a byte every few seconds (each read within
TIMEOUT) cannot keep us for ever; such a mirror is not retried. The temp files of a download that
was killed are removed when the cache is next loaded (remove_stale_parts).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .atomic import fsync_directory
from .registry import DatasetInfo, RemoteFile

TIMEOUT = 30.0  # seconds allowed for connecting and for each read
DEADLINE_BASE = 60.0  # seconds every attempt at a file gets, whatever its size (see deadline_for)
MIN_RATE = 50_000  # bytes per second: a mirror slower than this over a whole file is given up on
ATTEMPTS = 2  # tries per mirror for transient failures
BACKOFF = 1.0  # seconds before the first retry; doubles each time
CHUNK = 1 << 16
USER_AGENT = "backprop-tui (+https://pypi.org/project/backprop-tui)"


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of a dataset file received so far (sent by the loader, before training starts)."""

    file: str
    done: int
    total: int


class DownloadError(Exception):
    """Every mirror failed; the message lists what was tried and how to supply the file by hand."""


class _WrongFile(Exception):
    """The server answered with something that is not the file: retrying this mirror will not help."""


class _TooSlow(Exception):
    """The deadline passed before the whole file arrived: retrying this mirror would take as long again."""


def deadline_for(size: int) -> float:
    """Seconds one attempt at a file of `size` bytes may take, connecting included."""
    return DEADLINE_BASE + size / MIN_RATE


def remove_stale_parts(folder: Path, files: Iterable[RemoteFile]) -> None:
    """Delete what killed downloads of `files` left in `folder`: our temp files (.<name>.<random>.part),
    regular files only (a symlink is not ours), untouched for longer than a live download could run."""
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no folder yet, or not one we can list: nothing of ours there
        return
    for remote in files:
        stale_after = deadline_for(remote.size) + DEADLINE_BASE  # a live attempt has been stopped by then
        for entry in entries:
            if not (entry.name.startswith(f".{remote.name}.") and entry.name.endswith(".part")):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and time.time() - info.st_mtime > stale_after:
                    os.unlink(entry.path)
            except OSError:  # gone meanwhile, or not ours to remove
                pass


def download(
    info: DatasetInfo,
    remote: RemoteFile,
    folder: Path,
    progress: Callable[[DownloadProgress], None] | None = None,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> Path:
    """Fetch one file into `folder` (created if needed) and return its path once verified."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.name
    failures = []
    for base in info.mirrors:
        url = base.rstrip("/") + "/" + remote.name
        for attempt in range(1, attempts + 1):
            try:
                _fetch(url, target, remote, progress, timeout)
                return target
            except (_WrongFile, _TooSlow) as exc:
                failures.append(f"{url}: {exc}")
                break
            except urllib.error.HTTPError as exc:
                failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
                if exc.code < 500:
                    break  # not found / forbidden: the next mirror may have it
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{url}: {_describe(exc, timeout)}")
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
    raise DownloadError(
        f"could not download {remote.name} ({info.title}). Tried:\n"
        + "\n".join(f"  {line}" + (f" ({n} attempts)" if n > 1 else "") for line, n in _runs(failures))
        + f"\nTo supply the files by hand, fetch {', '.join(f.name for f in info.files)} from "
        + " or ".join(info.mirrors)
        + " on a machine with internet access, copy them into a folder here and pass --data-dir FOLDER"
        + f" (or put them in {folder})."
    )


def _fetch(url: str, target: Path, remote: RemoteFile, progress, timeout: float) -> None:
    # mkstemp creates with O_EXCL (never through a symlink someone left), os.replace swaps a link, not its target
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{remote.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            limit = deadline_for(remote.size)
            with _Deadline(limit) as deadline:
                try:
                    digest = _receive(deadline.opener(), url, remote, out, progress, timeout)
                except (OSError, http.client.HTTPException):
                    if deadline.expired:
                        raise _TooSlow(f"too slow: not complete within {round(limit, 1):g} s ({DEADLINE_BASE:g} s"
                                       f" + 1 s per {MIN_RATE / 1000:g} kB for {remote.size:,} bytes)") from None
                    raise
            out.flush()
            os.fsync(out.fileno())
        if digest != remote.sha256:
            raise _WrongFile(f"SHA-256 mismatch: got {digest}, expected {remote.sha256}")
        os.replace(tmp, target)
        fsync_directory(target.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _receive(opener, url: str, remote: RemoteFile, out, progress, timeout: float) -> str:
    """Stream the response into `out`, checking its length; return its SHA-256."""
    digest = hashlib.sha256()
    done = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with opener.open(request, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) != remote.size:
            raise _WrongFile(f"server offers {int(announced):,} bytes, expected {remote.size:,}")
        while chunk := response.read(CHUNK):
            done += len(chunk)
            if done > remote.size:
                raise _WrongFile(f"more than the expected {remote.size:,} bytes")
            digest.update(chunk)
            out.write(chunk)
            if progress:
                progress(DownloadProgress(remote.name, done, remote.size))
    if done != remote.size:
        raise ConnectionError(f"connection closed after {done:,} of {remote.size:,} bytes")
    return digest.hexdigest()


class _Deadline:
    """Shuts down every connection an attempt opens once `seconds` have passed, which ends any read
    in progress: a per-read timeout alone lets a server dripping bytes (headers included) go on for ever."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's usual opener (proxies, redirects), its connections watched by this deadline."""
        return urllib.request.build_opener(_WatchedHTTPHandler(self),
                                           urllib.request.HTTPSHandler(context=self._tls_context()))

    def _tls_context(self) -> ssl.SSLContext:
        """The default context, its sockets watched from before the handshake (which a server can drip too)."""
        deadline = self

        class WatchedTLSSocket(ssl.SSLSocket):
            def do_handshake(self, *args, **kwargs):
                deadline.watch(self)
                super().do_handshake(*args, **kwargs)

        context = ssl.create_default_context()
        context.set_alpn_protocols(["http/1.1"])  # as http.client sets on its own default context
        context.sslsocket_class = WatchedTLSSocket
        return context

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: under TLS too, without touching TLS state
    except OSError:  # already closed
        pass


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        deadline = self.deadline

        class Watched(http_class):
            def connect(self):
                super().connect()  # one connect call: bounded by the per-read timeout
                deadline.watch(self.sock)

        return super().do_open(Watched, req, **kwargs)


def _runs(lines: list[str]) -> list[tuple[str, int]]:
    """Collapse repeated consecutive lines into (line, count)."""
    runs: list[tuple[str, int]] = []
    for line in lines:
        if runs and runs[-1][0] == line:
            runs[-1] = (line, runs[-1][1] + 1)
        else:
            runs.append((line, 1))
    return runs


def _describe(exc: BaseException, timeout: float) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket error
    if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed after {len(exc.partial):,} bytes"
    return str(reason or exc) or type(exc).__name__
