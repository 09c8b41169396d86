"""``RedisThrottle``: one request rate and one in-flight cap for every process using the same Redis and key.

    redis = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    hh = HHClient(user_agent=..., throttle=RedisThrottle(redis, rate=8, concurrency=20))

HH limits requests per IP (about 10 per second), so four workers pacing themselves at 8 req/s each send
32. This backend keeps what ``throttle.Throttle`` keeps in memory in Redis instead, each step one Lua
script (atomic, on Redis's own clock, so hosts need no clock agreement):

- the rate: evenly spaced starts, ``1/rate`` apart, reserved before the requester sleeps to its turn; a
  waiter cancelled before its turn gives its turn to the next caller, so cancellations leave no holes;
- the cap: a place is a lease in a sorted set, scored by when it expires. A process that dies holding
  places (SIGKILL, a lost host) loses them after ``lease`` seconds, so ``lease`` must outlast the longest
  request (timeouts included);
- the slow-down: a 429 halves the shared rate (down to ``min_rate``), each calm answer wins back a
  twentieth of ``rate``: every process slows down together.

Why not ``limits`` or ``pyrate-limiter``: both count requests in windows or buckets at a fixed rate and
answer "allowed or not"; neither has an in-flight cap with leases, nor a rate that all processes lower
together on a 429 and that spaces requests instead of letting a window's worth go at once (a burst of 8
at a window's start is what trips HH's per-second limit). What they would replace is one line of the
script; the rest would be ours anyway.

Within a process, tasks first queue on a local limiter of ``concurrency`` places, so only tasks that may
get a place poll Redis for one. Places are given back even when the caller is being cancelled
(shielded), and every Redis call is bounded by ``timeout`` (``RedisUnavailableError``). asyncio only:
redis-py's asyncio client does not run under trio.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import redis.asyncio as aioredis

from .redis_support import (
    DEFAULT_TIMEOUT,
    RedisUnavailableError,
    call,
    call_shielded,
    require_asyncio,
    where,
)

log = logging.getLogger("hh_async.throttle")

# KEYS: pace hash, leases zset, free slots zset. ARGV: lease id, concurrency, rate ('' = unpaced), lease
# seconds. {0} when there is no place; else {1, seconds to wait, the slot reserved after this one ('' when
# it took a slot a cancelled waiter gave back), this one's start, the rate in force}: all as strings (Lua
# numbers would come back truncated to integers).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return {0}
end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[2], math.ceil(lease * 1000))
if ARGV[3] == '' then
  return {1, '0', '', '', ''}
end
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local free = redis.call('ZRANGE', KEYS[3], 0, 0)
if #free > 0 then
  redis.call('ZREM', KEYS[3], free[1])
  return {1, string.format('%.6f', tonumber(free[1]) - now), '', free[1], tostring(rate)}
end
local start = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'next') or 0))
local reserved = string.format('%.6f', start + 1 / rate)
redis.call('HSET', KEYS[1], 'next', reserved)
redis.call('EXPIRE', KEYS[1], 3600)
return {1, string.format('%.6f', start - now), reserved, string.format('%.6f', start), tostring(rate)}
"""

# KEYS: pace hash, leases zset, free slots zset. ARGV: lease id, the slot it reserved after its own, its
# own start. A waiter cancelled before its turn: its place goes, and its turn goes to the next caller
# (the last one handed out: by moving ``next`` back; an earlier one: through the free slots).
_CANCEL = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == '' then
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'next') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'next', ARGV[3])
elseif tonumber(ARGV[3]) > now then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])
  redis.call('EXPIRE', KEYS[3], 3600)
end
return 1
"""

# KEYS: pace hash, leases zset. ARGV: lease id, rate ('' = unpaced), HH's status ('' = no answer),
# min_rate. The place goes back; a 429 halves the shared rate, a calm answer wins back rate/20.
_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '' or ARGV[3] == '' then
  return ''
end
local target = tonumber(ARGV[2])
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[2])
if ARGV[3] == '429' then
  rate = math.max(tonumber(ARGV[4]), rate / 2)
elseif rate < target then
  rate = math.min(target, rate + target / 20)
else
  return tostring(rate)
end
redis.call('HSET', KEYS[1], 'rate', tostring(rate))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(rate)
"""


class RedisThrottle:
    """A ``throttle.ThrottleBackend`` whose rate, cap and slow-down live in Redis under ``key``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        key: str = "hh:throttle",
        rate: float | None = 8.0,
        concurrency: int = 20,
        min_rate: float = 0.5,
        lease: float = 120.0,
        poll: float = 0.02,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """
        Args:
            redis: a ``redis.asyncio.Redis`` client; it stays yours (the throttle closes nothing).
            key: what the processes sharing one budget (one outgoing IP) have in common; give them all
                the same ``rate``, ``concurrency`` and ``min_rate`` too. On Redis Cluster, wrap it in
                braces (``"{hh:throttle}"``) so its three keys share a slot.
            rate: requests per second for all of them together (None: only the cap).
            concurrency: requests in flight at once, all of them together.
            lease: seconds after which the place of a request whose process died is free again; longer
                than any request takes.
            poll: first pause between tries for a place while all are taken (it grows to 0.25 s).
            timeout: seconds one Redis call may take (``RedisUnavailableError`` past it).
        """
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive (requests per second) or None, got {rate!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        if not key:
            raise ValueError("key must name the shared budget, e.g. 'hh:throttle'")
        if lease <= 0 or poll <= 0 or timeout <= 0 or min_rate <= 0:
            raise ValueError("lease, poll, timeout and min_rate must be positive")
        self.redis = redis
        self.key = key
        self.target = rate
        self.min_rate = min(min_rate, rate) if rate else min_rate
        self.concurrency = concurrency
        self.lease = lease
        self.poll = poll
        self.timeout = timeout
        self._rate = rate
        self._keys = [f"{key}:pace", f"{key}:leases", f"{key}:free"]
        self._local = anyio.CapacityLimiter(concurrency)
        self._leases: dict[object, str] = {}
        self._prefix = f"{os.getpid()}:{secrets.token_hex(4)}:"
        self._count = 0
        self._sleep = sleep
        self._scripts: dict[str, Any] = {}

    @property
    def rate(self) -> float | None:
        """The shared rate as last seen in Redis: below ``target`` after 429s, climbing back while calm."""
        return self._rate

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.redis.register_script(source)
        return script

    async def _run(self, what: str, source: str, args: list[Any], *, shielded: bool = False) -> Any:
        script = self._script(source)

        async def work() -> Any:
            return await script(keys=self._keys, args=args)

        if shielded:
            return await call_shielded(self.redis, what, work, self.timeout)
        return await call(self.redis, what, work, self.timeout)

    async def acquire(self, borrower: object) -> float:
        """Wait for a place among all processes' and for this request's turn; the seconds it waited."""
        require_asyncio("RedisThrottle")
        started = anyio.current_time()
        await self._local.acquire_on_behalf_of(borrower)
        self._count += 1
        lease = f"{self._prefix}{self._count}"
        rate = "" if self.target is None else repr(self.target)
        args = [lease, self.concurrency, rate, repr(self.lease)]
        try:
            pause = self.poll
            while True:
                answer = await self._run(f"taking a place in {self.key}", _ACQUIRE, args)
                if answer[0] == 1:
                    break
                await self._sleep(pause * (0.5 + random.random()))  # all places taken: try again soon
                pause = min(0.25, pause * 2)
        except BaseException:
            # A cancelled script may still have run at Redis: give back a place it may have taken.
            try:
                await self._give_back(lease, "", "")
            finally:
                self._local.release_on_behalf_of(borrower)
            raise
        wait, reserved, start, in_force = (_text(part) for part in answer[1:])
        if in_force:
            self._rate = float(in_force)
        self._leases[borrower] = lease
        if float(wait) > 0:
            try:
                await self._sleep(float(wait))
            except BaseException:
                self._leases.pop(borrower, None)
                try:
                    await self._give_back(lease, reserved, start)
                finally:
                    self._local.release_on_behalf_of(borrower)
                raise
        return anyio.current_time() - started

    async def _give_back(self, lease: str, reserved: str, start: str) -> None:
        """Undo an acquire that did not complete; a Redis that is down keeps the place until its lease
        expires (the error that brought us here is the one to raise)."""
        try:
            await self._run(
                f"giving back a place in {self.key}", _CANCEL, [lease, reserved, start], shielded=True
            )
        except (RedisUnavailableError, TimeoutError) as exc:
            log.warning("could not give back a place in %s (%s): its lease expires by itself", self.key, exc)

    async def release(self, borrower: object, status: int | None) -> None:
        """Give the place back, even while the caller is being cancelled; report HH's status."""
        lease = self._leases.pop(borrower, None)
        if lease is None:
            return
        rate = "" if self.target is None else repr(self.target)
        args = [lease, rate, "" if status is None else str(status), repr(self.min_rate)]
        try:
            in_force = await self._run(f"giving back a place in {self.key}", _RELEASE, args, shielded=True)
        except (RedisUnavailableError, TimeoutError) as exc:  # HH's answer is here: it is not lost for this
            log.warning("could not give back a place in %s (%s): its lease expires by itself", self.key, exc)
            return
        finally:
            self._local.release_on_behalf_of(borrower)
        if in_force:
            self._rate = float(_text(in_force))

    async def in_flight(self) -> int:
        """Places held now by every process sharing the key (expired leases not counted)."""
        require_asyncio("RedisThrottle")
        now = await call(self.redis, "reading Redis's clock", self.redis.time, self.timeout)
        moment = float(now[0]) + float(now[1]) / 1e6
        leases = self._keys[1]
        count = await call(
            self.redis, f"counting {leases}", lambda: self.redis.zcount(leases, moment, "+inf"), self.timeout
        )
        return int(count)

    def __repr__(self) -> str:
        settings = f"rate={self.target}, concurrency={self.concurrency}"
        return f"RedisThrottle({self.key!r} at {where(self.redis)}, {settings})"


def _text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


__all__ = ["RedisThrottle"]
