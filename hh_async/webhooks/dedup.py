"""Which webhook events were already accepted: HH retries and sometimes delivers twice, and expects
``409 Conflict`` for a duplicate.

An event has several keys (``WebhookEvent.keys``); a claim takes all of them or none, atomically, so two
deliveries racing each other cannot both be accepted, and ``release`` gives them back when the event could
not be stored (HH's retry must then be accepted). ``MemoryDedup`` serves one process; ``RedisDedup`` every
process and host sharing a Redis (``SET NX EX`` semantics, in one Lua script for the set of keys).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_TTL = 7 * 24 * 3600.0
"""How long a key is remembered. HH does not say for how long it retries; a week outlasts it comfortably."""


class Dedup(Protocol):
    async def claim(self, keys: Sequence[str]) -> bool:
        """Take every key, or none when any is taken already (then: a duplicate)."""
        ...

    async def release(self, keys: Sequence[str]) -> None:
        """Forget keys taken by a claim whose event could not be stored."""
        ...


class MemoryDedup:
    """One process's memory: keys kept ``ttl`` seconds, the oldest forgotten past ``max_keys``. Safe to
    share between event loops in threads of the process (a claim holds a lock, never across an await)."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_keys: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_keys < 1:
            raise ValueError("ttl must be positive and max_keys at least 1")
        self.ttl = ttl
        self.max_keys = max_keys
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # oldest claim first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    async def claim(self, keys: Sequence[str]) -> bool:
        with self._lock:  # no await inside: atomic for tasks and threads alike
            now = self._clock()
            self._evict(now)
            if any(self._expiry.get(key, 0.0) > now for key in keys):
                return False
            for key in keys:
                self._expiry[key] = now + self.ttl
                self._expiry.move_to_end(key)
            while len(self._expiry) > self.max_keys:
                self._expiry.popitem(last=False)
            return True

    async def release(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._expiry.pop(key, None)

    def _evict(self, now: float) -> None:
        while self._expiry:
            key, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                break
            del self._expiry[key]


# All keys or none: SET NX on several keys is not atomic as separate commands.
CLAIM_SCRIPT = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2], 'EX', ARGV[1])
end
return 1
"""


class RedisDedup:
    """Keys in Redis under ``prefix`` (a hash tag keeps them in one cluster slot), ``ttl`` seconds each."""

    def __init__(
        self, redis: Redis, *, prefix: str = "hh:webhooks:{seen}:", ttl: float = DEFAULT_TTL
    ) -> None:
        if ttl < 1:
            raise ValueError("ttl is in seconds and at least 1")
        self.redis = redis
        self.prefix = prefix
        self.ttl = int(ttl)
        self._claim = redis.register_script(CLAIM_SCRIPT)

    async def claim(self, keys: Sequence[str]) -> bool:
        taken = await self._claim(keys=[self.prefix + key for key in keys], args=[self.ttl, "1"])
        return bool(taken)

    async def release(self, keys: Sequence[str]) -> None:
        await self.redis.delete(*(self.prefix + key for key in keys))

    async def seen(self, key: str) -> bool:
        return bool(await self.redis.exists(self.prefix + key))
