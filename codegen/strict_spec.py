"""The strict spec: the spec as HH states it, for strict validation and the fake server.

The generated models are tolerant on purpose (HH's bodies are looser than its spec). Users and tests who want
the spec enforced validate against these schemas: the overlaid spec *before* normalization, reduced to what
validation reads (no descriptions or examples), plus the first example of each body. ``generate`` writes it
to ``hh_async/_raw/spec_rules.json``, which ``hh_async.validation`` reads (the fake server through it).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .examples import spec_examples
from .specfile import resolve_pointer
from .walk import each_schema, operations

JSON = "application/json"
_PROSE = ("description", "title", "example", "examples", "externalDocs", "deprecated", "x-name")


def _json_schema(holder: Any, doc: dict[str, Any]) -> Any:
    if isinstance(holder, dict) and "$ref" in holder:
        holder = resolve_pointer(doc, holder["$ref"])
    media = (holder.get("content") or {}).get(JSON) if isinstance(holder, dict) else None
    return media.get("schema") if isinstance(media, dict) else None


def _parameters(spec: dict[str, Any], path: str, op: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters (path-level ones included, $refs resolved): name, in, required, schema."""
    found = []
    for param in [*spec["paths"][path].get("parameters", []), *op.get("parameters", [])]:
        if "$ref" in param:
            param = resolve_pointer(spec, param["$ref"]) or {}
        if "name" in param:
            found.append({k: param[k] for k in ("name", "in", "required", "schema") if k in param})
    return found


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """Component schemas plus, per operationId, its parameters and the schemas of its JSON body and
    responses, and the first example of each."""
    ops: dict[str, Any] = {}
    for path, _method, op in operations(spec):
        entry: dict[str, Any] = {"responses": {}, "parameters": _parameters(spec, path, op)}
        body = _json_schema(op.get("requestBody"), spec)
        if body is not None:
            entry["body"] = body
        for status, response in (op.get("responses") or {}).items():
            schema = _json_schema(response, spec)
            if schema is not None:
                entry["responses"][str(status)] = schema
        ops[op["operationId"]] = entry
    strict = copy.deepcopy({"schemas": spec.get("components", {}).get("schemas", {}), "operations": ops})
    # One walk over every schema: the components, and each operation's body and response schemas.
    roots = [
        s
        for e in strict["operations"].values()
        for s in (e.get("body"), *e["responses"].values(), *(p.get("schema") for p in e["parameters"]))
        if s
    ]
    walked = {**strict["schemas"], **{f"operation {i}": root for i, root in enumerate(roots)}}
    for schema in list(each_schema({"components": {"schemas": walked}})):
        for key in _PROSE:
            schema.pop(key, None)
    # The first example of each body, for the fake server (hh_async.testing) to answer with.
    strict["examples"] = {}
    for operation_id, status, _name, value in spec_examples(spec):
        strict["examples"].setdefault(operation_id, {}).setdefault(status, value)
    return strict


def render(strict: dict[str, Any]) -> str:
    return json.dumps(strict, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
