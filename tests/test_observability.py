"""What the client does shows in log records (HH_ASYNC_DEBUG=1) and in event hooks, with HH's request id
and without a secret."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from hh_async import HHClient, RetryPolicy, Throttle, UserToken
from hh_async.events import Event
from hh_async.tokens import MemoryTokenStore, TokenPair

pytestmark = pytest.mark.anyio

API = "https://api.hh.ru"
UA = "TestApp/1.0 (dev@example.com)"
SECRET = "CLIENT-SECRET-0042"
OLD = TokenPair("OLD-ACCESS-0042", "OLD-REFRESH-0042", expires_at=time.time() - 10)
NEW = {"access_token": "NEW-ACCESS-0042", "refresh_token": "NEW-REFRESH-0042", "expires_in": 1_209_600}
SECRETS = (SECRET, OLD.access_token, OLD.refresh_token, NEW["access_token"], NEW["refresh_token"])


@pytest.fixture
def debug_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HH_ASYNC_DEBUG", "1")
    root = logging.getLogger("hh_async")
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


def scripted_hh(router: respx.MockRouter) -> None:
    """A search that fails once with 503, and a token endpoint that refreshes, each with its request id."""
    router.get("/vacancies").mock(
        side_effect=[
            httpx.Response(503, headers={"X-Request-ID": "search-503"}),
            httpx.Response(200, json={"items": [], "found": 0}, headers={"X-Request-ID": "search-200"}),
        ]
    )
    router.post("/token").respond(200, json=NEW, headers={"X-Request-ID": "token-1"})


def user(store: MemoryTokenStore) -> UserToken:
    return UserToken(
        "client", SECRET, store, token_client=httpx.AsyncClient(transport=httpx.AsyncHTTPTransport())
    )


def client(**kwargs: object) -> HHClient:
    return HHClient(
        user_agent=UA,
        transport=httpx.AsyncHTTPTransport(),
        retry=RetryPolicy(backoff_base=0),
        throttle=Throttle(rate=None),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_with_the_debug_variable_a_retry_and_a_refresh_each_log_one_record(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    with respx.mock(base_url=API) as router:
        scripted_hh(router)
        async with client(auth=user(MemoryTokenStore(OLD))) as hh:
            await hh.get_vacancies(text="python")
    records = [r for r in caplog.records if r.name.startswith("hh_async")]
    retries = [r for r in records if r.name == "hh_async.retry"]
    refreshes = [r for r in records if r.name == "hh_async.auth"]
    assert len(retries) == 1 and "search-503" in retries[0].getMessage()
    assert "GET /vacancies: HTTP 503; attempt 2 of 4" in retries[0].getMessage()
    assert len(refreshes) == 1 and "token-1" in refreshes[0].getMessage()
    assert any(r.name == "hh_async.http" and "search-200" in r.getMessage() for r in records)
    text = "\n".join(r.getMessage() + repr(getattr(r, "hh_event", "")) for r in records)
    for secret in SECRETS:
        assert secret not in text
    assert "python" not in text  # the query string stays out: it may hold what a user typed


async def test_without_the_variable_nothing_below_warning_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("HH_ASYNC_DEBUG", raising=False)
    with respx.mock(base_url=API) as router:
        scripted_hh(router)
        async with client(auth=user(MemoryTokenStore(OLD))) as hh:
            await hh.get_vacancies()
    assert not [r for r in caplog.records if r.name.startswith("hh_async")]


async def test_hooks_see_requests_retries_and_refreshes_and_cannot_break_a_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a metrics backend is down")

    hooks = {"request": [seen.append], "response": [seen.append, broken], "retry": [seen.append]}
    hooks["refresh"] = [seen.append]
    with respx.mock(base_url=API) as router:
        scripted_hh(router)
        async with client(auth=user(MemoryTokenStore(OLD)), event_hooks=hooks) as hh:
            assert (await hh.get_vacancies()).found == 0
    kinds = [(e.kind, e.request_id) for e in seen]
    assert kinds == [
        ("refresh", "token-1"),
        ("request", None),
        ("retry", "search-503"),
        ("response", "search-200"),
    ]
    response = seen[-1]
    assert (response.method, response.path, response.status) == ("GET", "/vacancies", 200)
    assert response.elapsed is not None and response.elapsed >= 0
    assert any("the response hook" in r.getMessage() for r in caplog.records)  # logged, not raised


def test_unknown_hook_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kinds \\['retries'\\]"):
        client(event_hooks={"retries": [print]})


async def test_the_request_id_is_on_raw_responses_and_errors() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies/1").respond(200, json={"id": "1"}, headers={"X-Request-ID": "r-1"})
        router.get("/vacancies/2").respond(
            502, text="<html>bad gateway</html>", headers={"X-Request-ID": "r-2"}
        )
        async with HHClient(
            user_agent=UA, transport=httpx.AsyncHTTPTransport(), retry=RetryPolicy(max_attempts=1)
        ) as hh:
            raw = await hh.with_raw_response.get_vacancy(vacancy_id="1")
            failed = await hh.with_raw_response.get_vacancy(vacancy_id="2")
    assert raw.request_id == "r-1" and failed.request_id == "r-2"


async def test_a_token_request_through_the_client_shows_as_its_calls_do_without_a_secret(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """An AppToken with no token_url posts to the client's /token: the request and its answer are events
    like any call's (method, path, status, HH's request id), and neither records nor events hold the
    secret, the token or the form."""
    from hh_async import AppToken

    seen: list[Event] = []
    hooks = {kind: [seen.append] for kind in ("request", "response", "token")}
    with respx.mock(base_url=API) as router:
        tokens = router.post("/token").respond(
            200, json={"access_token": NEW["access_token"]}, headers={"X-Request-ID": "token-7"}
        )
        router.get("/me").respond(200, json={})
        async with client(auth=AppToken("client", SECRET), event_hooks=hooks) as hh:
            assert await hh.request("GET", "/me") == {}
    assert tokens.calls.last.request.headers["User-Agent"] == UA
    described = [(e.kind, e.method, e.path, e.status, e.request_id) for e in seen]
    assert described == [
        ("request", "POST", "/token", None, None),
        ("response", "POST", "/token", 200, "token-7"),
        ("token", None, None, None, "token-7"),
        ("request", "GET", "/me", None, None),
        ("response", "GET", "/me", 200, None),
    ]
    text = "\n".join(r.getMessage() + repr(getattr(r, "hh_event", "")) for r in caplog.records)
    text += "\n".join(repr(e) for e in seen)
    for secret in (SECRET, NEW["access_token"], "client_credentials"):
        assert secret not in text
