"""The event flow: the app's 0.1 s timer drains the trainer's queue by itself (other tests drain it with settle())."""
from __future__ import annotations

from tests.tui.harness import fake_app, run_async, running, status_text, wait_until


@run_async
async def test_the_timer_drains_the_queue_without_help():
    app = fake_app()
    async with running(app, wait_ready=False) as pilot:
        # Only the app's 0.1 s ticks drain the queue here: DatasetReady arrives by itself.
        await wait_until(pilot, lambda: app.monitor.state == "idle", what="the timer to drain DatasetReady")
        assert app.monitor.architecture == "784-50-10"
        await pilot.press("space")
        await wait_until(pilot, lambda: app.monitor.state == "running", what="the timer to drain Started")
        assert "RUNNING" in status_text(app)
