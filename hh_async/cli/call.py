"""``call`` and ``operations``: any operation of the registry from a shell, its ``KEY=VALUE`` arguments
turned into what the method takes by the registry's parameter types; the answer as JSON on stdout."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..client import HHClient
from ..operations import Operation, Parameter, registry
from .output import plain
from .parser import UsageError


def operations() -> int:
    for op_id, operation in sorted(registry().items()):
        paged = " (paged)" if operation.paginated else ""
        print(f"{op_id:<48} {operation.method:<6} {operation.path}{paged}")
    return 0


async def call(hh: HHClient, args: argparse.Namespace) -> int:
    operation = registry().get(args.operation)
    if operation is None:
        raise UsageError(f"unknown operation {args.operation!r}: `hh-async operations` lists them")
    arguments = coerce_arguments(operation, key_value_pairs(args.arguments))
    method = getattr(hh, operation.function)
    try:
        result = await method(**arguments)
    except TypeError as exc:
        raise UsageError(f"{args.operation}: {exc}") from None
    if result is not None:
        print(json.dumps(plain(result), ensure_ascii=False, indent=2))
    return 0


def key_value_pairs(items: list[str]) -> list[tuple[str, str]]:
    """``KEY=VALUE`` words as (python_name, text)."""
    found = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"arguments are KEY=VALUE, got {item!r}")
        found.append((key.replace("-", "_"), value))
    return found


def coerce_arguments(operation: Operation, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Text from the command line to what the method takes, by the registry's parameter types: numbers,
    booleans, lists (a repeated key), enum values checked, and the body as JSON (``body=@file.json``)."""
    parameters = operation.by_python_name
    result: dict[str, Any] = {}
    for key, text in pairs:
        if key == "body" and operation.request_body is not None:
            result["body"] = _json_argument(text)  # sent as it is: no model in between to drop a field
            continue
        parameter = parameters.get(key)
        if parameter is None:
            names = ", ".join(sorted([*parameters, *(["body"] if operation.request_body else [])]))
            raise UsageError(f"{operation.operation_id} takes no {key!r}; it takes {names}")
        try:
            value = _scalar(parameter, text)
        except ValueError as exc:
            raise UsageError(f"{key}: {exc}") from None
        if parameter.repeated:
            result.setdefault(key, []).append(value)
        else:
            result[key] = value
    return result


def _scalar(parameter: Parameter, text: str) -> Any:
    if parameter.type == "integer":
        return int(text)
    if parameter.type == "number":
        return float(text)
    if parameter.type == "boolean":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"true or false expected, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    if parameter.enum and text not in parameter.enum:
        raise ValueError(f"one of {', '.join(parameter.enum)} expected, got {text!r}")
    return text


def _json_argument(text: str) -> Any:
    try:
        source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        return json.loads(source)
    except OSError as exc:
        raise UsageError(f"body: cannot read {text[1:]}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"body: not JSON ({exc})") from None
