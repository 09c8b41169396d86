"""Walking an OpenAPI document: its operations, every schema in it, the properties an object ends up with.

Plain reading, no policy: the normalizer's rules, the facts the registry reads, the strict spec, the report
and the diff all find their way through the spec with these.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .specfile import HTTP_METHODS, resolve_pointer

Schema = dict[str, Any]
COMBINERS = ("allOf", "oneOf", "anyOf")


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of the document."""
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict):
                yield path, method, op


def media_schemas(holder: dict[str, Any]) -> Iterator[Schema]:
    """The schema of each media type of a response or request body."""
    for media in (holder.get("content") or {}).values():
        if isinstance(media, dict) and isinstance(media.get("schema"), dict):
            yield media["schema"]


def each_schema(doc: dict[str, Any]) -> Iterator[Schema]:
    """Every schema object in the document, children before parents, each once."""
    seen: set[int] = set()

    def visit(schema: Schema) -> Iterator[Schema]:
        if id(schema) in seen:
            return
        seen.add(id(schema))
        for child in list(_schema_children(schema)):
            yield from visit(child)
        yield schema

    for root in list(_root_schemas(doc)):
        yield from visit(root)


def _schema_children(schema: Schema) -> Iterator[Schema]:
    for key in ("items", "not", "additionalProperties"):
        child = schema.get(key)
        if isinstance(child, dict):
            yield child
    for child in (schema.get("properties") or {}).values():
        if isinstance(child, dict):
            yield child
    for key in COMBINERS:
        for child in schema.get(key) or ():
            if isinstance(child, dict):
                yield child


def _root_schemas(doc: dict[str, Any]) -> Iterator[Schema]:
    components = doc.get("components", {})
    yield from (s for s in components.get("schemas", {}).values() if isinstance(s, dict))
    for param in components.get("parameters", {}).values():
        if isinstance(param.get("schema"), dict):
            yield param["schema"]
    for section in ("responses", "requestBodies"):
        for holder in components.get(section, {}).values():
            yield from media_schemas(holder)
    for path, _method, op in operations(doc):
        params = [*doc["paths"][path].get("parameters", []), *op.get("parameters", [])]
        for param in params:
            if isinstance(param.get("schema"), dict):
                yield param["schema"]
        if isinstance(op.get("requestBody"), dict):
            yield from media_schemas(op["requestBody"])
        for response in (op.get("responses") or {}).values():
            if isinstance(response, dict):
                yield from media_schemas(response)


def resolved(schema: Schema, doc: dict[str, Any]) -> Schema:
    """The schema a chain of ``$ref`` ends at (the last one found, if a reference leads nowhere)."""
    while "$ref" in schema:
        target = resolve_pointer(doc, schema["$ref"])
        if not isinstance(target, dict):
            break
        schema = target
    return schema


def object_properties(schema: Schema, doc: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """The properties an object schema ends up with, through $refs, allOf and unions (first one wins)."""
    if depth > 20:
        return {}
    if "$ref" in schema:
        target = resolve_pointer(doc, schema["$ref"])
        return object_properties(target, doc, depth + 1) if isinstance(target, dict) else {}
    merged: dict[str, Any] = {}
    for key in COMBINERS:
        for member in schema.get(key) or ():
            for name, prop in object_properties(member, doc, depth + 1).items():
                merged.setdefault(name, prop)
    for name, prop in (schema.get("properties") or {}).items():
        merged[name] = prop
    return merged
