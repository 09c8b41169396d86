"""OAuth against respx and the fake's OAuth in-process: single-flight refresh, HH's refresh rules, one
refusal for every caller, app tokens shared through their store, PKCE, no leaked secrets."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import attrs
import httpx
import pytest
import respx

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.auth import AppToken, UserToken, authorization_request, exchange_code
from hh_async.errors import AppTokenTooEarlyError, HHError, ReauthorizationRequired
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH
from hh_async.testing.oauth import Clock, OAuthServer, OAuthTransport
from hh_async.tokens import JsonFileTokenStore, MemoryTokenStore, TokenFileError, TokenPair, TokenStore

from .conftest import ROOT

pytestmark = pytest.mark.anyio

API = "https://api.hh.ru"
TOKEN_URL = f"{API}/token"
SECRET = "CLIENT-SECRET-0001"
OLD = TokenPair("OLD-ACCESS-0001", "OLD-REFRESH-0001", expires_at=time.time() - 10)
NEW = {
    "access_token": "NEW-ACCESS-0002",
    "token_type": "bearer",
    "expires_in": 1209600,
    "refresh_token": "NEW-REFRESH-0002",
}


class CountingStore(MemoryTokenStore):
    def __init__(self, pair: TokenPair | None) -> None:
        super().__init__(pair)
        self.saves: list[TokenPair] = []

    async def save(self, pair: TokenPair) -> None:
        self.saves.append(pair)
        await super().save(pair)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def hh_api(router: respx.MockRouter, *, expired_by_server: bool = False) -> respx.Route:
    """/me answers 200 to the new token; to the old one, 403 token_expired (when HH finds it out)."""

    def me(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {NEW['access_token']}":
            return httpx.Response(200, json={"id": "1"})
        assert expired_by_server, "the old token was used after its expiry was known"
        return httpx.Response(403, json={"errors": [{"type": "oauth", "value": "token_expired"}]})

    return router.get(f"{API}/me").mock(side_effect=me)


def token_endpoint(router: respx.MockRouter) -> respx.Route:
    def grant(request: httpx.Request) -> httpx.Response:
        sent = form(request)
        assert sent == {"grant_type": "refresh_token", "refresh_token": OLD.refresh_token}
        return httpx.Response(200, json=NEW)

    return router.post(TOKEN_URL).mock(side_effect=grant)


# --- the fake's OAuth in-process (hh_async.testing.oauth): HH's rules, no server, no socket ---------------

CLIENT = "client"
ME = f"{API}/me"
TTL = 1_209_600.0


def fake_hh() -> tuple[OAuthServer, OAuthTransport]:
    server = OAuthServer({CLIENT: SECRET}, Clock(), access_ttl=TTL)
    return server, OAuthTransport(server)


def log_in(server: OAuthServer) -> TokenPair:
    """A user's pair, as HH's authorize page and code exchange give it."""
    _, location = server.authorize({"response_type": "code", "client_id": CLIENT})
    code = parse_qs(urlsplit(location).query)["code"][0]
    status, body = server.token(
        {"grant_type": "authorization_code", "client_id": CLIENT, "client_secret": SECRET, "code": code}
    )
    assert status == 200
    return TokenPair.from_response(body, server.clock())


def obtain_app_token(server: OAuthServer) -> TokenPair:
    """An application token, as another process (or host) sharing the client id obtains it."""
    status, body = server.token(
        {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    )
    assert status == 200, body
    return TokenPair.from_response(body, server.clock())


def user_token(
    server: OAuthServer, transport: OAuthTransport, store: TokenStore, timeout: float = 30
) -> UserToken:
    client = httpx.AsyncClient(transport=transport)
    return UserToken(CLIENT, SECRET, store, token_client=client, clock=server.clock, token_timeout=timeout)


def app_token(
    server: OAuthServer, transport: OAuthTransport, store: TokenStore, timeout: float = 30
) -> AppToken:
    client = httpx.AsyncClient(transport=transport)
    return AppToken(CLIENT, SECRET, store, token_client=client, clock=server.clock, token_timeout=timeout)


async def outcomes(http: httpx.AsyncClient, count: int) -> list[int | Exception]:
    """GET /me ``count`` times at once: each call's status, or what it raised."""
    results: list[int | Exception] = []

    async def one() -> None:
        try:
            results.append((await http.get(ME)).status_code)
        except Exception as exc:
            results.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    return results


async def call_many(auth: httpx.Auth, count: int) -> list[int]:
    statuses: list[int] = []
    async with httpx.AsyncClient(auth=auth, limits=httpx.Limits(max_connections=None)) as http:

        async def one() -> None:
            statuses.append((await http.get(f"{API}/me")).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(one)
    return statuses


@pytest.mark.parametrize("expired_by_server", [False, True])
async def test_1000_concurrent_calls_refresh_once(expired_by_server: bool) -> None:
    """Expiry known from expires_at, or discovered from HH's 403: either way one refresh, saved once."""
    pair = TokenPair(
        OLD.access_token, OLD.refresh_token, expires_at=None if expired_by_server else OLD.expires_at
    )
    store = CountingStore(pair)
    auth = UserToken("client", SECRET, store)
    with respx.mock(assert_all_called=True) as router:
        tokens = token_endpoint(router)
        hh_api(router, expired_by_server=expired_by_server)
        statuses = await call_many(auth, 1000)
    assert statuses == [200] * 1000
    assert tokens.call_count == 1 and auth.refreshes == 1
    assert [p.access_token for p in store.saves] == [NEW["access_token"]]
    saved = store.saves[0]
    assert saved.refresh_token == NEW["refresh_token"] and saved.expires_at and saved.expires_at > time.time()


async def test_no_refresh_before_expiry() -> None:
    auth = UserToken(
        "client", SECRET, MemoryTokenStore(TokenPair("NEW-ACCESS-0002", "R", time.time() + 3600))
    )
    with respx.mock(assert_all_called=False) as router:
        tokens = router.post(TOKEN_URL).respond(500)
        hh_api(router)
        assert await call_many(auth, 50) == [200] * 50
    assert tokens.call_count == 0


@pytest.mark.parametrize(
    "description", ["token has already been refreshed", "token was revoked", "token deactivated"]
)
async def test_invalid_grant_asks_for_a_new_login_after_one_attempt(description: str) -> None:
    auth = UserToken("client", SECRET, MemoryTokenStore(OLD))
    with respx.mock(assert_all_called=False) as router:
        tokens = router.post(TOKEN_URL).respond(
            400, json={"error": "invalid_grant", "error_description": description}
        )
        async with httpx.AsyncClient(auth=auth) as http:
            for _ in range(2):
                with pytest.raises(ReauthorizationRequired) as raised:
                    await http.get(f"{API}/me")
                assert raised.value.description == description
    assert tokens.call_count == 1  # one attempt, no loop; the second call learns it from the first


@pytest.mark.parametrize("expiry_known", [True, False], ids=["expires_at", "hh_403"])
async def test_200_callers_on_a_dead_refresh_token_cause_one_refresh_request(expiry_known: bool) -> None:
    """After one refusal every waiting caller fails with it, later calls fail without asking HH, and a new
    login saved to the store (another process, another tab) is picked up."""
    server, transport = fake_hh()
    dead = log_in(server)
    server.clock.advance(TTL + 1)
    status, _ = server.token({"grant_type": "refresh_token", "refresh_token": str(dead.refresh_token)})
    assert status == 200  # another device refreshed first: our refresh token is spent
    store = MemoryTokenStore(dead if expiry_known else attrs.evolve(dead, expires_at=None))
    auth = user_token(server, transport, store)
    before = server.requests["refresh_token"]
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        results = await outcomes(http, 200)
        assert len(results) == 200
        for result in results:
            assert isinstance(result, ReauthorizationRequired), result
            assert result.description == "token has already been refreshed"
        assert server.requests["refresh_token"] - before == 1
        sent = transport.requests.copy()
        for _ in range(3):
            with pytest.raises(ReauthorizationRequired, match="already been refreshed"):
                await http.get(ME)
        assert transport.requests == sent  # neither the token endpoint nor the API heard of those
        await store.save(log_in(server))  # the user logged in again elsewhere
        assert (await http.get(ME)).status_code == 200
    assert server.requests["refresh_token"] - before == 1


async def test_a_clock_ahead_of_hh_does_not_burn_the_token() -> None:
    """HH answers 'token not expired' to an early refresh: keep the token, try again a minute later."""
    store = CountingStore(TokenPair("NEW-ACCESS-0002", "R", expires_at=time.time() - 1))
    auth = UserToken("client", SECRET, store)
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).respond(
            400, json={"error": "invalid_grant", "error_description": "token not expired"}
        )
        hh_api(router)
        assert await call_many(auth, 5) == [200] * 5
    assert auth.refreshes == 1
    assert store.saves[0].expires_at and store.saves[0].expires_at > time.time() + 30


REFRESH_IN_A_PROCESS = """
import sys, anyio, httpx, respx
from hh_async.auth import UserToken
from hh_async.tokens import JsonFileTokenStore
NEW = {"access_token": "NEW-ACCESS-0002", "token_type": "bearer", "expires_in": 1209600, "refresh_token": "N"}
async def main():
    auth = UserToken("client", "secret", JsonFileTokenStore(sys.argv[1]))
    with respx.mock(assert_all_called=False) as router:
        router.post("https://api.hh.ru/token").respond(200, json=NEW)
        router.get("https://api.hh.ru/me").respond(200, json={})
        async with httpx.AsyncClient(auth=auth) as http:
            assert (await http.get("https://api.hh.ru/me")).status_code == 200
    print(auth.refreshes)
anyio.run(main)
"""


def test_two_processes_sharing_a_token_file_refresh_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(OLD.to_json()))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REFRESH_IN_A_PROCESS, str(path)], stdout=subprocess.PIPE, env=env
        )
        for _ in range(2)
    ]
    refreshes = [int(p.communicate(timeout=60)[0]) for p in processes]
    assert sorted(refreshes) == [0, 1]
    assert json.loads(path.read_text())["access_token"] == NEW["access_token"]
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_broken_token_file_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": ')
    with pytest.raises(TokenFileError, match="cannot read tokens"):
        await JsonFileTokenStore(path).load()
    assert path.read_text() == '{"access_token": '


# --- application token -----------------------------------------------------------------------


async def test_app_token_is_obtained_once_and_cached() -> None:
    store = CountingStore(None)
    auth = AppToken("client", SECRET, store)
    with respx.mock(assert_all_called=False) as router:
        tokens = router.post(TOKEN_URL).respond(
            200, json={"access_token": "APP-0001", "token_type": "bearer"}
        )
        router.get(f"{API}/me").respond(200, json={})
        assert await call_many(auth, 200) == [200] * 200
    assert tokens.call_count == 1
    assert form(tokens.calls.last.request) == {
        "grant_type": "client_credentials",
        "client_id": "client",
        "client_secret": SECRET,
    }
    assert [p.access_token for p in store.saves] == ["APP-0001"]


async def test_app_token_is_not_requested_again_within_5_minutes() -> None:
    now = [1000.0]
    auth = AppToken("client", SECRET, clock=lambda: now[0])
    revoked = {"errors": [{"type": "oauth", "value": "token_revoked"}]}
    with respx.mock(assert_all_called=False) as router:
        tokens = router.post(TOKEN_URL).respond(
            200, json={"access_token": "APP-0001", "token_type": "bearer"}
        )
        router.get(f"{API}/me").respond(403, json=revoked)
        async with httpx.AsyncClient(auth=auth) as http:
            with pytest.raises(AppTokenTooEarlyError, match="5 minutes"):
                await http.get(f"{API}/me")
            now[0] += 301
            assert (await http.get(f"{API}/me")).status_code == 403  # a new token, still refused: no loop
    assert tokens.call_count == 2


async def test_app_tokens_sharing_a_store_request_one_token() -> None:
    server, transport = fake_hh()
    store = MemoryTokenStore()
    auths = [app_token(server, transport, store) for _ in range(3)]
    clients = [httpx.AsyncClient(auth=auth, transport=transport) for auth in auths]
    results: list[int | Exception] = []

    async def calls(http: httpx.AsyncClient) -> None:
        results.extend(await outcomes(http, 20))

    async with anyio.create_task_group() as group:
        for http in clients:
            group.start_soon(calls, http)
    assert results == [200] * 60
    assert server.requests["client_credentials"] == 1
    assert sum(auth.requests for auth in auths) == 1


async def test_a_refused_app_token_rereads_the_store_before_asking_hh() -> None:
    server, transport = fake_hh()
    store = MemoryTokenStore()
    auth = app_token(server, transport, store)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        assert (await http.get(ME)).status_code == 200
        server.clock.advance(301)
        await store.save(obtain_app_token(server))  # another process replaced it: ours is revoked
        assert (await http.get(ME)).status_code == 200
    assert server.requests["client_credentials"] == 2 and auth.requests == 1


async def test_the_5_minutes_of_a_stored_app_token_hold_for_a_new_process(tmp_path: Path) -> None:
    """A token another process obtained a minute ago is refused (say, revoked at dev.hh.ru): no process
    asks HH for a new one before its 5 minutes are over, then one does."""
    server, transport = fake_hh()
    store = JsonFileTokenStore(tmp_path / "app.json")
    await store.save(TokenPair("REVOKED-AT-DEV-HH-RU", obtained_at=server.clock() - 60))
    auth = app_token(server, transport, store)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with pytest.raises(AppTokenTooEarlyError, match="5 minutes"):
            await http.get(ME)
        assert server.requests["client_credentials"] == 0
        server.clock.advance(241)
        assert (await http.get(ME)).status_code == 200
    assert server.requests["client_credentials"] == 1
    saved = await store.load()
    assert saved is not None and saved.obtained_at == pytest.approx(server.clock(), abs=60)


async def test_token_files_without_an_issue_time_still_load(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps({"access_token": "A", "refresh_token": "R", "expires_at": 5.0, "token_type": "bearer"})
    )
    pair = await JsonFileTokenStore(path).load()
    assert pair == TokenPair("A", "R", expires_at=5.0, obtained_at=None)
    issued = TokenPair.from_response({"access_token": "B"}, now=7.0)
    await JsonFileTokenStore(path).save(issued)
    assert await JsonFileTokenStore(path).load() == issued and issued.obtained_at == 7.0


APP_TOKEN_IN_A_PROCESS = """
import sys, anyio
from hh_async.auth import AppToken
from hh_async.tokens import JsonFileTokenStore
async def main():
    path, client_id, secret, token_url = sys.argv[1:]
    auth = AppToken(client_id, secret, JsonFileTokenStore(path), token_url=token_url)
    await auth.token()
    print(auth.requests)
anyio.run(main)
"""


def test_processes_sharing_a_token_file_request_one_app_token(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FakeHH(vacancies=10) as server:
        argv = [str(path), CLIENT_ID, CLIENT_SECRET, server.url + "/token"]
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", APP_TOKEN_IN_A_PROCESS, *argv], stdout=subprocess.PIPE, env=env
            )
            for _ in range(3)
        ]
        requests = [int(p.communicate(timeout=60)[0]) for p in processes]
        assert all(p.returncode == 0 for p in processes)
    assert sorted(requests) == [0, 0, 1]
    assert server.oauth.requests["client_credentials"] == 1
    assert "obtained_at" in json.loads(path.read_text())


# --- authorization code -----------------------------------------------------------------------


async def test_login_flow_with_pkce_and_state() -> None:
    login = authorization_request("client", "https://my.app/callback", role="employer")
    query = parse_qs(urlsplit(login.url).query)
    assert login.url.startswith("https://hh.ru/oauth/authorize?")
    assert query["state"] == [login.state] and query["code_challenge_method"] == ["S256"]
    assert login.code_verifier is not None
    challenge = base64.urlsafe_b64encode(hashlib.sha256(login.code_verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == [challenge.decode()]
    login.check_state(login.state)
    with pytest.raises(ValueError, match="state"):
        login.check_state("forged")

    store = CountingStore(None)
    with respx.mock(assert_all_called=False) as router:
        tokens = router.post(TOKEN_URL).respond(200, json=NEW)
        auth = await exchange_code(login, "CODE-1", client_id="client", client_secret=SECRET, store=store)
    assert form(tokens.calls.last.request) == {
        "grant_type": "authorization_code",
        "code": "CODE-1",
        "redirect_uri": "https://my.app/callback",
        "code_verifier": login.code_verifier,
        "client_id": "client",
        "client_secret": SECRET,
    }
    assert (await auth.current()).access_token == NEW["access_token"]
    assert store.saves[0].refresh_token == NEW["refresh_token"]


# --- secrets -----------------------------------------------------------------------


async def test_secrets_never_show_in_reprs_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login = authorization_request("client", "https://my.app/callback")
    store = MemoryTokenStore(OLD)
    auth = UserToken("client", SECRET, store)
    seen: list[str] = [repr(login), repr(auth), repr(store), repr(OLD), str(OLD), repr(AppToken("c", SECRET))]
    with respx.mock(assert_all_called=False) as router:
        token_endpoint(router)
        hh_api(router)
        await call_many(auth, 3)
        router.post(TOKEN_URL).respond(
            400, json={"error": "invalid_grant", "error_description": "token was revoked"}
        )
        auth2 = UserToken("client", SECRET, MemoryTokenStore(OLD))
        async with httpx.AsyncClient(auth=auth2) as http:
            with pytest.raises(ReauthorizationRequired) as raised:
                await http.get(f"{API}/me")
            with pytest.raises(ReauthorizationRequired) as again:  # told without asking HH
                await http.get(f"{API}/me")
        echoed = f"grant_type=client_credentials&client_id=client&client_secret={SECRET}"
        router.post(TOKEN_URL).respond(400, json={"message": f"proxy: cannot parse {echoed}"})
        with pytest.raises(HHError) as echoing:  # a proxy's error page repeating the form
            await AppToken("client", SECRET).token()
    seen += [str(echoing.value), repr(echoing.value)]
    seen += [str(raised.value), repr(raised.value), str(again.value), repr(again.value)]
    seen += [repr(await auth.current()), repr(TokenPair.from_response(NEW, 0.0))]
    seen += [record.getMessage() for record in caplog.records]
    text = "\n".join(seen)
    assert login.code_verifier is not None
    for secret in (
        SECRET,
        OLD.access_token,
        OLD.refresh_token,
        NEW["access_token"],
        NEW["refresh_token"],
        login.code_verifier,
    ):
        assert secret not in text, secret


# --- token requests through the HHClient that uses the auth (issue 11) ---------------------------------

UA = "TestApp/1.0 (dev@example.com)"


class Recording(httpx.AsyncBaseTransport):
    """Notes each request (URL and headers) on its way to the transport below."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class GatedThrottle:
    """A throttle backend whose turns are given only while ``gate`` is open; counts acquires."""

    def __init__(self) -> None:
        self.inner = Throttle(rate=None)
        self.gate = anyio.Event()
        self.waiting = anyio.Event()
        self.acquires = 0
        self.rate = None

    async def acquire(self, borrower: object) -> float:
        self.acquires += 1
        self.waiting.set()
        await self.gate.wait()
        return await self.inner.acquire(borrower)

    async def release(self, borrower: object, status: int | None) -> None:
        await self.inner.release(borrower, status)


def token_headers(requests: list[httpx.Request]) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (r.method, str(r.url), r.headers.get("user-agent"), r.headers.get("hh-user-agent"))
        for r in requests
        if r.url.path == "/token"
    ]


async def test_a_client_pointed_at_the_fake_gets_every_token_there(tmp_path: Path) -> None:
    """Only base_url changed: the app token, a user's refresh and a login's code exchange all go to the
    fake's /token (api.hh.ru is unreachable here: a ConnectError if they went there), through the
    client's transport, with the application's User-Agent."""
    with FakeHH(vacancies=10) as server:
        wire = Recording(httpx.AsyncHTTPTransport())
        async with HHClient(user_agent=UA, base_url=server.url, transport=wire) as hh:
            app = AppToken(CLIENT_ID, CLIENT_SECRET, clock=server.clock)
            assert (await hh.with_options(auth=app).get_vacancies(text="python")).found is not None
            assert server.oauth.requests["client_credentials"] == 1

            expired = TokenPair.from_response(server.oauth.issue_user_token(CLIENT_ID, expired=True), 0.0)
            user = UserToken(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(expired), clock=server.clock)
            assert await hh.with_options(auth=user).get_current_user_info() is not None
            assert server.oauth.requests["refresh_token"] == 1 and user.refreshes == 1

            login = authorization_request(CLIENT_ID, "https://my.app/callback")
            async with httpx.AsyncClient() as browser:
                answer = await browser.get(server.url + "/oauth/authorize?" + urlsplit(login.url).query)
            code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
            store = JsonFileTokenStore(tmp_path / "user.json")
            logged_in = await exchange_code(
                login, code, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, store=store, client=hh
            )
            assert await hh.with_options(auth=logged_in).get_current_user_info() is not None
            assert server.oauth.requests["authorization_code"] == 1
    assert token_headers(wire.sent) == [("POST", f"{server.url}/token", UA, UA)] * 3


async def test_a_token_request_waits_for_a_throttle_turn_and_a_cancelled_wait_spends_nothing() -> None:
    """The token request counts against HH's per-IP rate: it is not sent before the throttle gives it a
    turn. A caller cancelled while it waits leaves at once (not after token_timeout) with nothing sent;
    the next call obtains the token and sends with it, each with one turn."""
    server, transport = fake_hh()
    throttle = GatedThrottle()
    auth = AppToken(CLIENT, SECRET, clock=server.clock, token_timeout=600)
    async with HHClient(
        user_agent=UA, base_url="https://fake.example", transport=transport, throttle=throttle, auth=auth
    ) as hh:
        with anyio.fail_after(30):  # a hang guard: a wait shielded by token_timeout would trip it
            with anyio.CancelScope() as caller:
                async with anyio.create_task_group() as group:
                    group.start_soon(cancel_when, throttle.waiting, caller)
                    await hh.request("GET", "/me")
        assert caller.cancelled_caught
        assert transport.requests == {} and hh.throttle.inner.in_flight == 0  # type: ignore[attr-defined]

        throttle.waiting = anyio.Event()
        results: list[object] = []
        async with anyio.create_task_group() as group:

            async def call() -> None:
                results.append(await hh.request("GET", "/me"))

            group.start_soon(call)
            await throttle.waiting.wait()
            assert transport.requests == {}  # the token request waits for its turn
            throttle.gate.set()
    assert results == [{}]
    assert throttle.acquires == 3  # the cancelled wait, the token request, the call
    assert transport.requests == {"POST /token": 1, "GET /me": 1}
    assert token_headers(transport.token_requests) == [("POST", "https://fake.example/token", UA, UA)]


async def cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


class FailingTokenEndpoint(OAuthTransport):
    """HH's token endpoint answering 503 (before handling anything) to the first ``failures`` requests;
    everything else answered as ``OAuthTransport`` does, and a GET /vacancies 503 once too."""

    def __init__(self, server: OAuthServer, failures: int) -> None:
        super().__init__(server)
        self.failures = failures
        self.search_failures = 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token" and self.failures:
            self.failures -= 1
            self.requests["POST /token (503)"] += 1
            return httpx.Response(503, text="<html>Service Unavailable</html>", request=request)
        if request.url.path == "/me2" and self.search_failures:
            self.search_failures -= 1
            return httpx.Response(503, text="<html>Service Unavailable</html>", request=request)
        return await super().handle_async_request(request)


async def test_a_refresh_is_never_retried_even_where_posts_are() -> None:
    """A refresh token is single-use: a 503 on the refresh goes to the caller (the same client retries a
    GET on 503, and even POSTs, by its policy), the pair is left as it was, and the next call refreshes."""
    server, transport = fake_hh()
    store = CountingStore(log_in(server))
    server.clock.advance(TTL + 1)
    transport = FailingTokenEndpoint(server, failures=1)
    auth = UserToken(CLIENT, SECRET, store, clock=server.clock)
    retry = RetryPolicy(backoff_base=0, retry_post=True)
    async with HHClient(user_agent=UA, transport=transport, retry=retry, auth=auth) as hh:
        with pytest.raises(HHError) as raised:
            await hh.request("GET", "/me")
        assert raised.value.status == 503
        assert transport.requests["POST /token (503)"] == 1 and server.requests["refresh_token"] == 0
        assert store.saves == []
        assert await hh.request("GET", "/me2") == {}  # a GET's 503 is retried by the same client
        assert await hh.request("GET", "/me") == {}
    assert server.requests["refresh_token"] == 1 and len(store.saves) == 1


async def test_an_explicit_token_url_wins_over_the_client_and_outside_one_hh_is_the_default() -> None:
    server, transport = fake_hh()
    auth = AppToken(CLIENT, SECRET, clock=server.clock, token_url="https://auth.example/token")
    async with HHClient(user_agent=UA, base_url="https://fake.example", transport=transport, auth=auth) as hh:
        assert await hh.request("GET", "/me") == {}
    assert token_headers(transport.token_requests) == [("POST", "https://auth.example/token", UA, UA)]
    with respx.mock(assert_all_called=True) as router:
        tokens = router.post(TOKEN_URL).respond(200, json={"access_token": "APP-0001"})
        await AppToken("client", SECRET, user_agent=UA).token()
    assert tokens.calls.last.request.headers["HH-User-Agent"] == UA


async def test_over_a_callers_http_client_tokens_go_through_it_to_its_base_url() -> None:
    """HHClient(http_client=...) sends as that client is configured: the token request too (its base URL,
    its transport), with the application's User-Agent and without the client's own auth."""
    server, transport = fake_hh()
    theirs = httpx.AsyncClient(base_url="https://proxy.example", transport=transport, auth=StaticAuthSpy())
    auth = AppToken(CLIENT, SECRET, clock=server.clock)
    async with HHClient(user_agent=UA, http_client=theirs, auth=auth) as hh:
        assert await hh.request("GET", "/me") == {}
    await theirs.aclose()
    assert token_headers(transport.token_requests) == [("POST", "https://proxy.example/token", UA, UA)]
    assert "authorization" not in transport.token_requests[0].headers


class StaticAuthSpy(httpx.Auth):
    """The caller's client's own auth: must not be applied to token requests (nor replace ours)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer THEIRS"
        yield request


def test_the_login_page_follows_the_client() -> None:
    """HH's own API logs users in at hh.ru; another HH (the fake, a staging one) at its own base URL."""
    from hh_async.auth import authorization_request

    ua = "Tests/1.0 (dev@example.com)"
    at_hh = authorization_request("app", client=HHClient(user_agent=ua))
    elsewhere = authorization_request("app", client=HHClient(user_agent=ua, base_url="http://127.0.0.1:9/"))
    given = authorization_request("app", client=HHClient(user_agent=ua), authorize_url="https://x.test/a")
    assert at_hh.url.startswith("https://hh.ru/oauth/authorize?")
    assert elsewhere.url.startswith("http://127.0.0.1:9/oauth/authorize?")
    assert given.url.startswith("https://x.test/a?")
