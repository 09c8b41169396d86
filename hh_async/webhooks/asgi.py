"""The webhook endpoint as a plain ASGI app: mount it under any framework, or serve it alone.

HH wants ``2xx`` for an accepted event and ``409`` for a duplicate within 2 seconds, and retries anything
else. So the endpoint only parses, deduplicates and stores (``EventStore``), then answers; the handling
happens later, in a ``Worker`` or whatever reads your store. Answers:

- ``200``: stored now; ``409``: seen before (HH stops retrying it);
- ``400``: not an HH callback (the reason in the body); ``405``/``413``: not a POST, or too big;
- ``503``: could not store it: not acknowledged, not marked seen, so HH's retry brings it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import attrs

from .events import MalformedEvent, WebhookEvent, parse_event
from .store import EventStore

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("hh_async.webhooks")

MAX_BODY = 64 * 1024
"""HH's callbacks are a few hundred bytes; anything far bigger is not one."""


@attrs.frozen
class Reply:
    status: int
    body: dict[str, Any]
    event: WebhookEvent | None = None

    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode()


Observer = Callable[[Reply, float], object]
"""Called with each reply and the seconds it took (metrics, logs); must not raise, must not block."""


class WebhookEndpoint:
    """``WebhookEndpoint(store)``: an ASGI app answering HH's callbacks; ``accept(body)`` is the same
    without ASGI, for adapters."""

    def __init__(
        self, store: EventStore, *, max_body: int = MAX_BODY, observe: Observer | None = None
    ) -> None:
        self.store = store
        self.max_body = max_body
        self.observe = observe

    async def accept(self, body: bytes) -> Reply:
        started = time.perf_counter()
        reply = await self._accept(body)
        if self.observe is not None:
            self.observe(reply, time.perf_counter() - started)
        return reply

    async def _accept(self, body: bytes) -> Reply:
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            return Reply(400, {"error": "malformed", "reason": str(exc)})
        try:
            stored = await self.store.put(event)
        except Exception as exc:
            # The store's error may name hosts or carry credentials: the log gets its type, HH nothing.
            log.error("webhook event %s not stored (%s): answering 503", event.id, type(exc).__name__)
            return Reply(503, {"error": "not stored, deliver again"}, event)
        if not stored:
            return Reply(409, {"error": "duplicate", "id": event.id}, event)
        return Reply(200, {"id": event.id}, event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served alone: nothing to start
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _send(
                send, Reply(405, {"error": "HH's callbacks are POST requests"}), [(b"allow", b"POST")]
            )
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send(send, Reply(413, {"error": f"a callback is at most {self.max_body} bytes"}))
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        await _send(send, await self.accept(b"".join(chunks)))


async def _send(send: Send, reply: Reply, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    content = reply.content()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
