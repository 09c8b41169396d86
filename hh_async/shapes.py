"""Which of an answer's documented shapes a body is.

HH documents some answers as one of several shapes: ``GET /me`` is an application's, an applicant's, an
employer's or a manager's profile; the active vacancy list is one of two. The body does not name its
shape, so it is read by its keys: the shape that fits best is the one with the fewest keys the spec
promised but the body lacks plus keys the body has but the shape does not declare; on a tie, the one
that declares more of the body's keys; then the first documented. A shape that fits nothing well still
parses (models are tolerant), so this only decides which class, never whether.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


@functools.cache
def _declared(cls: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The JSON keys a generated model declares, and those its spec promises."""
    fields: Mapping[str, tuple[str, Any, Any]] = getattr(cls, "_fields", {})
    promise: Mapping[str, tuple[bool, bool]] = getattr(cls, "_promise", {})
    required = frozenset(
        fields[name][0] for name, (needed, _) in promise.items() if needed and name in fields
    )
    return frozenset(getattr(cls, "_keys", frozenset())), required


def fitting(candidates: Sequence[T], body: Mapping[str, Any]) -> T:
    """The candidate class that fits ``body`` best (see the module's docstring).

    The answer depends only on the body's keys, and one operation's bodies come with few key sets: it is
    remembered per set (weighing a vacancy's ~60 keys against two shapes costs ~10 us; the lookup ~1 us)."""
    known = (tuple(candidates), tuple(body))
    found: T | None = _fitted.get(known)
    if found is None:
        if len(_fitted) >= _FITTED_MAX:  # bodies whose keys keep changing must not grow it for ever
            _fitted.clear()
        found = _fitted[known] = _weigh(candidates, body)
    return found


_fitted: dict[tuple[Any, tuple[str, ...]], Any] = {}
_FITTED_MAX = 512


def _weigh(candidates: Sequence[T], body: Mapping[str, Any]) -> T:
    keys = body.keys()
    best, best_misfit = candidates[0], None
    for candidate in candidates:
        declared, required = _declared(candidate)
        known = len(declared.intersection(keys))
        misfit = (len(required.difference(keys)) + len(keys) - known, -known)
        if best_misfit is None or misfit < best_misfit:
            best, best_misfit = candidate, misfit
    return best
