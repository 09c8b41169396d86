"""AiohttpTransport: what httpx's own transport answers, it answers too, and it fails the same way."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.aiohttp_transport import AiohttpTransport
from hh_async.testing import FakeHH

UA = "TestApp/1.0 (dev@example.com)"
RELEASE = web.AppKey("release", asyncio.Event)


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path_qs": request.path_qs,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body.decode(),
            "url": str(request.url),
        }
    )


async def _many_headers(request: web.Request) -> web.Response:
    response = web.Response(body=b"{}", content_type="application/json")
    response.headers.add("X-Twice", "a")
    response.headers.add("x-twice", "b")
    response.headers["X-Old"] = "caf\xe9"  # one byte that is neither ascii nor utf-8, as HTTP allows
    response.headers["ETag"] = '"v1"'
    return response


async def _gzipped(request: web.Request) -> web.Response:
    payload = gzip.compress(json.dumps({"items": ["x"] * 100}).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    return web.Response(body=payload, headers=headers)


async def _truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000", "Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"items": [')
    assert request.transport is not None
    request.transport.close()
    return response


async def _slow(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()  # set at teardown: the handler never outlives the test
    return web.json_response({})


@pytest_asyncio.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app[RELEASE] = release = asyncio.Event()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/gzip", _gzipped)
    app.router.add_get("/headers", _many_headers)
    app.router.add_get("/truncated", _truncated)
    app.router.add_get("/slow", _slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    release.set()
    await runner.cleanup()


@pytest.mark.asyncio
async def test_requests_and_answers_pass_through_unchanged(server: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        response = await http.post(
            f"{server}/echo?area=1&area=2&text=%D0%B4%D0%B5%D0%B2",
            json={"name": "Разработчик"},
            headers={"HH-User-Agent": UA, "Authorization": "Bearer token"},
        )
    echoed = response.json()
    assert response.status_code == 200 and response.http_version == "HTTP/1.1"
    assert echoed["method"] == "POST"
    assert echoed["path_qs"] == "/echo?area=1&area=2&text=%D0%B4%D0%B5%D0%B2"  # not quoted twice
    assert json.loads(echoed["body"]) == {"name": "Разработчик"}
    assert echoed["headers"]["hh-user-agent"] == UA
    assert echoed["headers"]["authorization"] == "Bearer token"
    assert echoed["headers"]["content-type"] == "application/json"


@pytest.mark.asyncio
@pytest.mark.parametrize("dropped", [(), ("Accept-Encoding",), ("User-Agent", "Accept")])
async def test_aiohttp_adds_no_header_the_request_lacks(server: str, dropped: tuple[str, ...]) -> None:
    # aiohttp fills in User-Agent, Accept and Accept-Encoding (br among them, which httpx may not decode)
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        request = http.build_request("GET", f"{server}/echo")
        for name in dropped:
            del request.headers[name]
        sent = {k.lower(): v for k, v in request.headers.items()}
        echoed = (await http.send(request)).json()["headers"]
    assert {k: v for k, v in echoed.items() if k in ("user-agent", "accept", "accept-encoding")} == {
        k: v for k, v in sent.items() if k in ("user-agent", "accept", "accept-encoding")
    }


@pytest.mark.asyncio
async def test_each_request_carries_its_own_headers_and_url(server: str) -> None:
    # Header sets and URLs are converted once and remembered: users taking turns must never get each
    # other's token, nor a URL asked before; more of them than the memo keeps must not matter either.
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        for turn in range(600):
            user = turn % 300  # every user twice, the second time after the memo has been refilled
            extra = {"X-Once": "yes"} if turn % 7 == 0 else {}
            response = await http.get(
                f"{server}/echo?user={user}", headers={"Authorization": f"Bearer user-{user}", **extra}
            )
            echoed = response.json()
            assert echoed["path_qs"] == f"/echo?user={user}"
            assert echoed["headers"]["authorization"] == f"Bearer user-{user}"
            assert ("x-once" in echoed["headers"]) == bool(extra)


@pytest.mark.asyncio
async def test_answer_headers_arrive_as_httpx_reads_them(server: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as ours, httpx.AsyncClient() as theirs:
        mine, reference = await ours.get(f"{server}/headers"), await theirs.get(f"{server}/headers")
    drop = {b"date", b"server"}  # differ from one answer to the next
    assert [h for h in mine.headers.raw if h[0].lower() not in drop] == [
        h for h in reference.headers.raw if h[0].lower() not in drop
    ]
    assert mine.headers.get_list("x-twice") == ["a", "b"]
    assert mine.headers["x-old"] == reference.headers["x-old"] == "caf\xe9"
    assert mine.headers["etag"] == '"v1"'


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
async def test_a_body_goes_out_whatever_the_method(server: str, method: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        response = await http.request(method, f"{server}/echo", content=b"raw bytes")
        echoed = response.json()
    assert echoed["body"] == "raw bytes"
    assert "content-type" not in echoed["headers"]  # none was given: aiohttp adds none either


@pytest.mark.asyncio
async def test_a_gzipped_body_is_decoded_once(server: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        response = await http.get(f"{server}/gzip")
    assert response.json() == {"items": ["x"] * 100}


@pytest.mark.asyncio
async def test_a_body_cut_short_is_a_protocol_error_that_retries_see(server: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{server}/truncated")


@pytest.mark.asyncio
async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.asyncio
async def test_httpx_read_timeout_applies(server: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{server}/slow")


@pytest.mark.asyncio
async def test_proxies_from_the_environment_are_used(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", server)  # the echo server plays the proxy: it sees the absolute URL
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        echoed = (await http.get("http://hh.example/echo")).json()
    assert echoed["headers"]["host"] == "hh.example"
    async with httpx.AsyncClient(transport=AiohttpTransport(trust_env=False)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://hh.example.invalid/echo")


def test_one_transport_follows_the_loop_it_is_used_on() -> None:
    """A session belongs to one asyncio loop: the transport finds out which loop it runs on (a new one
    after asyncio.run returns, trio in between) and sends there, with its timeouts."""
    import trio

    transport = AiohttpTransport()
    timeout = httpx.Timeout(5, read=2).as_dict()

    async def get(path: str) -> httpx.Response:
        headers = {"User-Agent": UA, "HH-User-Agent": UA}
        request = httpx.Request("GET", f"{fake.url}{path}", headers=headers, extensions={"timeout": timeout})
        return await transport.handle_async_request(request)

    async def on_asyncio(last: bool = False) -> tuple[int, object]:
        status = (await get("/areas/1")).status_code
        session = transport._session
        assert session is not None
        if last:  # closed here: aclose() under asyncio would also close the fallback made under trio
            await session.close()
        return status, session._loop

    with FakeHH() as fake:
        first, loop_one = asyncio.run(on_asyncio())
        assert trio.run(get, "/areas/1").status_code == 200  # httpx's own transport, under trio
        second, loop_two = asyncio.run(on_asyncio(last=True))
        trio.run(transport.aclose)
    assert first == second == 200
    assert loop_one is not loop_two  # a session of its own on each loop


@pytest.mark.anyio
async def test_the_client_works_under_asyncio_and_trio_alike(anyio_backend: str) -> None:
    """aiohttp runs on asyncio; under trio the transport hands requests to httpx's own."""
    async with FakeHH(vacancies=50) as fake:
        transport = AiohttpTransport()
        async with HHClient(
            user_agent=UA, base_url=fake.url, transport=transport, throttle=Throttle(rate=None)
        ) as hh:
            page = await hh.get_vacancies(per_page=20, page=1)
            once = hh.with_options(retry=RetryPolicy(max_attempts=1))
            again = await once.get_vacancies(per_page=20, page=1)
        assert page.found == 50 and len(page.items) == 20
        assert [v.id for v in page.items] == [v.id for v in again.items]
        assert (transport._fallback is not None) == (anyio_backend == "trio")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/areas/1?host=hh.ru&locale=RU",
        "https://api.hh.ru/vacancies?text=%D0%BF%20x&area=1&area=2",
        "https://api.hh.ru",
        "https://api.hh.ru/me?",
        "http://[::1]:8080/x?y=1",
        "http://user:pass@h.example/x",
        "https://API.hh.ru:443/a%2Fb/c",
        "https://пример.рф/путь?q=ы",
        "http://h.example/a#frag",
    ],
)
def test_the_url_aiohttp_gets_is_the_one_httpx_prints(url: str) -> None:
    import yarl

    from hh_async.aiohttp_transport import _yarl_url

    given = httpx.URL(url)
    ours, printed = _yarl_url(given), yarl.URL(str(given), encoded=True)
    assert ours == printed and str(ours) == str(printed)
    for part in ("raw_path_qs", "raw_host", "port", "scheme", "raw_user", "raw_password", "raw_fragment"):
        assert getattr(ours, part) == getattr(printed, part), part


@pytest.mark.parametrize(
    "headers",
    [
        [("User-Agent", "App/1.0"), ("HH-User-Agent", "App/1.0"), ("X-Twice", "a"), ("x-twice", "b")],
        [("User-Agent", "Приложение/1.0".encode()), ("Accept", b"*/*")],  # utf-8, as httpx reads it
        [("X-Old", "caf\xe9".encode("latin-1"))],  # neither ascii nor utf-8: iso-8859-1
    ],
)
def test_headers_go_to_aiohttp_as_httpx_lists_them(headers: list[tuple[str, str | bytes]]) -> None:
    from hh_async.aiohttp_transport import _header_pairs

    given = httpx.Headers(headers)
    assert _header_pairs(given) == given.multi_items()
