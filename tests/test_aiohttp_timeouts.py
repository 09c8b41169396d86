"""AiohttpTransport's timeouts, kept by one clock per transport: what httpx's timeouts promise holds.

The server is driven by the test (events, not sleeps, decide when it answers), except where time is what
is tested: a body that trickles is sent in steps of a fifth of the read timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from hh_async.aiohttp_transport import AiohttpTransport

RELEASE = web.AppKey("release", asyncio.Event)
ARRIVED = web.AppKey("arrived", asyncio.Event)
READ = 0.5


async def _hang(request: web.Request) -> web.Response:
    request.app[ARRIVED].set()
    await request.app[RELEASE].wait()
    return web.json_response({})


async def _trickle(request: web.Request) -> web.StreamResponse:
    # Longer than the read timeout in all, never quiet for more than a fifth of it.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"items": [0')
    for item in range(1, 11):
        await asyncio.sleep(READ / 5)
        await response.write(b", %d" % item)
    await response.write(b"]}")
    await response.write_eof()
    return response


async def _stall(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "100", "Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"items": [')
    await request.app[RELEASE].wait()
    return response


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest_asyncio.fixture
async def app() -> AsyncIterator[tuple[str, web.Application]]:
    app = web.Application()
    app[RELEASE], app[ARRIVED] = asyncio.Event(), asyncio.Event()
    app.router.add_get("/hang", _hang)
    app.router.add_get("/trickle", _trickle)
    app.router.add_get("/stall", _stall)
    app.router.add_get("/ok", _ok)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", app
    app[RELEASE].set()
    await runner.cleanup()


def client(timeout: httpx.Timeout, connections: int = 10) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections)
    return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=timeout)


@pytest.mark.asyncio
async def test_a_body_that_keeps_coming_is_read_whole_however_long_it_takes(
    app: tuple[str, web.Application],
) -> None:
    url, _ = app
    async with client(httpx.Timeout(5, read=READ)) as http:
        response = await http.get(f"{url}/trickle")
    assert response.json() == {"items": list(range(11))}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/hang", "/stall"])
async def test_an_answer_that_stops_coming_is_a_read_timeout_and_the_next_request_works(
    app: tuple[str, web.Application], path: str
) -> None:
    url, _ = app
    async with client(httpx.Timeout(5, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout, match="read timeout"):
            await http.get(f"{url}{path}")
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the clock took its cancellation back
        await asyncio.sleep(0)  # and nothing is left pending for this task
        assert (await http.get(f"{url}/ok")).json() == {"ok": True}


@pytest.mark.asyncio
async def test_waiting_too_long_for_a_connection_is_a_connect_timeout(
    app: tuple[str, web.Application],
) -> None:
    url, application = app
    async with client(httpx.Timeout(60, pool=0.1, connect=0.1), connections=1) as http:
        holder = asyncio.create_task(http.get(f"{url}/hang"))  # the only connection, held
        await application[ARRIVED].wait()
        with pytest.raises(httpx.ConnectTimeout, match="no connection within"):
            await http.get(f"{url}/ok")
        application[RELEASE].set()
        assert (await holder).status_code == 200
        assert (await http.get(f"{url}/ok")).status_code == 200


@pytest.mark.asyncio
async def test_a_timeout_inside_the_callers_own_timeout_leaves_it_alone(
    app: tuple[str, web.Application],
) -> None:
    url, _ = app
    async with client(httpx.Timeout(5, read=0.2)) as http:
        async with asyncio.timeout(30):  # counts cancellations: a leftover one would turn up here
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"{url}/hang")
            assert (await http.get(f"{url}/ok")).status_code == 200


@pytest.mark.asyncio
async def test_a_cancellation_from_outside_stays_a_cancellation(app: tuple[str, web.Application]) -> None:
    url, application = app
    async with client(httpx.Timeout(5, read=60)) as http:
        request = asyncio.create_task(http.get(f"{url}/hang"))
        await application[ARRIVED].wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert (await http.get(f"{url}/ok")).status_code == 200


@pytest.mark.asyncio
async def test_a_cancellation_from_outside_at_the_moment_of_a_timeout_wins(
    app: tuple[str, web.Application],
) -> None:
    url, application = app
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=60)) as http:
        request = asyncio.create_task(http.get(f"{url}/hang"))
        await application[ARRIVED].wait()
        clock = transport._clock
        assert clock is not None
        for watch in clock._watches.values():
            watch.read = 0.0  # its read timeout is up at the next check...
        clock._check()
        request.cancel()  # ...and the caller cancels in the same moment
        with pytest.raises(asyncio.CancelledError):
            await request
        assert (await http.get(f"{url}/ok")).status_code == 200


@pytest.mark.asyncio
async def test_a_request_with_a_body_keeps_aiohttps_own_read_timeout(
    app: tuple[str, web.Application],
) -> None:
    url, _ = app
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.request("GET", f"{url}/hang", content=b"a body")
        assert transport._clock is not None and not transport._clock._watches
