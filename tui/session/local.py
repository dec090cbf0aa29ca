"""A run trained in this process: dataset, config, trainer and the event queue.

It knows nothing of widgets. The trainer's sink and the dataset loader append
to one deque (append and popleft are thread-safe); the app drains it on a timer.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from engine.checkpoint import Checkpoint, CheckpointError
from engine.config import TrainConfig
from engine.control import commands_size
from engine.controls import RunState
from engine.dataset import Dataset, DatasetError
from engine.events import CheckpointSaved, WriteFailed
from engine.loader import cached_files, load_dataset
from engine.registry import dataset_info
from engine.run_lock import RunLock
from engine.runs import (
    CheckpointPolicy,
    RecordsSkipped,
    RunLog,
    history,
    latest_checkpoint,
    new_run_dir,
    recorded_data_dir,
    truncate_log,
)
from engine.trainer import Trainer

from ..messages import DatasetReady, DatasetUnavailable, DatasetWarning, ParametersUnavailable

TrainerFactory = Callable[[Dataset, TrainConfig, Callable], Trainer]
Loader = Callable[..., Dataset]


class LocalSession:
    ended_hint = "press r to reset."
    reset_refusal = None
    setting_refusal = None
    settings_from_run = False  # settings asked for wait for a reset; the run's do not replace them
    missing_views: dict[str, str] = {}
    replaying = False  # a resumed run's history arrives as ordinary events, once

    def __init__(
        self,
        config: TrainConfig,
        data_dir: str | None = None,
        trainer_factory: TrainerFactory = Trainer,
        loader: Loader = load_dataset,
        runs_dir: str | None = None,
        resume: Path | None = None,
        checkpoints: CheckpointPolicy = CheckpointPolicy(),
    ):
        """`runs_dir`: where each run started here writes its event log and checkpoints (None: nowhere).

        `resume`: a run directory to continue from its latest checkpoint, its curves replayed from its log;
        its lock is taken at once (RunBusy when another process trains it) and held until the run ends here.
        Its data comes from `data_dir`, else from the folder its config.json records.
        """
        self.config = config
        self._folders: dict[str, str] = {}  # dataset -> its --data-dir, kept while another dataset is used
        self.runs_dir = runs_dir
        self.checkpoints = checkpoints  # how often each run started here saves itself, and how many it keeps
        self.resume = resume
        self.lock: RunLock | None = None  # held while this process trains a run (a new one, or the resumed)
        self._commands_from: int | None = None  # the command file's length when the lock was taken
        if resume is not None:
            self._lock_run(resume)
            data_dir = data_dir if data_dir is not None else recorded_data_dir(resume)
        self.data_dir = data_dir
        self.run_log: RunLog | None = None  # the current run's, from its start
        self.dataset: Dataset | None = None
        self.trainer: Trainer | None = None
        self.events: deque = deque()
        self._trainer_factory = trainer_factory
        self._loader = loader
        self._generation = 0  # events of a trainer from before the last reset are dropped
        self._ending = threading.Lock()  # quit on the UI thread and a hang-up in its own may both end the run
        self.write_failure: WriteFailed | None = None  # the last checkpoint, on ending, could not be written

    # ---- data ---------------------------------------------------------------------------

    def load(self) -> None:
        """Load (and if needed download) the configured dataset in a background thread."""
        threading.Thread(target=self._load, name="backprop-loader", daemon=True).start()

    def _load(self) -> None:
        try:
            checkpoint = None
            if self.resume is not None:
                checkpoint = latest_checkpoint(self.resume, warn=lambda m: self.events.append(DatasetWarning(m)))
                self.config = checkpoint.config
            dataset = self._loader(self.config.dataset, self.data_dir, progress=self.events.append,
                                   warn=lambda message: self.events.append(DatasetWarning(message)))
            if checkpoint is not None:
                trainer = self._new_trainer(dataset, checkpoint)
                damaged = truncate_log(self.resume, checkpoint.iteration)  # what follows is made again
                replay = history(self.resume)
                if damaged.count:
                    replay.append(RecordsSkipped(damaged.count, damaged.first))
        except (DatasetError, CheckpointError) as exc:
            self.events.append(DatasetUnavailable(str(exc)))
        except Exception as exc:  # an unexpected loader failure must still reach the screen
            self.events.append(DatasetUnavailable(f"{type(exc).__name__}: {exc}"))
        else:
            self.dataset = dataset
            self.trainer = trainer if checkpoint is not None else self._new_trainer(dataset)
            self.events.append(DatasetReady(dataset, self.config))
            if checkpoint is not None:
                self.events.extend(replay)

    def source_note(self, dataset: str) -> str | None:
        """Where `dataset` would load from on a reset, when that is worth saying (no network is asked)."""
        folder = self.data_dir if dataset == self.config.dataset else self._folders.get(dataset)
        if folder is not None:
            return f"from {folder}"
        if "missing" in cached_files(dataset_info(dataset)).values():
            return "not in the cache: r downloads it (needs internet)"
        return None

    def _new_trainer(self, dataset: Dataset, checkpoint: Checkpoint | None = None) -> Trainer:
        generation = self._generation

        def sink(event) -> None:
            if generation == self._generation:
                (self.run_log or self.events.append)(event)

        if checkpoint is not None:
            return Trainer.from_checkpoint(dataset, checkpoint, sink)
        return self._trainer_factory(dataset, self.config, sink)

    def drain(self) -> list:
        """Every event queued since the last call, oldest first."""
        events = []
        while self.events:
            events.append(self.events.popleft())
        return events

    # ---- controls -----------------------------------------------------------------------

    def _lock_run(self, run_dir: Path) -> None:
        self.lock = RunLock(run_dir)
        self._commands_from = commands_size(run_dir)

    def _release_run(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def ensure_started(self, paused: bool) -> bool:
        """Start the worker if it is not yet running; False when there is nothing to start.

        Also False, with a WriteFailed queued, when the new run's folder cannot be made or written.
        """
        if self.trainer is None:
            return False
        if self.trainer.state == RunState.IDLE:
            run_dir = self.resume
            try:
                if run_dir is None and self.runs_dir is not None:
                    architecture = self.trainer.network.architecture
                    run_dir = new_run_dir(self.runs_dir, self.config, architecture, self.data_dir)
                    self._lock_run(run_dir)
                if run_dir is not None:  # a resumed run goes on writing into its own directory
                    self.run_log = RunLog(run_dir, self.events.append, self.checkpoints)
            except OSError as exc:
                self._release_run()
                where = exc.filename or run_dir or self.runs_dir
                self.events.append(WriteFailed(str(where), exc.strerror or str(exc)))
                return False
            if self.run_log is not None:
                self.run_log.attach(self.trainer, self._commands_from)
            self.trainer.start(paused=paused)
        return True

    def checkpoint(self) -> bool:
        """Save a checkpoint of the current run (between batches if it runs); False without a run log."""
        if self.run_log is None or self.trainer is None:
            return False
        if self.trainer.alive:
            self.trainer.request_checkpoint(self.run_log.manual_checkpoint_path)
            return True
        try:
            path = self.run_log.save_now(self.trainer.checkpoint(), manual=True)
        except OSError as exc:
            self.events.append(WriteFailed(str(exc.filename or self.run_log.run_dir), exc.strerror or str(exc)))
        else:
            self.events.append(CheckpointSaved(str(path), self.trainer.iteration))
        return True

    def _end_run(self) -> None:
        """Stop the trainer; with a run log, save where it stopped, close the log and let the run go.

        From any thread. A last checkpoint that cannot be written is queued as WriteFailed (and kept in
        `write_failure`, for a message after the app has closed); the checkpoints before it are intact.
        """
        with self._ending:
            if self.trainer is not None:
                self.trainer.stop(timeout=2.0)
            if self.run_log is not None:
                if self.trainer is not None and not self.trainer.alive:
                    try:
                        self.run_log.save_now(self.trainer.checkpoint())
                    except OSError as exc:
                        self.write_failure = WriteFailed(str(exc.filename or self.run_log.run_dir),
                                                         exc.strerror or str(exc))
                        self.events.append(self.write_failure)
                self.run_log.close()
                self.run_log = None
            self._release_run()

    def request_parameters(self) -> None:
        if self.trainer is None:
            self.events.append(ParametersUnavailable("no network yet: the data is not loaded"))
        else:
            self.trainer.request_parameters()

    def export_dir(self) -> Path | None:
        if self.run_log is None:
            return None
        self.run_log.flush()
        return Path(self.run_log.run_dir)

    def connection(self) -> tuple[str, bool]:
        return "", True

    def quit_question(self, state: RunState) -> str | None:
        return "Training is running. Quit anyway?" if state == RunState.RUNNING else None

    def reset(self, config: TrainConfig) -> None:
        """Stop the current trainer and build a fresh one with `config` (a new dataset reloads)."""
        self._end_run()
        self._generation += 1
        self.resume = None  # a reset starts a new run
        old_dataset = self.config.dataset
        reload = config.dataset != old_dataset
        self.config = config
        self.events.clear()
        if reload or self.dataset is None:
            if reload:  # --data-dir holds one dataset: another comes from the cache, and going back finds it again
                if self.data_dir is not None:
                    self._folders[old_dataset] = self.data_dir
                self.data_dir = self._folders.get(config.dataset)
            self.dataset = self.trainer = None
            self.load()
            return
        self.trainer = self._new_trainer(self.dataset)
        self.events.append(DatasetReady(self.dataset, self.config))

    def stop(self) -> None:
        self._end_run()
