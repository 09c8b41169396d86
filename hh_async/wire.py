"""From a method's keyword arguments to the parts of an HTTP request, by the operation registry alone.

Values go out as HH reads them: enums (or plain strings) by value, booleans as ``true``/``false``, lists by
repeating the key (``area=1&area=2``), dates in ISO 8601, models as their ``to_dict()``; arguments left
UNSET (or None) are not sent. The generated facade only names the operation and passes the arguments on;
nothing here knows any single endpoint.
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from ._raw.types import Unset
from .operations import Operation, Parameter

_PLACEHOLDER = re.compile(r"{(\w+)}")


@attrs.define(slots=True)
class Parts:
    """What one call sends, before the client adds its base URL, headers, auth and options."""

    method: str
    path: str
    """With the path parameters in, and the query string (``?...``) when there is one."""
    headers: dict[str, str]
    json: Any = None
    form: Mapping[str, Any] | None = None
    files: Any = None
    """``multipart/form-data`` parts, as httpx's ``files=`` takes them."""


def build(
    operation: Operation,
    arguments: Mapping[str, Any],
    *,
    extra_query: Mapping[str, Any] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> Parts:
    """The request for ``operation`` called with ``arguments``; ``extra_*`` add what the spec does not
    (yet) describe, e.g. a parameter HH started requiring before its spec listed it."""
    plan = _plan(operation)
    path_values: dict[str, str] = {}
    query: list[tuple[str, Any]] = []
    headers: dict[str, str] = {}
    index = plan.index
    given = [
        (index[key], value)
        for key, value in arguments.items()
        if value is not None and key in index and not isinstance(value, Unset)
    ]  # the facade passes every parameter, most of them UNSET: only the given ones go on
    for required in plan.required:
        if _absent(arguments.get(required)):
            raise TypeError(f"{operation.function}() needs {required}; got None")
    given.sort(key=_position)  # in the spec's order, whatever the caller's
    for (_, parameter, name, location), value in given:
        if location == "query":
            query.append((name, value))
        elif location == "path":
            path_values[name] = _path_segment(operation, parameter, value)
        else:
            headers[name] = primitive(plain(value))
    if plan.path_names:
        pieces = plan.path_pieces.copy()
        for at, name in plan.path_names:
            pieces[at] = path_values[name]
        path = "".join(pieces)
    else:
        path = operation.path
    if extra_query:
        query += extra_query.items()
    if query:
        path += "?" + query_string(query)
    if extra_headers:
        headers.update(extra_headers)
    parts = Parts(operation.method, path, headers)
    body = operation.request_body
    value = arguments.get("body")
    if body is None:
        if extra_body:
            raise TypeError(f"{operation.function}() sends no body: extra_body has nowhere to go")
        return parts
    if _absent(value):
        if body.required:
            raise TypeError(f"{operation.function}() needs body; got None")
        value = {} if extra_body else None
    if value is not None and body.media == "multipart":
        if extra_body:
            raise TypeError(f"{operation.function}(): extra_body cannot be added to a multipart body")
        to_multipart = getattr(value, "to_multipart", None)
        parts.files = to_multipart() if to_multipart is not None else value
    elif value is not None:
        data = plain(value)
        if extra_body:
            if not isinstance(data, dict):
                raise TypeError(f"{operation.function}(): extra_body needs a body that is a JSON object")
            data = {**data, **extra_body}
        if body.media == "json":
            parts.json = data
        else:
            parts.form = {k: primitive(v) for k, v in data.items() if v is not None}
    return parts


@attrs.frozen
class _Plan:
    """What ``build`` reads of an operation on every call, worked out once."""

    index: Mapping[str, tuple[int, Parameter, str, str]]
    """Python name -> the parameter's position in the spec, itself, its wire name and location."""
    required: tuple[str, ...]
    """Python names of the required parameters, in the spec's order."""
    path_pieces: list[str]
    """The path template cut at its placeholders (``/areas/``, ``{area_id}``...)."""
    path_names: tuple[tuple[int, str], ...]
    """Where each placeholder is in ``path_pieces``, and its name."""


_plans: dict[int, tuple[Operation, _Plan]] = {}


def _position(item: tuple[tuple[int, Parameter, str, str], Any]) -> int:
    return item[0][0]


def _plan(operation: Operation) -> _Plan:
    known = _plans.get(id(operation))
    if known is not None and known[0] is operation:
        return known[1]
    pieces = _PLACEHOLDER.split(operation.path)  # literal, name, literal, name, ..., literal
    plan = _Plan(
        {p.python_name: (i, p, p.name, p.location) for i, p in enumerate(operation.parameters)},
        tuple(p.python_name for p in operation.parameters if p.required),
        pieces,
        tuple((at, pieces[at]) for at in range(1, len(pieces), 2)),
    )
    _plans[id(operation)] = (operation, plan)
    return plan


def plain(value: Any) -> Any:
    """A value as JSON (and HH's query string) carries it."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime.date):  # datetime too
        return value.isoformat()
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"cannot send a {type(value).__name__}: pass str, int, bool, a list, an enum or a model")


def primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def query_string(pairs: Any) -> str:
    """``area=1&area=2&only_with_salary=true``: lists repeat the key, booleans are lower case, None is
    empty; everything but unreserved characters percent-escaped (as httpx encodes ``params=``)."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    encoded: list[str] = []
    add = encoded.append
    for key, value in items:
        name = _quote(key)
        kind = type(value)
        if kind is str:  # the common cases first: a text, a number (its digits need no escaping)
            add(f"{name}={_quote(value)}")
        elif kind is int:
            add(f"{name}={value}")
        else:
            value = plain(value)
            for item in value if isinstance(value, list) else (value,):
                add(f"{name}={_quote(primitive(item))}")
    return "&".join(encoded)


@functools.lru_cache(maxsize=4096)
def _quote(text: str) -> str:
    return quote(text, safe="")


def _absent(value: Any) -> bool:
    return value is None or isinstance(value, Unset)


def _path_segment(operation: Operation, parameter: Parameter, value: Any) -> str:
    text = primitive(plain(value))
    if not text.strip():  # an empty segment would address another resource
        raise ValueError(
            f"{operation.function}(): {parameter.python_name} must not be empty (it is part of the path)"
        )
    return _quote(text)


__all__ = ["Parts", "build", "plain", "primitive", "query_string"]
