"""``RedisTokenStore``: a user's (or the application's) token pair in Redis, shared by every process and host.

    redis = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    auth = UserToken(CLIENT_ID, CLIENT_SECRET, RedisTokenStore.for_user(redis, user_id))
    await hh.with_options(auth=auth).get_me()

HH's refresh token works once, so across replicas exactly one may refresh a pair, and nobody may lose the
pair it got. Three things make that hold here:

- ``exclusive()`` is redis-py's ``Lock`` on ``<key>:lock`` with a timeout: a holder that dies (SIGKILL, a
  lost host) frees it after ``lock_timeout`` seconds, and the next refresher proceeds;
- ``replace(old, new)`` is a compare-and-set (one Lua script): it saves only while the key still holds
  ``old``'s access token. A holder that outlived its lock (a stalled process) and comes back after
  another saved a newer pair gets ``TokenConflict``; the auths then load and use the newer pair;
- the lock's release and an abandoned acquire are shielded from the caller's cancellation, so a
  cancelled refresher never leaves the lock held until it expires.

``lock_timeout`` must exceed the auth's ``token_timeout`` (30 s by default) so that a live refresher keeps
its lock; the default is 60 s. Every Redis operation is bounded by ``timeout`` (``RedisUnavailableError``).
asyncio only: redis-py's asyncio client does not run under trio (``redis_support``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError

from .redis_support import (
    DEFAULT_TIMEOUT,
    RedisUnavailableError,
    call,
    call_shielded,
    require_asyncio,
    where,
)
from .tokens import TokenConflict, TokenPair

log = logging.getLogger("hh_async.auth")

DEFAULT_PREFIX = "hh:tokens"
LOCK_TIMEOUT = 60.0

# KEYS[1]: the pair's hash. ARGV: "if" (compare first) or "any", the access token expected in the key
# ("" for none), the new access token, the new pair as JSON. 1 if saved, 0 if another pair is there.
_SAVE = """
if ARGV[1] == 'if' and (redis.call('HGET', KEYS[1], 'access') or '') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'access', ARGV[3], 'pair', ARGV[4])
return 1
"""


class RedisTokenStore:
    """One token pair under one Redis key (a hash), with a distributed refresh lock beside it."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        wait_timeout: float | None = None,
        poll: float = 0.05,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """
        Args:
            redis: a ``redis.asyncio.Redis`` client; it stays yours (the store closes nothing).
            key: where the pair lives; ``<key>:lock`` is its refresh lock.
            lock_timeout: seconds after which the lock frees itself if its holder died.
            wait_timeout: seconds to wait for the lock before ``TimeoutError`` (default: twice
                ``lock_timeout``, enough for a dead holder's lock to expire).
            poll: seconds between tries while another process holds the lock.
            timeout: seconds one Redis operation may take (``RedisUnavailableError`` past it).
        """
        if not key:
            raise ValueError("key must name the Redis key of this pair, e.g. 'hh:tokens:user:42'")
        if lock_timeout <= 0 or poll <= 0 or timeout <= 0:
            raise ValueError("lock_timeout, poll and timeout must be positive seconds")
        self.redis = redis
        self.key = key
        self.lock_key = f"{key}:lock"
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout if wait_timeout is not None else 2 * lock_timeout
        self.poll = poll
        self.timeout = timeout
        self._local = anyio.Lock()  # this process's tasks queue here rather than by polling Redis

    @classmethod
    def for_user(
        cls, redis: aioredis.Redis, user_id: str | int, *, prefix: str = DEFAULT_PREFIX, **options: Any
    ) -> RedisTokenStore:
        """The store of one HH user's pair: ``<prefix>:user:<user_id>``."""
        return cls(redis, f"{prefix}:user:{user_id}", **options)

    @classmethod
    def for_app(
        cls, redis: aioredis.Redis, client_id: str, *, prefix: str = DEFAULT_PREFIX, **options: Any
    ) -> RedisTokenStore:
        """The store of the application token of ``client_id``: ``<prefix>:app:<client_id>``."""
        return cls(redis, f"{prefix}:app:{client_id}", **options)

    async def load(self) -> TokenPair | None:
        require_asyncio("RedisTokenStore")
        raw = await call(
            self.redis, f"loading {self.key}", lambda: self.redis.hget(self.key, "pair"), self.timeout
        )
        if raw is None:
            return None
        try:
            return TokenPair.from_json(json.loads(raw))
        except ValueError as exc:
            raise ValueError(
                f"Redis key {self.key!r} does not hold a token pair ({exc}); fix or delete it"
            ) from None

    async def save(self, pair: TokenPair) -> None:
        """Save whatever is there (a new login): ``replace`` is what a refresher uses."""
        await self._save("any", None, pair)

    async def replace(self, old: TokenPair | None, new: TokenPair) -> None:
        """Save ``new`` only if the key still holds ``old`` (None: nothing); else ``TokenConflict``."""
        if not await self._save("if", old, new):
            raise TokenConflict(f"{self.key}: another token pair was saved there meanwhile")

    async def _save(self, mode: str, old: TokenPair | None, new: TokenPair) -> bool:
        require_asyncio("RedisTokenStore")
        script = self.redis.register_script(_SAVE)
        args = [
            mode,
            old.access_token if old is not None else "",
            new.access_token,
            json.dumps(new.to_json()),
        ]
        saved = await call(
            self.redis, f"saving {self.key}", lambda: script(keys=[self.key], args=args), self.timeout
        )
        return bool(saved)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """The refresh lock: one holder across every process sharing this Redis; it expires
        ``lock_timeout`` seconds after it was taken if its holder never gives it back."""
        require_asyncio("RedisTokenStore")
        async with self._local:
            lock = Lock(
                self.redis,
                self.lock_key,
                timeout=self.lock_timeout,
                sleep=self.poll,
                blocking_timeout=self.wait_timeout,
                thread_local=False,  # a task's lock object, not a thread's
            )
            token = secrets.token_hex(16).encode("ascii")
            try:
                # Not bounded by ``timeout``: waiting for another holder may take up to wait_timeout.
                acquired = await call(
                    self.redis,
                    f"taking the lock {self.lock_key}",
                    lambda: lock.acquire(token=token),
                    self.wait_timeout + self.timeout,
                )
            except BaseException:
                await self._let_go(lock, token, quiet=True)  # a cancelled SET NX may have taken it
                raise
            if not acquired:
                raise TimeoutError(
                    f"the token lock {self.lock_key!r} stayed held for {self.wait_timeout} s: another "
                    f"process is refreshing (or wait_timeout is shorter than lock_timeout)"
                )
            try:
                yield
            finally:
                await self._let_go(lock, token, quiet=False)

    async def _let_go(self, lock: Lock, token: bytes, *, quiet: bool) -> None:
        """Release the lock if ``token`` still holds it, even while the caller is being cancelled."""
        try:
            await call_shielded(
                self.redis, f"releasing {self.lock_key}", lambda: lock.do_release(token), self.timeout
            )
        except LockNotOwnedError:
            if not quiet:  # held past lock_timeout: replace() is what kept a newer pair safe meanwhile
                log.warning(
                    "the token lock %s expired before its holder released it (lock_timeout=%s s is "
                    "shorter than the refresh took)",
                    self.lock_key,
                    self.lock_timeout,
                )
        except (RedisUnavailableError, TimeoutError) as exc:  # the error that brought us here matters more
            log.warning("could not release the token lock %s (%s): it expires by itself", self.lock_key, exc)

    def __repr__(self) -> str:
        return f"RedisTokenStore({self.key!r} at {where(self.redis)})"


__all__ = ["RedisTokenStore"]
