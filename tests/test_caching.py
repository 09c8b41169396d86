"""HTTP caching: what HH sends with an ETag is fetched once, then served fresh or revalidated with a 304.

Most tests run HHClient against the fake HH (its ASGI app wrapped in ``ETagMiddleware``, as HH answers
``ETag``/``304``) through the stack the client builds: cache over retries over the throttle. They assert
what the server sent (``ETagMiddleware.sent``), not what the client says it did.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from hh_async import HHClient, RetryPolicy, StaticToken, Throttle
from hh_async.cache import (
    CacheEntry,
    CacheStorage,
    CacheTransport,
    FileCacheStorage,
    MemoryCacheStorage,
    cache_key,
    with_cache,
)
from hh_async.cache.entry import lifetime
from hh_async.errors import HHError
from hh_async.retry import RetryTransport
from hh_async.testing.app import FakeHHApp
from hh_async.testing.dataset import Dataset
from hh_async.testing.etag import ETagMiddleware, Sent
from hh_async.testing.faults import Faults
from hh_async.testing.oauth import Clock, OAuthServer
from hh_async.throttle import ThrottleTransport

CLIENTS = {"app-a": "secret-a", "app-b": "secret-b"}
DICTIONARIES = "/dictionaries"


class FakeClock:
    """The cache's clock, moved by the test: entries go stale without anyone sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingThrottle(Throttle):
    """A throttle that counts the places it handed out."""

    def __init__(self) -> None:
        super().__init__(rate=None)
        self.acquired = 0

    async def acquire(self, borrower: object) -> float:
        self.acquired += 1
        return await super().acquire(borrower)


class Gate:
    """ASGI middleware that, once armed, holds every request until released (and says it got one)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.armed = False
        self.reached = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.armed and scope["type"] == "http":
            self.reached.set()
            await self.release.wait()
        await self.app(scope, receive, send)


def fake_hh(**etag_options: Any) -> ETagMiddleware:
    app = FakeHHApp(Dataset(20, seed=0), OAuthServer(CLIENTS, Clock()), Faults())
    return ETagMiddleware(app, **etag_options)


def stack(
    app: Any,
    *,
    clock: FakeClock | None = None,
    storage: CacheStorage | None = None,
    throttle: Throttle | None = None,
    retry: RetryPolicy | None = None,
) -> CacheTransport:
    """The stack HHClient builds: cache, retries, throttle, then the fake over ASGI."""
    inner = ThrottleTransport(httpx.ASGITransport(app), throttle or Throttle(rate=None))
    return CacheTransport(
        RetryTransport(inner, retry or RetryPolicy(backoff_base=0.0)), storage, clock=clock or FakeClock()
    )


@asynccontextmanager
async def client(
    transport: httpx.AsyncBaseTransport, auth: httpx.Auth | None = None
) -> AsyncIterator[HHClient]:
    headers = {"User-Agent": "cache-test/1.0", "HH-User-Agent": "cache-test/1.0"}
    http = httpx.AsyncClient(base_url="http://hh.test", transport=transport, headers=headers, auth=auth)
    try:
        async with HHClient(user_agent="cache-test/1.0", http_client=http) as hh:
            yield hh
    finally:
        await http.aclose()


def app_token(app: ETagMiddleware, client_id: str) -> str:
    status, answer = app.oauth.token(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": CLIENTS[client_id]}
    )
    assert status == 200, answer
    return str(answer["access_token"])


# --- against the fake HH -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_second_get_dictionaries_while_fresh_sends_nothing(anyio_backend: str) -> None:
    app = fake_hh()  # max-age=1200, as HH
    async with client(stack(app)) as hh:
        first = await hh.get_dictionaries()
        second = await hh.get_dictionaries()
    assert second == first
    assert [s.status for s in app.sent] == [200]  # the second call never reached the server


@pytest.mark.anyio
async def test_second_get_dictionaries_when_stale_is_a_bodiless_304(anyio_backend: str) -> None:
    app = fake_hh(max_age=0)
    async with client(stack(app)) as hh:
        first = await hh.get_dictionaries()
        raw = await hh.with_raw_response.get_dictionaries()
    assert list(app.sent) == [Sent(DICTIONARIES, 200, len(raw.content)), Sent(DICTIONARIES, 304, 0)]
    assert raw.status_code == 200 and raw.parsed == first
    assert raw.headers["etag"].startswith('W/"')


@pytest.mark.anyio
async def test_an_entry_gone_stale_is_revalidated_then_fresh_again(anyio_backend: str) -> None:
    app, clock = fake_hh(), FakeClock()
    async with client(stack(app, clock=clock)) as hh:
        first = await hh.get_dictionaries()
        clock.now += 1201  # past max-age=1200
        assert await hh.get_dictionaries() == first
        assert await hh.get_dictionaries() == first  # the 304 made it fresh for another 1200 s
    assert [s.status for s in app.sent] == [200, 304]


@pytest.mark.anyio
async def test_an_etag_without_max_age_is_revalidated_every_time(anyio_backend: str) -> None:
    app = fake_hh(max_age=None)  # some of HH's answers carry a tag and no freshness
    async with client(stack(app)) as hh:
        first = await hh.get_dictionaries()
        assert await hh.get_dictionaries() == first
        assert await hh.get_dictionaries() == first
    assert [s.status for s in app.sent] == [200, 304, 304]


@pytest.mark.anyio
async def test_a_changed_resource_is_fetched_again_and_kept_with_its_new_tag(anyio_backend: str) -> None:
    app = fake_hh(max_age=0)
    async with client(stack(app)) as hh:
        first = await hh.get_dictionaries()
        app.touch(DICTIONARIES)  # HH published new dictionaries: a new ETag
        changed = await hh.with_raw_response.get_dictionaries()
        again = await hh.with_raw_response.get_dictionaries()
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True), (200, True), (304, False)]
    assert changed.parsed == first and again.headers["etag"] == changed.headers["etag"]


@pytest.mark.anyio
async def test_no_store_per_call_neither_reads_nor_fills_the_cache(anyio_backend: str) -> None:
    app, storage = fake_hh(), MemoryCacheStorage()
    async with client(stack(app, storage=storage)) as hh:
        for _ in range(2):
            await hh.get_dictionaries(extra_headers={"Cache-Control": "no-store"})
        assert len(storage) == 0
        await hh.get_dictionaries()  # kept now...
        await hh.get_dictionaries(extra_headers={"Cache-Control": "no-store"})  # ...but not used here
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True)] * 4


@pytest.mark.anyio
async def test_no_cache_per_call_revalidates_a_fresh_entry(anyio_backend: str) -> None:
    app = fake_hh()
    async with client(stack(app)) as hh:
        first = await hh.get_dictionaries()
        assert await hh.get_dictionaries(extra_headers={"Cache-Control": "no-cache"}) == first
    assert [s.status for s in app.sent] == [200, 304]


@pytest.mark.anyio
async def test_a_client_without_cache_fetches_every_time(anyio_backend: str) -> None:
    app = fake_hh()
    inner = RetryTransport(ThrottleTransport(httpx.ASGITransport(app), Throttle(rate=None)))
    assert with_cache(inner, False) is inner  # HHClient(cache=False)
    async with client(with_cache(inner, False)) as hh:
        await hh.get_dictionaries()
        await hh.get_dictionaries()
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True), (200, True)]


@pytest.mark.anyio
async def test_a_5xx_on_revalidation_is_passed_on_and_the_good_entry_kept(anyio_backend: str) -> None:
    app = fake_hh(max_age=0)
    faults = app.faults
    async with client(stack(app, retry=RetryPolicy(max_attempts=2, backoff_base=0.0))) as hh:
        first = await hh.get_dictionaries()
        faults.kinds, faults.routes, faults.rate = ("503",), "^/dictionaries$", 1.0
        with pytest.raises(HHError) as failed:
            await hh.get_dictionaries()
        assert failed.value.status == 503
        faults.rate = 0.0
        assert await hh.get_dictionaries() == first
    # Retried like any request; then the next call still revalidated the entry kept from the first.
    assert [s.status for s in app.sent] == [200, 503, 503, 304]


@pytest.mark.anyio
async def test_a_cancelled_revalidation_leaves_the_entry_as_it_was(anyio_backend: str) -> None:
    app = fake_hh(max_age=0)
    gate = Gate(app)
    async with client(stack(gate)) as hh:
        first = await hh.get_dictionaries()
        gate.armed = True
        async with anyio.create_task_group() as group:
            group.start_soon(hh.get_dictionaries)
            await gate.reached.wait()  # the revalidation is on its way, If-None-Match and all
            group.cancel_scope.cancel()
        gate.armed = False
        gate.release.set()
        assert await hh.get_dictionaries() == first
    assert [s.status for s in app.sent] == [200, 304]  # the kept tag was sent again, and still matched


class PausingStorage(MemoryCacheStorage):
    """A memory storage that, once armed, stops inside ``get`` or ``set`` until released (a slow Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_in: str | None = None
        self.reached = anyio.Event()
        self.release = anyio.Event()

    async def _maybe_pause(self, where: str) -> None:
        if self.pause_in == where:
            self.reached.set()
            await self.release.wait()

    async def get(self, key: str) -> CacheEntry | None:
        await self._maybe_pause("get")
        return await super().get(key)

    async def set(self, key: str, entry: CacheEntry) -> None:
        await self._maybe_pause("set")
        await super().set(key, entry)


async def cancel_when(
    reached: anyio.Event, call: Callable[[], Coroutine[Any, Any, Any]], native: bool
) -> None:
    """Run ``call`` and cancel it once ``reached`` is set: through an anyio scope, or natively (asyncio's
    ``task.cancel()``, as ``asyncio.wait_for`` and web frameworks do)."""
    if not native:
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await reached.wait()
            group.cancel_scope.cancel()
        return
    import asyncio

    async def run() -> None:
        await call()

    task = asyncio.ensure_future(run())
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["get", "in flight", "set"])
@pytest.mark.parametrize(
    ("anyio_backend", "native"),
    [("asyncio", False), ("asyncio", True), ("trio", False)],  # native cancellation is asyncio's own
    ids=["asyncio-anyio-cancel", "asyncio-native-cancel", "trio-anyio-cancel"],
)
async def test_a_call_cancelled_anywhere_leaves_a_cache_that_still_works(
    anyio_backend: str, where: str, native: bool
) -> None:
    app, storage = fake_hh(max_age=0), PausingStorage()
    gate = Gate(app)
    async with client(stack(gate, storage=storage)) as hh:
        first = await hh.get_dictionaries()
        kept = await storage.get(next(iter(storage._entries)))
        assert kept is not None
        app.touch(DICTIONARIES)  # the revalidation will bring a new answer, to be kept over the old
        if where == "in flight":
            gate.armed, reached = True, gate.reached
        else:
            storage.pause_in, reached = where, storage.reached
        await cancel_when(reached, hh.get_dictionaries, native)
        # The entry is the old one or the new one, whole: never a mix, never lost half-way.
        (entry,) = storage._entries.values()
        assert entry == kept or (entry.etag != kept.etag and entry.content)
        gate.armed, storage.pause_in = False, None
        gate.release.set()
        storage.release.set()
        assert await hh.get_dictionaries() == first
        assert await hh.get_dictionaries() == first
    assert [s.status for s in app.sent][-1] == 304  # and the cache revalidates as before


@pytest.mark.anyio
async def test_a_truncated_answer_with_a_matching_length_is_not_kept(anyio_backend: str) -> None:
    """A proxy cut the JSON and fixed the length: the call fails once, and only once."""
    app = fake_hh()
    faults = app.faults
    faults.kinds, faults.routes, faults.rate = ("truncate",), "^/dictionaries$", 1.0
    async with client(stack(app)) as hh:
        with pytest.raises(HHError):
            await hh.get_dictionaries()
        faults.rate = 0.0
        first = await hh.get_dictionaries()
        assert await hh.get_dictionaries() == first
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True), (200, True)]


@pytest.mark.anyio
async def test_concurrent_identical_requests_all_get_the_answer(anyio_backend: str) -> None:
    app = fake_hh()
    results: list[Any] = []
    async with client(stack(app)) as hh:

        async def call() -> None:
            results.append(await hh.get_dictionaries())

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(call)
        sent_before = len(app.sent)
        assert await hh.get_dictionaries() == results[0]
    assert len(results) == 6 and all(r == results[0] for r in results)
    assert 1 <= sent_before <= 6 and len(app.sent) == sent_before  # then served from the cache


@pytest.mark.anyio
async def test_an_answer_fetched_with_one_token_is_never_served_to_another(anyio_backend: str) -> None:
    app, storage = fake_hh(), MemoryCacheStorage()
    token_a, token_b = app_token(app, "app-a"), app_token(app, "app-b")
    transport = stack(app, storage=storage)
    async with client(transport, StaticToken(token_a)) as a, client(transport, StaticToken(token_b)) as b:
        await a.get_dictionaries()
        await b.get_dictionaries()  # its own fetch, with no If-None-Match of A's: a full 200
        await a.get_dictionaries()  # A's entry is still A's
    async with client(transport) as anonymous:
        await anonymous.get_dictionaries()
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True)] * 3
    assert len(storage) == 3
    keys = list(storage._entries)
    assert not any(token in key for key in keys for token in (token_a, token_b))
    assert token_a not in repr(transport) and token_a not in repr(storage)


@pytest.mark.anyio
async def test_a_fresh_hit_takes_no_throttle_place_and_a_revalidation_does(anyio_backend: str) -> None:
    app, clock, throttle = fake_hh(), FakeClock(), CountingThrottle()
    async with client(stack(app, clock=clock, throttle=throttle)) as hh:
        await hh.get_dictionaries()
        await hh.get_dictionaries()
        assert throttle.acquired == 1
        clock.now += 1201
        await hh.get_dictionaries()
        assert throttle.acquired == 2
    assert throttle.in_flight == 0


@pytest.mark.anyio
async def test_what_hh_does_not_cache_is_passed_through_and_not_kept(anyio_backend: str) -> None:
    app, storage = fake_hh(), MemoryCacheStorage()
    async with client(stack(app, storage=storage)) as hh:
        one = await hh.get_vacancies(text="python")
        two = await hh.get_vacancies(text="python")
    assert one == two and len(storage) == 0
    assert app.requests["GET /vacancies"] == 2 and not app.sent  # /vacancies has no ETag at HH


# --- the transport alone, against answers made to order ----------------------------------------------


def answering(*answers: httpx.Response | Exception, seen: list[httpx.Request] | None = None) -> Any:
    """A transport double giving these answers in turn, noting the requests (and their headers)."""
    queue = list(answers)

    async def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(httpx.Request(request.method, request.url, headers=request.headers.copy()))
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


def ok(body: bytes = b'{"a": 1}', **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={k.replace("_", "-"): v for k, v in headers.items()})


class _CutShort(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"a": '
        raise httpx.ReadError("connection dropped mid-body")


async def get(
    transport: httpx.AsyncBaseTransport, url: str = "https://api.hh.ru/areas", **headers: str
) -> httpx.Response:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    response = await transport.handle_async_request(httpx.Request("GET", url, headers=named))
    await response.aread()
    return response


@pytest.mark.anyio
async def test_only_get_is_looked_at(anyio_backend: str) -> None:
    storage = MemoryCacheStorage()
    transport = CacheTransport(answering(ok(etag='"x"', cache_control="max-age=60")), storage)
    response = await transport.handle_async_request(httpx.Request("POST", "https://api.hh.ru/areas"))
    assert response.status_code == 200 and len(storage) == 0


@pytest.mark.anyio
async def test_a_body_cut_short_is_never_kept(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []
    cut = httpx.Response(200, headers={"etag": '"x"', "cache-control": "max-age=60"}, stream=_CutShort())
    short = ok(b'{"a": 1}', etag='"x"', content_length="100")
    transport = CacheTransport(answering(cut, short, ok(etag='"x"'), seen=seen))
    with pytest.raises(httpx.ReadError):
        await get(transport)
    await get(transport)  # announced 100 bytes, got 8: not kept either
    assert (await get(transport)).extensions["hh_cache"] == "stored"
    assert [r.headers.get("if-none-match") for r in seen] == [None, None, None]


@pytest.mark.anyio
async def test_a_compressed_answer_is_kept_decoded(anyio_backend: str) -> None:
    body = b'{"a": 1}'
    zipped = httpx.Response(
        200,
        headers={"content-encoding": "gzip", "etag": '"x"', "cache-control": "max-age=60"},
        content=gzip.compress(body),
    )
    transport = CacheTransport(answering(zipped))
    assert (await get(transport)).content == body
    hit = await get(transport)
    assert (
        hit.content == body and "content-encoding" not in hit.headers and hit.extensions["hh_cache"] == "hit"
    )


@pytest.mark.anyio
async def test_an_entry_is_served_only_for_the_headers_its_vary_names(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []
    answers = [ok(b"ru", vary="Accept-Language", cache_control="max-age=60"), ok(b"en")]
    transport = CacheTransport(answering(*answers, seen=seen))
    assert (await get(transport, accept_language="ru")).content == b"ru"
    assert (await get(transport, accept_language="ru")).extensions["hh_cache"] == "hit"
    assert (await get(transport, accept_language="en")).content == b"en"
    assert len(seen) == 2


@pytest.mark.anyio
async def test_no_store_and_vary_star_answers_are_not_kept(anyio_backend: str) -> None:
    storage = MemoryCacheStorage()
    answers = [ok(etag='"x"', cache_control="no-store"), ok(etag='"y"', vary="*")]
    transport = CacheTransport(answering(*answers), storage)
    await get(transport)
    await get(transport)
    assert len(storage) == 0


@pytest.mark.anyio
async def test_a_new_answer_that_may_not_be_kept_drops_the_old_entry(anyio_backend: str) -> None:
    storage, clock = MemoryCacheStorage(), FakeClock()
    transport = CacheTransport(answering(ok(cache_control="max-age=60"), ok(b"new")), storage, clock=clock)
    await get(transport)
    clock.now += 61  # stale, and without a tag: fetched plainly
    assert (await get(transport)).content == b"new"
    assert len(storage) == 0


@pytest.mark.anyio
async def test_a_revalidated_request_goes_on_as_it_came(anyio_backend: str) -> None:
    """An auth flow sends the same request again (after a token refresh): our If-None-Match must be gone,
    or the resent request would look like the caller's own validation and bring a bare 304 back."""
    not_modified = httpx.Response(304, headers={"etag": '"x"'})
    transport = CacheTransport(answering(ok(etag='"x"', cache_control="max-age=0"), not_modified))
    await get(transport)
    request = httpx.Request("GET", "https://api.hh.ru/areas")
    assert (await transport.handle_async_request(request)).extensions["hh_cache"] == "revalidated"
    assert "if-none-match" not in request.headers


@pytest.mark.anyio
async def test_a_revalidation_answered_by_what_may_not_be_kept_drops_the_entry(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []
    answers = [ok(etag='"x"', cache_control="max-age=0"), ok(b"now private", cache_control="no-store"), ok()]
    storage = MemoryCacheStorage()
    transport = CacheTransport(answering(*answers, seen=seen), storage)
    await get(transport)
    assert (await get(transport)).content == b"now private"
    assert len(storage) == 0
    await get(transport)
    assert [r.headers.get("if-none-match") for r in seen] == [None, '"x"', None]


@pytest.mark.anyio
async def test_a_call_with_its_own_validator_is_left_alone(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []
    answers = [ok(etag='"x"', cache_control="max-age=0"), httpx.Response(304)]
    transport = CacheTransport(answering(*answers, seen=seen))
    await get(transport)
    response = await get(transport, if_none_match='"mine"')
    assert response.status_code == 304  # the caller asked for it: its 304, not our entry
    assert seen[1].headers["if-none-match"] == '"mine"'


@pytest.mark.anyio
async def test_a_failing_storage_makes_an_empty_cache_not_a_failed_call(anyio_backend: str) -> None:
    class Broken(MemoryCacheStorage):
        calls = 0

        async def get(self, key: str) -> CacheEntry | None:
            self.calls += 1
            raise ConnectionError("store down")

        async def set(self, key: str, entry: CacheEntry) -> None:
            self.calls += 1
            raise ConnectionError("store down")

    storage = Broken()
    transport = CacheTransport(answering(*[ok(etag='"x"')] * 3), storage)
    assert (await get(transport)).status_code == 200
    assert (await get(transport)).status_code == 200
    assert storage.calls == 1  # then left alone for a while: a store that hangs costs its timeout once
    transport._resting_until = 0.0  # the pause is over
    assert (await get(transport)).status_code == 200 and storage.calls == 2


@pytest.mark.anyio
async def test_a_storage_that_misbehaves_otherwise_is_a_clear_error(anyio_backend: str) -> None:
    class Misconfigured(MemoryCacheStorage):
        async def get(self, key: str) -> CacheEntry | None:
            raise RuntimeError("this storage runs on asyncio only")

    with pytest.raises(RuntimeError, match="asyncio only"):
        await get(CacheTransport(answering(ok()), Misconfigured()))


@pytest.mark.anyio
async def test_a_304_refreshes_the_entry_with_its_headers(anyio_backend: str) -> None:
    clock = FakeClock()
    not_modified = httpx.Response(304, headers={"etag": 'W/"x"', "cache-control": "max-age=30"})
    transport = CacheTransport(
        answering(ok(b"body", etag='W/"x"', cache_control="max-age=0"), not_modified), clock=clock
    )
    await get(transport)
    refreshed = await get(transport)
    assert refreshed.content == b"body" and refreshed.extensions["hh_cache"] == "revalidated"
    assert refreshed.headers["cache-control"] == "max-age=30"
    clock.now += 29
    assert (await get(transport)).extensions["hh_cache"] == "hit"


# --- the parts ------------------------------------------------------------------------------------------


def test_the_key_hashes_the_token_and_keeps_users_apart() -> None:
    def key(**headers: str) -> str:
        return cache_key(httpx.Request("GET", "https://api.hh.ru/dictionaries?locale=EN", headers=headers))

    a, b = key(authorization="Bearer secret-a"), key(authorization="Bearer secret-b")
    assert len({a, b, key()}) == 3
    assert "secret" not in a and a.startswith("https://api.hh.ru/dictionaries?locale=EN ")


def test_freshness_follows_max_age_then_expires() -> None:
    now = parsedate_to_datetime("Fri, 27 Nov 2026 07:06:40 GMT").timestamp()
    assert lifetime(httpx.Headers({"cache-control": "max-age=1200", "age": "200"}), now) == 1000
    assert lifetime(httpx.Headers({"cache-control": "no-cache, max-age=1200"}), now) == 0
    dated = {"date": "Fri, 27 Nov 2026 10:00:00 GMT", "expires": "Fri, 27 Nov 2026 10:20:00 GMT"}
    assert lifetime(httpx.Headers(dated), now) == 1200
    assert lifetime(httpx.Headers({"expires": "0"}), now) == 0
    # Without a Date, Expires counts from when the answer came.
    assert lifetime(httpx.Headers({"expires": "Fri, 27 Nov 2026 07:16:40 GMT"}), now) == 600
    # A directive given twice (two header lines) counts as first given: never the longer lifetime.
    twice = httpx.Headers([("cache-control", "max-age=0"), ("cache-control", "max-age=1200")])
    assert lifetime(twice, now) == 0


def test_a_304_without_age_makes_an_entry_that_came_old_fresh_again() -> None:
    """An answer that came through a CDN already as old as its max-age: after a 304 (which has no Age of
    its own) it is fresh for max-age, not stale for ever."""
    came_old = CacheEntry(200, (("cache-control", "max-age=1200"), ("age", "1500")), b"{}", '"x"', 0.0)
    not_modified = httpx.Response(304, headers={"etag": '"x"', "cache-control": "max-age=1200"})
    refreshed = came_old.refreshed(not_modified, 100.0)
    assert refreshed.is_fresh(100.0 + 1199) and not refreshed.is_fresh(100.0 + 1200)
    assert "age" not in dict(refreshed.headers)


def test_an_entry_round_trips_through_bytes_and_refuses_anything_else() -> None:
    entry = CacheEntry(200, (("etag", 'W/"x"'),), b'{"a":\n1}', 'W/"x"', 12.5, (("accept", None),))
    assert CacheEntry.from_bytes(entry.to_bytes()) == entry
    for junk in (b"no header line", b'{"status": 200}\nbody', b"[1]\n", b"[" * 100_000 + b"\n"):
        with pytest.raises(ValueError, match="not a cache entry"):
            CacheEntry.from_bytes(junk)
    assert "x" not in repr(entry).split("content=")[1].split(",")[0]  # the body is not in the repr


def _with_head(entry: CacheEntry, **changes: Any) -> bytes:
    head, _, body = entry.to_bytes().partition(b"\n")
    return json.dumps({**json.loads(head), **changes}).encode() + b"\n" + body


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda e: e.to_bytes()[:-3], id="body cut short"),
        pytest.param(lambda e: e.to_bytes()[:-1] + b"]", id="body changed, same length"),
        pytest.param(lambda e: e.to_bytes() + b"\n", id="body grown"),
        pytest.param(lambda e: _with_head(e, etag=7), id="etag not a string"),
        pytest.param(lambda e: _with_head(e, fresh_until=float("inf")), id="fresh for ever"),
        pytest.param(lambda e: _with_head(e, fresh_until="soon"), id="fresh until a word"),
        pytest.param(lambda e: _with_head(e, status=500), id="an error kept"),
        pytest.param(lambda e: _with_head(e, headers=[["content-encoding", "gzip"]]), id="wire header"),
        pytest.param(lambda e: _with_head(e, headers=[["x-name", "\u0416"]]), id="beyond latin-1"),
        pytest.param(lambda e: _with_head(e, vary=[["accept", 1]]), id="vary not a string"),
        pytest.param(lambda e: _with_head(e, crc32=None, length=None), id="an older version's"),
    ],
)
def test_an_entry_not_written_whole_by_this_version_is_as_good_as_absent(
    damage: Callable[[CacheEntry], bytes],
) -> None:
    entry = CacheEntry(200, (("etag", '"x"'),), b'{"items": [1, 2, 3]}', '"x"', 12.5)
    with pytest.raises(ValueError, match=r"not a (whole )?cache entry"):
        CacheEntry.from_bytes(damage(entry))


@pytest.mark.anyio
async def test_a_damaged_file_entry_is_fetched_again_not_served_nor_revalidated(
    anyio_backend: str, tmp_path: Path
) -> None:
    """A body cut short in the store (a crash mid-write elsewhere, a half copy) must not be served while
    fresh, nor brought back to life by a 304 once stale: the call fetches the whole answer again."""
    app, clock = fake_hh(), FakeClock()
    storage = FileCacheStorage(tmp_path)
    async with client(stack(app, clock=clock, storage=storage), StaticToken(app_token(app, "app-a"))) as hh:
        kept = await hh.get_dictionaries()
        (path,) = tmp_path.glob("*.hh-cache")
        path.write_bytes(path.read_bytes()[:-100])
        assert await hh.get_dictionaries() == kept  # fresh, but damaged: fetched whole
        path.write_bytes(path.read_bytes()[:-100])
        clock.now += 1201
        assert await hh.get_dictionaries() == kept  # stale and damaged: no If-None-Match either
        assert await hh.get_dictionaries() == kept  # kept whole again: a fresh hit
    assert [s.status for s in app.sent] == [200, 200, 200]


@pytest.mark.anyio
async def test_a_vary_on_authorization_keeps_no_token(anyio_backend: str) -> None:
    storage = MemoryCacheStorage()
    seen: list[httpx.Request] = []
    answers = [ok(b'{"me": 1}', vary="Authorization", cache_control="max-age=60"), ok(b'{"me": 2}')]
    transport = CacheTransport(answering(*answers, seen=seen), storage)
    mine = "Bearer MY-SECRET-TOKEN"
    assert (await get(transport, authorization=mine)).content == b'{"me": 1}'
    assert (await get(transport, authorization=mine)).extensions["hh_cache"] == "hit"
    (entry,) = [await storage.get(key) for key in list(storage._entries)]
    assert entry is not None
    assert "MY-SECRET-TOKEN" not in entry.to_bytes().decode("latin-1") and "MY-SECRET" not in repr(entry)
    assert (await get(transport, authorization="Bearer ANOTHER")).content == b'{"me": 2}'
    assert len(seen) == 2


class _Streamed(httpx.AsyncByteStream):
    """A body that arrives in pieces, as from httpx's own (streaming) transport."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_kept_answer_with_a_utf8_header_is_served_as_it_came(
    anyio_backend: str, streamed: bool
) -> None:
    note = "привет, мир".encode()
    headers = [(b"etag", b'"x"'), (b"cache-control", b"max-age=60"), (b"x-note", note)]
    body = _Streamed(b'{"a": ', b"1}") if streamed else httpx.ByteStream(b'{"a": 1}')
    answer = httpx.Response(200, headers=headers, stream=body)
    transport = CacheTransport(answering(answer))
    first = await get(transport)
    hit = await get(transport)
    assert hit.extensions["hh_cache"] == "hit" and hit.content == first.content == b'{"a": 1}'
    assert hit.headers.raw[0] == (b"etag", b'"x"') and hit.headers["x-note"] == "привет, мир"


@pytest.mark.anyio
async def test_a_requests_own_max_age_and_min_fresh_bound_what_it_takes(anyio_backend: str) -> None:
    clock, seen = FakeClock(), []
    not_modified = {"etag": '"x"', "cache-control": "max-age=600"}
    answers = [
        ok(**not_modified),
        httpx.Response(304, headers=not_modified),
        httpx.Response(304, headers=not_modified),
    ]
    transport = CacheTransport(answering(*answers, seen=seen), clock=clock)
    await get(transport)
    clock.now += 100
    assert (await get(transport, cache_control="max-age=200")).extensions["hh_cache"] == "hit"
    assert (await get(transport, cache_control="max-age=50")).extensions["hh_cache"] == "revalidated"
    clock.now += 100  # refreshed 100 s ago: fresh for 500 s more
    assert (await get(transport, cache_control="min-fresh=400")).extensions["hh_cache"] == "hit"
    assert (await get(transport, cache_control="min-fresh=550")).extensions["hh_cache"] == "revalidated"
    assert [r.headers.get("if-none-match") for r in seen] == [None, '"x"', '"x"']


@pytest.mark.anyio
async def test_pragma_no_cache_revalidates_a_fresh_entry(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []
    answers = [ok(etag='"x"', cache_control="max-age=60"), httpx.Response(304, headers={"etag": '"x"'})]
    transport = CacheTransport(answering(*answers, seen=seen))
    await get(transport)
    assert (await get(transport, pragma="no-cache")).extensions["hh_cache"] == "revalidated"
    assert [r.headers.get("if-none-match") for r in seen] == [None, '"x"']


@pytest.mark.anyio
async def test_memory_storage_drops_the_least_recently_used_past_its_size(anyio_backend: str) -> None:
    storage = MemoryCacheStorage(max_bytes=10)

    def entry(size: int) -> CacheEntry:
        return CacheEntry(200, (), b"x" * size, None, 0.0)

    await storage.set("a", entry(4))
    await storage.set("b", entry(4))
    await storage.get("a")  # a is now the most recently used
    await storage.set("c", entry(4))
    assert [await storage.get(k) is not None for k in "abc"] == [True, False, True]
    await storage.set("huge", entry(11))
    assert await storage.get("huge") is None and storage.size == 8


def test_bad_configuration_is_refused_clearly() -> None:
    inner = httpx.MockTransport(lambda request: httpx.Response(200))
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryCacheStorage(max_bytes=0)
    with pytest.raises(TypeError, match="CacheStorage"):
        with_cache(inner, "yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async get/set/delete"):
        CacheTransport(inner, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age"):
        ETagMiddleware(inner, max_age=-1)  # type: ignore[arg-type]
    storage = MemoryCacheStorage()
    wrapped = with_cache(inner, storage)
    assert isinstance(wrapped, CacheTransport) and wrapped.storage is storage


def _sent_statuses(app: ETagMiddleware) -> Iterator[int]:
    return (s.status for s in app.sent)


@pytest.mark.anyio
async def test_the_fake_answers_if_none_match_as_hh_does(anyio_backend: str) -> None:
    app = fake_hh()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hh.test") as http:
        headers = {"User-Agent": "t"}
        first = await http.get(DICTIONARIES, headers=headers)
        tag = first.headers["etag"]
        assert first.headers["cache-control"] == "max-age=1200" and "expires" in first.headers
        for asked in (tag, tag.removeprefix("W/"), f'"other", {tag}', "*"):
            answer = await http.get(DICTIONARIES, headers={**headers, "If-None-Match": asked})
            assert answer.status_code == 304 and answer.content == b"" and answer.headers["etag"] == tag
        assert (
            await http.get(DICTIONARIES, headers={**headers, "If-None-Match": '"other"'})
        ).status_code == 200
        search = await http.get("/vacancies", headers=headers)
        assert search.status_code == 200 and "etag" not in search.headers
    assert list(_sent_statuses(app)) == [200, 304, 304, 304, 304, 200]


# --- kept in files, across runs ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_files_keep_answers_for_the_next_run(anyio_backend: str, tmp_path: Path) -> None:
    app, clock = fake_hh(), FakeClock()
    token = app_token(app, "app-a")
    for _ in range(2):  # two runs of a program: a new client, a new storage object, the same directory
        storage = FileCacheStorage(tmp_path / "cache")
        async with client(stack(app, clock=clock, storage=storage), StaticToken(token)) as hh:
            answers = [await hh.get_dictionaries(), await hh.get_dictionaries()]
        assert answers[0] == answers[1]
    assert [s.status for s in app.sent] == [200]  # the second run found the first one's answer, fresh
    (kept,) = (tmp_path / "cache").iterdir()
    assert "dictionaries" not in kept.name and token not in kept.read_bytes().decode("latin-1")
    assert kept.read_bytes().startswith(b'{"status":200')


@pytest.mark.anyio
async def test_files_keep_at_most_max_entries_and_ignore_what_is_not_theirs(
    anyio_backend: str, tmp_path: Path
) -> None:
    storage = FileCacheStorage(tmp_path, max_entries=2)
    entry = CacheEntry(200, (), b"{}", '"x"', 0.0)
    for number, key in enumerate("abc"):
        await storage.set(key, entry)
        os.utime(storage._path(key), (number, number))  # written one after the other
    assert [await storage.get(k) is not None for k in "abc"] == [False, True, True]
    storage._path("b").write_bytes(b"garbage")
    assert await storage.get("b") is None
    await storage.delete("c")
    await storage.delete("c")  # gone already: nothing to do
    assert await storage.get("c") is None and not list(tmp_path.glob("*.tmp"))


@pytest.mark.anyio
async def test_a_temporary_file_left_by_a_killed_write_is_removed_by_a_later_one(
    anyio_backend: str, tmp_path: Path
) -> None:
    storage = FileCacheStorage(tmp_path)
    abandoned, in_progress = tmp_path / ".hh-cache-killed.tmp", tmp_path / ".hh-cache-writing.tmp"
    for path in (abandoned, in_progress):
        path.write_bytes(b"half an entr")
    os.utime(abandoned, (0, 0))  # written long ago: no write is using it
    await storage.set("a", CacheEntry(200, (), b"{}", '"x"', 0.0))
    assert not abandoned.exists() and in_progress.exists()
    assert await storage.get("a") is not None


@pytest.mark.anyio
async def test_a_directory_that_cannot_be_written_makes_an_empty_cache(
    anyio_backend: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    storage = FileCacheStorage(tmp_path / "a-file" / "cache")
    transport = CacheTransport(answering(ok(etag='"x"'), ok(etag='"x"')), storage)
    assert (await get(transport)).status_code == 200
    assert (await get(transport)).status_code == 200


def test_file_storage_refuses_a_bad_size() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        FileCacheStorage("somewhere", max_entries=0)


# --- kept in Redis, shared by processes (redis-py's asyncio client: asyncio only) -----------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_redis_shares_entries_between_clients_and_hides_urls_and_tokens(
    anyio_backend: str, redis: Any
) -> None:
    from hh_async.cache.redis import RedisCacheStorage

    prefix = f"test:cache:{id(redis)}:"
    app, clock = fake_hh(), FakeClock()
    token = app_token(app, "app-a")
    one = stack(app, clock=clock, storage=RedisCacheStorage(redis, prefix=prefix))
    other = stack(app, clock=clock, storage=RedisCacheStorage(redis, prefix=prefix))
    async with client(one, StaticToken(token)) as first, client(other, StaticToken(token)) as second:
        kept = await first.get_dictionaries()
        assert await second.get_dictionaries() == kept  # another process: served from Redis, fresh
        clock.now += 1201
        assert await second.get_dictionaries() == kept  # stale: a 304 against the shared entry
    assert [s.status for s in app.sent] == [200, 304]
    names = [name.decode() async for name in redis.scan_iter(match=prefix + "*")]
    assert len(names) == 1 and "dictionaries" not in names[0] and token not in names[0]
    assert 0 < await redis.pttl(names[0]) <= 86_400_000
    await redis.delete(*names)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_redis_that_refuses_or_holds_another_type_makes_an_empty_cache(
    anyio_backend: str, redis: Any
) -> None:
    """Redis up but refusing (out of memory under ``noeviction``, its default; a read-only replica after a
    failover answers alike) or a key holding another program's list: every call still gets its answer."""
    from hh_async.cache.redis import RedisCacheStorage

    prefix = f"test:cache:refusing:{id(redis)}:"
    app, clock = fake_hh(), FakeClock()
    async with client(stack(app, clock=clock, storage=RedisCacheStorage(redis, prefix=prefix))) as hh:
        kept = await hh.get_dictionaries()
        (name,) = [key async for key in redis.scan_iter(match=prefix + "*")]
        await redis.delete(name)
        await redis.rpush(name, b"another program's list")
        assert await hh.get_dictionaries() == kept  # read as absent, fetched, kept over the list
        assert await redis.type(name) == b"string"
        await redis.delete(name)
        policy = (await redis.config_get("maxmemory-policy"))["maxmemory-policy"]
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.config_set("maxmemory", 1)  # full: every write is refused with OOM
        try:
            assert await hh.get_dictionaries() == kept  # keeping it was refused: the call is not
            assert await hh.get_dictionaries() == kept
        finally:
            await redis.config_set("maxmemory", 0)
            await redis.config_set("maxmemory-policy", policy)
    assert [s.status for s in app.sent] == [200, 200, 200, 200]
    assert not [key async for key in redis.scan_iter(match=prefix + "*")]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_redis_that_is_down_makes_an_empty_cache_not_a_failed_call(anyio_backend: str) -> None:
    import socket

    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from hh_async.cache.redis import RedisCacheStorage

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = aioredis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    app = fake_hh()
    try:
        async with client(stack(app, storage=RedisCacheStorage(down))) as hh:
            assert await hh.get_dictionaries() == await hh.get_dictionaries()
    finally:
        await down.aclose()
    assert [s.status for s in app.sent] == [200, 200]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_redis_storage_under_trio_says_it_needs_asyncio(anyio_backend: str) -> None:
    import redis.asyncio as aioredis

    from hh_async.cache.redis import RedisCacheStorage

    storage = RedisCacheStorage(aioredis.Redis())
    with pytest.raises(RuntimeError, match="asyncio only"):
        await CacheTransport(answering(ok()), storage).handle_async_request(
            httpx.Request("GET", "https://api.hh.ru/areas")
        )


def test_redis_storage_refuses_a_client_that_decodes_responses() -> None:
    import redis.asyncio as aioredis

    from hh_async.cache.redis import RedisCacheStorage

    with pytest.raises(ValueError, match="decode_responses"):
        RedisCacheStorage(aioredis.Redis(decode_responses=True))


# --- over a real socket: the fake served by uvicorn, HHClient's own transport --------------------------


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on loopback, in a thread of its own (as ``FakeHH`` serves the fake)."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:  # a condition, polled
            assert thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.anyio
async def test_over_http_a_304_has_no_body_and_the_kept_one_is_served(anyio_backend: str) -> None:
    """Real HTTP treats a 304 apart (no body, whatever the headers say): through HHClient's own transport
    (aiohttp on asyncio, httpx's on trio) with the cache where HHClient puts it, the revalidation sends
    nothing back and the call still returns the whole dictionaries."""
    from hh_async.client import cancel_safe, default_transport

    app = fake_hh(max_age=0)
    with serving(app) as url:
        inner = cancel_safe(default_transport(httpx.Limits(max_connections=4)))
        top = CacheTransport(RetryTransport(ThrottleTransport(inner, Throttle(rate=None))))
        http = httpx.AsyncClient(base_url=url, transport=top, headers={"User-Agent": "cache-test/1.0"})
        try:
            async with HHClient(user_agent="cache-test/1.0", http_client=http) as hh:
                first = await hh.get_dictionaries()
                raw = await hh.with_raw_response.get_dictionaries()
        finally:
            await http.aclose()
    assert raw.parsed == first and raw.content
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True), (304, False)]


@pytest.mark.anyio
async def test_right_on_httpx_streaming_transport_answers_can_be_read_again(anyio_backend: str) -> None:
    """Placed on a streaming transport, the cache reads what it keeps; the answer it hands on is whole,
    so a wrapper above that reads the stream itself (``BufferedTransport``) still gets every byte."""
    from hh_async.buffered_transport import BufferedTransport

    app = fake_hh(max_age=0)
    with serving(app) as url:
        transport = BufferedTransport(CacheTransport(httpx.AsyncHTTPTransport()))
        async with httpx.AsyncClient(base_url=url, transport=transport, headers={"User-Agent": "t"}) as http:
            first = await http.get(DICTIONARIES)
            second = await http.get(DICTIONARIES)
    assert second.json() == first.json() and first.extensions["hh_cache"] == "stored"
    assert [(s.status, s.body_bytes > 0) for s in app.sent] == [(200, True), (304, False)]
