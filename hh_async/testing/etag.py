"""HH's HTTP caching for the fake server, as an ASGI middleware: ``ETagMiddleware(FakeHHApp(...))``.

On the paths HH caches (dictionaries, areas, roles... ``DICTIONARY_PATHS``), a 200 gets a weak
``ETag`` made from its body, ``Cache-Control: max-age=...`` and ``Expires``, as HH sends them; a GET whose
``If-None-Match`` names the current tag gets a bodiless ``304 Not Modified``. ``touch(path)`` makes a
path's resource change (a new tag) as when HH publishes new dictionaries. ``sent`` records what went out,
so a test asserts what the server transferred rather than what the client says it did.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any, NamedTuple

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

DICTIONARY_PATHS = (
    r"/(dictionaries|areas(/.+)?|districts|industries|languages|locales(/resume)?|metro(/.+)?"
    r"|professional_roles|educational_institutions|skills|vacancy_conditions"
    r"|salary_statistics/dictionaries/.+)"
)
"""HH's dictionaries: what it serves with an ``ETag`` (hh-api-facts, caching: "most dictionaries")."""


class Sent(NamedTuple):
    """One answer on a cached path: its status and body size (-1 for an error passed on unmeasured)."""

    path: str
    status: int
    body_bytes: int


class ETagMiddleware:
    def __init__(self, app: App, *, paths: str = DICTIONARY_PATHS, max_age: int | None = 1200) -> None:
        """``max_age``: the ``Cache-Control: max-age`` sent (HH: 1200); None to send an ``ETag`` only,
        0 to make every reuse a revalidation."""
        if max_age is not None and max_age < 0:
            raise ValueError(f"max_age must be 0 or more seconds (or None), got {max_age!r}")
        self.app = app
        self.max_age = max_age
        self._paths = re.compile(paths)
        self._versions: Counter[str] = Counter()
        self.sent: deque[Sent] = deque(maxlen=1000)
        """What went out on the cached paths, latest last: path, status, body size."""

    def touch(self, path: str) -> None:
        """The resource at ``path`` changed: its tag changes, so a revalidation gets the full answer."""
        self._versions[path] += 1

    def __getattr__(self, name: str) -> Any:  # the wrapped app's state (dataset, faults...) stays reachable
        if name == "app":  # not set yet: no endless lookup
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or not self._paths.fullmatch(path):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()
        held: list[Message] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if start["status"] != 200:
                    await send(message)  # errors and faults go out as the app sends them
            elif start is not None and start["status"] == 200:
                held.append(message)
                body.extend(message.get("body", b""))
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold)
        except BaseException:
            # The app failed mid-answer (a dropped connection, on purpose): what it had sent goes out first.
            if start is not None and start["status"] == 200:
                await send(start)
                for message in held:
                    await send(message)
            raise
        if start is None:
            return
        if start["status"] != 200:
            self.sent.append(Sent(path, start["status"], -1))
            return
        await self._answer(scope, path, start, bytes(body), send)

    async def _answer(self, scope: Scope, path: str, start: Message, body: bytes, send: Send) -> None:
        digest = hashlib.blake2b(body, digest_size=8, key=b"%d" % self._versions[path]).hexdigest()
        tag = f'W/"{digest}"'
        caching = [(b"etag", tag.encode())]
        if self.max_age is not None:
            caching.append((b"cache-control", b"max-age=%d" % self.max_age))
            caching.append((b"expires", formatdate(time.time() + self.max_age, usegmt=True).encode()))
        asked = _header(scope, b"if-none-match")
        if asked is not None and _matches(asked, tag):
            kept = [
                (k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")
            ]
            headers = [*kept, *caching]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            self.sent.append(Sent(path, 304, 0))
            return
        await send({**start, "headers": [*start["headers"], *caching]})
        await send({"type": "http.response.body", "body": body})
        self.sent.append(Sent(path, 200, len(body)))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag[:2] in ("W/", "w/") else tag


def _matches(if_none_match: str, tag: str) -> bool:
    """``If-None-Match`` compares weakly (RFC 9110, section 13.1.2): ``W/`` aside, the tags are equal."""
    if if_none_match.strip() == "*":
        return True
    return _opaque(tag) in {_opaque(candidate) for candidate in if_none_match.split(",")}


__all__ = ["DICTIONARY_PATHS", "ETagMiddleware", "Sent"]
