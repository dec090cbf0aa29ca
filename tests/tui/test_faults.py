"""Faults seen from the app: a full disk pauses the monitor, which stays up, and space tries again; a resume
finds the data folder the run recorded. The engine's side (CLI, run log, lock) is in tests/engine/test_faults.py.
"""
from __future__ import annotations

import errno
import os

from engine.cli import main
from engine.config import TrainConfig
from engine.run_lock import holder
from engine.trainer import Trainer
from tests.conftest import assert_whole_log, make_dataset


def test_the_app_resumes_from_the_recorded_data_folder(data_dir, tmp_path):
    from tui.session import LocalSession

    runs = tmp_path / "runs"
    assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(runs), "--iters", "10"]) == 0
    (run,) = runs.iterdir()
    session = LocalSession(TrainConfig(), resume=run)
    try:
        assert session.data_dir == str(data_dir.resolve()) and holder(run) == os.getpid()
        assert LocalSession(TrainConfig(), "/elsewhere", resume=None).data_dir == "/elsewhere"
    finally:
        session.stop()
    assert holder(run) is None  # ending the session lets the run go


# ---- a write failure pauses, the monitor stays up, space tries again -----------------------------


def test_the_app_pauses_on_a_full_disk_says_so_and_space_tries_again(tmp_path, monkeypatch):
    from tests.tui.harness import message_text, notifications, press, run_async, running, wait_until
    from tui.app import BackpropApp
    from tui.session import LocalSession

    toy = make_dataset(n_train=200, n_test=50, side=28)
    config = TrainConfig(hidden_sizes=(16,), iters=1_000_000, batch_size=20, preview_count=20)
    app = BackpropApp(LocalSession(config, loader=lambda *a, **k: toy, trainer_factory=Trainer, runs_dir=str(tmp_path)))
    full = {"on": False}
    real_write = os.write

    def write(fd, data):
        log = app.session.run_log
        if full["on"] and log is not None and fd == log._fd:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)

    @run_async
    async def scenario():
        async with running(app, ticking=True) as pilot:
            await press(pilot, "space")
            await wait_until(pilot, lambda: app.monitor.iteration > 20, timeout=20, what="training")
            full["on"] = True
            await wait_until(pilot, lambda: app.monitor.state == "paused", timeout=10, what="the pause")
            assert "No space left on device" in message_text(app) and "space" in message_text(app)
            assert any(n.title == "Cannot write: paused" for n in notifications(app))
            at = app.monitor.iteration
            full["on"] = False
            await press(pilot, "space")
            await wait_until(pilot, lambda: app.monitor.state == "running" and app.monitor.iteration > at + 20,
                             timeout=20, what="training to go on")
            assert "No space" not in message_text(app)
            await press(pilot, "space")
            await wait_until(pilot, lambda: app.monitor.state == "paused", timeout=10, what="a pause")

    scenario()
    app.session.stop()  # as python -m tui does after the app closes
    (run,) = tmp_path.iterdir()
    assert_whole_log(run)  # nothing made while the disk was full was lost
