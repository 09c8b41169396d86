"""HH's refusals as types, on the fake: each says what to do, carries the request id, and is not retried."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from hh_async import HHClient, RetryPolicy, StaticToken, Throttle, errors as e
from hh_async.testing import FakeHH, Faults

pytestmark = pytest.mark.anyio
UA = "Tests/1.0 (dev@example.com)"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=10) as running:
        yield running


@pytest.mark.parametrize(
    ("faults", "token", "user_agent", "error", "advice"),
    [
        (Faults(refuse="anonymous"), None, UA, e.AnonymousAccessRefusedError, "auth=AppToken"),
        (Faults(refuse="geo"), "valid", UA, e.GeoBlockedError, "network in Russia"),
        (Faults(refuse="application"), "valid", UA, e.ApplicationNotApprovedError, "dev.hh.ru"),
        (Faults(captcha_for_anonymous=True), None, UA, e.CaptchaRequiredError, "captcha"),
        (Faults(), "revoked", UA, e.TokenRevokedError, "log the user in again"),
        (Faults(), None, "", e.BadUserAgentError, "user_agent="),
    ],
    ids=["anonymous", "geo", "application", "captcha", "revoked", "user-agent"],
)
async def test_each_refusal_of_the_fake_is_its_own_error_never_retried(
    server: FakeHH, faults: Faults, token: str | None, user_agent: str, error: type[e.HHError], advice: str
) -> None:
    server.app.faults = faults
    if token == "valid":
        server.clock.advance(301)  # HH issues an application token at most once per 5 minutes
        status, body = server.oauth.token(
            {
                "grant_type": "client_credentials",
                "client_id": "fake-client-id",
                "client_secret": "fake-client-secret",
            }
        )
        assert status == 200
        token = body["access_token"]
    auth = StaticToken(token) if token else None
    headers = {} if user_agent else {"User-Agent": "", "HH-User-Agent": ""}
    before = server.app.requests["GET /vacancies"]
    try:
        async with HHClient(
            user_agent=UA,
            base_url=server.url,
            auth=auth,
            retry=RetryPolicy(backoff_base=0),
            throttle=Throttle(None),
        ) as hh:
            with pytest.raises(error) as raised:
                await hh.get_vacancies(text="python", extra_headers=headers)
    finally:
        server.app.faults = Faults()
    assert advice in str(raised.value)
    assert raised.value.request_id and raised.value.request_id.startswith("fake-")
    assert raised.value.request_id in str(raised.value)  # what HH's support asks for
    assert server.app.requests["GET /vacancies"] - before <= 1  # refusals are not retried


async def test_a_spent_quota_is_raised_once_not_retried() -> None:
    """errors, retry and auth read HH's error body the same way: a 429 ``quota_exceeded`` is a spent quota."""
    with respx.mock(base_url="https://api.hh.ru") as router:
        route = router.get("/vacancies").respond(
            429, json={"errors": [{"type": "vacancies", "value": "quota_exceeded"}], "request_id": "q-1"}
        )
        async with HHClient(
            user_agent=UA, transport=httpx.AsyncHTTPTransport(), retry=RetryPolicy(backoff_base=0)
        ) as hh:
            with pytest.raises(e.LimitExceededError, match="retrying will not help"):
                await hh.get_vacancies()
    assert route.call_count == 1
