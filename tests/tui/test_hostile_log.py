"""An attached monitor keeps going through whatever is appended to the run's log (issue 13)."""
from __future__ import annotations

import json

from engine import events as ev
from engine.runs import event_record
from tests.fakes import FAKE_CONFIG, write_run
from tests.tui.harness import message_text, run_async, running, screen_text, wait_until
from tui.app import BackpropApp
from tui.session import AttachedSession

OSC52 = "\x1b]52;c;ZWNobyBoYWNrZWQ=\x1b\\"  # would write the viewer's clipboard
HOSTILE_LINES = [
    json.dumps({"event": "LayerStats", "iteration": 5, "layers": [1]}),
    json.dumps({"event": "ParamChanged", "name": "seed", "old": 0, "new": 1, "iteration": 5}),
    json.dumps({"event": "Paused", "iteration": "x"}),
    json.dumps({"event": "Finished", "iteration": 5, "seconds": "x"}),
    "[" * 5000,
]


@run_async
async def test_odd_records_are_skipped_and_counted_and_text_is_shown_as_text(tmp_path):
    run = write_run(tmp_path, 0.1, [2.0, 1.0, 0.5], [0.6], finished=False)
    app = BackpropApp(AttachedSession(FAKE_CONFIG, run))
    shown = []  # every notification as Textual adds it (when its Notify message is handled), kept
    add = app._notifications.add
    app._notifications.add = lambda notification: (shown.append(notification), add(notification))[1]
    async with running(app, wait_ready=False, ticking=True) as pilot:
        await wait_until(pilot, lambda: app.monitor.iteration == 3, what="the run's history")
        failed = ev.Failed(f"boom {OSC52} [link=https://evil.example]click here[/link] [bold red]loud[/] [/oops]")
        with open(run / "events.jsonl", "a") as f:
            f.write("\n".join(HOSTILE_LINES + [json.dumps(event_record(ev.BatchDone(4, 0.4, 0.4, 0.1, 1000.0))),
                                               json.dumps(event_record(failed))]) + "\n")
        await wait_until(pilot, lambda: app.monitor.state == "failed", what="the Failed record after the damage")
        assert app.is_running and app.monitor.iteration == 4  # the good records around the damage arrive
        await wait_until(pilot, lambda: "damaged records skipped" in message_text(app) or app.monitor.message,
                         what="the count")
        assert app.monitor.damaged.startswith("the run's log: 5 damaged records skipped (first: line ")
        await wait_until(pilot, lambda: any(n.title == "Training failed" for n in shown), what="the toast")
        (toast,) = [n for n in shown if n.title == "Training failed"]
        assert "[link=https://evil.example]click here[/link] [bold red]loud[/]" in toast.message
        assert toast.markup is False  # shown as text: a link or an unbalanced [/] is not interpreted
        assert "\x1b" not in toast.message and "\x1b" not in app.monitor.message
        await pilot.pause(0.2)
        assert "\x1b" not in screen_text(app)
