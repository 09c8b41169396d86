"""``python -m codegen diff OLD NEW``: what a new spec version changes for Python code written against the
client generated from the old one.

Both specs go through the same pipeline as ``generate`` (overlays, normalizer, the generator's parser), and
the comparison is of what a caller sees: ``hh.`` methods and their keyword parameters and result types,
model classes and their attributes, with Python names and types. So a spec change the client absorbs is not
reported as breaking: the ``HH-User-Agent`` header the client sends itself, a field that "became required"
(every field stays tolerant at runtime), a new enum value.

Breaking, for a caller: a method, model or attribute that disappeared; a parameter that disappeared or
became required; a new required parameter; a parameter, attribute or result whose type changed; an enum
parameter that lost values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_python_client.parser import GeneratorData
from openapi_python_client.parser.properties.enum_property import EnumProperty
from openapi_python_client.parser.properties.list_property import ListProperty

from . import normalize, overlay
from .facade import return_type

OVERLAYS = Path(__file__).resolve().parent.parent / "overlays"

Surface = dict[str, dict[str, Any]]
"""``{"methods": {name: {...}}, "models": {class: {attribute: type}}}``."""


def _code(value: Any) -> str:
    return str(value.as_unembedded_code())


def _enum_values(prop: Any) -> list[str] | None:
    inner = prop.inner_property if isinstance(prop, ListProperty) else prop
    if isinstance(inner, EnumProperty):
        return sorted(str(v) for v in inner.values.values())
    return None


def _parameter(prop: Any) -> dict[str, Any]:
    return {
        "type": _code(prop.get_type_string(no_optional=True)),
        "required": bool(prop.required),
        "enum": _enum_values(prop),
    }


def surface(doc: dict[str, Any], overlays_dir: Path = OVERLAYS) -> Surface:
    """The Python API the client generated from ``doc`` would have (generation itself is not run)."""
    from .generate import _config  # the generator's configuration, exactly as `generate` uses it

    doc = json.loads(json.dumps(doc))
    for name, document in overlay.load_overlays(overlays_dir):
        overlay.apply_overlay(doc, document, name)
    spec = normalize.normalize(doc)
    data = GeneratorData.from_dict(json.loads(json.dumps(spec)), config=_config())
    if not isinstance(data, GeneratorData):
        raise ValueError(f"the generator cannot read this spec: {data.header}")
    methods: dict[str, Any] = {}
    for collection in data.endpoint_collections_by_tag.values():
        for endpoint in collection.endpoints:
            params = {
                str(p.python_name): _parameter(p)
                for p in [*endpoint.path_parameters, *endpoint.query_parameters, *endpoint.header_parameters]
            }
            if endpoint.bodies:
                params["body"] = _parameter(endpoint.bodies[0].prop)
            methods[str(endpoint.name)] = {"parameters": params, "result": return_type(endpoint)}
    models = {
        str(model.class_info.name): {
            str(p.python_name): _code(p.get_type_string(no_optional=True))
            for p in [*(model.required_properties or ()), *(model.optional_properties or ())]
        }
        for model in data.models
    }
    return {"methods": dict(sorted(methods.items())), "models": dict(sorted(models.items()))}


def _members(type_string: str) -> set[str]:
    """The members of a union type string, split at its top level only (``list[A | B]`` stays whole)."""
    members: set[str] = set()
    depth = start = 0
    for index, char in enumerate(type_string):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "|" and depth == 0:
            members.add(type_string[start:index].strip())
            start = index + 1
    members.add(type_string[start:].strip())
    return members


def _method_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    before, after = old["parameters"], new["parameters"]
    for name in sorted(before.keys() - after.keys()):
        changes.append(f"BREAKING parameter {name} removed")
    for name in sorted(after.keys() - before.keys()):
        changes.append(
            f"BREAKING new required parameter {name}: {after[name]['type']}"
            if after[name]["required"]
            else f"new parameter {name}: {after[name]['type']}"
        )
    for name in sorted(before.keys() & after.keys()):
        was, now = before[name], after[name]
        if was["enum"] is not None and now["enum"] is not None:
            lost = sorted(set(was["enum"]) - set(now["enum"]))
            gained = sorted(set(now["enum"]) - set(was["enum"]))
            if lost:
                changes.append(f"BREAKING parameter {name} no longer takes {', '.join(map(repr, lost))}")
            if gained:
                changes.append(f"parameter {name} also takes {', '.join(map(repr, gained))}")
        elif _members(was["type"]) < _members(now["type"]):  # what a caller passed is still taken
            wider = " | ".join(sorted(_members(now["type"]) - _members(was["type"])))
            changes.append(f"parameter {name} also takes {wider}")
        elif was["type"] != now["type"]:
            changes.append(f"BREAKING parameter {name}: {was['type']} -> {now['type']}")
        if now["required"] and not was["required"]:
            changes.append(f"BREAKING parameter {name} became required")
        elif was["required"] and not now["required"]:
            changes.append(f"parameter {name} became optional")
    if old["result"] != new["result"]:
        changes.append(f"BREAKING result: {old['result']} -> {new['result']}")
    return changes


def _model_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    changes = [f"BREAKING attribute {name} removed" for name in sorted(old.keys() - new.keys())]
    changes += [
        f"BREAKING attribute {name}: {old[name]} -> {new[name]}"
        for name in sorted(old.keys() & new.keys())
        if old[name] != new[name]
    ]
    changes += [f"attribute {name}: {new[name]}" for name in sorted(new.keys() - old.keys())]
    return changes


def compare_surfaces(old: Surface, new: Surface) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kind, describe in (("methods", _method_changes), ("models", _model_changes)):
        before, after = old[kind], new[kind]
        result[f"{kind}_removed"] = sorted(before.keys() - after.keys())
        result[f"{kind}_added"] = sorted(after.keys() - before.keys())
        changed = {}
        for name in sorted(before.keys() & after.keys()):
            changes = describe(before[name], after[name])
            if changes:
                changed[name] = changes
        result[f"{kind}_changed"] = changed
    result["breaking"] = (
        len(result["methods_removed"])
        + len(result["models_removed"])
        + sum(
            line.startswith("BREAKING")
            for key in ("methods_changed", "models_changed")
            for lines in result[key].values()
            for line in lines
        )
    )
    return result


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changes for a caller between the clients generated from two (raw, published) spec documents."""
    return compare_surfaces(surface(old), surface(new))


def render(changes: dict[str, Any]) -> str:
    """The comparison as text a person can read top to bottom: breaking first."""
    lines = [f"{changes['breaking']} breaking change(s) for Python callers", ""]
    sections = (
        ("Methods removed (BREAKING)", "methods_removed", "hh."),
        ("Models removed (BREAKING)", "models_removed", "hh_async.models."),
        ("Methods changed", "methods_changed", "hh."),
        ("Models changed", "models_changed", "hh_async.models."),
        ("Methods added", "methods_added", "hh."),
        ("Models added", "models_added", "hh_async.models."),
    )
    for title, key, prefix in sections:
        items = changes[key]
        lines.append(f"{title}: {len(items)}")
        if isinstance(items, dict):
            for name, notes in items.items():
                lines.append(f"  {prefix}{name}")
                lines += [f"    - {note}" for note in notes]
        else:
            lines += [f"  - {prefix}{name}" for name in items]
    return "\n".join(lines)
