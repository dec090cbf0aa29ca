"""The book's apple examples as computational graphs of MulLayer / AddLayer nodes."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engine.graph_lesson import APPLE, APPLE_ORANGE, Graph, GraphInputError, check_inputs, parse_value
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
    from engine.layers import AddLayer, MulLayer

    graph, price, steps = run(APPLE, apple_num=4)
    assert [type(layer) for layer in graph.layers] == [MulLayer, MulLayer]
    assert [type(layer) for layer in Graph(APPLE_ORANGE).layers] == [MulLayer, MulLayer, AddLayer, MulLayer]
    assert price == pytest.approx(440)
    assert gradients(steps) == pytest.approx({"apple_price": 1.1, "tax": 400, "apple": 4.4, "apple_num": 110})
    # Counts may be any finite numbers: the layers do not care.
    _, price, _ = run(APPLE, apple_num=-0.5)
    assert price == pytest.approx(-55)


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
