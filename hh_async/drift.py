"""Drift warnings: what HH sent that the spec does not describe, logged once per field.

Models keep unknown keys and unknown enum values instead of failing; a ``DriftMonitor`` looks over parsed
models and tells maintainers (logger ``hh_async.drift``, level WARNING) that the spec has fallen behind,
once per model field, however many responses carry it.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

import attrs

logger = logging.getLogger("hh_async.drift")


class DriftMonitor:
    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log
        self._seen: set[tuple[str, str, str]] = set()

    def observe(self, model: Any) -> None:
        """Log, once each, the undocumented fields and enum values found in ``model`` and everything in it."""
        stack = [model]
        while stack:
            value = stack.pop()
            if isinstance(value, list):
                stack.extend(value)
            elif attrs.has(type(value)):
                stack.extend(self._model(value))

    def _model(self, model: Any) -> list[Any]:
        name = type(model).__name__
        declared = [f for f in attrs.fields(type(model)) if f.name != "additional_properties"]
        extras = getattr(model, "additional_properties", None) or {}
        if declared:  # a free-form model declares nothing: all its keys are expected
            for key in extras:
                self._once(
                    name, key, "field", f"HH sent field {key!r} in {name}, which the spec does not describe"
                )
        children = []
        for field in declared:
            value = getattr(model, field.name)
            if isinstance(value, Enum) and not getattr(value, "is_known", True):
                message = f"HH sent {value.value!r} for {name}.{field.name}, not among the spec's values"
                self._once(name, field.name, str(value.value), message)
            children.append(value)
        return children

    def _once(self, model: str, field: str, what: str, message: str) -> None:
        key = (model, field, what)
        if key not in self._seen:
            self._seen.add(key)
            self._log.warning(message)
