"""HHClient against respx: headers HH requires, typed calls and results, errors, raw responses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from hh_async import HHClient, RetryPolicy, StaticToken
from hh_async.errors import DecodeError, HHError, NotFoundError, TokenExpiredError
from hh_async.throttle import Throttle

pytestmark = pytest.mark.anyio

API = "https://api.hh.ru"
UA = "TestApp/1.0 (dev@example.com)"
PAGE = {"found": 1, "pages": 1, "page": 0, "per_page": 20, "items": [{"id": "7", "name": "Python developer"}]}


def hh(**kwargs: Any) -> HHClient:
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0))
    kwargs.setdefault("throttle", Throttle(rate=None))
    # respx intercepts httpx's own transport; the default (aiohttp's pool) is tested on the fake server.
    kwargs.setdefault("transport", httpx.AsyncHTTPTransport())
    return HHClient(user_agent=UA, **kwargs)


async def test_a_search_sends_what_hh_requires_and_returns_a_model() -> None:
    with respx.mock(base_url=API) as router:
        route = router.get("/vacancies").respond(200, json=PAGE)
        async with hh(host="hh.kz", locale="EN", auth=StaticToken("T0KEN")) as client:
            page = await client.get_vacancies(text="python", area=["1", "2"])
    request = route.calls.last.request
    assert request.headers["User-Agent"] == UA and request.headers["HH-User-Agent"] == UA
    assert request.headers["Authorization"] == "Bearer T0KEN"
    assert sorted(request.url.params.multi_items()) == [
        ("area", "1"),
        ("area", "2"),
        ("host", "hh.kz"),
        ("locale", "EN"),
        ("text", "python"),
    ]
    assert type(page).__name__ == "VacanciesResponse"
    assert page.to_dict() == PAGE
    assert page.items and page.items[0].name == "Python developer"  # type: ignore[union-attr]


async def test_per_call_host_and_path_parameters() -> None:
    with respx.mock(base_url=API) as router:
        route = router.get("/vacancies/42").respond(200, json={"id": "42", "name": "Dev"})
        async with hh(host="hh.ru") as client:
            vacancy = await client.get_vacancy(vacancy_id="42", host="rabota.by")  # type: ignore[arg-type]
    assert route.calls.last.request.url.params["host"] == "rabota.by"
    assert vacancy.to_dict() == {"id": "42", "name": "Dev"}


async def test_parameters_are_keyword_only() -> None:
    async with hh() as client:
        with pytest.raises(TypeError):
            await client.get_vacancy("42")  # type: ignore[misc]


async def test_errors_raise_typed_exceptions_and_raw_responses_do_not() -> None:
    body = {"errors": [{"type": "not_found"}], "request_id": "req-9"}
    with respx.mock(base_url=API) as router:
        router.get("/vacancies/404").respond(404, json=body)
        async with hh() as client:
            with pytest.raises(NotFoundError) as raised:
                await client.get_vacancy(vacancy_id="404")
            raw = await client.with_raw_response.get_vacancy(vacancy_id="404")
    assert raised.value.request_id == "req-9"
    assert raw.status_code == 404 and raw.parsed is None and json.loads(raw.content) == body


async def test_raw_response_of_a_success() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies").respond(200, json=PAGE, headers={"X-Request-Id": "r1"})
        async with hh() as client:
            raw = await client.with_raw_response.get_vacancies(text="x")
    assert raw.status_code == 200 and raw.headers["x-request-id"] == "r1"
    assert raw.parsed is not None and raw.parsed.to_dict() == PAGE


async def test_bodies_are_sent_as_the_spec_says() -> None:
    """JSON where HH takes JSON (webhooks), a form where it takes a form (applicant comments)."""
    from urllib.parse import parse_qs

    from hh_async._raw.models import AddApplicantCommentBody, WebhookSubscriptionCreate

    subscription = {"url": "https://my.app/hook", "actions": [{"type": "VACANCY_CHANGE"}]}
    comment = {"text": "Strong candidate", "access_type": "coworkers"}
    with respx.mock(base_url=API) as router:
        hook = router.post("/webhook/subscriptions").respond(201, json={"id": "22"})
        note = router.post("/applicant_comments/5").respond(201, json={"id": "c1", **comment})
        async with hh() as client:
            created = await client.post_webhook_subscription(
                body=WebhookSubscriptionCreate.from_dict(subscription)
            )
            added = await client.add_applicant_comment(
                applicant_id="5", body=AddApplicantCommentBody.from_dict(comment)
            )
    assert json.loads(hook.calls.last.request.content) == subscription
    assert created.to_dict() == {"id": "22"}
    assert parse_qs(note.calls.last.request.content.decode()) == {k: [v] for k, v in comment.items()}
    assert added.to_dict()["id"] == "c1"


async def test_retries_through_the_client_and_post_is_not_retried() -> None:
    with respx.mock(base_url=API) as router:
        search = router.get("/vacancies").mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json=PAGE)]
        )
        comment = router.post("/applicant_comments/5").respond(503)
        async with hh() as client:
            assert (await client.get_vacancies()).to_dict() == PAGE
            with pytest.raises(Exception, match="503"):
                await client.add_applicant_comment(applicant_id="5", body=_comment())
    assert search.call_count == 2 and comment.call_count == 1


def _comment() -> Any:
    from hh_async._raw.models import AddApplicantCommentBody

    return AddApplicantCommentBody.from_dict({"text": "t"})


async def test_a_body_that_is_not_json_is_a_decode_error() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies").respond(200, text='{"found": 1, "items": [')
        async with hh() as client:
            with pytest.raises(DecodeError, match="not valid JSON"):
                await client.get_vacancies()


async def test_a_missing_required_parameter_is_refused_before_sending() -> None:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        route = router.get(url__regex=r"/vacancies/.*").respond(200, json={"id": "1"})
        async with hh() as client:
            with pytest.raises(TypeError, match="get_vacancy\\(\\) needs vacancy_id; got None"):
                await client.get_vacancy(vacancy_id=None)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="vacancy_id must not be empty"):
                await client.get_vacancy(vacancy_id=" ")
    assert not route.called


@pytest.mark.parametrize(
    ("status", "headers", "error", "message"),
    [
        (200, {}, DecodeError, "HTTP 200 with an empty body where a .* was promised"),
        (302, {"Location": "https://hh.ru/login"}, HHError, "HTTP 302 redirecting to https://hh.ru/login"),
    ],
)
async def test_an_answer_without_the_promised_model_is_an_error_not_none(
    status: int, headers: dict[str, str], error: type[Exception], message: str
) -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies/1").respond(status, headers=headers)
        async with hh() as client:
            with pytest.raises(error, match=message):
                await client.get_vacancy(vacancy_id="1")
            raw = await client.with_raw_response.get_vacancy(vacancy_id="1")  # raw: no error raised
    assert raw.status_code == status and raw.parsed is None


async def test_a_bodiless_answer_the_spec_documents_is_none() -> None:
    with respx.mock(base_url=API) as router:
        router.delete("/webhook/subscriptions/1").respond(204)
        async with hh(auth=StaticToken("t")) as client:
            assert await client.cancel_webhook_subscription(subscription_id="1") is None


async def test_a_json_error_body_not_in_hh_shape_keeps_the_servers_words() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies").respond(400, json={"message": "gateway: query too long"})
        async with hh() as client:
            with pytest.raises(HHError, match=r"HTTP 400: .*gateway: query too long"):
                await client.get_vacancies()


async def test_what_the_spec_lacks_is_sent_through_extra_query_headers_and_body() -> None:
    """HH required ``applicant_visibility_id`` on a call before its spec listed it: such things get sent."""
    from hh_async._raw.models import AddApplicantCommentBody, ChatsCommonMessagePostText

    with respx.mock(base_url=API) as router:
        search = router.get("/vacancies").respond(200, json=PAGE)
        comment = router.post("/applicant_comments/5").respond(201, json={"id": "1"})
        message = router.post("/common/chats/9/messages").respond(201, json={"id": "2"})
        async with hh() as client:
            await client.get_vacancies(
                text="python",
                extra_query={"applicant_visibility_id": "x", "area": ["1", "2"]},
                extra_headers={"X-Trace": "t-1"},
            )
            await client.add_applicant_comment(
                applicant_id="5", body=AddApplicantCommentBody.from_dict({"text": "t"}), extra_body={"new": 1}
            )
            await client.chat_message_post(
                chat_id="9",
                body=ChatsCommonMessagePostText.from_dict({"text": "hi"}),
                extra_body={"draft": True},
            )
            with pytest.raises(TypeError, match="sends no body"):
                await client.get_vacancy(vacancy_id="1", extra_body={"x": 1})
    sent = search.calls.last.request
    assert sorted(sent.url.params.multi_items()) == [
        ("applicant_visibility_id", "x"),
        ("area", "1"),
        ("area", "2"),
        ("text", "python"),
    ]
    assert sent.headers["X-Trace"] == "t-1" and sent.headers["User-Agent"] == UA
    assert comment.calls.last.request.content in (b"text=t&new=1", b"new=1&text=t")
    assert json.loads(message.calls.last.request.content) == {"text": "hi", "draft": True}


async def test_enum_parameters_take_plain_strings() -> None:
    with respx.mock(base_url=API) as router:
        route = router.get("/employers").respond(200, json={**PAGE, "items": []})
        async with hh() as client:
            await client.search_employer(sort_by="by_name", host="hh.kz")  # type: ignore[arg-type]
    assert route.calls.last.request.url.params["sort_by"] == "by_name"


async def test_any_path_with_the_clients_auth_retries_and_errors() -> None:
    with respx.mock(base_url=API) as router:
        new = router.get("/brand_new/1").mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json={"fresh": True})]
        )
        router.get("/gone").respond(404, json={"errors": [{"type": "not_found"}], "request_id": "r-404"})
        posted = router.post("/things").respond(201)
        async with hh(auth=StaticToken("T0KEN")) as client:
            assert await client.request("GET", "/brand_new/1", params={"ids": ["1", "2"]}) == {"fresh": True}
            with pytest.raises(NotFoundError) as raised:
                await client.request("GET", "/gone")
            assert await client.request("POST", "/things", json={"a": 1}) is None
            raw = await client.with_raw_response.request("GET", "/gone")
            with pytest.raises(ValueError, match=r"not 'https://evil\.example/steal'"):
                await client.request("GET", "https://evil.example/steal")
    assert new.call_count == 2  # retried like any GET
    sent = new.calls.last.request
    assert sent.headers["Authorization"] == "Bearer T0KEN" and sent.url.query == b"ids=1&ids=2"
    assert raised.value.request_id == "r-404"
    assert raw.status_code == 404 and raw.parsed is None
    assert json.loads(posted.calls.last.request.content) == {"a": 1}


async def test_http_client_is_used_as_is_and_options_it_would_ignore_are_refused() -> None:
    with respx.mock(base_url=API) as router:
        route = router.get("/vacancies/1").respond(200, json={"id": "1"})
        async with httpx.AsyncClient(base_url=API, transport=httpx.AsyncHTTPTransport()) as mine:
            for options in ({"retry": RetryPolicy()}, {"throttle": Throttle()}, {"timeout": 5.0}):
                with pytest.raises(TypeError, match=f"so {next(iter(options))} would be ignored"):
                    HHClient(user_agent=UA, http_client=mine, **options)  # type: ignore[arg-type]
            hh = HHClient(user_agent=UA, http_client=mine, auth=StaticToken("T"))
            assert (await hh.get_vacancy(vacancy_id="1")).id == "1"
            with pytest.raises(TypeError, match="retry= needs"):
                hh.with_options(retry=RetryPolicy(max_attempts=1))
            await hh.aclose()
            assert not mine.is_closed  # yours to close
    assert route.calls.last.request.headers["Authorization"] == "Bearer T"


async def test_a_view_closes_nothing_and_the_client_closes_its_connections() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/vacancies/1").respond(200, json={"id": "1"})
        client = hh()
        view = client.with_options(retry=RetryPolicy(max_attempts=1))
        await view.aclose()
        assert (await client.get_vacancy(vacancy_id="1")).id == "1"  # still open
        await client.aclose()
        with pytest.raises(RuntimeError):
            await client.with_raw_response.request("GET", "/vacancies/1")


async def test_token_errors_surface_typed() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/me").respond(403, json={"errors": [{"type": "oauth", "value": "token_expired"}]})
        async with hh(auth=StaticToken("old")) as client:
            with pytest.raises(TokenExpiredError):
                await client.get_current_user_info()


def test_user_agent_is_required() -> None:
    with pytest.raises(ValueError, match="user_agent"):
        HHClient(user_agent=" ")


def test_repr_hides_the_token() -> None:
    assert "SECRET" not in repr(HHClient(user_agent=UA, auth=StaticToken("SECRET")))


async def test_options_per_call() -> None:
    with respx.mock(base_url=API) as router:
        route = router.get("/vacancies").mock(
            side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json=PAGE)]
        )
        async with hh() as client:
            once = client.with_options(retry=RetryPolicy(max_attempts=1), timeout=3.0)
            with pytest.raises(Exception, match="503"):
                await once.get_vacancies()
            assert route.calls.last.request.extensions["timeout"]["read"] == 3.0
            assert (await client.get_vacancies()).to_dict() == PAGE  # the client itself still retries
            await once.aclose()  # a view: closing it leaves the client's connections open
            assert not client._http.is_closed
    assert route.call_count == 3


async def test_1000_concurrent_calls_through_the_client_refresh_once() -> None:
    import time

    import anyio

    from hh_async import MemoryTokenStore, TokenPair, UserToken

    auth = UserToken("id", "secret", MemoryTokenStore(TokenPair("OLD", "R1", time.time() - 5)))
    new = {"access_token": "NEW", "token_type": "bearer", "expires_in": 3600, "refresh_token": "R2"}
    with respx.mock(base_url=API) as router:
        token = router.post("/token").respond(200, json=new)
        router.get("/me").mock(
            side_effect=lambda r: httpx.Response(
                200 if r.headers["Authorization"] == "Bearer NEW" else 500, json={}
            )
        )
        results: list[Any] = []
        async with hh(auth=auth, throttle=Throttle(rate=None, concurrency=1000)) as client:

            async def one() -> None:
                results.append(await client.get_current_user_info())

            async with anyio.create_task_group() as group:
                for _ in range(1000):
                    group.start_soon(one)
    assert len(results) == 1000 and token.call_count == 1


TARGETS = [
    "/vacancies",
    "/vacancies/42",
    "/vacancies?text=%D0%BF%D0%B8%D1%82%D0%BE%D0%BD&area=1&area=2&only_with_salary=true",
    "/me?",
    "/a:b@c;d=e/f!$&'()*+,",
    "/vacancies/%2e%2e",
    "/vacancies/../me",  # httpx removes dot segments: parsed its way
    "/vacancies/./1",
    "/vacancies/1?q=a?b/c",
    "/search text with spaces?q=пайтон",  # a caller's raw path (hh.request): parsed, escaped by httpx
    "/stray%zz%?a=%",
    "/frag#ment",
    "/br[ack]ets",
    "/vacancies//1",
]


@pytest.mark.parametrize("base", [API, API + "/", "http://127.0.0.1:8000/api/", "http://[::1]:8080"])
def test_urls_made_without_a_parse_are_the_urls_httpx_parses(base: str) -> None:
    from hh_async.client import url_maker

    client_base = httpx.AsyncClient(base_url=base).base_url  # as HHClient gets it
    make = url_maker(client_base)
    prefix = str(client_base).rstrip("/")
    for target in TARGETS:
        ours, theirs = make(target), httpx.URL(prefix + target)
        assert ours == theirs and str(ours) == str(theirs), target
        assert (ours.raw_path, ours.path, ours.query, ours.params) == (
            theirs.raw_path,
            theirs.path,
            theirs.query,
            theirs.params,
        ), target
        assert (ours.scheme, ours.host, ours.port, ours.netloc, ours.fragment) == (
            theirs.scheme,
            theirs.host,
            theirs.port,
            theirs.netloc,
            theirs.fragment,
        ), target


async def test_requests_are_what_httpx_would_build() -> None:
    """The request of a call (URL, headers and their order, body) is the one httpx.Request builds from the
    same parts, bodiless or not."""
    with respx.mock(base_url=API) as router:
        gets = router.get(url__regex=r".*").respond(200, json={"id": "1", "name": "x"})
        deletes = router.delete(url__regex=r".*").respond(204)
        async with hh(auth=StaticToken("T0KEN")) as client:
            await client.get_vacancy(vacancy_id="1", host="hh.kz")  # type: ignore[arg-type]
            await client.request("GET", "/vacancies/1/some thing", params={"q": "пайтон"})
            await client.request("DELETE", "/vacancies/1/x")
    for request in [*(c.request for c in gets.calls), *(c.request for c in deletes.calls)]:
        built = httpx.Request(request.method, str(request.url), headers=request.headers)
        assert request.url == built.url and request.headers.raw == built.headers.raw
        assert request.content == built.content == b"" and "content-length" not in request.headers


@pytest.mark.parametrize("encoding", [None, "gzip", "identity"])
def test_a_whole_body_read_the_short_way_leaves_the_response_as_read_does(encoding: str | None) -> None:
    import gzip

    from hh_async.buffered_transport import _SHORT_WAY, read_whole

    assert _SHORT_WAY  # this httpx is read the short way (a newer one failing the check is read its way)

    body = json.dumps({"id": "1", "name": "Москва"}).encode()
    wire = gzip.compress(body) if encoding == "gzip" else body
    headers = {"content-type": "application/json", **({"content-encoding": encoding} if encoding else {})}

    def answer() -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(wire))

    ours, theirs = answer(), answer()
    assert read_whole(ours) == theirs.read() == body
    assert read_whole(ours) == body  # twice: as read() does, the content stays
    for response in (ours, theirs):
        assert response.content == body and response.json() == {"id": "1", "name": "Москва"}
        assert response.is_closed and response.is_stream_consumed
        assert response.num_bytes_downloaded == len(wire)
        assert response.headers == httpx.Headers(headers)
    for response in (ours, theirs):
        with pytest.raises(httpx.StreamConsumed):
            list(response.iter_raw())


async def test_a_static_tokens_header_is_set_without_its_flow_but_a_subclass_flow_runs() -> None:
    class Signed(StaticToken):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers["Authorization"] = "Signed X"
            request.headers["X-Signature"] = "abc"
            yield request

        async def async_auth_flow(self, request: httpx.Request) -> Any:
            for step in self.auth_flow(request):
                yield step

    with respx.mock(base_url=API) as router:
        route = router.get("/me").respond(200, json={})
        async with hh(auth=StaticToken("T0KEN")) as client:
            await client.request("GET", "/me", headers={"Authorization": "Bearer other"})
            await client.with_options(auth=Signed("T0KEN")).request("GET", "/me")
            await client.with_options(auth=None).request("GET", "/me")
    first, second, third = (call.request.headers for call in route.calls)
    assert first.get_list("Authorization") == ["Bearer T0KEN"]  # the token wins, as its flow would have it
    assert (second["Authorization"], second["X-Signature"]) == ("Signed X", "abc")
    assert "Authorization" not in third
