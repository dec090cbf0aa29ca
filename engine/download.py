"""Downloading dataset files: stream to a temp file, verify size and SHA-256, rename.

Each mirror is tried in order; transient failures (timeouts, dropped
connections, server errors) are retried with backoff first. A file that fails
verification is deleted, so the cache only ever holds complete, verified files.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .atomic import fsync_directory
from .registry import DatasetInfo, RemoteFile

TIMEOUT = 30.0  # seconds allowed for connecting and for each read
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
            except _WrongFile as exc:
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
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{remote.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        done = 0
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
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
            out.flush()
            os.fsync(out.fileno())
        if done != remote.size:
            raise ConnectionError(f"connection closed after {done:,} of {remote.size:,} bytes")
        if digest.hexdigest() != remote.sha256:
            raise _WrongFile(f"SHA-256 mismatch: got {digest.hexdigest()}, expected {remote.sha256}")
        os.replace(tmp, target)
        fsync_directory(target.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
