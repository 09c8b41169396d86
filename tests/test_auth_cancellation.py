"""A caller's cancellation during token work (a request timeout, a cancelled task): HH has spent the old
token once it answers, so the new one must be saved all the same, and no lock may stay held.

The fake's OAuth runs in-process (``OAuthTransport``): a test holds a token request before or after HH
handled it, or cancels its caller after a seeded number of event-loop checkpoints.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit

import anyio
import anyio.lowlevel
import httpx
import pytest

from hh_async import HHClient, Throttle
from hh_async.auth import AppToken, UserToken, authorization_request, exchange_code
from hh_async.testing.oauth import OAuthTransport
from hh_async.tokens import MemoryTokenStore, TokenPair

from .test_auth import CLIENT, ME, SECRET, TTL, app_token, fake_hh, log_in, user_token

pytestmark = pytest.mark.anyio


class TrackingStore(MemoryTokenStore):
    """Takes checkpoints where a real store awaits (a cancellation can land there), and counts the
    ``exclusive()`` sections entered and left."""

    def __init__(self, pair: TokenPair | None = None) -> None:
        super().__init__(pair)
        self.entered = self.left = 0

    async def load(self) -> TokenPair | None:
        await anyio.lowlevel.checkpoint()
        return await super().load()

    async def save(self, pair: TokenPair) -> None:
        await anyio.lowlevel.checkpoint()
        await super().save(pair)
        await anyio.lowlevel.checkpoint()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        self.entered += 1
        try:
            await anyio.lowlevel.checkpoint()
            async with super().exclusive():
                yield
        finally:
            self.left += 1


async def cancel_when(event: anyio.Event, scope: anyio.CancelScope, then: anyio.Event | None = None) -> None:
    await event.wait()
    scope.cancel()
    if then is not None:
        then.set()


async def pause(checkpoints: int) -> None:
    for _ in range(checkpoints):
        await anyio.lowlevel.checkpoint()


def slow_token_endpoint(transport: OAuthTransport, rng: random.Random) -> None:
    """HH takes a random number of checkpoints before and after it handles a token request."""
    before, after = rng.randrange(6), rng.randrange(6)
    transport.before_token = lambda: pause(before)
    transport.after_token = lambda: pause(after)


async def cancelled_after(checkpoints: int, work: Callable[[], Awaitable[object]]) -> None:
    """``await work()``, cancelled (as a timeout would) after ``checkpoints`` event-loop checkpoints."""
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:

            async def timeout() -> None:
                await pause(checkpoints)
                scope.cancel()

            group.start_soon(timeout)
            await work()


async def get_cancelled_after(http: httpx.AsyncClient, checkpoints: int) -> None:
    """GET /me, cancelled after ``checkpoints`` checkpoints."""
    await cancelled_after(checkpoints, lambda: http.get(ME))


@pytest.mark.parametrize("kind", ["user", "app"])
async def test_a_token_obtained_for_a_cancelled_caller_is_saved_and_used(kind: str) -> None:
    """The caller's timeout fires after HH answered (the old refresh token is spent, or the old app token
    revoked): the answer is still saved, and the next call uses it without asking HH again."""
    server, transport = fake_hh()
    store = TrackingStore(log_in(server) if kind == "user" else None)
    server.clock.advance(TTL + 1)
    auth: UserToken | AppToken = (user_token if kind == "user" else app_token)(server, transport, store)
    answered, release = anyio.Event(), anyio.Event()

    async def hold() -> None:
        answered.set()
        await release.wait()

    transport.after_token = hold
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with anyio.CancelScope() as caller:
            async with anyio.create_task_group() as group:
                group.start_soon(cancel_when, answered, caller, release)
                await http.get(ME)
        assert caller.cancelled_caught
        transport.after_token = None
        assert (await http.get(ME)).status_code == 200
    grant = "refresh_token" if kind == "user" else "client_credentials"
    assert server.requests[grant] == 1
    saved = await store.load()
    assert saved is not None and server.check(f"Bearer {saved.access_token}") is None
    assert store.entered == store.left


async def test_a_login_cancelled_after_hh_exchanged_the_code_keeps_the_pair() -> None:
    """The code works once: a login request cancelled as HH answers still leaves the user logged in."""
    server, transport = fake_hh()
    login = authorization_request(CLIENT, "https://my.app/callback")
    _, location = server.authorize(dict(parse_qsl(urlsplit(login.url).query)))
    code = parse_qs(urlsplit(location).query)["code"][0]
    store = TrackingStore()
    caller = anyio.CancelScope()

    async def timeout() -> None:
        caller.cancel()  # the login request's timeout fires right after HH spent the code

    transport.after_token = timeout
    token_client = httpx.AsyncClient(transport=transport)
    with caller:
        await exchange_code(
            login, code, client_id=CLIENT, client_secret=SECRET, store=store, token_client=token_client
        )
        await anyio.lowlevel.checkpoint()  # the cancellation lands here at the latest
    assert caller.cancelled_caught
    auth = user_token(server, transport, store)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        assert (await http.get(ME)).status_code == 200
    assert server.requests["authorization_code"] == 1


async def test_cancelled_waiters_and_a_failed_refresh_release_the_lock_and_the_store() -> None:
    server, transport = fake_hh()
    store = TrackingStore(log_in(server))
    server.clock.advance(TTL + 1)
    auth = user_token(server, transport, store)
    requested, release = anyio.Event(), anyio.Event()

    async def slow_hh() -> None:
        requested.set()
        await release.wait()

    transport.before_token = slow_hh
    statuses: list[int] = []
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:

        async def get() -> None:
            statuses.append((await http.get(ME)).status_code)

        with anyio.fail_after(30):  # only so that a lock left held fails the test instead of hanging it
            async with anyio.create_task_group() as group:
                group.start_soon(get)  # refreshes, and holds the lock while HH is slow
                await requested.wait()
                async with anyio.create_task_group() as waiters:
                    for _ in range(5):
                        waiters.start_soon(get)
                    await anyio.wait_all_tasks_blocked()  # all five wait for the refresher's lock
                    waiters.cancel_scope.cancel()
                release.set()
            assert statuses == [200]

            async def broken_hh() -> None:
                raise httpx.ConnectError("HH unreachable")

            server.clock.advance(TTL + 1)
            transport.before_token = broken_hh
            with pytest.raises(httpx.ConnectError):
                await http.get(ME)
            transport.before_token = None
            await get()
    assert statuses == [200, 200]
    assert server.requests["refresh_token"] == 2
    assert store.entered == store.left


async def test_a_token_endpoint_that_never_answers_holds_a_cancelled_caller_only_until_token_timeout() -> (
    None
):
    server, transport = fake_hh()
    store = TrackingStore(log_in(server))
    server.clock.advance(TTL + 1)
    auth = user_token(server, transport, store, timeout=0.05)
    caller = anyio.CancelScope()

    async def never() -> None:
        caller.cancel()  # the caller's timeout fires while HH is silent
        await anyio.Event().wait()

    transport.before_token = never
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with anyio.fail_after(30):  # a hang guard, not the subject
            with caller, pytest.raises(TimeoutError, match="token request"):
                await http.get(ME)
            transport.before_token = None
            assert (await http.get(ME)).status_code == 200  # HH never saw the first: the token lives
    assert server.requests["refresh_token"] == 1
    assert store.entered == store.left


@pytest.mark.parametrize("seed", range(16))
async def test_refreshes_cancelled_at_random_points_lose_nothing(seed: int) -> None:
    """1-3 callers that need a refresh, each cancelled after a random number of checkpoints: afterwards the
    next call succeeds with the refreshed pair, and HH got exactly one refresh request."""
    rng = random.Random(seed)
    server, transport = fake_hh()
    pair = log_in(server)
    server.clock.advance(TTL + 1)
    if rng.random() < 0.5:  # the expiry is learnt from HH's 403 rather than from expires_at
        pair = TokenPair(pair.access_token, pair.refresh_token)
    store = TrackingStore(pair)
    auth = user_token(server, transport, store)
    slow_token_endpoint(transport, rng)
    cuts = [rng.randrange(30) for _ in range(rng.randint(1, 3))]  # an uncut refreshing call takes ~15-25
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        async with anyio.create_task_group() as group:
            for checkpoints in cuts:
                group.start_soon(get_cancelled_after, http, checkpoints)
        response = await http.get(ME)
    assert response.status_code == 200, f"seed {seed}, cuts {cuts}"
    assert server.requests["refresh_token"] == 1, f"seed {seed}, cuts {cuts}"
    saved = await store.load()
    assert saved is not None and response.request.headers["Authorization"] == f"Bearer {saved.access_token}"
    assert store.entered == store.left


@pytest.mark.parametrize("seed", range(8))
async def test_app_token_requests_cancelled_at_random_points_lose_nothing(seed: int) -> None:
    rng = random.Random(seed)
    server, transport = fake_hh()
    store = TrackingStore()
    auth = app_token(server, transport, store)
    slow_token_endpoint(transport, rng)
    cuts = [rng.randrange(30) for _ in range(rng.randint(1, 3))]
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        async with anyio.create_task_group() as group:
            for checkpoints in cuts:
                group.start_soon(get_cancelled_after, http, checkpoints)
        assert (await http.get(ME)).status_code == 200, f"seed {seed}, cuts {cuts}"
    assert server.requests["client_credentials"] == 1, f"seed {seed}, cuts {cuts}"
    assert store.entered == store.left


async def call_cancelled_after(hh: HHClient, checkpoints: int) -> None:
    """GET /me through the client, cancelled after ``checkpoints`` checkpoints."""
    await cancelled_after(checkpoints, lambda: hh.request("GET", "/me"))


@pytest.mark.parametrize("seed", range(12))
async def test_refreshes_through_the_client_cancelled_at_random_points_lose_nothing(seed: int) -> None:
    """As above, with the refresh sent through the HHClient (its throttle turn, then the shielded
    exchange): one refresh request, the next call succeeds, no throttle place or lock left held."""
    rng = random.Random(seed)
    server, transport = fake_hh()
    pair = log_in(server)
    server.clock.advance(TTL + 1)
    if rng.random() < 0.5:
        pair = TokenPair(pair.access_token, pair.refresh_token)
    store = TrackingStore(pair)
    auth = UserToken(CLIENT, SECRET, store, clock=server.clock)
    slow_token_endpoint(transport, rng)
    throttle = Throttle(rate=None, concurrency=rng.choice([1, 2, 20]))
    cuts = [rng.randrange(40) for _ in range(rng.randint(1, 3))]
    async with HHClient(user_agent="TestApp/1.0", transport=transport, throttle=throttle, auth=auth) as hh:
        async with anyio.create_task_group() as group:
            for checkpoints in cuts:
                group.start_soon(call_cancelled_after, hh, checkpoints)
        assert await hh.request("GET", "/me") == {}, f"seed {seed}, cuts {cuts}"
    assert server.requests["refresh_token"] == 1, f"seed {seed}, cuts {cuts}"
    assert throttle.in_flight == 0 and store.entered == store.left
