"""What the Redis-backed parts (``redis_tokens``, ``redis_throttle``) share: how they reach Redis.

- redis-py's asyncio client is built on asyncio itself (its sockets, locks and sleeps), so it runs under
  asyncio only: under trio these parts say so at once instead of failing somewhere inside redis-py;
- an unreachable or stuck Redis is a clear ``RedisUnavailableError`` within ``timeout`` seconds, never a
  hang: every call is bounded, and redis-py's own connection and timeout errors are translated;
- what must reach Redis even when the caller is cancelled (releasing a lock or a throttle place) goes
  through ``cancellation.shielded``, bounded by the same timeout.

Needs the ``redis`` extra: ``pip install 'hh-async[redis]'``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import sniffio

try:
    import redis.asyncio as aioredis
    import redis.exceptions as redis_errors
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("the Redis-backed stores need redis-py: pip install 'hh-async[redis]'") from exc

from .cancellation import shielded

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0
"""Seconds one Redis operation may take before it is an error."""


class RedisUnavailableError(ConnectionError):
    """Redis did not answer (refused, unreachable, or slower than the timeout). Says where, never with
    the URL's password."""


def require_asyncio(what: str) -> None:
    if sniffio.current_async_library() != "asyncio":
        raise RuntimeError(
            f"{what} uses redis-py's asyncio client, which runs on asyncio only; under trio use the "
            f"memory/file stores and the default Throttle, or run this part of the app on asyncio"
        )


def where(redis: aioredis.Redis) -> str:
    """host:port/db (or the socket path) of a client, for messages: no username, no password."""
    kwargs: dict[str, Any] = redis.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


async def call(redis: aioredis.Redis, what: str, work: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``await work()`` against Redis, bounded by ``timeout``; failing to reach Redis raises
    ``RedisUnavailableError`` saying what was being done and where."""
    try:
        with anyio.fail_after(timeout):
            return await work()
    except TimeoutError:
        raise RedisUnavailableError(
            f"{what}: Redis at {where(redis)} did not answer within {timeout} s"
        ) from None
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
        raise RedisUnavailableError(f"{what}: cannot reach Redis at {where(redis)} ({exc})") from exc


async def call_shielded(
    redis: aioredis.Redis, what: str, work: Callable[[], Awaitable[T]], timeout: float
) -> T:
    """``call``, carried to its end even if the caller is cancelled meanwhile (still within ``timeout``):
    for giving back what Redis would otherwise hold until it expires."""

    async def bounded() -> T:
        return await call(redis, what, work, timeout)

    return await shielded(bounded, timeout=timeout + 1)


__all__ = ["DEFAULT_TIMEOUT", "RedisUnavailableError", "call", "call_shielded", "require_asyncio", "where"]
