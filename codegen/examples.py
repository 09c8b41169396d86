"""The JSON examples of a spec: media-type ``example``/``examples`` of request bodies and responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .specfile import resolve_pointer
from .walk import operations

JSON = "application/json"


def _examples(media: dict[str, Any], doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "example" in media:
        yield "example", media["example"]
    for name, example in (media.get("examples") or {}).items():
        if isinstance(example, dict) and "$ref" in example:
            example = resolve_pointer(doc, example["$ref"]) or {}
        if isinstance(example, dict) and "value" in example:
            yield name, example["value"]


def spec_examples(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(operationId, 'body' or a status, example name, value) for every JSON example of the spec."""
    for _path, _method, op in operations(doc):
        body = (op.get("requestBody") or {}).get("content", {}).get(JSON)
        if isinstance(body, dict):
            for name, value in _examples(body, doc):
                yield op["operationId"], "body", name, value
        for status, response in (op.get("responses") or {}).items():
            if isinstance(response, dict) and "$ref" in response:
                response = resolve_pointer(doc, response["$ref"]) or {}
            media = (response.get("content") or {}).get(JSON) if isinstance(response, dict) else None
            if isinstance(media, dict):
                for name, value in _examples(media, doc):
                    yield op["operationId"], str(status), name, value
