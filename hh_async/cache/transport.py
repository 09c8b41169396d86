"""HTTP caching as an httpx transport wrapper: ``CacheTransport(RetryTransport(ThrottleTransport(...)))``.

It sits above retries and the throttle: a fresh entry answers at once (no throttle place, no retry), while
a revalidation (``If-None-Match``, answered 304) is a request like any other, paced and retried.

Rules, in the order they apply:
- only GET is looked at; every other method goes straight through;
- a call opts out with a request header: ``Cache-Control: no-store`` (neither read nor kept) or
  ``Cache-Control: no-cache`` (revalidated even while fresh, then kept); a call that sends its own
  ``If-None-Match``, ``If-Modified-Since`` or ``Range`` manages its own validation and is left alone;
  ``Pragma: no-cache`` without a ``Cache-Control`` counts as ``no-cache`` (RFC 9111, section 5.4);
  ``Cache-Control: max-age=N`` takes a kept answer only while it is at most N seconds old, and
  ``min-fresh=N`` only while it stays fresh N seconds more; otherwise it is revalidated;
- entries are keyed by URL and by a hash of the ``Authorization`` header: an answer fetched with one
  token (one user, one application) is never served to a request with another token or with none. HH's
  dictionaries carry no ``public``/``private``, so keying by token is what keeps a per-user answer
  (``/me``, were HH ever to make it cacheable) with its user. The token itself is in no key;
- a 304 refreshes the entry; a new 200 replaces it; any other answer to a revalidation (a 5xx, a 429, a
  403 for an expired token) is passed on and leaves the entry as it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import httpx

from .entry import CacheEntry, directives, entry_for, seconds, worth_reading
from .storage import CacheStorage, MemoryCacheStorage

logger = logging.getLogger("hh_async.cache")

# What described the body as it came over the wire, no longer true of it once read and decoded.
_ON_THE_WIRE = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})

STORAGE_PAUSE = 30.0
"""Seconds a storage that failed to reach its store is left alone before it is tried again."""

# Request headers by which a call takes validation into its own hands.
_OWN_VALIDATION = frozenset({b"if-none-match", b"if-modified-since", b"range"})


def _token_hash(authorization: bytes) -> str:
    return hashlib.sha256(authorization).hexdigest()


def _key(url: httpx.URL, host: bytes | None, token_hash: str | None) -> str:
    # The Host header (httpx always sets one) and the raw path: cheaper than the whole URL as a string.
    where = f"{url.scheme}://{host.decode('latin-1') if host else url.netloc.decode('ascii')}"
    key = where + url.raw_path.decode("ascii")
    return key if token_hash is None else f"{key} {token_hash}"


def cache_key(request: httpx.Request) -> str:
    """The URL, and for a request with a token a hash of it (never the token)."""
    authorization = request.headers.get("authorization")
    host = request.headers.get("host")
    return _key(
        request.url,
        None if host is None else host.encode("latin-1"),
        None if authorization is None else _token_hash(authorization.encode("latin-1")),
    )


class CacheTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        storage: CacheStorage | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``storage`` defaults to a new ``MemoryCacheStorage``; one you pass stays yours to close."""
        if storage is not None and not isinstance(storage, CacheStorage):
            raise TypeError(
                f"storage must have async get/set/delete (a CacheStorage such as MemoryCacheStorage), "
                f"got {type(storage).__name__}"
            )
        self.transport = transport
        self.storage: CacheStorage = storage if storage is not None else MemoryCacheStorage()
        self._clock = clock
        self._hashes: dict[bytes, str] = {}  # a token's hash, computed once per token
        self._resting_until = 0.0  # time.monotonic() until which a failed storage is not asked

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            return await self.transport.handle_async_request(request)
        # One pass over the headers, as httpx keeps them (names lower-cased already): every GET pays for
        # it, so no lookup by name (each one a pass) and no copy (``headers.raw``).
        asked = authorization = host = pragma = None
        for _, name, value in request.headers._list:
            if name == b"host":
                host = value
            elif name == b"cache-control":
                asked = value
            elif name == b"pragma":
                pragma = value
            elif name == b"authorization":
                authorization = value
            elif name in _OWN_VALIDATION:
                return await self.transport.handle_async_request(request)
        revalidate = False
        max_age: int | None = None
        min_fresh = 0
        if asked is not None:
            control = directives(asked.decode("latin-1"))
            if "no-store" in control:
                return await self.transport.handle_async_request(request)
            revalidate = "no-cache" in control
            max_age, min_fresh = seconds(control.get("max-age")), seconds(control.get("min-fresh")) or 0
        elif pragma is not None:
            revalidate = "no-cache" in directives(pragma.decode("latin-1"))

        hashed = None
        if authorization is not None:
            hashed = self._hashes.get(authorization)
            if hashed is None:
                if len(self._hashes) >= 1024:  # a web app's users come and go: keep the memo small
                    self._hashes.clear()
                hashed = self._hashes[authorization] = _token_hash(authorization)
        key = _key(request.url, host, hashed)
        entry = await self._get(key)
        if entry is not None and entry.matches(request):
            if not revalidate and entry.is_fresh(self._clock(), max_age, min_fresh):
                return entry.response(request, "hit")
            if entry.etag is not None:
                return await self._revalidate(request, key, entry)
        response = await self.transport.handle_async_request(request)
        if entry is None and not worth_reading(response):
            return response  # the common case (a search, a vacancy): nothing more to do
        return await self._keep(request, key, response, replacing=entry is not None)

    async def _revalidate(self, request: httpx.Request, key: str, entry: CacheEntry) -> httpx.Response:
        assert entry.etag is not None
        request.headers["If-None-Match"] = entry.etag
        try:
            response = await self.transport.handle_async_request(request)
        finally:  # the caller's request goes on (an auth flow may send it again) as it came
            del request.headers["If-None-Match"]
        if response.status_code != 304:
            # A new 200 replaces the entry (or drops it, if it may not be kept); anything else, a 5xx
            # included, says nothing about the kept answer: passed on, the entry left as it was.
            return await self._keep(request, key, response, replacing=True)
        try:
            await response.aread()  # nothing to read, but the connection and throttle place go back
        finally:
            await response.aclose()
        refreshed = entry.refreshed(response, self._clock())
        await self._set(key, refreshed)
        return refreshed.response(request, "revalidated")

    async def _keep(
        self, request: httpx.Request, key: str, response: httpx.Response, *, replacing: bool
    ) -> httpx.Response:
        """Keep a 200 if it may be kept; one that may not be drops what it replaces. Other statuses pass."""
        if not worth_reading(response):
            if replacing and response.status_code == 200:
                await self._delete(key)
            return response
        streamed = not isinstance(response.stream, httpx.ByteStream)
        try:
            await response.aread()
        except BaseException:  # a body cut short (a drop, a timeout, a cancellation) is never kept
            await response.aclose()
            raise
        entry = entry_for(request, response, self._clock())
        if entry is None:
            if replacing:
                await self._delete(key)
        else:
            await self._set(key, entry)
        how = "stored" if entry is not None else "not kept"
        if streamed:  # read here off a streaming transport: what is above may want to read it again
            return _whole(request, response, how)
        response.extensions = {**response.extensions, "hh_cache": how}
        return response

    # A storage that cannot reach its store (Redis down) makes the cache empty, not the call failed; it
    # is then left alone for a while, so that a store that hangs costs its timeout once, not every call.

    def _resting(self) -> bool:
        return self._resting_until > time.monotonic()

    def _failed(self, doing: str, exc: OSError) -> None:
        self._resting_until = time.monotonic() + STORAGE_PAUSE
        logger.warning(
            "cache storage failed %s (%s): asking HH directly for %.0f s",
            doing,
            type(exc).__name__,
            STORAGE_PAUSE,
        )

    async def _get(self, key: str) -> CacheEntry | None:
        if self._resting_until and self._resting():
            return None
        try:
            return await self.storage.get(key)
        except OSError as exc:  # ConnectionError, TimeoutError, RedisUnavailableError
            self._failed("to read", exc)
            return None

    async def _set(self, key: str, entry: CacheEntry) -> None:
        if self._resting_until and self._resting():
            return
        try:
            await self.storage.set(key, entry)
        except OSError as exc:
            self._failed("to keep an answer", exc)

    async def _delete(self, key: str) -> None:
        if self._resting_until and self._resting():
            return
        try:
            await self.storage.delete(key)
        except OSError as exc:
            self._failed("to drop an answer", exc)

    async def aclose(self) -> None:
        await self.transport.aclose()

    def __repr__(self) -> str:
        return f"CacheTransport({self.transport!r}, {self.storage!r})"


def _whole(request: httpx.Request, response: httpx.Response, how: str) -> httpx.Response:
    """A response whose body was read (and decoded) here, as a new one that can be read again."""
    content = response.content
    headers = [(n, v) for n, v in response.headers.raw if n.lower() not in _ON_THE_WIRE]  # bytes as they came
    headers.append((b"content-length", str(len(content)).encode()))
    extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
    return httpx.Response(
        response.status_code,
        headers=headers,
        stream=httpx.ByteStream(content),
        request=request,
        extensions={**extensions, "hh_cache": how},
    )


def with_cache(transport: httpx.AsyncBaseTransport, cache: bool | CacheStorage) -> httpx.AsyncBaseTransport:
    """The transport with a cache on top, as ``HHClient(cache=...)`` asks: True (the default) for one
    in memory, a ``CacheStorage`` to keep answers there, False for none."""
    if cache is False:
        return transport
    if cache is True:
        return CacheTransport(transport)
    if isinstance(cache, CacheStorage):
        return CacheTransport(transport, cache)
    raise TypeError(
        f"cache must be True, False or a CacheStorage (MemoryCacheStorage, FileCacheStorage, "
        f"RedisCacheStorage), got {type(cache).__name__}"
    )


__all__ = ["CacheTransport", "cache_key", "with_cache"]
