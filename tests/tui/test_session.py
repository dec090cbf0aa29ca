"""The Session protocol: the app holds a local or an attached session alike."""
from __future__ import annotations

import inspect

import pytest

from engine.config import TrainConfig
from engine.controls import RunState
from tui.session import AttachedSession, LocalSession, Session

CONFIG = TrainConfig(hidden_sizes=(8,), iters=100)
METHODS = [name for name, member in vars(Session).items() if not name.startswith("_") and callable(member)]
ATTRIBUTES = [name for name in Session.__annotations__]


@pytest.fixture(params=["local", "attached"])
def session(request, tmp_path):
    if request.param == "local":
        yield LocalSession(CONFIG, str(tmp_path), runs_dir=str(tmp_path / "runs"))
    else:
        yield AttachedSession(CONFIG, tmp_path, runs_dir=str(tmp_path))


def test_the_protocol_lists_what_the_app_uses():
    assert METHODS == ["load", "drain", "ensure_started", "checkpoint", "export_dir", "connection", "quit_question",
                       "source_note", "request_parameters", "reset", "stop"]
    assert ATTRIBUTES == ["config", "dataset", "trainer", "runs_dir", "write_failure", "replaying", "ended_hint",
                          "reset_refusal", "setting_refusal", "settings_from_run", "missing_views"]


def test_each_session_has_every_member_with_its_signature(session):
    for name in ATTRIBUTES:
        assert hasattr(session, name), name
    for name in METHODS:
        expected = inspect.signature(getattr(Session, name)).parameters
        actual = inspect.signature(getattr(type(session), name)).parameters
        assert [(p.name, p.kind) for p in actual.values()] == [(p.name, p.kind) for p in expected.values()], name
    session.stop()


def test_before_any_run_there_is_nothing_to_export_or_ask(session):
    if isinstance(session, LocalSession):
        assert session.export_dir() is None  # no run started yet
        assert session.quit_question(RunState.IDLE) is None
    else:
        assert session.export_dir() == session.run_dir  # the followed run's own directory
        assert session.quit_question(RunState.RUNNING) is None  # it trains elsewhere
