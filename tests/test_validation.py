"""Strict validation against the spec's own rules, reported with JSON paths."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codegen import examples, generate
from hh_async.validation import _Validator, validate, validate_schema

from .conftest import ROOT

SCHEMAS = {
    "Null": {"type": "string", "nullable": True, "enum": [None]},
    "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    "Item": {
        "allOf": [
            {"$ref": "#/components/schemas/Base"},
            {"type": "object", "additionalProperties": False, "properties": {"kind": {"enum": ["a", "b"]}}},
        ]
    },
    "Page": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "owner": {
                "oneOf": [{"$ref": "#/components/schemas/Base"}, {"$ref": "#/components/schemas/Null"}]
            },
            "count": {"type": "integer"},
        },
    },
}


def check(value: Any, name: str = "Page") -> list[str]:
    return [str(v) for v in _Validator(SCHEMAS).check(value, {"$ref": f"#/components/schemas/{name}"})]


def test_a_valid_body_has_no_violations() -> None:
    assert check({"items": [{"id": "1", "kind": "a"}], "owner": None, "count": 3}) == []


def test_each_violation_is_reported_at_its_path() -> None:
    body = {"items": [{"id": "1"}, {"kind": "c", "extra": 1}], "count": True, "owner": {"id": 5}}
    assert sorted(check(body)) == sorted(
        [
            "$.items[1].id: required field missing",
            "$.items[1].kind: 'c' is not one of the spec's values ['a', 'b']",
            "$.items[1].extra: field not in the spec",
            "$.count: expected integer, got bool",
            "$.owner: matches none of 2 alternatives; closest fails on:",
            "$.owner.id: expected string, got int",
        ]
    )


def test_null_only_where_the_spec_allows_it() -> None:
    assert check({"owner": None}) == []
    assert check({"count": None}) == ["$.count: null where the spec does not allow it"]


@pytest.fixture(scope="module")
def search_page(current_spec: Path) -> dict[str, Any]:
    doc, _ = generate.overlaid(current_spec, ROOT / "overlays")
    page = next(
        v for op, status, _, v in examples.spec_examples(doc) if (op, status) == ("get-vacancies", "200")
    )
    assert validate(page, "get-vacancies") == []
    return page


def test_violations_in_a_real_search_page(search_page: dict[str, Any]) -> None:
    body = copy.deepcopy(search_page)
    del body["found"]
    body["items"][0]["name"] = 123
    body["items"][0]["area"] = None
    assert sorted(map(str, validate(body, "get-vacancies", "200"))) == [
        "$.found: required field missing",
        "$.items[0].area: null where the spec does not allow it",
        "$.items[0].name: expected string, got int",
    ]


def test_a_model_is_validated_as_the_json_it_stands_for(search_page: dict[str, Any]) -> None:
    from hh_async import OPERATIONS

    body = copy.deepcopy(search_page)
    body["items"][0]["name"] = 123
    page = OPERATIONS["get-vacancies"].responses["200"].from_dict(body)
    assert list(map(str, validate(page, "get-vacancies"))) == ["$.items[0].name: expected string, got int"]
    assert list(map(str, validate(page, "get-vacancies"))) == list(map(str, validate(body, "get-vacancies")))


def _string_leaves(value: Any, schema: dict[str, Any], validator: _Validator, path: tuple[Any, ...] = ()):
    """Locations of string values whose schema (through $ref and allOf) plainly says ``type: string``."""
    schema = validator.resolve(schema)
    if isinstance(value, str) and schema.get("type") == "string" and not schema.get("enum"):
        yield path
    if isinstance(value, dict):
        for name, child in value.items():
            for holder in [schema, *(validator.resolve(m) for m in schema.get("allOf") or ())]:
                if name in (holder.get("properties") or {}):
                    yield from _string_leaves(child, holder["properties"][name], validator, (*path, name))
                    break
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, child in enumerate(value):
            yield from _string_leaves(child, schema["items"], validator, (*path, index))


def _json_path(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_injected_type_errors_are_reported_where_injected(
    search_page: dict[str, Any], data: st.DataObject
) -> None:
    from hh_async.validation import _rules

    validator = _Validator(_rules()["schemas"])
    root = _rules()["operations"]["get-vacancies"]["responses"]["200"]
    leaves = list(_string_leaves(search_page, root, validator))
    assert len(leaves) > 20
    chosen = data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=5, unique=True))
    body = copy.deepcopy(search_page)
    for path in chosen:
        holder = body
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = 404
    found = validate(body, "get-vacancies")
    assert sorted(v.path for v in found) == sorted(_json_path(p) for p in chosen)
    assert all(v.message == "expected string, got int" for v in found)


def test_unknown_names_are_errors() -> None:
    with pytest.raises(KeyError, match="no operation"):
        validate({}, "no-such-operation")
    with pytest.raises(KeyError, match="no schema"):
        validate_schema({}, "NoSuchSchema")


def test_a_broken_promise_parses_and_validate_says_where(search_page: dict[str, Any]) -> None:
    # `name` is typed `str` (the spec requires it, not null): a body without it still parses and goes back
    # unchanged; validate() is what tells the caller the body broke the promise.
    from hh_async import OPERATIONS
    from hh_async.models import UNSET

    body = copy.deepcopy(search_page)
    del body["items"][0]["name"]
    body["items"][0]["area"] = None
    page = OPERATIONS["get-vacancies"].responses["200"].from_dict(body)
    assert page.items[0].name is UNSET and page.items[0].area is None
    assert page.to_dict() == body
    assert sorted(str(v) for v in validate(body, "get-vacancies")) == [
        "$.items[0].area: null where the spec does not allow it",
        "$.items[0].name: required field missing",
    ]
