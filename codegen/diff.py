"""``python -m codegen diff OLD NEW``: what a new spec version changes for code written against the old one.

Operations are matched by operationId, schemas by component key. Breaking: a removed operation, parameter,
schema or field; a field or parameter whose type changed; a parameter or request field that became required.
"""

from __future__ import annotations

from typing import Any

from .walk import operations


def _type(schema: Any) -> str:
    """A short, comparable description of a schema's type."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            return f"{key}[{', '.join(_type(m) for m in schema[key])}]"
    if schema.get("type") == "array":
        return f"array[{_type(schema.get('items'))}]"
    return str(schema.get("type", "any"))


def _params(op: dict[str, Any], doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for param in op.get("parameters", []):
        if "$ref" in param:
            key = param["$ref"].rsplit("/", 1)[-1]
            param = doc.get("components", {}).get("parameters", {}).get(key, {})
        if "name" in param:
            found[f"{param.get('in', '?')}:{param['name']}"] = param
    return found


def _operation_changes(old: dict[str, Any], new: dict[str, Any], docs: tuple[Any, Any]) -> list[str]:
    changes = []
    old_params, new_params = _params(old, docs[0]), _params(new, docs[1])
    for name in old_params.keys() - new_params.keys():
        changes.append(f"BREAKING parameter removed: {name}")
    for name in new_params.keys() - old_params.keys():
        required = new_params[name].get("required")
        changes.append(f"{'BREAKING new required' if required else 'new optional'} parameter: {name}")
    for name in old_params.keys() & new_params.keys():
        before, after = _type(old_params[name].get("schema")), _type(new_params[name].get("schema"))
        if before != after:
            changes.append(f"BREAKING parameter {name} retyped: {before} -> {after}")
        if new_params[name].get("required") and not old_params[name].get("required"):
            changes.append(f"BREAKING parameter {name} became required")
    old_status, new_status = set(old.get("responses", {})), set(new.get("responses", {}))
    for status in sorted(map(str, old_status - new_status)):
        changes.append(f"response {status} no longer documented")
    for status in sorted(map(str, new_status - old_status)):
        changes.append(f"response {status} newly documented")
    return changes


def _schema_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    for name in sorted(old_props.keys() - new_props.keys()):
        changes.append(f"BREAKING field removed: {name}")
    for name in sorted(old_props.keys() & new_props.keys()):
        before, after = _type(old_props[name]), _type(new_props[name])
        if before != after:
            changes.append(f"BREAKING field {name} retyped: {before} -> {after}")
    for name in sorted(set(new.get("required") or ()) - set(old.get("required") or ())):
        changes.append(f"BREAKING field {name} became required")
    for name in sorted(new_props.keys() - old_props.keys()):
        changes.append(f"field added: {name}")
    return changes


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    def by_id(doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
        return {
            op["operationId"]: (f"{m.upper()} {p}", op) for p, m, op in operations(doc) if "operationId" in op
        }

    old_ops, new_ops = by_id(old), by_id(new)
    changed = {}
    for op_id in sorted(old_ops.keys() & new_ops.keys()):
        route_old, op_old = old_ops[op_id]
        route_new, op_new = new_ops[op_id]
        changes = _operation_changes(op_old, op_new, (old, new))
        if route_old != route_new:
            changes.insert(0, f"BREAKING moved: {route_old} -> {route_new}")
        if changes:
            changed[op_id] = changes
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    schema_changes = {}
    for key in sorted(old_schemas.keys() & new_schemas.keys()):
        changes = _schema_changes(old_schemas[key], new_schemas[key])
        if changes:
            schema_changes[key] = changes
    return {
        "operations_added": sorted(f"{new_ops[i][0]} ({i})" for i in new_ops.keys() - old_ops.keys()),
        "operations_removed": sorted(f"{old_ops[i][0]} ({i})" for i in old_ops.keys() - new_ops.keys()),
        "operations_changed": changed,
        "schemas_added": sorted(new_schemas.keys() - old_schemas.keys()),
        "schemas_removed": sorted(old_schemas.keys() - new_schemas.keys()),
        "schemas_changed": schema_changes,
        "breaking": _count_breaking(old_ops, new_ops, changed, schema_changes),
    }


def _count_breaking(old_ops: dict[str, Any], new_ops: dict[str, Any], *changes: dict[str, list[str]]) -> int:
    removed = len(old_ops.keys() - new_ops.keys())
    return removed + sum(
        line.startswith("BREAKING") for group in changes for lines in group.values() for line in lines
    )


def render(changes: dict[str, Any]) -> str:
    """The comparison as text a person can read top to bottom."""
    lines = [f"{changes['breaking']} breaking change(s)", ""]
    for title, key in (
        ("Operations removed (BREAKING)", "operations_removed"),
        ("Operations added", "operations_added"),
    ):
        lines.append(f"{title}: {len(changes[key])}")
        lines += [f"  - {item}" for item in changes[key]]
    for title, key in (("Operations changed", "operations_changed"), ("Schemas changed", "schemas_changed")):
        lines.append(f"{title}: {len(changes[key])}")
        for name, items in changes[key].items():
            lines.append(f"  {name}")
            lines += [f"    - {item}" for item in items]
    lines.append(
        f"Schemas removed: {len(changes['schemas_removed'])}; added: {len(changes['schemas_added'])}"
    )
    lines += [f"  - {name}" for name in changes["schemas_removed"]]
    return "\n".join(lines)
