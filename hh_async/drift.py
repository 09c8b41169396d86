"""Drift warnings: where HH and its spec part ways, logged once per field.

Models keep unknown keys and unknown enum values instead of failing, and parse a body that leaves out a
field the spec requires (or sends null where it may not). Their types say what the spec promises; a
``DriftMonitor`` looks over parsed models and tells maintainers (logger ``hh_async.drift``, level WARNING)
where a body did not keep the promise or the spec has fallen behind, once per model field, however many
responses carry it:

- a field the spec does not describe, or an enum value it does not list;
- a field the spec requires that HH left out, or a null where the spec allows none.

Drift is reported for the whole body when it is observed (``HHClient(drift=monitor)`` observes every
answer): observing reads every field, so a lazy model is converted whole. Without a monitor nothing is
read that the caller does not read. ``hh_async.validation.validate()`` checks a body against every rule
of the spec (types, enums, nesting) and says where.
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
        promised: dict[str, tuple[bool, bool]] = getattr(type(model), "_promise", {})
        children = []
        for field in declared:
            value = getattr(model, field.name)
            required, nullable = promised.get(field.name, (False, True))
            if required and type(value).__name__ == "Unset":
                message = f"HH left out {name}.{field.name}, which the spec requires"
                self._once(name, field.name, "missing", message)
            elif value is None and not nullable:
                message = f"HH sent null for {name}.{field.name}, where the spec allows no null"
                self._once(name, field.name, "null", message)
            elif isinstance(value, Enum) and not getattr(value, "is_known", True):
                message = f"HH sent {value.value!r} for {name}.{field.name}, not among the spec's values"
                self._once(name, field.name, str(value.value), message)
            children.append(value)
        return children

    def _once(self, model: str, field: str, what: str, message: str) -> None:
        key = (model, field, what)
        if key not in self._seen:
            self._seen.add(key)
            self._log.warning(message)
