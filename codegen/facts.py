"""Facts about an operation that the registry reads from the spec (the normalized one) rather than from a list
kept by hand: whether it is one of HH's paged lists, ``per_page``'s default and maximum, how deep paging goes.

HH states some of them only in Russian prose; the patterns below read them there.
"""

from __future__ import annotations

import re
from typing import Any

from .walk import Schema, object_properties


def paginated(op: dict[str, Any], doc: dict[str, Any]) -> bool:
    """HH's paged lists: ``page``/``per_page`` parameters and a body of ``{items, found, pages, page}``."""
    names = {p.get("name") for p in op.get("parameters", [])}
    schema = _response_schema(op)
    if not ({"page", "per_page"} <= names and schema):
        return False
    return {"items", "pages"} <= set(object_properties(schema, doc))


def _response_schema(op: dict[str, Any]) -> Schema | None:
    for status, response in (op.get("responses") or {}).items():
        if str(status).startswith("2") and isinstance(response, dict):
            media = (response.get("content") or {}).get("application/json")
            schema = media.get("schema") if isinstance(media, dict) else None
            if isinstance(schema, dict):
                return schema
    return None


_STATED_DEFAULT = re.compile(r"по умолчанию\W*(\d+)")
_STATED_MAXIMUM = re.compile(r"максим\w*(?: значение)?\W*(\d+)")


def per_page_limits(op: dict[str, Any]) -> dict[str, int] | None:
    """``per_page``'s default and maximum as the spec declares them, or else as the parameter's description
    states them ("по умолчанию — 20, максимум — 100")."""
    for param in op.get("parameters", []):
        if param.get("name") == "per_page":
            text = param.get("description") or ""
            declared = {
                "default": param.get("x-hh-default") or _stated(_STATED_DEFAULT, text),
                "maximum": (param.get("schema") or {}).get("maximum") or _stated(_STATED_MAXIMUM, text),
            }
            return {k: int(v) for k, v in declared.items() if isinstance(v, int | float)}
    return None


def _stated(pattern: re.Pattern[str], text: str) -> int | None:
    found = pattern.search(text)
    return int(found.group(1)) if found else None


_DEPTH_CAP = re.compile(r"глубина возвращаемых результатов не может быть больше\W*(\d+)")


def depth_cap(op: dict[str, Any]) -> int | None:
    """How deep a paged list goes (``(page + 1) * per_page`` at most), as HH's description of the
    operation states it: "глубина возвращаемых результатов не может быть больше 2000"."""
    found = _DEPTH_CAP.search(op.get("description") or "")
    return int(found.group(1)) if found else None
