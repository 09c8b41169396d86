"""Tokens shared through a real Redis (``RedisTokenStore``): one refresh across clients and OS processes,
a dead holder's lock expires, a holder that outlived its lock cannot overwrite a newer pair (and uses it),
cancellation anywhere in a refresh loses nothing, and a Redis that is down is a clear error.

redis-py's asyncio client runs on asyncio only, so these tests do too (the trio test checks the message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import uuid

import anyio
import httpx
import pytest
import redis.asyncio as aioredis

from hh_async import HHClient, Throttle
from hh_async.auth import UserToken
from hh_async.redis_support import RedisUnavailableError
from hh_async.redis_tokens import RedisTokenStore
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH
from hh_async.testing.oauth import OAuthTransport
from hh_async.tokens import TokenConflict, TokenPair

from .conftest import ROOT
from .processes import run_together
from .test_auth import ME, TTL, app_token, fake_hh, log_in, user_token
from .test_user_views import log_in as log_in_at

UA = "Tests/1.0 (dev@example.com)"


@pytest.fixture
def key() -> str:
    return f"test:tokens:{uuid.uuid4().hex}"


async def until(condition: object, what: str, timeout: float = 20) -> None:
    """Wait for ``condition()`` (an async callable) to hold: polling a condition, not timing a result."""
    with anyio.fail_after(timeout):
        while not await condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


def the_fake_server(url: str) -> HHClient:
    return HHClient(user_agent=UA, base_url=url, throttle=Throttle(rate=None, concurrency=50))


@pytest.mark.asyncio
async def test_two_clients_sharing_redis_refresh_an_expired_token_once(redis_url: str, key: str) -> None:
    async with FakeHH(vacancies=10, access_ttl=TTL) as server:
        pair = log_in_at(server.oauth)
        redises = [aioredis.Redis.from_url(redis_url) for _ in range(2)]  # as two replicas would have
        await RedisTokenStore(redises[0], key).save(pair)
        server.clock.advance(TTL + 1)  # HH says token_expired; the clients learn it from the 403
        auths = [
            UserToken(CLIENT_ID, CLIENT_SECRET, RedisTokenStore(r, key), token_url=f"{server.url}/token")
            for r in redises
        ]
        clients = [the_fake_server(server.url) for _ in auths]
        statuses: list[int] = []

        async def call(hh: HHClient, auth: UserToken) -> None:
            raw = await hh.with_options(auth=auth).with_raw_response.request("GET", "/me")
            statuses.append(raw.status_code)

        try:
            async with anyio.create_task_group() as group:
                for _ in range(30):
                    for hh, auth in zip(clients, auths, strict=True):
                        group.start_soon(call, hh, auth)
        finally:
            for hh in clients:
                await hh.aclose()
            for r in redises:
                await r.aclose()
        assert statuses == [200] * 60
        assert server.oauth.requests["refresh_token"] == 1
        assert sorted(auth.refreshes for auth in auths) == [0, 1]


REFRESH_IN_A_PROCESS = """
import sys, anyio, redis.asyncio as aioredis
from hh_async import HHClient, Throttle
from hh_async.auth import UserToken
from hh_async.redis_tokens import RedisTokenStore
redis_url, fake_url, key = sys.argv[1:4]
async def main():
    redis = aioredis.Redis.from_url(redis_url)
    auth = UserToken("fake-client-id", "fake-client-secret", RedisTokenStore(redis, key),
                     token_url=fake_url + "/token")
    statuses = []
    async with HHClient(user_agent="t/1 (t@example.com)", base_url=fake_url,
                        throttle=Throttle(rate=None), auth=auth) as hh:
        async def one():
            statuses.append((await hh.with_raw_response.request("GET", "/me")).status_code)
        print("ready", flush=True)
        sys.stdin.readline()  # every process starts at once
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
    await redis.aclose()
    print(auth.refreshes, statuses.count(200), flush=True)
anyio.run(main, backend="asyncio")
"""


@pytest.mark.asyncio
async def test_processes_sharing_redis_refresh_an_expired_token_once(redis_url: str, key: str) -> None:
    async with FakeHH(vacancies=10, access_ttl=TTL) as server:
        redis = aioredis.Redis.from_url(redis_url)
        await RedisTokenStore(redis, key).save(log_in_at(server.oauth))
        await redis.aclose()
        server.clock.advance(TTL + 1)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        ran = await run_together(REFRESH_IN_A_PROCESS, [redis_url, server.url, key], 3, env, timeout=60)
        results = [tuple(map(int, out.split())) for _, out in ran]
        assert [code for code, _ in ran] == [0, 0, 0]
        assert sorted(refreshes for refreshes, _ in results) == [0, 0, 1]
        assert [ok for _, ok in results] == [20, 20, 20]
        assert server.oauth.requests["refresh_token"] == 1


HOLD_THE_LOCK = """
import sys, anyio, redis.asyncio as aioredis
from hh_async.redis_tokens import RedisTokenStore
async def main():
    redis = aioredis.Redis.from_url(sys.argv[1])
    store = RedisTokenStore(redis, sys.argv[2], lock_timeout=float(sys.argv[3]))
    async with store.exclusive():
        print("held", flush=True)
        await anyio.sleep_forever()
anyio.run(main, backend="asyncio")
"""


@pytest.mark.asyncio
async def test_a_lock_whose_holder_was_killed_expires_and_the_next_refresher_proceeds(
    redis: aioredis.Redis, redis_url: str, key: str
) -> None:
    server, transport = fake_hh()
    store = RedisTokenStore(redis, key, poll=0.02)
    await store.save(log_in(server))
    server.clock.advance(TTL + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, redis_url, key, "2"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None
        assert await anyio.to_thread.run_sync(holder.stdout.readline) == "held\n"
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: nothing releases it
        holder.wait()
    assert await redis.pttl(store.lock_key) > 0  # still held by the dead process
    auth = user_token(server, transport, store)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with anyio.fail_after(30):
            response = await http.get(ME)
    assert response.status_code == 200
    assert server.requests["refresh_token"] == 1
    assert await redis.exists(store.lock_key) == 0


@pytest.mark.asyncio
async def test_a_stale_holders_save_cannot_overwrite_a_newer_pair(
    redis: aioredis.Redis, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    stale, mine, theirs = (TokenPair(f"ACCESS-{n}", f"REFRESH-{n}") for n in range(3))
    slow = RedisTokenStore(redis, key, lock_timeout=0.3, poll=0.02)
    other = RedisTokenStore(redis, key, poll=0.02)
    await slow.save(stale)
    with caplog.at_level(logging.WARNING, logger="hh_async.auth"):
        async with slow.exclusive():
            assert await slow.load() == stale
            await until(lambda: _gone(redis, slow.lock_key), "the slow holder's lock to expire")
            async with other.exclusive():  # the next refresher gets the lock, refreshes, saves
                await other.replace(stale, theirs)
            with pytest.raises(TokenConflict):
                await slow.replace(stale, mine)  # the stalled holder comes back
    assert await other.load() == theirs
    assert "expired before its holder released it" in caplog.text
    with pytest.raises(TokenConflict):
        await other.replace(None, mine)  # "nothing stored yet" is a condition too


async def _gone(redis: aioredis.Redis, name: str) -> bool:
    return bool(await redis.exists(name) == 0)


@pytest.mark.asyncio
async def test_a_refresher_that_outlived_its_lock_uses_the_pair_saved_meanwhile(
    redis: aioredis.Redis, key: str
) -> None:
    """HH answered the stalled refresher after its lock expired and the user logged in again elsewhere:
    its save is refused, and its call goes on with the newer pair rather than undoing the login."""
    server, transport = fake_hh()
    store = RedisTokenStore(redis, key, lock_timeout=0.3, poll=0.02)
    await store.save(log_in(server))
    server.clock.advance(TTL + 1)
    answered, resume = anyio.Event(), anyio.Event()

    async def stall() -> None:
        answered.set()
        await resume.wait()

    transport.after_token = stall
    auth = user_token(server, transport, store)
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:

                async def call() -> None:
                    responses.append(await http.get(ME))

                group.start_soon(call)
                await answered.wait()
                await until(lambda: _gone(redis, store.lock_key), "the lock to expire")
                newer = log_in(server)
                await RedisTokenStore(redis, key).save(newer)  # a new login, in another process
                resume.set()
    assert responses[0].status_code == 200
    assert responses[0].request.headers["Authorization"] == f"Bearer {newer.access_token}"
    assert await store.load() == newer


@pytest.mark.asyncio
async def test_a_refresh_refused_because_another_process_refreshed_first_uses_its_pair(
    redis: aioredis.Redis, key: str
) -> None:
    """A stalled refresher reaches HH after another took over the expired lock and refreshed: HH refuses
    the spent refresh token, and the stalled one uses the other's pair instead of asking for a login."""
    server, transport = fake_hh()
    other_transport = OAuthTransport(server)
    store = RedisTokenStore(redis, key, lock_timeout=0.3, poll=0.02)
    await store.save(log_in(server))
    server.clock.advance(TTL + 1)
    reached, resume = anyio.Event(), anyio.Event()

    async def stall() -> None:
        reached.set()
        await resume.wait()

    transport.before_token = stall
    slow = user_token(server, transport, store)
    fast = user_token(server, other_transport, RedisTokenStore(redis, key, poll=0.02))
    statuses: list[int] = []
    async with (
        httpx.AsyncClient(auth=slow, transport=transport) as slow_http,
        httpx.AsyncClient(auth=fast, transport=other_transport) as fast_http,
    ):
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:

                async def call() -> None:
                    statuses.append((await slow_http.get(ME)).status_code)

                group.start_soon(call)
                await reached.wait()
                await until(lambda: _gone(redis, store.lock_key), "the lock to expire")
                statuses.append((await fast_http.get(ME)).status_code)
                resume.set()
    assert statuses == [200, 200]
    assert server.requests["refresh_token"] == 2  # the second was HH's "already refreshed"
    assert (slow.refreshes, fast.refreshes) == (1, 1)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", range(12))
async def test_redis_backed_refreshes_cancelled_at_random_points_lose_nothing(
    redis: aioredis.Redis, key: str, seed: int
) -> None:
    """1-3 callers needing a refresh, cancelled after a random delay, by an anyio scope or natively (as
    asyncio.wait_for does): then the next call works with the saved pair, HH saw one refresh, and the
    Redis lock is free."""
    rng = random.Random(seed)
    server, transport = fake_hh()
    store = RedisTokenStore(redis, key, poll=0.01)
    await store.save(log_in(server))
    server.clock.advance(TTL + 1)
    auth = user_token(server, transport, store)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:

        async def cut(delay: float, native: bool) -> None:
            if native:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(http.get(ME), delay)
            else:
                with anyio.move_on_after(delay):
                    await http.get(ME)

        cuts = [(rng.uniform(0, 0.006), rng.random() < 0.5) for _ in range(rng.randint(1, 3))]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for delay, native in cuts:
                    group.start_soon(cut, delay, native)
            response = await http.get(ME)
    assert response.status_code == 200, f"seed {seed}, cuts {cuts}"
    assert server.requests["refresh_token"] == 1, f"seed {seed}, cuts {cuts}"
    saved = await store.load()
    assert saved is not None and response.request.headers["Authorization"] == f"Bearer {saved.access_token}"
    assert await redis.exists(store.lock_key) == 0


@pytest.mark.asyncio
async def test_app_tokens_sharing_redis_request_one_token(redis_url: str, key: str) -> None:
    server, transport = fake_hh()
    redises = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        auths = [
            app_token(server, transport, RedisTokenStore.for_app(r, CLIENT_ID, prefix=key)) for r in redises
        ]
        tokens = await asyncio.gather(*(auth.token() for auth in auths for _ in range(5)))
    finally:
        for r in redises:
            await r.aclose()
    assert len({t.access_token for t in tokens}) == 1
    assert server.requests["client_credentials"] == 1


@pytest.mark.asyncio
async def test_a_redis_that_is_down_is_a_clear_error_without_the_password() -> None:
    with socket_that_refuses() as port:
        redis = aioredis.Redis.from_url(f"redis://:SECRET-PASSWORD@127.0.0.1:{port}/0")
        store = RedisTokenStore.for_user(redis, 42, timeout=5)
        with anyio.fail_after(20):
            with pytest.raises(RedisUnavailableError, match=f"127.0.0.1:{port}") as loading:
                await store.load()
            with pytest.raises(RedisUnavailableError, match="lock") as locking:
                async with store.exclusive():
                    pass
        await redis.aclose()
    for error in (loading.value, locking.value):
        assert "SECRET-PASSWORD" not in str(error)
    assert "SECRET-PASSWORD" not in repr(store)


@pytest.mark.asyncio
async def test_a_redis_that_never_answers_is_an_error_within_the_timeout() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")  # accepts, never answers
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        with (
            anyio.fail_after(20),
            pytest.raises(RedisUnavailableError, match=r"did not answer within 0\.3 s"),
        ):
            await RedisTokenStore(redis, "k", timeout=0.3).load()
        await redis.aclose()


@contextlib.contextmanager
def socket_that_refuses() -> object:
    import socket

    with socket.socket() as probe:  # bound, not listening: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


def test_under_trio_the_store_says_it_needs_asyncio() -> None:
    import trio

    async def main() -> None:
        store = RedisTokenStore(aioredis.Redis(), "k")
        with pytest.raises(RuntimeError, match="asyncio only"):
            await store.load()
        with pytest.raises(RuntimeError, match="asyncio only"):
            async with store.exclusive():
                pass

    trio.run(main)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        RedisTokenStore(aioredis.Redis(), "")
    with pytest.raises(ValueError, match="positive"):
        RedisTokenStore(aioredis.Redis(), "k", lock_timeout=0)
