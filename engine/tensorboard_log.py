"""A folder of TensorBoard event files (ours, PyTorch's SummaryWriter's, TensorFlow's), read as it grows.

Its runs are the folders that hold event files (the top folder and those below it, MAX_DEPTH deep, as
TensorBoard shows them); a run's files are read in name order. Symlinks are never followed (a linked
folder or file is passed over), at most MAX_FILES files in MAX_FOLDERS folders are read, new files are
looked for every SEARCH_EVERY polls, and each file's records are checked as engine.tfevents reads them:
damaged ones are skipped and counted.
Only scalars are read, so memory grows with the scalars alone, which the viewer keeps in bounded
summaries (engine.history.Pyramid).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .records import Skipped, plain
from .tfevents import RecordReader, decode_scalars, is_event_file

MAX_DEPTH = 4  # folders below the top one searched for runs
MAX_FILES = 512
MAX_FOLDERS = 4096  # looked into per search (--view ~ must not walk a whole home folder)
SEARCH_EVERY = 4  # polls between searches for new files (each poll reads the files found): 1 s in the viewer
MAX_TAG = 200  # characters of a tag or run name kept


@dataclass(frozen=True)
class Point:
    run: str  # the run's folder relative to the log folder (its own name for the files in it)
    tag: str
    step: int
    value: float


@dataclass
class TensorBoardLog:
    """Follows every event file under `logdir`; poll() gives the scalars added since the last poll."""

    logdir: Path
    readers: dict[Path, RecordReader] = field(default_factory=dict)
    run_names: dict[Path, str] = field(default_factory=dict)  # each file's run, named once
    unreadable: dict[Path, str] = field(default_factory=dict)  # files that could not be read at the last poll
    too_many_files: bool = False
    too_many_folders: bool = False
    links: int = 0  # symlinks met by the last search for files (not followed)
    polls: int = 0
    caught_up: bool = False  # every file was read to its end once

    def __post_init__(self):
        self.logdir = Path(self.logdir)

    @property
    def skipped(self) -> Skipped:
        """The damaged records skipped in all files: their number, and the first one's place and reason."""
        total = Skipped()
        for reader in self.readers.values():
            if reader.skipped.count:
                total.count += reader.skipped.count
                total.first = total.first or reader.skipped.first
        return total

    def problems(self) -> list[str]:
        """What is wrong with the files, as of the last poll: one note each."""
        notes = [str(self.skipped)] if self.skipped.count else []
        if self.unreadable:
            path, reason = next(iter(self.unreadable.items()))
            where = path.relative_to(self.logdir)
            notes.append(f"{len(self.unreadable)} file(s) unreadable (first: {where}: {reason})")
        if self.links:
            notes.append(f"{self.links} symlink{'s' * (self.links > 1)} not followed")
        if self.too_many_files or self.too_many_folders:
            notes.append(f"only the first {MAX_FILES} event files in {MAX_FOLDERS:,} folders are read")
        return notes

    def progress(self) -> tuple[int, int]:
        """(bytes read, bytes in the files) as of the last poll."""
        return sum(r.offset for r in self.readers.values()), sum(r.size for r in self.readers.values())

    def runs(self) -> list[str]:
        return sorted(set(self.run_names.values()))

    def run_name(self, path: Path) -> str:
        """The folder holding the file, relative to the log folder; the log folder's own name for its files."""
        relative = path.parent.relative_to(self.logdir)
        return one_line(str(relative) if relative.parts else self.logdir.resolve().name or "/")

    def poll(self) -> list[Point]:
        if self.polls % SEARCH_EVERY == 0:
            for path in self.find_files():
                if path not in self.readers:
                    self.readers[path], self.run_names[path] = RecordReader(path), self.run_name(path)
        self.polls += 1
        points, caught_up = [], True
        for path, reader in sorted(self.readers.items()):
            run = self.run_names[path]
            try:
                for step, values in reader.poll(scalars_of):
                    points += [Point(run, tag, step, value) for tag, value in values]
            except OSError as exc:  # gone, replaced by a symlink, forbidden: tried again at the next poll
                self.unreadable[path] = exc.strerror or str(exc)
                continue
            self.unreadable.pop(path, None)
            caught_up &= not reader.more
        self.caught_up = caught_up
        return points

    def find_files(self) -> list[Path]:
        """The event files under the log folder, no symlink followed, at most MAX_FILES in MAX_FOLDERS."""
        found: list[Path] = []
        folders, looked, links = [(self.logdir, 0)], 0, 0
        while folders and len(found) < MAX_FILES and looked < MAX_FOLDERS:
            folder, depth = folders.pop()
            looked += 1
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                if stat.S_ISLNK(mode) and (is_event_file(entry.name) or entry.is_dir()):  # (is_dir: a stat)
                    links += 1  # never followed (TensorBoard would follow it): said on the screen
                elif stat.S_ISDIR(mode) and depth < MAX_DEPTH and not entry.name.startswith("."):
                    folders.append((Path(entry.path), depth + 1))
                elif stat.S_ISREG(mode) and is_event_file(entry.name):
                    found.append(Path(entry.path))
        self.too_many_files = len(found) >= MAX_FILES
        self.too_many_folders = looked >= MAX_FOLDERS and bool(folders)
        self.links = links
        return found[:MAX_FILES]


def one_line(text: str) -> str:
    """A tag or run name as one line of plain text (no control characters, newlines or tabs), cut at MAX_TAG."""
    return plain(" ".join(text.splitlines()).replace("\t", " "))[:MAX_TAG]


def scalars_of(body: bytes) -> tuple[int, list[tuple[str, float]]] | None:
    """An event record's (step, [(tag, value)]), or None when it holds no scalar; Malformed when it is
    not an Event. Tags are made one line of plain text (one_line)."""
    event = decode_scalars(body)
    if not event.values:
        return None
    return event.step, [(one_line(tag), value) for tag, value in event.values]
