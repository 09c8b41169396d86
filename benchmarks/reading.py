"""What a caller reading every field of an answer does, for the benchmarks that time it (``client_cpu``,
and ``parse_cost`` in its timing subprocesses): every field of every model once, by attribute."""

from __future__ import annotations

import attrs

_FIELDS: dict[type, tuple[str, ...]] = {}


def read_every_field(model: object) -> None:
    stack = [model]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is list:
            stack.extend(value)  # type: ignore[arg-type]
            continue
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in attrs.fields(kind)) if attrs.has(kind) else ()
        if names:
            stack.extend([getattr(value, name) for name in names])
