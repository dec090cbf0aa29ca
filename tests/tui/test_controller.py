"""The app's decisions without a terminal: requested settings, live or on reset, the reset question, attached rules."""
from __future__ import annotations

from types import SimpleNamespace

from engine import events as ev
from engine.config import TrainConfig
from engine.control import RemoteTrainer
from engine.controls import RunState
from tests.conftest import make_dataset
from tests.fakes import ScriptedTrainer
from tui.controller import RESET_QUESTION, Controller
from tui.messages import DatasetReady
from tui.session import AttachedSession, LocalSession
from tui.state import MonitorState

CONFIG = TrainConfig(hidden_sizes=(16,), iters=100)
TOY = make_dataset()
RULES = ("ended_hint", "reset_refusal", "setting_refusal", "settings_from_run")


def controller(trainer="scripted", attached=False, state="idle") -> Controller:
    """A controller over a stand-in session with the rules of the real local or attached one."""
    rules = AttachedSession if attached else LocalSession
    session = SimpleNamespace(config=CONFIG, dataset=None, resets=[], source_note=lambda dataset: f"from /data/{dataset}",
                              **{name: getattr(rules, name) for name in RULES})
    session.trainer = ScriptedTrainer(TOY, CONFIG) if trainer == "scripted" else trainer
    session.reset = session.resets.append
    monitor = MonitorState(CONFIG)
    monitor.state = state
    return Controller(session, monitor)


def test_training_waits_for_data_and_an_ended_run_says_how_to_go_on():
    assert controller(trainer=None).why_not_train() == "The dataset is still loading."
    assert controller().why_not_train() is None
    assert "press r to reset" in controller(state="finished").why_not_train()
    assert "--resume" in controller(state="failed", attached=True).why_not_train()


def test_a_live_setting_goes_to_the_trainer_and_a_refused_one_changes_nothing():
    c = controller()
    verdict = c.submit("lr", 0.05)
    assert verdict.note == "applies at the next batch" and verdict.live and c.pending.lr == 0.05
    refused = c.submit("lr", -1.0)
    assert refused.error and "learning rate" in refused.error and c.pending.lr == 0.05
    assert c.submit("lr", 0.05).note == ""  # unchanged: nothing to say


def test_other_settings_wait_for_reset_which_asks_and_names_them():
    c = controller()
    assert c.reset_question() == RESET_QUESTION
    assert c.submit("dataset", "kmnist").note == "applies on reset (r); from /data/kmnist"
    assert c.submit("seed", 7).note == "applies on reset (r)"
    assert c.submit("seed", -7).error
    question = c.reset_question()
    assert question.startswith(RESET_QUESTION) and "seed 7" in question and "dataset kmnist" in question
    c.reset()
    assert c.session.resets == [c.pending] and c.pending.seed == 7


def test_without_data_a_reset_asks_nothing_and_live_settings_wait_for_it():
    c = controller(trainer=None, state="unavailable")
    assert c.reset_question() is None
    assert c.submit("lr", 0.2).note == "applies on reset (r)" and c.pending.lr == 0.2


def test_attached_only_live_settings_reach_the_run_and_reset_is_refused(tmp_path):
    c = controller(trainer=RemoteTrainer(tmp_path), attached=True)
    assert "Attached" in c.reset_refusal() and controller().reset_refusal() is None
    assert c.submit("seed", 3).error == "attached: only the live settings (●) reach the run"
    assert "no process is training" in c.submit("lr", 0.2).error  # nothing listens in tmp_path


def test_requested_settings_follow_the_run():
    c = controller()
    assert not c.follow(ev.ParamChanged("lr", 0.1, 0.4, 12))
    assert c.pending.lr == 0.4  # changed elsewhere (an attached monitor, or these keys)
    resumed = CONFIG.with_changes(hidden_sizes=(32,))
    c.session.config = resumed
    assert c.follow(DatasetReady(TOY, resumed))  # a resumed run brings its own settings
    assert c.pending == resumed == c.state.config


def test_an_attached_run_nobody_trains_is_shown_stopped_and_quitting_never_asks(tmp_path):
    session = AttachedSession(CONFIG, tmp_path)  # no process listens on tmp_path's channel
    c = Controller(session, MonitorState(CONFIG))
    c.state.state = RunState.RUNNING
    assert c.status_note() == "attached, read-only: no process trains it now"
    assert c.state.state == RunState.STOPPED
    c.state.state = RunState.RUNNING
    assert c.quit_question() is None  # the run goes on in its own process


def test_a_local_run_asks_before_quitting_only_while_it_trains(tmp_path):
    session = LocalSession(CONFIG, str(tmp_path))
    c = Controller(session, MonitorState(CONFIG))
    c.state.state = RunState.RUNNING
    assert c.status_note() == "" and c.state.state == RunState.RUNNING
    assert c.quit_question() == "Training is running. Quit anyway?"
    c.state.state = RunState.PAUSED
    assert c.quit_question() is None
