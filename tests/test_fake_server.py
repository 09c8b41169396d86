"""The fake HH (hh_async.testing) and the client against it, over real sockets on loopback."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

from hh_async import AppToken, HHClient, JsonFileTokenStore, RetryPolicy, Throttle, errors as e
from hh_async.auth import authorization_request, exchange_code
from hh_async.operations import registry
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH, Faults
from hh_async.testing.dataset import MSK, hh_time

from .conftest import ROOT

pytestmark = pytest.mark.anyio
UA = "Tests/1.0 (dev@example.com)"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=5_000) as running:
        yield running


def client(server: FakeHH, **kwargs: Any) -> HHClient:
    kwargs.setdefault("throttle", Throttle(rate=None, concurrency=50))
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0.001, max_attempts=8))
    return HHClient(user_agent=UA, base_url=server.url, **kwargs)


def _required_query(operation_id: str) -> dict[str, str]:
    from hh_async.validation import _rules, _Validator

    rules = _rules()
    query = {}
    for param in rules["operations"][operation_id]["parameters"]:
        if param["in"] == "query" and param.get("required"):
            schema = _Validator(rules["schemas"]).resolve(param.get("schema") or {})
            schema = schema.get("items", schema) if schema.get("type") == "array" else schema
            enum = [v for v in schema.get("enum") or () if v is not None]
            default = {"integer": "1", "number": "1", "boolean": "true"}.get(schema.get("type", ""), "x")
            query[param["name"]] = str(enum[0]) if enum else default
    return query


def test_every_operation_answers_and_its_body_parses(server: FakeHH) -> None:
    """With its required parameters and a body as the spec documents it, every operation answers 2xx with
    a body that keeps every promise of the spec (what HH would send), and that parses losslessly."""
    from hh_async.testing.app import synthesize
    from hh_async.validation import _rules, validate

    rules = _rules()
    with httpx.Client(base_url=server.url, headers={"User-Agent": UA, **_user_token(server)}) as http:
        for operation in registry().values():
            if operation.path == "/token":
                continue  # the OAuth endpoint has its own tests below
            if operation.path.startswith("/webhook/"):
                continue  # per-user state, not spec examples: tests/test_webhooks_fake.py
            path = operation.path.replace("{vacancy_id}", "100001")
            path = path.replace("{", "").replace("}", "")  # any other id: the fake answers from the spec
            spec = rules["operations"][operation.operation_id]
            body = None
            if "body" in spec:
                body = rules["examples"].get(operation.operation_id, {}).get("body")
                body = body if body is not None else synthesize(spec["body"], rules["schemas"])
            response = http.request(
                operation.method, path, params=_required_query(operation.operation_id), json=body
            )
            assert 200 <= response.status_code < 300, (operation.operation_id, response.text[:300])
            model = operation.responses.get(str(response.status_code))
            if not response.content or model is None:
                continue
            data = response.json()
            broken = [str(v) for v in validate(data, operation.operation_id, str(response.status_code))]
            assert broken == [], (operation.operation_id, broken[:5])
            cls = model[0] if isinstance(model, tuple) else model
            items = data if isinstance(data, list) else [data]
            for item in items:
                assert cls.from_dict(item).to_dict() == item, operation.operation_id


def _user_token(server: FakeHH, user: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.oauth.issue_user_token(CLIENT_ID, user)['access_token']}"}


def test_who_may_call_what_is_checked_as_hh_checks_it(server: FakeHH) -> None:
    """User-only operations want a user's token, GET /me any token (and answers as its user), dictionaries
    and searches none; a token request without a User-Agent is refused like any other call."""
    app_token = server.oauth.token({"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                     "client_secret": CLIENT_SECRET})[1]["access_token"]  # fmt: skip
    with httpx.Client(base_url=server.url, headers={"User-Agent": UA}) as http:
        as_user = {**_user_token(server, "42")}
        as_app = {"Authorization": f"Bearer {app_token}"}
        assert http.get("/me").status_code == 403
        assert http.get("/me", headers=as_user).json()["id"] == "42"
        assert http.get("/me", headers=as_app).status_code == 200
        for headers in ({}, as_app):
            refused = http.get("/employers/1/managers", headers=headers)
            assert refused.status_code == 403 and refused.json()["errors"][0]["value"] == "user_auth_expected"
        assert http.get("/employers/1/managers", headers=as_user).status_code == 200
        assert http.get("/areas").status_code == 200 and http.get("/vacancies").status_code == 200
    with httpx.Client(base_url=server.url, headers={"User-Agent": ""}) as bare:  # not even httpx's own
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        nameless = bare.post("/token", data=form)
    assert nameless.status_code == 400 and nameless.json()["errors"][0]["type"] == "bad_user_agent"


def test_requests_are_checked_as_hh_checks_them(server: FakeHH) -> None:
    with httpx.Client(base_url=server.url, headers={"User-Agent": UA, **_user_token(server)}) as http:
        bad_page = http.get("/vacancies", params={"per_page": "ten"})
        bad_host = http.get("/areas", params={"host": "example.com"})
        bad_body = http.post("/webhook/subscriptions", json={"url": "https://my.app/hook", "actions": "all"})
        unknown = http.get("/areas", params={"no_such_parameter": "1"})
    assert e.error_from_response(bad_page).argument == "per_page"  # type: ignore[attr-defined]
    assert e.error_from_response(bad_host).argument == "host"  # type: ignore[attr-defined]
    error = e.error_from_response(bad_body)
    assert isinstance(error, e.BadJsonDataError) and error.pointer == "/actions"
    assert unknown.status_code == 200


async def test_search_filters_order_and_depth_cap(server: FakeHH) -> None:
    async with client(server) as hh:
        page = await hh.get_vacancies(text="python", area=["1", "2"], per_page=50, page=1)
        assert page.per_page == 50 and page.page == 1 and isinstance(page.found, int) and page.found > 50
        assert page.pages == -(-min(page.found, 2000) // 50)
        items = page.items or []
        assert all(v.name == "Python developer" and v.area.id in ("1", "2") for v in items)  # type: ignore[union-attr]
        dates = [v.published_at for v in items]  # type: ignore[union-attr]
        assert dates == sorted(dates, reverse=True)
        with pytest.raises(e.BadArgumentError) as raised:
            await hh.get_vacancies(per_page=100, page=20)  # items 2001-2100: past HH's cap
        assert raised.value.argument == "page"
        with pytest.raises(e.NotFoundError):
            await hh.get_vacancy(vacancy_id="1")


async def test_user_agent_is_required(server: FakeHH) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/areas", headers={"User-Agent": ""})
    error = e.error_from_response(response)
    assert isinstance(error, e.BadUserAgentError) and error.errors[0].value == "unset"


async def test_login_flow_and_refresh_under_load(server: FakeHH, tmp_path: Any) -> None:
    login = authorization_request(CLIENT_ID, "https://my.app/callback")
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(server.url + "/oauth/authorize?" + urlsplit(login.url).query)
    assert redirect.status_code == 302
    callback = parse_qs(urlsplit(redirect.headers["location"]).query)
    login.check_state(callback["state"][0])
    store = JsonFileTokenStore(tmp_path / "user.json")
    auth = await exchange_code(
        login,
        callback["code"][0],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        store=store,
        token_url=server.url + "/token",
    )
    refreshes_before = server.oauth.requests["refresh_token"]
    async with client(server, auth=auth) as hh:
        assert await hh.get_current_user_info() is not None
        server.clock.advance(1_209_600 + 1)  # the access token expires on the server's clock only

        async def one() -> None:
            await hh.get_current_user_info()

        async with anyio.create_task_group() as group:
            for _ in range(1000):
                group.start_soon(one)
    assert server.oauth.requests["refresh_token"] - refreshes_before == 1
    assert (await store.load()) == await auth.current()


async def test_app_token_rules() -> None:
    with FakeHH(vacancies=10) as server:
        first = AppToken(CLIENT_ID, CLIENT_SECRET, token_url=server.url + "/token", clock=server.clock)
        second = AppToken(CLIENT_ID, CLIENT_SECRET, token_url=server.url + "/token", clock=server.clock)
        async with client(server, auth=first) as hh:
            await hh.get_current_user_info()
        async with client(server, auth=second) as hh:
            with pytest.raises(e.AppTokenTooEarlyError):  # HH's 403: app token refresh too early
                await hh.get_current_user_info()
        server.clock.advance(301)
        async with client(server, auth=second) as hh:
            await hh.get_current_user_info()  # a new one is issued, and it revokes the first
        async with client(server, auth=first) as hh:
            with pytest.raises(e.AppTokenTooEarlyError):  # first cannot replace it before 5 minutes
                await hh.get_current_user_info()
    assert server.oauth.requests["client_credentials"] == 4  # the last one refused by HH, not sent twice


async def test_every_id_once_through_20_percent_faults() -> None:
    """5xx (JSON and HTML), dropped connections and 429 on one request in five: retries hide them all."""
    faults = Faults(rate=0.2, kinds=("503", "502_html", "429", "drop"), seed=7)
    with FakeHH(vacancies=10_000, faults=faults) as server:
        # Ten publication-date windows of about 1000 vacancies each: every one under HH's 2000 cap.
        newest = datetime.fromtimestamp(server.dataset.newest, MSK) + timedelta(minutes=1)
        step = timedelta(minutes=1001)
        bounds = [newest - step * k for k in range(11)]
        seen: list[str] = []
        async with client(server) as hh:
            for upper, lower in itertools.pairwise(bounds):
                for page in range(20):
                    result = await hh.get_vacancies(
                        date_from=hh_time(lower), date_to=hh_time(upper), per_page=100, page=page
                    )
                    seen += [v.id for v in result.items or []]  # type: ignore[union-attr,misc]
                    if page + 1 >= (result.pages or 0):
                        break
    assert len(seen) == 10_000 and len(set(seen)) == 10_000
    assert sum(faults.injected.values()) > 20 and set(faults.injected) == {"503", "502_html", "429", "drop"}


async def test_injected_errors_map_to_their_classes() -> None:
    cases = {"503": e.ServerError, "502_html": e.ServerError, "429": e.RateLimitedError}
    for kind, cls in cases.items():
        with FakeHH(vacancies=10, faults=Faults(rate=1.0, kinds=(kind,))) as server:
            async with client(server, retry=RetryPolicy(max_attempts=1)) as hh:
                with pytest.raises(cls):
                    await hh.get_vacancies()
    with FakeHH(vacancies=10, faults=Faults(rate=1.0, kinds=("truncate",))) as server:
        async with client(server) as hh:
            with pytest.raises(e.DecodeError):
                await hh.get_vacancies()
    with FakeHH(vacancies=10, faults=Faults(rate=1.0, kinds=("drop",))) as server:
        async with client(server, retry=RetryPolicy(max_attempts=2, backoff_base=0)) as hh:
            with pytest.raises(httpx.RemoteProtocolError):
                await hh.get_vacancies()
    with FakeHH(vacancies=10, faults=Faults(captcha_for_anonymous=True)) as server:
        async with client(server) as hh:
            with pytest.raises(e.CaptchaRequiredError) as raised:
                await hh.get_vacancies()
            assert raised.value.captcha_url


def test_the_pytest_fixture(fake_hh: FakeHH) -> None:
    response = httpx.get(fake_hh.url + "/vacancies", headers={"User-Agent": UA})
    assert response.json()["found"] == 2_000


def test_command_line_server() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hh_async.testing", "--port", "0", "--vacancies", "100"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[3]
        assert httpx.get(url + "/vacancies", headers={"User-Agent": UA}).json()["found"] == 100
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_other_paged_lists_and_the_employers_cap(server: FakeHH) -> None:
    """Every paged list of the spec pages through ``list_size`` items; employer search stops at 5000."""
    async with client(server) as hh:
        last = await hh.search_employer(per_page=100, page=49)
        assert (last.found, last.pages, last.page) == (6000, 50, 49)
        assert [item.id for item in last.items or []] == [str(n) for n in range(4901, 5001)]  # type: ignore[union-attr]
        with pytest.raises(e.BadArgumentError):
            await hh.search_employer(per_page=100, page=50)


async def test_a_slow_answer_past_the_client_timeout_is_a_timeout() -> None:
    with FakeHH(vacancies=10, faults=Faults(rate=1.0, kinds=("slow",), slow_seconds=2.0)) as server:
        async with client(server, timeout=0.2, retry=RetryPolicy(max_attempts=1)) as hh:
            with pytest.raises(httpx.ReadTimeout):
                await hh.get_vacancies()


async def test_what_the_spec_lacks_reaches_the_fake_with_auth_and_typed_errors(server: FakeHH) -> None:
    auth = AppToken(CLIENT_ID, CLIENT_SECRET, token_url=server.url + "/token", clock=server.clock)
    server.clock.advance(301)  # the fake issues an application token at most once per 5 minutes
    async with client(server, auth=auth) as hh:
        await hh.get_vacancies(text="python", extra_query={"applicant_visibility_id": "x"})
        assert server.app.received[-1][2]["applicant_visibility_id"] == ["x"]
        assert (await hh.request("GET", "/vacancies/100001"))["id"] == "100001"
        with pytest.raises(e.NotFoundError) as raised:
            await hh.request("GET", "/not/in/the/spec", params={"q": "1"})
    assert server.app.received[-1][:2] == ("GET", "/not/in/the/spec")
    assert raised.value.request_id and raised.value.request_id.startswith("fake-")


def test_the_fakes_vacancies_keep_every_promise_of_the_spec(server: FakeHH) -> None:
    """What HH would send: a user's tests against the fake must not pass on bodies HH never sends."""
    from hh_async.validation import validate

    with httpx.Client(base_url=server.url, headers={"User-Agent": UA}) as http:
        page = http.get("/vacancies", params={"per_page": 20}).json()
        vacancy = http.get(f"/vacancies/{page['items'][0]['id']}").json()
    assert [str(v) for v in validate(page, "get-vacancies")] == []
    assert [str(v) for v in validate(vacancy, "get-vacancy")] == []
