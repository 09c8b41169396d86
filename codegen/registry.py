"""The operation registry: operationId -> method, path, tags, paging, parameters, body and response models.

Written as plain data into ``hh_async/_raw/registry.py`` from the generator's own parsed endpoints (so the
model named for a response is the class the generator really produced); ``hh_async.operations`` turns it
into objects and imports model classes only when asked. The client builds every request from it alone.
"""

from __future__ import annotations

import pprint
from typing import Any

from openapi_python_client.parser.openapi import Endpoint, GeneratorData
from openapi_python_client.parser.properties.list_property import ListProperty
from openapi_python_client.parser.properties.union import UnionProperty

from .facts import depth_cap, paginated, per_page_limits
from .walk import operations

ModelRef = str | tuple[str, ...] | None
"""'module:Class', a tuple of them for a union body, None when the body is not JSON or not a model."""


def _model_ref(prop: Any) -> ModelRef:
    if isinstance(prop, ListProperty):
        return _model_ref(prop.inner_property)
    if isinstance(prop, UnionProperty):
        refs = [r for p in prop.inner_properties if isinstance(r := _model_ref(p), str)]
        return tuple(refs) if len(refs) > 1 else (refs[0] if refs else None)
    class_info = getattr(prop, "class_info", None)
    if class_info is None:
        return None
    return f"{class_info.module_name}:{class_info.name}"


def response_models(endpoint: Endpoint) -> dict[str, ModelRef]:
    models: dict[str, ModelRef] = {}
    for response in endpoint.responses:
        is_json = response.source["attribute"] == "response.json()"
        models[response.status_code.pattern] = _model_ref(response.prop) if is_json else None
    return models


_TYPES = {
    "StringProperty": "string",
    "IntProperty": "integer",
    "FloatProperty": "number",
    "BooleanProperty": "boolean",
    "EnumProperty": "enum",
    "DateProperty": "date",
    "DateTimeProperty": "date-time",
}


PARAMETER_FIELDS = ("name", "python_name", "location", "type", "repeated", "required", "enum")
"""A parameter is written as a tuple of these (compact: the registry holds hundreds)."""


def parameter(prop: Any, location: str) -> tuple[Any, ...]:
    """What the client needs to send one parameter: its wire and Python names, where it goes, its type
    (a list repeats the key: ``area=1&area=2``) and, for an enum, the values HH documents."""
    repeated = isinstance(prop, ListProperty)
    inner = prop.inner_property if repeated else prop
    kind = _TYPES.get(type(inner).__name__, "string")
    values = tuple(str(v) for v in inner.values.values()) if kind == "enum" else None
    return (_text(prop.name), str(prop.python_name), location, kind, repeated, bool(prop.required), values)


def _text(value: Any) -> str:
    """The generator wraps names from the spec as untrusted strings (for templates); plain text here."""
    getter = getattr(value, "get_untrusted_value", None)
    return str(getter() if getter is not None else value)


def parameters(endpoint: Endpoint) -> list[tuple[Any, ...]]:
    located = (
        ("path", endpoint.path_parameters),
        ("query", endpoint.query_parameters),
        ("header", endpoint.header_parameters),
    )
    return [parameter(prop, location) for location, props in located for prop in props]


def _body(endpoint: Endpoint) -> dict[str, Any] | None:
    """The request body: how it is sent (``json``, ``form`` or ``multipart``), its model, and whether it is
    required."""
    if not endpoint.bodies:
        return None
    body = endpoint.bodies[0]
    media = {"json": "json", "data": "form", "files": "multipart"}.get(str(body.body_type.value))
    if media is None:
        raise ValueError(f"{endpoint.name}: a {body.body_type.value} body is not supported by the client")
    return {"media": media, "model_ref": _model_ref(body.prop), "required": bool(body.prop.required)}


def entries(spec: dict[str, Any], data: GeneratorData) -> dict[str, dict[str, Any]]:
    by_route = {(method.upper(), path): op for path, method, op in operations(spec)}
    result: dict[str, dict[str, Any]] = {}
    for collection in data.endpoint_collections_by_tag.values():
        for endpoint in collection.endpoints:
            op = by_route[(endpoint.method.upper(), endpoint.path.get_untrusted_value())]
            result[op["operationId"]] = {
                "method": endpoint.method.upper(),
                "path": endpoint.path.get_untrusted_value(),
                "tags": tuple(op.get("tags", ())),
                "function": str(endpoint.name),
                "paginated": paginated(op, spec),
                "per_page": per_page_limits(op),
                "depth_cap": depth_cap(op),
                "parameters": parameters(endpoint),
                "body": _body(endpoint),
                "responses": response_models(endpoint),
            }
    return dict(sorted(result.items()))


def render(entries: dict[str, dict[str, Any]]) -> str:
    return (
        '"""Every operation of the API: generated from the spec by codegen/registry.py; do not edit."""\n\n'
        "from typing import Any\n\n"
        f"OPERATIONS: dict[str, dict[str, Any]] = {pprint.pformat(entries, width=110, sort_dicts=False)}\n"
    )
