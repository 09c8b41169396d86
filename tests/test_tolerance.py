"""Models accept what HH really sends (issue: tolerant parsing) and lose none of it.

Bodies come from the spec's own examples, then get mutated the way HH's real responses differ from the spec:
fields dropped (even "required" ones), values nulled, enum-like strings replaced by unknown ones, new keys,
and values of another shape altogether (an object where a list was, a number in a list of objects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codegen import generate, report
from codegen.examples import spec_examples

from .conftest import ROOT


@pytest.fixture(scope="module")
def examples(current_spec: Path) -> list[tuple[Any, Any]]:
    from hh_async import OPERATIONS

    doc, _ = generate.prepare(current_spec, ROOT / "overlays")
    pairs = []
    for op_id, status, _name, value in spec_examples(doc):
        op = OPERATIONS[op_id]
        model = op.body if status == "body" else op.responses.get(status)
        if model is not None and isinstance(value, dict | list):
            pairs.append((model, value))
    assert len(pairs) > 50
    return pairs


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Locations of every object member and array element below the top level."""
    found = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        if prefix or isinstance(value, dict):  # a list body's elements are the model itself: objects
            found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


OTHER_SHAPES = (12345, 1.5, True, "text", {"unexpected": [1]}, [1, "a", None])


def _mutate(body: Any, path: tuple[Any, ...], how: str) -> Any:
    import copy

    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if how == "drop" and isinstance(parent, dict):
        del parent[key]
    elif how == "null":
        parent[key] = None
    elif how == "unknown" and isinstance(parent[key], str):
        parent[key] = "value_hh_added_later"
    elif how == "extra" and isinstance(parent[key], dict):
        parent[key]["field_hh_added_later"] = {"nested": [1, None, "x"]}
    elif how.startswith("shape"):
        parent[key] = OTHER_SHAPES[int(how[-1])]
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_examples_parse_and_round_trip(examples: list[tuple[Any, Any]], data: st.DataObject) -> None:
    model, body = data.draw(st.sampled_from(examples))
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(body)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        shapes = [f"shape{i}" for i in range(len(OTHER_SHAPES))]
        body = _mutate(body, path, data.draw(st.sampled_from(["drop", "null", "unknown", "extra", *shapes])))
    assert report.roundtrip(model, body) is None
