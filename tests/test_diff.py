"""``codegen diff`` speaks Python: methods, parameters, models and attributes, and calls breaking only what
breaks a caller of the generated client."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from codegen import diff, specfile


def _spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things/{thing_id}": {
                "get": {
                    "operationId": "get-thing",
                    "tags": ["Things"],
                    "parameters": [
                        {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "order_by",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["date", "name"]},
                        },
                        {"name": "text", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "size": {"type": "integer"}},
                }
            }
        },
    }


def _changed(new: dict[str, Any]) -> dict[str, Any]:
    return diff.compare(_spec(), new)


def test_what_the_client_absorbs_is_not_breaking() -> None:
    new = _spec()
    get = new["paths"]["/things/{thing_id}"]["get"]
    get["parameters"].append(
        {"name": "HH-User-Agent", "in": "header", "required": True, "schema": {"type": "string"}}
    )
    get["parameters"][1]["schema"]["enum"].append("size")
    new["components"]["schemas"]["Thing"]["required"] = ["id", "size"]
    changes = _changed(new)
    assert changes["breaking"] == 0, diff.render(changes)
    assert changes["methods_changed"] == {"get_thing": ["parameter order_by also takes 'size'"]}
    assert changes["models_changed"] == {}


def test_what_breaks_a_caller_is_named_in_python_terms() -> None:
    new = _spec()
    get = new["paths"]["/things/{thing_id}"]["get"]
    get["parameters"] = [p for p in get["parameters"] if p["name"] != "text"]
    get["parameters"][1]["schema"]["enum"] = ["date"]
    get["parameters"].append({"name": "area", "in": "query", "required": True, "schema": {"type": "string"}})
    thing = new["components"]["schemas"]["Thing"]["properties"]
    thing["size"] = {"type": "string"}
    del thing["id"]
    thing["colour"] = {"type": "string"}
    changes = _changed(new)
    assert changes["methods_changed"]["get_thing"] == [
        "BREAKING parameter text removed",
        "BREAKING new required parameter area: str",
        "BREAKING parameter order_by no longer takes 'name'",
    ]
    assert changes["models_changed"]["Thing"] == [
        "BREAKING attribute id removed",
        "BREAKING attribute size: int | None -> None | str",
        "attribute colour: None | str",
    ]
    assert changes["breaking"] == 5
    text = diff.render(changes)
    assert text.splitlines()[0] == "5 breaking change(s) for Python callers"
    assert "  hh.get_thing\n    - BREAKING parameter text removed" in text


def test_a_removed_operation_and_model_are_breaking() -> None:
    new = copy.deepcopy(_spec())
    new["paths"] = {}
    del new["components"]["schemas"]["Thing"]
    changes = _changed(new)
    assert changes["methods_removed"] == ["get_thing"]
    assert changes["models_removed"] == ["Thing"]
    assert changes["breaking"] == 2


def test_diff_between_the_published_specs_names_methods(shared_specs: list[Path]) -> None:
    old, new = (specfile.load(p) for p in sorted(shared_specs))
    changes = diff.compare(old, new)
    assert "create_resume" in changes["methods_removed"]  # the applicant API went away in 2026
    assert "get_vacancies" in changes["methods_changed"]
    assert "new parameter work_format: list[str]" in changes["methods_changed"]["get_vacancies"]
    assert not any(
        "HH-User-Agent" in line or "hh_user_agent" in line for line in diff.render(changes).splitlines()
    )
