"""Docstrings of the facade's methods, from the spec: what HH says of the operation, of each parameter
(its description, enum values, default, limits), the result, the errors HH documents, and a link to the
operation in HH's documentation. An IDE shows them where a user calls ``hh.<method>``."""

from __future__ import annotations

import textwrap
from typing import Any

from openapi_python_client.parser.openapi import Endpoint

from .promises import text
from .walk import resolved

DOCS_PAGE = "https://api.hh.ru/openapi/redoc"
DOCS = DOCS_PAGE + "#operation/{}"
WIDTH = 100
RESULT = "\x00result\x00"
"""Where the result type goes: the facade's two classes return the parsed body, and a Response of it."""
MOST_VALUES = 12
"""Enum values listed in full up to this many; beyond, the count and the first few."""


def _plain(value: Any) -> str:
    """One line of prose, safe inside a triple-quoted string; HH's links within its documentation made
    absolute (an IDE shows the docstring far from HH's pages)."""
    line = " ".join(str(value or "").split()).replace("](#", f"]({DOCS_PAGE}#")
    return line.replace("\\", "\\\\").replace('"""', "'''")


def _limits(schema: dict[str, Any], param: dict[str, Any]) -> list[str]:
    schema = schema.get("items", schema) if schema.get("type") == "array" else schema
    facts = []
    values = [str(v) for v in schema.get("enum") or () if v is not None]
    if values:
        shown = ", ".join(values[:MOST_VALUES])
        facts.append(
            f"One of: {shown}."
            if len(values) <= MOST_VALUES
            else f"One of {len(values)} values: {shown}, ..."
        )
    if "minimum" in schema:
        facts.append(f"At least {schema['minimum']}.")
    if "maximum" in schema:
        facts.append(f"At most {schema['maximum']}.")
    default = param.get("x-hh-default", schema.get("default"))
    if default is not None:
        facts.append(f"HH's default: {default}.")
    return facts


def _parameter_docs(operation: dict[str, Any], spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(location, wire name) -> what the spec says of it."""
    found = {}
    for param in operation.get("parameters", []):
        param = resolved(param, spec)
        if "name" not in param:
            continue
        schema = resolved(param.get("schema") or {}, spec)
        words = [_plain(param.get("description")).rstrip(".") + "." if param.get("description") else ""]
        words += _limits(schema, param)
        if schema.get("type") == "array":
            words.append("Takes a list (the key repeats).")
        found[(param.get("in", ""), param["name"])] = " ".join(w for w in words if w)
    return found


def _wrapped(label: str, body: str, indent: str) -> list[str]:
    lines = textwrap.wrap(
        f"{label}: {body}" if body else f"{label}:",
        WIDTH - len(indent) - 4,
        break_long_words=False,  # links stay whole
        break_on_hyphens=False,
    )
    return [indent + lines[0], *(indent + "    " + line for line in lines[1:])]


def render(endpoint: Endpoint, operation_id: str, operation: dict[str, Any], spec: dict[str, Any]) -> str:
    """The docstring's text (without the quotes), indented for a method of a class; ``RESULT`` stands
    where the result type goes (each of the facade's classes puts its own there)."""
    indent = " " * 8
    summary = _plain(endpoint.summary.get_untrusted_value() if endpoint.summary else operation_id)
    route = f"``{endpoint.method.upper()} {endpoint.path.get_untrusted_value()}``"
    lines = [f"{summary} ({route}, {operation_id}).", ""]
    docs = _parameter_docs(operation, spec)
    located = [
        *(("path", p) for p in endpoint.path_parameters),
        *(("query", p) for p in endpoint.query_parameters),
        *(("header", p) for p in endpoint.header_parameters),
    ]
    args = [
        _wrapped(str(p.python_name), docs.get((where, text(p.name)), ""), indent + "    ")
        for where, p in located
    ]
    if endpoint.bodies:
        body = operation.get("requestBody", {})
        args.insert(
            len(endpoint.path_parameters), _wrapped("body", _plain(body.get("description")), indent + "    ")
        )
    if args:
        lines += [indent + "Args:", *(line for arg in args for line in arg)]
    lines += [indent + "Returns:", indent + f"    {RESULT}"]
    errors = [
        f"{status} {_plain(answer.get('description'))}".rstrip()
        for status, answer in sorted(operation.get("responses", {}).items())
        if str(status)[:1] in "45" and isinstance(answer, dict)
    ]
    if errors:
        lines += [indent + "Raises:", *_wrapped("HHError", "; ".join(errors) + ".", indent + "    ")]
    lines += ["", indent + f"HH's documentation: {DOCS.format(operation_id)}"]
    return "\n".join(lines[:1] + [line.rstrip() for line in lines[1:]]) + "\n" + indent
