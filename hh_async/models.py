"""Every model of the API, by class name: ``from hh_async.models import VacanciesItem``.

The classes are generated from HH's spec into ``hh_async._raw.models``; this is their public face, loaded
on first use like the rest of the package (importing it loads no model). ``UNSET`` and ``Unset`` mark a
field HH left out.

Types say what HH promises; ``hh_async.validation.validate()`` says whether a body kept the promise. A
field the spec requires is typed without ``| Unset`` and one that may not be null without ``| None``, but a
model built from a body parses whatever HH really sent and gives it back unchanged in ``to_dict()``: a
field HH left out holds ``UNSET``, one it sent as null holds ``None``, and a value of another shape than
promised is kept as it came. ``hh_async.DriftMonitor`` logs such broken promises.

Models built from a body are lazy: a field is converted on first read, once (see
``hh_async._raw.types.Model``). Models you build to send are plain attrs classes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._raw.models import *  # noqa: F403 - every model, for type checkers
    from ._raw.types import UNSET as UNSET, Unset as Unset

_TYPES = frozenset({"UNSET", "Unset"})


def __getattr__(name: str) -> Any:
    if name in _TYPES:
        value = getattr(import_module("._raw.types", __package__), name)
    elif name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    else:
        value = getattr(import_module("._raw.models", __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*import_module("._raw.models", __package__).__all__, *_TYPES])
