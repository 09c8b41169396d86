"""Many users on one client: ``hh.with_options(auth=...)`` views share the parent's connections, throttle and
retry policy, send each user's own token, and close nothing. Counted at a fake HH run under real uvicorn."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

from hh_async import HHClient
from hh_async.auth import StaticToken, UserToken
from hh_async.retry import RetryPolicy
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH
from hh_async.testing.oauth import OAuthServer
from hh_async.throttle import Throttle
from hh_async.tokens import MemoryTokenStore, TokenPair
from hh_async.user_auths import UserAuths

pytestmark = pytest.mark.anyio

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class Recorder:
    """Wraps the fake's ASGI app and notes, per request, when it arrived, the client's port (one per TCP
    connection), the Authorization header and the query string, as the server received them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[int, str | None, str]] = []
        self.times: list[float] = []
        """When each request arrived (``time.monotonic``)."""

    @property
    def base_url(self) -> str:
        return str(self.app.base_url)

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.app.base_url = value

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.times.append(time.monotonic())
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization")
            self.seen.append(
                (
                    scope["client"][1],
                    authorization.decode() if authorization is not None else None,
                    scope["query_string"].decode(),
                )
            )
        await self.app(scope, receive, send)


def recorded(server: FakeHH) -> Recorder:
    recorder = Recorder(server.app)
    server.app = recorder  # type: ignore[assignment]  # before start(): uvicorn serves the wrapper
    return recorder


def log_in(oauth: OAuthServer) -> TokenPair:
    _, location = oauth.authorize({"response_type": "code", "client_id": CLIENT_ID})
    code = parse_qs(urlsplit(location).query)["code"][0]
    grant = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    status, body = oauth.token({**grant, "code": code})
    assert status == 200, body
    return TokenPair.from_response(body, oauth.clock())


POOL = 8
USERS = 1000


async def test_1000_users_views_share_one_pool_and_each_sends_its_own_token(anyio_backend: str) -> None:
    server = FakeHH(vacancies=10)
    recorder = recorded(server)
    pairs = [log_in(server.oauth) for _ in range(USERS)]
    async with (
        server,
        HHClient(
            user_agent="test/1.0 (test@example.com)",
            base_url=server.url,
            limits=httpx.Limits(max_connections=POOL),
            throttle=Throttle(rate=None, concurrency=200),
        ) as hh,
    ):
        statuses: dict[int, int] = {}

        async def one_user(user: int) -> None:
            auth = UserToken(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(pairs[user]))
            view = hh.with_options(auth=auth)  # one per web request, as an app would make it
            raw = await view.with_raw_response.request("GET", "/me", params={"user": user})
            statuses[user] = raw.status_code

        async with anyio.create_task_group() as group:
            for user in range(USERS):
                group.start_soon(one_user, user)

    assert statuses == dict.fromkeys(range(USERS), 200)
    ports = {port for port, _, _ in recorder.seen}
    assert 1 <= len(ports) <= POOL, f"{len(ports)} connections for {USERS} users"
    sent = {int(parse_qs(query)["user"][0]): authorization for _, authorization, query in recorder.seen}
    assert sent == {user: f"Bearer {pairs[user].access_token}" for user in range(USERS)}


async def test_a_view_keeps_the_parents_stack_and_closes_nothing(anyio_backend: str) -> None:
    server = FakeHH(vacancies=10)
    recorder = recorded(server)
    alice, bob = log_in(server.oauth), log_in(server.oauth)
    policy = RetryPolicy(max_attempts=2)
    async with server:
        hh = HHClient(
            user_agent="test/1.0 (test@example.com)",
            base_url=server.url,
            auth=StaticToken(alice.access_token),
            retry=policy,
            timeout=7.0,
        )
        async with hh:
            as_bob = hh.with_options(auth=StaticToken(bob.access_token))
            anonymous = as_bob.with_options(auth=None)
            once = as_bob.with_options(retry=RetryPolicy(max_attempts=1))  # keeps bob
            for view in (as_bob, anonymous, once):
                assert view.throttle is hh.throttle
                assert view._stack is hh._stack  # the same transports, so the same pool
                assert view._timeout_dict == hh._timeout_dict
            assert as_bob.retry_policy is policy and once.retry_policy is not policy
            await as_bob.request("GET", "/me", params={"who": "bob"})
            await once.request("GET", "/me", params={"who": "once"})
            await anonymous.request("GET", "/vacancies", params={"who": "nobody"})
            await hh.request("GET", "/me", params={"who": "alice"})
            await as_bob.aclose()  # a view closes nothing: the parent goes on
            await hh.request("GET", "/me", params={"who": "alice-again"})
        with pytest.raises(RuntimeError, match="closed"):
            await as_bob.request("GET", "/me")  # the parent's close reaches its views
    sent = {parse_qs(query)["who"][0]: authorization for _, authorization, query in recorder.seen}
    assert sent == {
        "bob": f"Bearer {bob.access_token}",
        "once": f"Bearer {bob.access_token}",
        "nobody": None,
        "alice": f"Bearer {alice.access_token}",
        "alice-again": f"Bearer {alice.access_token}",
    }


def test_a_view_refuses_what_is_not_an_auth() -> None:
    hh = HHClient(user_agent="test/1.0 (test@example.com)")
    with pytest.raises(TypeError, match=r"httpx\.Auth"):
        hh.with_options(auth="a-token-string")  # type: ignore[arg-type]


class CountingStore(MemoryTokenStore):
    def __init__(self, pair: TokenPair | None) -> None:
        super().__init__(pair)
        self.loads = self.locks = 0

    async def load(self) -> TokenPair | None:
        self.loads += 1
        return await super().load()

    def exclusive(self) -> Any:
        self.locks += 1
        return super().exclusive()


async def test_user_auths_keep_one_auth_per_user_so_requests_share_its_pair_and_refresh(
    anyio_backend: str,
) -> None:
    """50 concurrent requests of each of 3 users whose tokens expired, each request taking its auth from
    UserAuths: one store read and one refresh per user, every request with that user's new token."""
    from .test_auth import CLIENT, ME, SECRET, TTL, fake_hh, log_in as log_in_here

    server, transport = fake_hh()
    stores = {user: CountingStore(log_in_here(server)) for user in ("ann", "bob", "cid")}
    server.clock.advance(TTL + 1)
    token_client = httpx.AsyncClient(transport=transport)
    auths = UserAuths(CLIENT, SECRET, stores.__getitem__, token_client=token_client, clock=server.clock)
    sent: dict[str, set[str]] = {user: set() for user in stores}
    async with httpx.AsyncClient(transport=transport) as http:

        async def request(user: str) -> None:
            response = await http.get(ME, auth=auths[user])
            assert response.status_code == 200
            sent[user].add(response.request.headers["Authorization"])

        async with anyio.create_task_group() as group:
            for _ in range(50):
                for user in stores:
                    group.start_soon(request, user)
    await token_client.aclose()
    assert server.requests["refresh_token"] == 3
    for user, store in stores.items():
        assert (store.loads, store.locks) == (2, 1)  # first use, then inside the one refresh
        saved = await store.load()
        assert saved is not None and sent[user] == {f"Bearer {saved.access_token}"}


def test_user_auths_are_kept_per_user_up_to_max_users() -> None:
    made: list[str] = []

    def store_for(user: str) -> MemoryTokenStore:
        made.append(user)
        return MemoryTokenStore()

    auths = UserAuths(CLIENT_ID, CLIENT_SECRET, store_for, max_users=2)
    assert auths[1] is auths["1"]
    auths[2]
    auths[1]  # used again: now the most recent
    auths[3]  # past max_users: 2, the least recently used, goes
    assert len(auths) == 2 and made == ["1", "2", "3"]
    auths[2]
    assert made == ["1", "2", "3", "2"]
    assert len(auths) == 2  # 1 went to make room for 2
    auths.forget(2)
    assert len(auths) == 1
    assert "secret" not in repr(auths).lower()
    with pytest.raises(ValueError, match="max_users"):
        UserAuths(CLIENT_ID, CLIENT_SECRET, store_for, max_users=0)
