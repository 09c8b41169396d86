"""Strict validation: does a body follow the spec's own rules (required, types, enums, nullability)?

The models accept whatever HH really sends; this is for users and tests who want the spec enforced. It is
not on the request path. Every violation is reported with its JSON path::

    from hh_async.validation import validate
    for v in validate(body, "get-vacancies", "200"):
        print(v.path, v.message)        # $.items[3].salary.currency: ...
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import attrs

Schema = dict[str, Any]


@attrs.frozen
class Violation:
    path: str
    """Where, as a JSON path: ``$.items[3].salary``."""
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@functools.cache
def _rules() -> dict[str, Any]:
    text = resources.files(f"{__package__}._raw").joinpath("spec_rules.json").read_text(encoding="utf-8")
    rules: dict[str, Any] = json.loads(text)
    return rules


def validate(body: Any, operation_id: str, status: str = "200") -> list[Violation]:
    """Violations of the spec by a response body (``status``) or a request body (``status="body"``): the
    decoded JSON, or a model of it."""
    operation = _rules()["operations"].get(operation_id)
    if operation is None:
        raise KeyError(f"no operation {operation_id!r} in the spec")
    schema = operation.get("body") if status == "body" else operation["responses"].get(status)
    if schema is None:
        raise KeyError(f"{operation_id}: the spec documents no JSON body for {status!r}")
    return _Validator(_rules()["schemas"]).check(_json(body), schema)


def validate_schema(body: Any, schema_name: str) -> list[Violation]:
    """Violations of the component schema ``schema_name`` (as the spec names it) by ``body``."""
    schemas = _rules()["schemas"]
    if schema_name not in schemas:
        raise KeyError(f"no schema {schema_name!r} in the spec")
    return _Validator(schemas).check(_json(body), schemas[schema_name])


def _json(body: Any) -> Any:
    """A model is checked as the JSON it stands for (``to_dict()``); anything else as it is."""
    to_dict = getattr(body, "to_dict", None)
    return to_dict() if callable(to_dict) and not isinstance(body, dict) else body


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class _Validator:
    def __init__(self, schemas: dict[str, Schema]) -> None:
        self.schemas = schemas

    def resolve(self, schema: Schema) -> Schema:
        seen = 0
        while "$ref" in schema and seen < 50:
            schema = self.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            seen += 1
        return schema

    def admits_null(self, schema: Schema) -> bool:
        schema = self.resolve(schema)
        if schema.get("nullable") or schema.get("type") == "null" or None in (schema.get("enum") or ()):
            return True
        members = [*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())]
        if any(self.admits_null(m) for m in members):
            return True
        all_of = schema.get("allOf") or ()
        return bool(all_of) and all(self.admits_null(m) for m in all_of)

    def declared(self, schema: Schema) -> frozenset[str]:
        """Field names a schema declares, through $ref and allOf."""
        schema = self.resolve(schema)
        names = set(schema.get("properties") or ())
        for member in schema.get("allOf") or ():
            names |= self.declared(member)
        return frozenset(names)

    def check(
        self, value: Any, schema: Schema, path: str = "$", known: frozenset[str] = frozenset()
    ) -> list[Violation]:
        """``known``: fields declared beside this schema (by its allOf siblings), so not "extra" here."""
        schema = self.resolve(schema)
        if value is None:
            return (
                [] if self.admits_null(schema) else [Violation(path, "null where the spec does not allow it")]
            )
        found: list[Violation] = []
        if schema.get("allOf"):
            siblings = known | self.declared(schema)
            for member in schema["allOf"]:
                found += self.check(value, member, path, siblings)
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                found += self._alternatives(value, schema[key], path)
        kind = schema.get("type")
        if kind in _TYPES and not self._is(value, kind):
            return [*found, Violation(path, f"expected {kind}, got {type(value).__name__}")]
        if "enum" in schema and value not in schema["enum"]:
            found.append(Violation(path, f"{value!r} is not one of the spec's values {schema['enum']!r}"))
        if isinstance(value, dict):
            found += self._object(value, schema, path, known)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                found += self.check(item, schema["items"], f"{path}[{index}]")
        return found

    @staticmethod
    def _is(value: Any, kind: str) -> bool:
        if isinstance(value, bool) and kind != "boolean":
            return False
        return isinstance(value, _TYPES[kind])

    def _alternatives(self, value: Any, members: list[Schema], path: str) -> list[Violation]:
        results = [self.check(value, member, path) for member in members]
        if any(not r for r in results):
            return []
        # The closest alternative is one of the right type with the fewest violations.
        closest = min(
            results,
            key=lambda r: (any(v.path == path and v.message.startswith("expected") for v in r), len(r)),
        )
        return [Violation(path, f"matches none of {len(members)} alternatives; closest fails on:"), *closest]

    def _object(
        self, value: dict[str, Any], schema: Schema, path: str, known: frozenset[str]
    ) -> list[Violation]:
        missing = [name for name in schema.get("required") or () if name not in value]
        found = [Violation(f"{path}.{name}", "required field missing") for name in missing]
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += self.check(item, properties[name], f"{path}.{name}")
            elif extra is False and name not in known:
                found.append(Violation(f"{path}.{name}", "field not in the spec"))
            elif isinstance(extra, dict):
                found += self.check(item, extra, f"{path}.{name}")
        return found
