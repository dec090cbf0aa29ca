"""TrainConfig: the book's defaults, validation messages that name the field, with_changes, init."""
import dataclasses

import pytest

from engine.config import TrainConfig, parse_weight_init


def test_defaults_are_the_book_run():
    c = TrainConfig()
    assert c.dataset == "mnist"
    assert c.hidden_sizes == (50,)  # 784-50-10
    assert c.activation == "relu"
    assert c.weight_init == "0.01" and c.init == 0.01  # weight_init_std=0.01
    assert c.optimizer == "sgd"
    assert c.lr == 0.1
    assert c.batch_size == 100
    assert c.iters == 10_000
    assert c.epochs is None
    assert c.dtype == "float32"
    assert c.gradcheck_batch == 3  # the book checks 3 samples


def test_config_is_frozen():
    c = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 0.5


def test_hidden_sizes_list_becomes_tuple():
    c = TrainConfig(hidden_sizes=[100, 50])
    assert c.hidden_sizes == (100, 50)
    assert isinstance(c.hidden_sizes, tuple)


# (field, value, words the message must contain to name the field)
INVALID = [
    ("lr", 0, "learning rate"),
    ("lr", -1, "learning rate"),
    ("lr", "abc", "learning rate"),
    ("lr", float("nan"), "learning rate"),
    ("lr", 1000.0, "learning rate"),
    ("batch_size", 0, "batch size"),
    ("batch_size", 2.5, "batch size"),
    ("iters", 0, "iters"),
    ("hidden_sizes", (), "hidden sizes"),
    ("hidden_sizes", (0,), "hidden sizes"),
    ("hidden_sizes", (100000,), "hidden sizes"),
    ("hidden_sizes", (50, -3), "hidden sizes"),
    ("hidden_sizes", (50.0,), "hidden sizes"),
    ("hidden_sizes", (True,), "hidden sizes"),
    ("hidden_sizes", (10,) * 9, "hidden sizes"),
    ("activation", "tanh", "activation"),
    ("optimizer", "rmsprop", "optimizer"),
    ("weight_init", "abc", "weight init"),
    ("weight_init", "-1", "weight init"),
    ("weight_init", "0", "weight init"),
    ("weight_init", "nan", "weight init"),
    ("dtype", "int8", "dtype"),
    ("seed", -1, "seed"),
    ("epochs", 0, "epochs"),
    ("gradcheck_batch", 0, "gradcheck batch"),
]


@pytest.mark.parametrize("field, value, words", INVALID, ids=[f"{f}={v!r}"[:40] for f, v, _ in INVALID])
def test_invalid_values_raise_value_error_naming_the_field(field, value, words):
    with pytest.raises(ValueError) as info:
        TrainConfig(**{field: value})
    message = str(info.value)
    assert words in message
    if field != "hidden_sizes":  # (hidden sizes report the offending entry or count; see below)
        assert f"got {value!r}" in message
    assert set(info.value.problems) == {field}


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("lr", 0, "got 0"),
        ("lr", "abc", "got 'abc'"),
        ("hidden_sizes", (), "got 0"),
        ("hidden_sizes", (0,), "got 0"),
        ("hidden_sizes", (100000,), "got 100000"),
        ("activation", "tanh", "got 'tanh'"),
        ("optimizer", "rmsprop", "got 'rmsprop'"),
        ("weight_init", "-1", "got '-1'"),
        ("dtype", "int8", "got 'int8'"),
        ("batch_size", 0, "got 0"),
    ],
)
def test_messages_say_what_was_given(field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainConfig(**{field: value})


def test_messages_list_the_choices():
    with pytest.raises(ValueError, match="relu, sigmoid"):
        TrainConfig(activation="tanh")
    with pytest.raises(ValueError, match="sgd, momentum, adagrad, adam"):
        TrainConfig(optimizer="rmsprop")


def test_several_problems_are_all_reported():
    with pytest.raises(ValueError) as info:
        TrainConfig(lr=0, batch_size=0, activation="tanh")
    message = str(info.value)
    assert "learning rate" in message and "batch size" in message and "activation" in message
    assert set(info.value.problems) == {"lr", "batch_size", "activation"}


@pytest.mark.parametrize(
    "changes",
    [
        {"lr": 0.001, "optimizer": "adam"},
        {"hidden_sizes": (8192,) * 8},
        {"weight_init": "he", "activation": "relu"},
        {"weight_init": "xavier", "activation": "sigmoid"},
        {"weight_init": "10"},
        {"lr": 100},
        {"epochs": 3},
        {"dtype": "float64"},
        {"batch_size": 1, "iters": 1, "seed": 2**32 - 1},
    ],
)
def test_valid_values_accepted(changes):
    c = TrainConfig(**changes)
    for k, v in changes.items():
        assert getattr(c, k) == (tuple(v) if k == "hidden_sizes" else v)


def test_with_changes_returns_new_validated_copy():
    original = TrainConfig()
    changed = original.with_changes(lr=0.5, hidden_sizes=[100, 50], optimizer="momentum")
    assert changed is not original
    assert (changed.lr, changed.hidden_sizes, changed.optimizer) == (0.5, (100, 50), "momentum")
    assert changed.batch_size == original.batch_size
    assert (original.lr, original.hidden_sizes, original.optimizer) == (0.1, (50,), "sgd")
    with pytest.raises(ValueError, match="learning rate") as info:
        original.with_changes(lr=-1)
    assert set(info.value.problems) == {"lr"}
    assert original.lr == 0.1
    with pytest.raises(ValueError, match="optimizer"):
        changed.with_changes(optimizer="rmsprop")
    assert changed.optimizer == "momentum"
    assert original.with_changes() == original


def test_init_property():
    assert TrainConfig(weight_init="0.01").init == 0.01
    assert isinstance(TrainConfig(weight_init="0.01").init, float)
    assert TrainConfig(weight_init="he").init == "he"
    assert TrainConfig(weight_init="xavier").init == "xavier"
    assert TrainConfig(weight_init="1e-3").init == 0.001


def test_parse_weight_init():
    assert parse_weight_init("he") == "he"
    assert parse_weight_init("0.5") == 0.5
    assert parse_weight_init(0.05) == 0.05
    for bad in ("abc", "-1", "0", "11", "inf", "nan", None, "HE"):
        assert parse_weight_init(bad) is None, bad


def test_bool_learning_rate_is_refused():
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(lr=True)


def test_non_sequence_hidden_sizes_is_a_value_error():
    with pytest.raises(ValueError, match="hidden sizes"):
        TrainConfig(hidden_sizes=50)
