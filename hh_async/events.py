"""What the client does, as log records and as events for your hooks (metrics, tracing).

Every step worth knowing goes through ``Events.emit``: it writes one log record and calls the hooks
attached for that kind of event. Records and events carry the method, the path (never the query string:
it may hold what a user typed), the status and HH's request id; never a header, token or secret.

| event | logger | level | when |
| --- | --- | --- | --- |
| ``request`` | ``hh_async.http`` | DEBUG | an attempt is sent |
| ``response`` | ``hh_async.http`` | DEBUG | its answer arrived (``elapsed`` seconds) |
| ``retry`` | ``hh_async.retry`` | INFO | a failed attempt will be tried again after ``delay`` s |
| ``slowdown`` | ``hh_async.throttle`` | WARNING | HH answered 429: the rate halves (``rate``) |
| ``throttle_wait`` | ``hh_async.throttle`` | INFO | a request waited over a second for its turn |
| ``token`` | ``hh_async.auth`` | INFO | an application token or a login's pair was obtained |
| ``refresh`` | ``hh_async.auth`` | INFO | a user's token pair was refreshed (or HH refused) |

``HH_ASYNC_DEBUG=1`` in the environment turns all of it on (DEBUG, to stderr) without touching your
logging setup; otherwise configure the ``hh_async`` logger as usual. Hooks:
``HHClient(event_hooks={"retry": [count_retry], "response": [observe_latency]})``; a hook gets the
``Event`` and its result is ignored; a hook that raises is logged and does not break the call.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import httpx

from .errors import request_id

KINDS = ("request", "response", "retry", "slowdown", "throttle_wait", "token", "refresh")
_LOGGERS = {
    kind: (logging.getLogger(name), level)
    for kind, name, level in (
        ("request", "hh_async.http", logging.DEBUG),
        ("response", "hh_async.http", logging.DEBUG),
        ("retry", "hh_async.retry", logging.INFO),
        ("slowdown", "hh_async.throttle", logging.WARNING),
        ("throttle_wait", "hh_async.throttle", logging.INFO),
        ("token", "hh_async.auth", logging.INFO),
        ("refresh", "hh_async.auth", logging.INFO),
    )
}
THROTTLE_WAIT_REPORTED = 1.0
"""Seconds of waiting for a throttle place or rate slot past which a ``throttle_wait`` is reported."""

Hook = Callable[["Event"], object]


@attrs.frozen
class Event:
    kind: str
    message: str
    """What the log record says."""
    method: str | None = None
    path: str | None = None
    status: int | None = None
    request_id: str | None = None
    attempt: int | None = None
    delay: float | None = None
    elapsed: float | None = None
    rate: float | None = None


class Events:
    """The hooks of one client; shared by its transports and auth through ``request.extensions``."""

    def __init__(self, hooks: Mapping[str, Sequence[Hook]] | None = None) -> None:
        unknown = sorted(set(hooks or ()) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown event kinds {unknown}; known: {', '.join(KINDS)}")
        self.hooks: dict[str, tuple[Hook, ...]] = {k: tuple(v) for k, v in (hooks or {}).items() if v}

    def wanted(self, kind: str) -> bool:
        """Whether an event of this kind would be logged or hooked: check it before building one on a
        path every request takes (a dictionary look-up and logging's cached level check)."""
        logger, level = _LOGGERS[kind]
        return kind in self.hooks or logger.isEnabledFor(level)

    def emit(
        self,
        kind: str,
        message: str,
        *,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
        **fields: Any,
    ) -> None:
        logger, level = _LOGGERS[kind]
        hooks = self.hooks.get(kind)
        if not hooks and not logger.isEnabledFor(level):
            return  # the common case costs one dictionary look-up and one level check
        if request is not None:
            fields.setdefault("method", request.method)
            fields.setdefault("path", request.url.path)
        if response is not None:
            fields.setdefault("status", response.status_code)
            fields.setdefault("request_id", request_id(response.headers))
        event = Event(kind, message, **fields)
        if logger.isEnabledFor(level):
            logger.log(level, "%s", _describe(event), extra={"hh_event": event})
        for hook in hooks or ():
            try:
                hook(event)
            except Exception:
                logging.getLogger("hh_async.events").exception("the %s hook %r failed", kind, hook)


NO_EVENTS = Events()
"""For transports and auth used outside an HHClient: log records only."""


def events_of(request: httpx.Request) -> Events:
    events = request.extensions.get("hh_events")
    return events if isinstance(events, Events) else NO_EVENTS


def _describe(event: Event) -> str:
    parts = [f"{event.method} {event.path}: {event.message}" if event.method else event.message]
    if event.request_id:
        parts.append(f"request_id={event.request_id}")
    return "; ".join(parts)


def debug_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """``HH_ASYNC_DEBUG=1``: every record of the ``hh_async`` loggers to stderr (once per process)."""
    if environ.get("HH_ASYNC_DEBUG", "").lower() not in ("1", "true", "yes", "on"):
        return False
    root = logging.getLogger("hh_async")
    if not any(getattr(h, "_hh_async_debug", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._hh_async_debug = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return True


__all__ = ["KINDS", "Event", "Events", "debug_from_environment", "events_of"]
