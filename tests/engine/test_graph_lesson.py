"""The book's apple examples as computational graphs of MulLayer / AddLayer nodes."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engine.graph_lesson import (
    APPLE,
    APPLE_ORANGE,
    EXAMPLES,
    REUSED,
    Graph,
    GraphInputError,
    backward_order,
    check_inputs,
    parse_value,
    same_gradient,
)
from engine.layers import AddLayer, MulLayer
from tests.conftest import ROOT


def run(example, **changes):
    graph = Graph(example)
    price = graph.forward({**example.defaults, **changes})
    return graph, price, graph.backward()


def gradients(steps) -> dict[str, float]:
    return {edge: grad for step in steps for edge, grad in step.grads.items()}


def test_three_apples_with_tax():
    graph, price, steps = run(APPLE)
    assert price == pytest.approx(330)
    assert graph.values["apple_price"] == pytest.approx(300)
    grads = gradients(steps)
    assert grads["apple"] == pytest.approx(3.3)
    assert grads["apple_num"] == pytest.approx(110)
    assert grads["tax"] == pytest.approx(300)
    assert grads["apple_price"] == pytest.approx(1.1)


def test_apples_and_oranges_as_the_book():
    graph, price, steps = run(APPLE_ORANGE)
    assert price == pytest.approx(715)
    assert graph.values["all_price"] == pytest.approx(650)
    expected = {"apple_num": 110, "apple": 2.2, "orange": 3.3, "orange_num": 165, "tax": 650,
                "all_price": 1.1, "apple_price": 1.1, "orange_price": 1.1}
    assert gradients(steps) == pytest.approx(expected)


def test_backward_takes_one_node_at_a_time_from_the_price_back():
    _, _, steps = run(APPLE_ORANGE)
    # The book's order: the tax node, the sum, the oranges, the apples.
    assert [step.node.output for step in steps] == ["price", "all_price", "orange_price", "apple_price"]
    assert [step.dout for step in steps] == pytest.approx([1, 1.1, 1.1, 1.1])
    assert [tuple(step.grads) for step in steps] == [
        ("all_price", "tax"), ("apple_price", "orange_price"), ("orange", "orange_num"), ("apple", "apple_num")]
    # Each step's dout is what an earlier step sent to that node's output.
    seen = {"price": 1.0}
    for step in steps:
        assert step.dout == seen[step.node.output]
        seen.update(step.grads)


def test_the_graph_uses_the_projects_layers_and_a_new_input_recomputes():
    graph, price, steps = run(APPLE, apple_num=4)
    assert [type(layer) for layer in graph.layers] == [MulLayer, MulLayer]
    assert [type(layer) for layer in Graph(APPLE_ORANGE).layers] == [MulLayer, MulLayer, AddLayer, MulLayer]
    assert price == pytest.approx(440)
    assert gradients(steps) == pytest.approx({"apple_price": 1.1, "tax": 400, "apple": 4.4, "apple_num": 110})
    # Counts may be any finite numbers: the layers do not care.
    _, price, _ = run(APPLE, apple_num=-0.5)
    assert price == pytest.approx(-55)


def by_hand(example, inputs) -> tuple[dict[str, float], dict[str, float]]:
    """Every edge's value and gradient from fresh layers, called one by one as the book does by hand."""
    layers = {node: {"×": MulLayer, "+": AddLayer}[node.op]() for node in example.nodes}
    values = dict(inputs)
    for node in example.nodes:
        values[node.output] = layers[node].forward(*(values[edge] for edge in node.inputs))
    grads = {example.output: 1.0}
    for node in reversed(example.nodes):  # every example is listed so that this is a topological order
        for edge, grad in zip(node.inputs, layers[node].backward(grads[node.output])):
            grads[edge] = grads.get(edge, 0.0) + grad
    return values, grads


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES)
@pytest.mark.parametrize("first_input", [None, 7.5, -0.25])
def test_every_value_and_gradient_is_the_layers(example, first_input):
    inputs = dict(example.defaults)
    if first_input is not None:
        inputs[example.inputs[0]] = first_input
    values, grads = by_hand(example, inputs)
    graph = Graph(example)
    graph.forward(inputs)
    assert graph.values == pytest.approx(values, rel=1e-12)
    assert gradients(graph.backward()) == pytest.approx({k: v for k, v in grads.items() if k != example.output},
                                                       rel=1e-12)


def test_a_value_used_twice_adds_up_its_paths():
    graph, c, steps = run(REUSED)
    assert (graph.values["b"], c) == (6, 36)
    assert [step.node.output for step in steps] == ["c", "b"]
    times, plus = steps
    assert times.paths == {"b": (6, 6)} and times.grads == {"b": 12}  # dc/db = b + b = 2b
    assert plus.dout == 12
    assert plus.paths == {"a": (12, 12)} and plus.grads == {"a": 24}  # dc/da = 2 · 12
    _, _, steps = run(REUSED, a=-1.5)
    assert gradients(steps) == pytest.approx({"b": -6, "a": -12})  # c = 4a², dc/da = 8a


def test_the_naive_order_runs_a_node_before_every_use_of_its_output_has_sent_its_share():
    graph, _, _ = run(REUSED)
    times, plus = graph.naive_backward()
    assert times.grads == {"b": 12}
    assert plus.dout == 6  # only the first use of b had sent its 6
    assert plus.grads == {"a": 12}  # not 24
    # In a tree every value has one use: the naive order is right there.
    for example in (APPLE, APPLE_ORANGE):
        graph, _, steps = run(example)
        assert gradients(graph.naive_backward()) == gradients(steps)


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES)
def test_backward_runs_a_node_only_after_every_use_of_its_output(example):
    order = backward_order(example)
    assert sorted(order, key=example.nodes.index) == list(example.nodes)  # each node once
    for position, node in enumerate(order):
        users = [user for user in example.nodes if node.output in user.inputs]
        assert all(order.index(user) < position for user in users)
    _, _, steps = run(example)
    assert tuple(step.node for step in steps) == order
    sent_to = {}
    for step in steps:  # the gradient a node starts with is the sum of everything sent to its output
        assert step.dout == pytest.approx(sum(sent_to.get(step.node.output, [1.0])))
        for edge, grad in zip(step.node.inputs, step.sent):
            sent_to.setdefault(edge, []).append(grad)


@pytest.mark.parametrize("typed, right", [(24, 24), (24.00001, 24), (-3.3, -3.3000000000000003), (1e-10, 0),
                                          (-5e-10, 0), (1e6 + 0.5, 1e6)])
def test_a_prediction_within_the_tolerance_is_right(typed, right):
    assert same_gradient(typed, right)


@pytest.mark.parametrize("typed, right", [(12, 24), (24.001, 24), (3.3, -3.3), (1e-8, 0), (1e6 + 2, 1e6)])
def test_a_prediction_outside_the_tolerance_is_wrong(typed, right):
    assert not same_gradient(typed, right)


@pytest.mark.parametrize("text, message", [
    ("", "enter a number"), ("   ", "enter a number"), ("abc", "not a number: 'abc'"),
    ("nan", "must be finite, not nan"), ("inf", "must be finite, not inf"), ("-inf", "must be finite, not -inf"),
    ("1e999", "must be finite, not 1e999"),
])
def test_parse_value_refuses_what_is_not_a_finite_number(text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_value(text)


def test_parse_value_takes_numbers():
    assert parse_value(" 4 ") == 4.0
    assert parse_value("-1.5e2") == -150.0


def test_invalid_inputs_are_refused_by_name_and_change_nothing():
    graph, _, _ = run(APPLE)
    before = dict(graph.values)
    bad = {"apple": float("nan"), "apple_num": "3", "tax": float("inf"), "pear": 1.0}
    with pytest.raises(GraphInputError) as info:
        graph.forward(bad)
    assert info.value.problems == {
        "pear": "unknown input", "apple": "must be finite, not nan", "apple_num": "must be a number, not '3'",
        "tax": "must be finite, not inf",
    }
    assert graph.values == before
    with pytest.raises(GraphInputError, match="apple_num: missing"):
        check_inputs(APPLE, {"apple": 100, "tax": 1.1})
    with pytest.raises(GraphInputError, match="must be a number, not True"):
        check_inputs(APPLE, {"apple": 100, "apple_num": True, "tax": 1.1})


def test_an_overflow_is_refused_and_changes_nothing():
    graph, _, _ = run(APPLE)
    before, layers = dict(graph.values), graph.layers
    with pytest.raises(GraphInputError) as info:
        graph.forward({**APPLE.defaults, "apple": 1e308})
    assert info.value.problems == {"apple_price": "overflow: apples = inf"}
    assert graph.values == before and graph.layers is layers
    # Finite forward values whose gradients overflow: d apple count = tax × apple.
    graph.forward({"apple": 1e200, "apple_num": 1e-200, "tax": 1e200})
    with pytest.raises(GraphInputError, match="overflow: d apple count = inf"):
        graph.backward()


def test_backward_needs_a_forward_first():
    with pytest.raises(RuntimeError, match="forward"):
        Graph(APPLE).backward()


def test_the_lesson_imports_no_ui_library():
    code = ("import sys, engine.graph_lesson; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
