"""The run browser follows a running run: its row and curves change as its summary does, and its end shows."""
from __future__ import annotations

from engine import events as ev
from engine.run_lock import RunLock
from engine.runs import RunLog, new_run_dir
from tests.fakes import FAKE_CONFIG
from tests.tui.harness import fake_app, press, run_async, running, screen_text, wait_until


def row(app, name: str = "784-50-10") -> str:
    return next(line for line in screen_text(app).splitlines() if name in line)


@run_async
async def test_the_run_browser_updates_a_running_runs_row_and_curves_while_it_is_open(tmp_path):
    from tui.widgets.run_curves import RunCurves

    log = RunLog(new_run_dir(tmp_path, FAKE_CONFIG, "784-50-10"))
    lock = RunLock(log.run_dir)  # trained by "another process"
    for event in [ev.Started(FAKE_CONFIG, "784-50-10", "mnist", 100, 50),
                  *(ev.BatchDone(i, i / 10, 1 / i, 0.1, 1e3) for i in range(1, 11)), ev.EpochDone(1, 10, 0.5, 0.4)]:
        log(event)
    log.save_summary()
    app = fake_app()
    app.session.runs_dir = str(tmp_path)
    try:
        async with running(app) as pilot:
            await press(pilot, "o")
            await wait_until(pilot, lambda: len(app.screen.runs) == 1, what="the run to be listed")
            loss, accuracy = app.screen.query(RunCurves)
            await wait_until(pilot, lambda: loss.runs[0].curves is not None, what="its curves, read on demand")
            assert "40.00%" in row(app) and "running" in row(app) and loss.runs[0].curves.loss.middles()[-1] == 10
            for event in [*(ev.BatchDone(i, i / 10, 1 / i, 0.1, 1e3) for i in range(11, 21)), ev.EpochDone(2, 20, 0.6, 0.55)]:
                log(event)
            log.save_summary()  # as the run's housekeeper does each second
            app.screen.poll()  # as its timer does every POLL_EVERY seconds
            await wait_until(pilot, lambda: "55.00%" in row(app) and " 20 " in row(app), what="the row's news")
            await wait_until(pilot, lambda: loss.runs[0].curves.loss.middles()[-1] == 20, what="the new curves")
            assert [a[0] for a in accuracy.runs[0].curves.accuracy] == [10, 20]
            lock.release()  # its process ended without finishing
            app.screen.poll()
            await wait_until(pilot, lambda: "stopped" in row(app), what="the run's end")
    finally:
        lock.release()
        log.close()
