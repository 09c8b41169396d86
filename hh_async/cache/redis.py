"""``RedisCacheStorage``: kept answers in Redis, shared by every process and host of an application.

Each entry is one Redis string (``CacheEntry.to_bytes``: a JSON line and the body, never a pickle),
written whole by one ``SET`` with an expiry, so a reader sees an old entry or a new one, never a mix.
Keys are ``prefix`` plus a hash of the cache key: neither the URL nor (already hashed) a token appears.
Redis calls are bounded by ``timeout`` (short: a slow cache must not slow calls down); a Redis that is
down or slow, or that refuses the command (out of memory, a read-only replica after a failover, an entry
past its size limit), raises ``RedisUnavailableError``, which ``CacheTransport`` takes as an empty cache.
A key that holds something else than a string (another program's) reads as absent and is replaced.

redis-py's asyncio client runs on asyncio only (see ``redis_support``). Needs ``hh-async[redis]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from ..redis_support import RedisUnavailableError, call, require_asyncio, where
from .entry import CacheEntry

T = TypeVar("T")


class RedisCacheStorage:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "hh-async:cache:",
        keep: float = 86_400,
        timeout: float = 1.0,
    ) -> None:
        """``keep``: seconds an entry stays in Redis after it was last written; kept past its freshness,
        since a stale entry with an ``ETag`` still saves a body (a 304). The client stays yours to close."""
        if keep <= 0 or timeout <= 0:
            raise ValueError(f"keep and timeout are positive seconds, got keep={keep!r}, timeout={timeout!r}")
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError(
                "RedisCacheStorage keeps bodies as bytes: give it a client without decode_responses"
            )
        self.redis = redis
        self.prefix = prefix
        self.keep = keep
        self.timeout = timeout

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    async def _call(self, what: str, work: Callable[[], Awaitable[T]]) -> T:
        require_asyncio("RedisCacheStorage")
        try:
            return await call(self.redis, what, work, self.timeout)
        except redis_errors.RedisError as exc:  # refused, not unreachable: as unusable for a cache
            raise RedisUnavailableError(f"{what}: Redis at {where(self.redis)} refused: {exc}") from exc

    async def get(self, key: str) -> CacheEntry | None:
        name = self._key(key)

        async def read() -> object:
            try:
                return await self.redis.get(name)
            except redis_errors.ResponseError as exc:
                if str(exc).startswith("WRONGTYPE"):
                    return None  # not ours: as good as absent (the next SET replaces it)
                raise

        data = await self._call("reading the HTTP cache", read)
        if not isinstance(data, bytes):
            return None
        try:
            return CacheEntry.from_bytes(data)
        except ValueError:
            return None  # written by something else (or an older format): as good as absent

    async def set(self, key: str, entry: CacheEntry) -> None:
        name, data, keep_ms = self._key(key), entry.to_bytes(), int(self.keep * 1000)
        await self._call("keeping an answer", lambda: self.redis.set(name, data, px=keep_ms))

    async def delete(self, key: str) -> None:
        name = self._key(key)
        await self._call("dropping an answer", lambda: self.redis.delete(name))

    def __repr__(self) -> str:
        return f"RedisCacheStorage(prefix={self.prefix!r})"


__all__ = ["RedisCacheStorage"]
