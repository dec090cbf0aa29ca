"""Runs from the app: logged with checkpoints (c), resumed, exported (x), browsed (o), and attached to."""
from __future__ import annotations

import os

from engine import events as ev
from engine.trainer import Trainer
from tests.conftest import mnist_folder
from tests.fakes import FAKE_CONFIG, REAL, TINY, gradcheck_rows, points, tiny_loader, write_run
from tests.tui.harness import (
    fake_app,
    notifications,
    press,
    run_async,
    running,
    screen_text,
    settle,
    status_text,
    wait_until,
)
from tui.app import BackpropApp
from tui.session import AttachedSession, LocalSession


@run_async
async def test_a_run_started_in_the_app_is_logged_and_c_saves_a_checkpoint(tmp_path):
    from engine.runs import checkpoints, read_events

    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path)))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        (run,) = list(tmp_path.iterdir())
        await press(pilot, "c")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in notifications(app)), what="the save")
        assert [p.name for p in checkpoints(run)][-1] == "ckpt-000000030-manual.npz"  # kept apart from rotation
        await press(pilot, "r", "y")  # a reset ends the run: its log is closed
        await settle(pilot)
    assert [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"] == list(range(1, 31))
    assert len(list(tmp_path.iterdir())) == 1  # the reset run was not started, so it has no directory


@run_async
async def test_resume_replays_the_curves_and_continues_the_same_run(tmp_path):
    from engine.cli import main
    from engine.runs import checkpoints, read_events

    data = mnist_folder(tmp_path / "data", TINY)

    assert main(["train", "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs"), "--hidden", "16",
                 "--batch-size", "20", "--iters", "30", "--checkpoint-every", "0"]) == 0
    (run,) = list((tmp_path / "runs").iterdir())
    checkpoints(run)[-1].unlink()  # as if killed before the final checkpoint: resume from an earlier one
    start = int(checkpoints(run)[-1].stem.split("-")[1])
    app = BackpropApp(LocalSession(FAKE_CONFIG, str(data), resume=run))
    async with running(app, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "idle" and len(app.monitor.losses), what="the replay")
        assert points(app.monitor.losses)[0] == list(range(1, start + 1)) and app.monitor.accuracy
        assert app.pending.iters == 30 and app.pending.hidden_sizes == (16,)
        assert "784-16-10" in status_text(app)  # the run's network, not the flags' default
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        assert points(app.monitor.losses)[0] == list(range(1, 31))  # one curve: no gap, no repeat
        app.session.stop()
    assert [r["iteration"] for r in read_events(run) if r["event"] == "BatchDone"] == list(range(1, 31))


@run_async
async def test_x_exports_metrics_and_the_screen_into_the_run(tmp_path):
    import csv

    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path)))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "x")
        assert any("No run to export" in str(n.message) for n in notifications(app))
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await press(pilot, "x")
        await wait_until(pilot, lambda: any(n.title == "Exported" for n in notifications(app)), what="the export")
        (run,) = list(tmp_path.iterdir())
        with open(run / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["step"]) for r in rows] == list(range(0, 31))
        assert (run / "screen-000000030.svg").read_text().startswith("<svg")


@run_async
async def test_attach_follows_a_log_another_process_writes_and_steers_it(tmp_path):
    from engine.config import TrainConfig as Config
    from engine.run_lock import RunLock
    from engine.runs import RunLog, new_run_dir

    config = Config(hidden_sizes=(16,), iters=100_000, batch_size=20, preview_count=0)
    run = new_run_dir(tmp_path, config, "784-16-10")
    lock = RunLock(run)
    log = RunLog(run)
    writer = Trainer(TINY, config, log)  # stands for the other process: it writes the same log
    log.attach(writer)
    writer.start()
    try:
        app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
        async with running(app, wait_ready=False, ticking=True) as pilot:
            await wait_until(pilot, lambda: app.monitor.state == "running" and len(app.monitor.losses),
                             what="the attached run's events")
            seen = app.monitor.iteration
            await wait_until(pilot, lambda: app.monitor.iteration > seen + 10, what="new events")
            assert f"attached to pid {os.getpid()}" in status_text(app)
            iterations = points(app.monitor.losses)[0]
            assert iterations == list(range(1, len(iterations) + 1))
            assert app.pending.hidden_sizes == (16,)  # the run's settings, not this monitor's flags

            await press(pilot, "space")  # through the run's command file to the writer
            await wait_until(pilot, lambda: writer.state == "paused" and app.monitor.state == "paused",
                             what="the writer to pause")
            paused_at = writer.iteration
            await press(pilot, "s")
            await wait_until(pilot, lambda: app.monitor.iteration == paused_at + 1, what="one step")
            await press(pilot, "right_square_bracket")
            await wait_until(pilot, lambda: writer.config.lr == 0.2 and app.monitor.lr == 0.2,
                             what="the new learning rate")
            await press(pilot, "space")
            await wait_until(pilot, lambda: app.monitor.state == "running", what="the writer to resume")

            writer.stop()  # the other process ends: nothing listens any more
            log.close()
            lock.release()
            await wait_until(pilot, lambda: "read-only: no process trains it now" in status_text(app),
                             what="the monitor to see the writer gone")
            assert app.monitor.state == "stopped"
            await press(pilot, "space")
            assert any(n.title == "Not sent" and "--resume" in str(n.message) for n in notifications(app))
    finally:
        writer.stop()
        log.close()
        lock.release()


@run_async
async def test_run_browser_lists_runs_opens_one_and_overlays_two(tmp_path):
    import time as clock

    from tui.screens.runs_screen import RunsScreen
    from tui.widgets.run_curves import RunCurves

    first = write_run(tmp_path, 0.1, [2.3, 1.0, 0.5, 0.2] * 5, [0.5, 0.9], finished=True)
    clock.sleep(1.05)  # run names carry the start second
    second = write_run(tmp_path, 0.02, [2.3, 2.0, 1.8] * 4, [0.3], finished=False)
    app = fake_app()
    app.session.runs_dir = str(tmp_path)
    async with running(app, size=(80, 24)) as pilot:
        await press(pilot, "o")
        assert isinstance(app.screen, RunsScreen)
        await wait_until(pilot, lambda: len(app.screen.runs) == 2, what="the runs to be read")
        await pilot.pause()
        text = screen_text(app)
        assert "2 runs in" in text
        row_new = next(line for line in text.splitlines() if "lr 0.02" in line)
        row_old = next(line for line in text.splitlines() if "lr 0.1 " in line)
        assert text.index(row_new) < text.index(row_old)  # newest first
        assert "mnist 784-16-10" in row_old and "20" in row_old and "90.00%" in row_old and "finished" in row_old
        assert "12" in row_new and "30.00%" in row_new and "stopped" in row_new  # no process: resumable
        loss, accuracy = app.screen.query(RunCurves)
        assert [r.path for r in loss.runs] == [second]  # the highlighted run's curves
        await press(pilot, "down")
        assert [r.path for r in loss.runs] == [first] and [r.path for r in accuracy.runs] == [first]
        await press(pilot, "space", "up", "space")  # mark both: their curves overlaid
        assert [r.path for r in loss.runs] == [first, second]
        await pilot.pause()
        assert "1 vs 2" in screen_text(app)
        assert app.monitor.state == "idle"  # space marked runs: it did not start training
        await press(pilot, "space")  # unmark the second
        assert [r.path for r in loss.runs] == [first]
        await press(pilot, "s", "5", "r")  # the monitor's keys wait while the browser is on top
        assert app.monitor.state == "idle" and app.tabs.active == "monitor" and isinstance(app.screen, RunsScreen)
        await press(pilot, "down", "space", "enter")  # enter: the highlighted run alone, marks dropped
        assert [r.path for r in loss.runs] == [first] and app.screen.marked == []
        await press(pilot, "escape")
        assert not isinstance(app.screen, RunsScreen)


@run_async
async def test_run_browser_opens_the_tensorboard_logs_under_the_runs_folder(tmp_path):
    """v: event files in the runs folder (an exported run's, a PyTorch job's) in the viewer; esc comes back,
    and the monitor's keys wait meanwhile."""
    from engine import tfevents as tf
    from tui.screens.runs_screen import RunsScreen
    from tui.screens.tensorboard_screen import TensorBoardScreen

    write_run(tmp_path, 0.1, [2.3, 1.0], [0.5], finished=True)
    job = tmp_path / "Dec07_13-00-00_host"  # where PyTorch's SummaryWriter writes by default: ./runs/<date_host>
    job.mkdir()
    (job / "events.out.tfevents.1.host").write_bytes(tf.frame(tf.event(3, 1.0, [tf.scalar("Loss/train", 0.25)])))
    app = fake_app()
    app.session.runs_dir = str(tmp_path)
    async with running(app, size=(100, 30)) as pilot:
        await press(pilot, "o", "v")
        assert isinstance(app.screen, TensorBoardScreen)
        await wait_until(pilot, lambda: "0.25 @ 3" in screen_text(app), what="the job's scalar")
        assert "Dec07_13-00-00_host" not in app.screen.state.tags()
        assert dict(app.screen.state.of("Loss/train")).keys() == {"Dec07_13-00-00_host"}
        await press(pilot, "space", "s")
        assert app.monitor.state == "idle"
        await press(pilot, "escape")
        assert isinstance(app.screen, RunsScreen)


@run_async
async def test_run_browser_with_no_runs_says_where_they_come_from(tmp_path):
    app = fake_app()
    app.session.runs_dir = str(tmp_path / "none")
    async with running(app, size=(80, 24)) as pilot:
        await press(pilot, "o")
        await wait_until(pilot, lambda: "No runs in" in screen_text(app), what="the empty list")
        assert "python -m engine train" in screen_text(app)


@run_async
async def test_an_attached_monitor_starts_over_when_a_resume_rewrites_the_log(tmp_path):
    import json

    from engine.runs import event_record, truncate_log

    run = write_run(tmp_path, 0.1, [2.0, 1.5, 1.2, 1.0, 0.9, 0.8], [0.5], finished=False)
    with open(run / "events.jsonl", "a") as f:
        f.write(json.dumps(event_record(ev.GradCheckDone(gradcheck_rows([784, 16, 10]), 6, 0.01))) + "\n")
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.iteration == 6 and app.monitor.gradcheck_iteration == 6,
                         what="the run's log")
        truncate_log(run, 4)  # another process resumed the run from a checkpoint at iteration 4
        with open(run / "events.jsonl", "a") as f:
            f.write(json.dumps(event_record(ev.BatchDone(5, 0.5, 0.7, 0.1, 1000.0))) + "\n")
        await wait_until(pilot, lambda: points(app.monitor.losses)[0] == [1, 2, 3, 4, 5], what="the rewritten log")
        assert points(app.monitor.losses)[1][-1] == 0.7 and app.monitor.gradcheck_iteration is None
        await wait_until(pilot, lambda: "gradient check: press g" in screen_text(app), what="the stale check gone")


@run_async
async def test_attaching_to_an_ended_run_replays_it_without_notifications(tmp_path):
    import json

    from engine.runs import event_record

    run = write_run(tmp_path, 0.1, [2.0, 1.0, 0.5], [0.6], finished=True)
    with open(run / "events.jsonl", "a") as f:
        f.write(json.dumps(event_record(ev.WriteFailed("x.npz", "disk full"))) + "\n")
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.state == "finished", what="the run's history")
        await pilot.pause(0.3)
        assert notifications(app) == []  # history, not news
        with open(run / "events.jsonl", "a") as f:  # something new: that one is news
            f.write(json.dumps(event_record(ev.WriteFailed("y.npz", "disk full"))) + "\n")
        await wait_until(pilot, lambda: any("y.npz" in str(n.message) for n in notifications(app)),
                         what="the new event's notification")


@run_async
async def test_the_app_keeps_as_many_checkpoints_as_asked(tmp_path):
    from engine.runs import CheckpointPolicy, checkpoints
    from tui.cli import build_parser

    assert build_parser().parse_args(["--keep-checkpoints", "1"]).keep_checkpoints == 1
    app = BackpropApp(LocalSession(REAL, loader=tiny_loader, trainer_factory=Trainer, runs_dir=str(tmp_path),
                                   checkpoints=CheckpointPolicy(keep=1, every=0)))
    async with running(app, ticking=True) as pilot:
        await press(pilot, "space")
        await wait_until(pilot, lambda: app.monitor.state == "finished", timeout=20, what="the run to finish")
        await press(pilot, "c")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in notifications(app)), what="the save")
        (run,) = list(tmp_path.iterdir())
        # The epochs' ones pruned to the newest; the one asked for by hand is not rotated.
        assert [p.name for p in checkpoints(run)] == ["ckpt-000000030.npz", "ckpt-000000030-manual.npz"]
