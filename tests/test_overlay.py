"""The Overlay 1.0 applier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.overlay import OverlayError, apply_overlay, load_overlays

from .conftest import ROOT


def doc() -> dict[str, Any]:
    return {
        "tags": [{"name": "Поиск"}],
        "paths": {
            "/a": {"get": {"tags": ["Поиск"], "parameters": [{"name": "x"}, {"name": "y"}]}},
            "/b": {"post": {"tags": ["Другое"]}},
        },
    }


def overlay(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": list(actions)}


def test_update_merges_objects_recursively() -> None:
    d = doc()
    notes = apply_overlay(
        d, overlay({"target": "$.paths['/a'].get", "update": {"summary": "S", "x-a": {"b": 1}}})
    )
    assert notes == []
    assert d["paths"]["/a"]["get"]["summary"] == "S"
    assert d["paths"]["/a"]["get"]["parameters"] == [{"name": "x"}, {"name": "y"}]
    apply_overlay(d, overlay({"target": "$.paths['/a'].get", "update": {"x-a": {"c": 2}}}))
    assert d["paths"]["/a"]["get"]["x-a"] == {"b": 1, "c": 2}


def test_update_appends_to_arrays() -> None:
    d = doc()
    apply_overlay(d, overlay({"target": "$.tags", "update": [{"name": "Другое", "x-python-name": "other"}]}))
    assert [t["name"] for t in d["tags"]] == ["Поиск", "Другое"]


def test_remove_with_a_filter() -> None:
    d = doc()
    apply_overlay(d, overlay({"target": "$.paths.*.*.parameters[?@.name == 'x']", "remove": True}))
    assert d["paths"]["/a"]["get"]["parameters"] == [{"name": "y"}]


def test_unmatched_target_is_reported_not_fatal() -> None:
    d = doc()
    notes = apply_overlay(
        d,
        overlay({"target": "$.paths['/gone'].get", "description": "fix /gone", "update": {"a": 1}}),
        "o.yaml",
    )
    assert notes == ["o.yaml: action 0 matched nothing: fix /gone"]
    assert d == doc()


def test_bad_jsonpath_is_an_error() -> None:
    with pytest.raises(OverlayError, match="bad JSONPath"):
        apply_overlay(doc(), overlay({"target": "$.paths[", "remove": True}))


def test_not_an_overlay(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("openapi: 3.0.3\n")
    with pytest.raises(OverlayError, match="not an Overlay"):
        load_overlays(tmp_path)


def test_project_overlays_load_and_name_every_tag(shared_specs: list[Path]) -> None:
    """Every tag of the shared specs has an English name in the project's overlays."""
    from codegen import specfile

    names = {
        tag["name"]
        for _, document in load_overlays(ROOT / "overlays")
        for action in document["actions"]
        if action["target"] == "$.tags"
        for tag in action["update"]
    }
    for spec in shared_specs:
        d = specfile.load(spec)
        used = {
            t for item in d["paths"].values() for m, op in item.items() if m != "x-name" for t in op["tags"]
        }
        assert used <= names, used - names
