"""A small applier of OpenAPI Overlay 1.0 documents (https://spec.openapis.org/overlay/v1.0.0).

Targets are RFC 9535 JSONPath expressions. An action whose target matches nothing is reported, not fatal:
HH's spec drifts, and a stale action must not stop a regeneration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonpath_rfc9535 as jsonpath
import yaml

from .specfile import _JsonScalarLoader


class OverlayError(Exception):
    """An overlay document is malformed."""


def load_overlays(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every overlay in ``directory``, in file-name order (the order they apply in)."""
    overlays = []
    for path in sorted(directory.glob("*.y*ml")):
        doc = yaml.load(path.read_bytes(), Loader=_JsonScalarLoader)
        if not isinstance(doc, dict) or not str(doc.get("overlay", "")).startswith("1."):
            raise OverlayError(f"{path}: not an Overlay 1.x document (missing 'overlay: 1.0.0')")
        if not isinstance(doc.get("actions"), list):
            raise OverlayError(f"{path}: 'actions' must be a list")
        overlays.append((path.name, doc))
    return overlays


def apply_overlay(doc: dict[str, Any], overlay: dict[str, Any], name: str = "overlay") -> list[str]:
    """Apply ``overlay`` to ``doc`` in place; return one message per action that matched nothing."""
    unmatched = []
    for index, action in enumerate(overlay["actions"]):
        target = action.get("target")
        if not isinstance(target, str):
            raise OverlayError(f"{name}: action {index} has no target")
        try:
            nodes = jsonpath.find(target, doc)
        except jsonpath.JSONPathError as exc:
            raise OverlayError(f"{name}: action {index}: bad JSONPath {target!r}: {exc}") from None
        if not nodes:
            label = action.get("description") or target
            unmatched.append(f"{name}: action {index} matched nothing: {label}")
            continue
        if action.get("remove"):
            # Remove from the end so list indices of later matches stay valid.
            for node in sorted(nodes, key=lambda n: n.location, reverse=True):
                _remove(node)
        elif "update" in action:
            for node in nodes:
                _update(node, action["update"])
    return unmatched


def _remove(node: jsonpath.JSONPathNode) -> None:
    if node.parent is None:
        raise OverlayError("an overlay cannot remove the document root")
    container = node.parent.value
    key = node.location[-1]
    if isinstance(container, list):
        assert isinstance(key, int)
        del container[key]
    elif isinstance(container, dict):
        container.pop(key, None)


def _update(node: jsonpath.JSONPathNode, value: Any) -> None:
    target = node.value
    if isinstance(target, dict) and isinstance(value, dict):
        _merge(target, value)
    elif isinstance(target, list):
        target.extend(value if isinstance(value, list) else [value])
    elif node.parent is not None:
        node.value = value
    else:
        raise OverlayError("an overlay can only merge an object into the document root")


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Objects merge recursively; anything else replaces what was there."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
