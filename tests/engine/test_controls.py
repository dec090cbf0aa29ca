"""The Controls protocol: the trainer, the remote controls and the tests' fake steer a run alike."""
from __future__ import annotations

import inspect

import pytest

from engine.config import ConfigError, TrainConfig
from engine.control import CommandInbox, RemoteTrainer
from engine.controls import LIVE_SETTINGS, Controls, RunState
from engine.run_lock import RunLock
from engine.runs import new_run_dir
from engine.trainer import Trainer
from tests.conftest import make_dataset
from tests.fakes import ScriptedTrainer

CONFIG = TrainConfig(hidden_sizes=(8,), iters=100, batch_size=10, preview_count=0)
CONTROLS = [name for name, member in vars(Controls).items() if not name.startswith("_") and callable(member)]


@pytest.fixture(params=["Trainer", "ScriptedTrainer", "RemoteTrainer"])
def controls(request, tmp_path):
    """Each implementation, with a way to see that a refused call changed nothing: () -> what it would change."""
    if request.param == "RemoteTrainer":
        run = new_run_dir(tmp_path, CONFIG, "784-8-10")
        lock = RunLock(run)  # this process listens, so a command that got through would be written
        CommandInbox(run, Trainer(make_dataset(), CONFIG), lambda i: run)
        yield RemoteTrainer(run), lambda: (run / "commands.jsonl").read_bytes()
        lock.release()
        return
    events = []
    trainer = (Trainer if request.param == "Trainer" else ScriptedTrainer)(make_dataset(), CONFIG, events.append)
    queued = trainer._commands if isinstance(trainer, Trainer) else trainer._queued  # not started: commands wait
    yield trainer, lambda: (trainer.config, list(queued), list(events))
    trainer.stop()


def test_the_protocol_lists_the_controls():
    assert CONTROLS == ["pause", "resume", "step", "set", "request_gradcheck", "request_evaluation",
                        "request_checkpoint"]


def test_each_implementation_has_the_protocols_controls_with_its_signatures(controls):
    implementation, _ = controls
    assert isinstance(implementation, Controls)
    assert isinstance(implementation.state, RunState)
    for name in CONTROLS:
        expected = inspect.signature(getattr(Controls, name)).parameters
        actual = inspect.signature(getattr(type(implementation), name)).parameters
        assert [(p.name, p.kind, p.default) for p in actual.values()] == \
               [(p.name, p.kind, p.default) for p in expected.values()], (type(implementation).__name__, name)


def test_an_unknown_setting_is_refused_naming_the_live_ones_and_changes_nothing(controls):
    implementation, changes = controls
    before = changes()
    for name in ("seed", "hidden_sizes", "set_lr", None):
        with pytest.raises(ValueError, match="the live settings are " + ", ".join(LIVE_SETTINGS)):
            implementation.set(name, 3)
    assert changes() == before


@pytest.mark.parametrize("name, value", [("lr", 0), ("lr", "fast"), ("batch_size", -5), ("optimizer", "rmsprop"),
                                         ("gradcheck_every", -1), ("insight_every", 1.5)])
def test_a_bad_value_is_refused_naming_its_setting_and_changes_nothing(controls, name, value):
    implementation, changes = controls
    before = changes()
    with pytest.raises(ConfigError) as info:
        implementation.set(name, value)
    assert list(info.value.problems) == [name]
    assert changes() == before


def test_a_checkpoint_path_is_required_locally_and_refused_remotely(controls, tmp_path):
    """Only the process that keeps the run's log knows where its manual checkpoints go."""
    implementation, changes = controls
    before = changes()
    if isinstance(implementation, RemoteTrainer):
        with pytest.raises(ValueError, match="names its checkpoints"):
            implementation.request_checkpoint(tmp_path / "ckpt.npz")
    else:
        with pytest.raises(ValueError, match="say where"):
            implementation.request_checkpoint()
    assert changes() == before


def test_the_run_states_read_as_their_plain_words():
    assert RunState.PAUSED == "paused" and f"{RunState.DIVERGED}" == "diverged" and RunState("idle") is RunState.IDLE
    trainer = ScriptedTrainer(make_dataset(), CONFIG)
    trainer.start(paused=True)
    assert trainer.state == "paused" and trainer.state is RunState.PAUSED
