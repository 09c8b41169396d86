"""``python -m codegen report``: how complete and faithful the generated client is, as JSON.

Reads the spec (``openapi.yml``), the overlays and the generated package; the generator's warnings come
from ``_raw/generation.json``, written by ``generate``.
"""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path
from typing import Any

from .examples import spec_examples
from .specfile import HTTP_METHODS
from .walk import operations

JSON = "application/json"


def roundtrip(model: Any, value: Any) -> str | None:
    """None when ``value`` parses with ``model`` and to_dict() gives it back unchanged; else the reason."""
    if model is None:
        return "no model for this body"
    if isinstance(value, list):
        for index, item in enumerate(value):
            reason = roundtrip(model, item)
            if reason:
                return f"[{index}]: {reason}"
        return None
    candidates = model if isinstance(model, tuple) else (model,)
    reasons = []
    for candidate in candidates:
        try:
            back = candidate.from_dict(value).to_dict()
        except Exception as exc:
            reasons.append(f"{candidate.__name__}: {type(exc).__name__}: {exc}")
            continue
        if back == value:
            return None
        reasons.append(f"{candidate.__name__}: to_dict() differs: {_first_difference(value, back)}")
    return "; ".join(reasons)


def _first_difference(expected: Any, actual: Any, path: str = "$") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() | actual.keys():
            if key not in actual:
                return f"{path}.{key} lost"
            if key not in expected:
                return f"{path}.{key} added"
            if expected[key] != actual[key]:
                return _first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, b) in enumerate(zip(expected, actual, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{index}]")
    return f"{path}: {expected!r:.60} became {actual!r:.60}"


def non_ascii_identifiers(package_dir: Path) -> list[str]:
    """File names and Python identifiers under ``package_dir`` that are not ASCII."""
    found = []
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if not str(relative).isascii():
            found.append(str(relative))
        if path.suffix != ".py":
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        found += [
            f"{relative}: {t.string}" for t in tokens if t.type == tokenize.NAME and not t.string.isascii()
        ]
    return found


def build(doc: dict[str, Any], spec_sha256: str, package_dir: Path) -> dict[str, Any]:
    """The figures for the ``hh_async`` package at ``package_dir`` (which must be the one importable)."""
    import hh_async
    from hh_async.operations import registry

    if Path(hh_async.__file__).resolve().parent != package_dir.resolve():
        raise RuntimeError(f"report: hh_async imports from {hh_async.__file__}, not from {package_dir}")
    generation = json.loads((package_dir / "_raw" / "generation.json").read_text())
    ops = registry()
    total = sum(1 for path_item in doc["paths"].values() for m in path_item if m in HTTP_METHODS)
    json_2xx = typed_2xx = 0
    for _path, _method, op in operations(doc):
        for status, response in (op.get("responses") or {}).items():
            if str(status).startswith("2") and JSON in (response.get("content") or {}):
                json_2xx += 1
                entry = ops.get(op["operationId"])
                typed_2xx += bool(entry and entry.model_refs.get(str(status)))
    failures = []
    examples_total = 0
    for op_id, status, name, value in spec_examples(doc):
        examples_total += 1
        entry = ops.get(op_id)
        if entry is None:
            reason: str | None = "operation not generated"
        else:
            reason = roundtrip(entry.body if status == "body" else entry.responses.get(status), value)
        if reason:
            failures.append({"operation": op_id, "status": status, "example": name, "reason": reason})
    return {
        "stale": generation["spec_sha256"] != spec_sha256,
        "spec_sha256": spec_sha256,
        "generated_from_sha256": generation["spec_sha256"],
        "operations_total": total,
        "operations_generated": generation["operations_generated"],
        "responses_2xx_json_total": json_2xx,
        "responses_2xx_json_typed": typed_2xx,
        "generator_warnings": len(generation["warnings"]),
        "warnings": generation["warnings"],
        "overlay_notes": generation["overlay_notes"],
        "non_ascii_identifiers": len(non_ascii_identifiers(package_dir)),
        "examples_total": examples_total,
        "examples_roundtrip_ok": examples_total - len(failures),
        "examples_failures": failures,
    }
