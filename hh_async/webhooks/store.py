"""Where an accepted event goes before HH hears "accepted": somewhere durable.

An ``EventStore`` takes an event once: ``put`` answers True when it stored it, False when it is a
duplicate, and raises when it could not store it (the endpoint then answers 5xx, HH delivers again, and the
event must not count as seen). ``RedisEventQueue`` (``queue.py``) is one; ``PersistStore`` hands events to
your own ``persist`` (a row in your database, say) behind a ``Dedup``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from ..cancellation import shielded
from .dedup import Dedup
from .events import WebhookEvent


class EventStore(Protocol):
    async def put(self, event: WebhookEvent) -> bool:
        """True: stored now; False: seen before. Raises when the event could not be stored."""
        ...


class PersistStore:
    """Claim the event's keys, then ``await persist(event)``; give the keys back if ``persist`` fails.

    The claim, ``persist`` and the roll-back run to their end even when the web request is cancelled
    (a client gone, a server timeout), for at most ``timeout`` seconds: a half-done store would leave an
    event either seen but not stored (lost) or stored but not seen (handled twice). ``persist`` should
    store by ``event.id`` idempotently: after a timeout HH delivers again, though the first may have landed.
    """

    def __init__(
        self, persist: Callable[[WebhookEvent], Awaitable[object]], dedup: Dedup, *, timeout: float = 1.5
    ) -> None:
        self.persist = persist
        self.dedup = dedup
        self.timeout = timeout

    async def put(self, event: WebhookEvent) -> bool:
        keys = event.keys

        async def store() -> bool:
            if not await self.dedup.claim(keys):
                return False
            try:
                await self.persist(event)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.dedup.release(keys)
                raise
            return True

        return await shielded(store, timeout=self.timeout)
