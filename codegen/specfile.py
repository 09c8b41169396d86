"""Fetching and loading HeadHunter's OpenAPI document.

The spec is YAML, but HH's API speaks JSON: scalars must load as JSON would give them. A default YAML
loader turns unquoted timestamps in examples into ``datetime`` objects; ours keeps them strings.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SOURCE = "https://api.hh.ru/openapi/specification/public"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JsonScalarLoader(_BaseLoader):  # type: ignore[misc]
    """A safe loader whose implicit types are the JSON ones (no timestamps)."""


_JsonScalarLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class SpecError(Exception):
    """The spec source is missing, unreachable or not an OpenAPI 3 document."""


def parse(data: bytes, source: str) -> dict[str, Any]:
    """Parse and sanity-check an OpenAPI 3 document; raise SpecError saying what is wrong."""
    head = data.lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        raise SpecError(f"{source}: got HTML/XML, not an OpenAPI document (an error page?)")
    try:
        doc = yaml.load(data, Loader=_JsonScalarLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML/JSON (truncated?): {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise SpecError(f"{source}: not an OpenAPI 3 document (no 'openapi: 3.x' at the top level)")
    problems = structural_problems(doc)
    if problems:
        listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SpecError(f"{source}: incomplete OpenAPI document (truncated?): {listed}")
    return doc


def structural_problems(doc: dict[str, Any]) -> list[str]:
    """What a complete spec has and a truncated one usually lacks: paths, responses, resolvable refs."""
    problems: list[str] = []
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        return ["no paths"]
    if not isinstance(doc.get("info"), dict):
        problems.append("no info object")
    for path, item in paths.items():
        if not isinstance(item, dict):
            problems.append(f"path {path} is empty")
            continue
        for method, op in item.items():
            if method in HTTP_METHODS and not (isinstance(op, dict) and op.get("responses")):
                problems.append(f"{method.upper()} {path} has no responses")
    for ref in _refs(doc):
        if ref.startswith("#/") and resolve_pointer(doc, ref) is None:
            problems.append(f"unresolvable $ref {ref}")
    return problems


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def resolve_pointer(doc: Any, ref: str) -> Any:
    """Follow a local JSON pointer such as '#/components/schemas/Foo'; None if it leads nowhere."""
    node = doc
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def read_source(source: str) -> bytes:
    """The bytes of a spec from a local path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=60, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SpecError(f"{source}: could not fetch the spec: {exc}") from None
        return response.content
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"{source}: no such file (set HH_SPEC to a path or an http(s) URL of HH's spec)")
    return path.read_bytes()


def previous(destination: Path) -> Path:
    """Where ``fetch`` keeps the spec it replaced: ``openapi.yml`` -> ``openapi.previous.yml``."""
    return destination.with_name(f"{destination.stem}.previous{destination.suffix}")


def fetch(source: str, destination: Path) -> dict[str, Any]:
    """Copy a validated spec to ``destination``; a bad source leaves the old file untouched, and an old
    file that differs is kept as ``previous(destination)`` for ``python -m codegen diff``."""
    data = read_source(source)
    doc = parse(data, source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_file() and destination.read_bytes() != data:
        os.replace(destination, previous(destination))
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".openapi-", suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, destination)
    return doc


def load(path: Path) -> dict[str, Any]:
    return parse(path.read_bytes(), str(path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
