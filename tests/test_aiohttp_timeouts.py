"""AiohttpTransport's timeouts, kept by one clock per transport: what httpx's timeouts promise holds.

The server is driven by the test (events, not sleeps, decide when it answers), except where time is what
is tested: what trickles comes in steps of a fifth of the read timeout, and a loop that stalls is held
well past the deadlines it is meant to straddle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
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
@pytest.mark.parametrize("timing_out", [False, True], ids=["alone", "at-the-moment-of-a-timeout"])
async def test_a_cancellation_from_outside_stays_a_cancellation(
    app: tuple[str, web.Application], timing_out: bool
) -> None:
    url, application = app
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=60)) as http:
        request = asyncio.create_task(http.get(f"{url}/hang"))
        await application[ARRIVED].wait()
        if timing_out:
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


# --- Raw servers in a thread of their own: the client's loop may stall without stalling them. ---

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.contextmanager
def raw_server(handle: Handler) -> Iterator[str]:
    """``handle`` serving each connection on 127.0.0.1, on a loop in another thread; yields the URL."""
    started: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = queue.Queue()

    async def serve() -> None:
        stop = asyncio.Event()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        started.put((asyncio.get_running_loop(), stop, server.sockets[0].getsockname()[1]))
        async with server:
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    loop, stop, port = started.get(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


async def _headers_one_by_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n")
    for line in range(10):  # the status line and headers, a fifth of the read timeout apart
        await asyncio.sleep(READ / 5)
        writer.write(b"X-Line-%d: yes\r\n" % line)
    writer.write(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


def test_headers_that_keep_coming_are_progress_too() -> None:
    async def get(url: str) -> httpx.Response:
        async with client(httpx.Timeout(5, read=READ)) as http:
            return await http.get(url)

    with raw_server(_headers_one_by_one) as url:
        response = asyncio.run(get(url))
    assert response.status_code == 200 and response.content == b"ok"
    assert response.headers["x-line-9"] == "yes"


def _answer_after(delay: float) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: each request answered ``delay`` after it came
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


async def _stall_the_loop(after: float, seconds: float) -> None:
    """A CPU-bound step elsewhere in the program: the loop does nothing else meanwhile."""
    await asyncio.sleep(after)
    time.sleep(seconds)


def test_an_answer_that_came_in_time_counts_though_the_loop_looked_late() -> None:
    # The answer is there at 0.2 s (read 0.5); the loop is blocked from 0.1 s to 0.8 s, so when it is
    # back both the bytes and an overdue check wait for it: the bytes are taken first and count.
    async def get_during_a_stall(url: str) -> int:
        async with client(httpx.Timeout(5, read=0.5)) as http:
            await http.get(url)  # a connection in the pool
            stall = asyncio.create_task(_stall_the_loop(0.1, 0.7))
            response = await http.get(url)
            await stall
            return response.status_code

    with raw_server(_answer_after(0.2)) as url:
        assert asyncio.run(get_during_a_stall(url)) == 200


def test_a_cancel_scope_due_with_the_read_timeout_moves_on_as_without_it() -> None:
    import anyio

    async def move_on(url: str) -> bool:
        async with client(httpx.Timeout(5, read=0.3)) as http:
            stall = asyncio.create_task(_stall_the_loop(0.1, 0.5))  # both overdue at once when it ends
            with anyio.move_on_after(0.3) as scope:
                await http.get(url)
            await stall
            return scope.cancelled_caught

    with raw_server(_answer_after(30)) as url:
        assert asyncio.run(move_on(url)) is True  # not a ReadTimeout let out of the scope


def test_each_connection_aiohttp_tries_gets_its_own_read_timeout() -> None:
    # aiohttp sends an idempotent request again, on a new connection, when the first closes without an
    # answer: 0.5 s of silence there, then an answer 0.6 s into the second: never quiet for 1 s.
    seen = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        await reader.readuntil(b"\r\n\r\n")
        seen += 1
        await asyncio.sleep(0.5 if seen == 1 else 0.6)
        if seen > 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    async def get(url: str) -> httpx.Response:
        async with client(httpx.Timeout(5, read=1.0)) as http:
            return await http.get(url)

    with raw_server(handle) as url:
        response = asyncio.run(get(url))
    assert response.status_code == 200 and seen == 2


def test_one_transport_on_two_loops_at_once_keeps_both_loops_timeouts() -> None:
    transport = AiohttpTransport()
    in_flight = threading.Event()

    async def hang(url: str) -> str:
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=0.3)) as http:
            request = asyncio.create_task(http.get(url))
            await asyncio.sleep(0.05)
            in_flight.set()
            try:
                await asyncio.wait_for(request, 10)
            except httpx.ReadTimeout:
                return "ReadTimeout"
            return "answered"

    async def other(url: str) -> int:  # a second loop takes the transport over meanwhile
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=5)) as http:
            return (await http.get(url)).status_code

    with (
        raw_server(_answer_after(30)) as silent,
        raw_server(_answer_after(0)) as answering,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        first = pool.submit(asyncio.run, hang(silent))
        assert in_flight.wait(10)
        assert asyncio.run(other(answering)) == 200
        assert first.result(timeout=15) == "ReadTimeout"


@pytest.mark.asyncio
async def test_an_aiohttp_that_makes_protocols_otherwise_keeps_its_own_timers(
    app: tuple[str, web.Application], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clock sees progress through the protocol aiohttp makes for each connection; an aiohttp that
    # makes them another way leaves the timeouts to aiohttp's timers, with the same meaning.
    import hh_async.aiohttp_timeouts

    monkeypatch.setattr(hh_async.aiohttp_timeouts, "ResponseHandler", type("Elsewhere", (), {}))
    url, _ = app
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=READ)) as http:
        assert (await http.get(f"{url}/trickle")).json() == {"items": list(range(11))}
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{url}/stall")
        assert transport._clock is not None and not transport._clock.enabled


def test_closing_on_one_loop_leaves_another_loops_requests_their_timeouts() -> None:
    transport = AiohttpTransport()
    in_flight = threading.Event()

    async def hang(url: str) -> str:  # on a loop of its own, in another thread
        http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=0.3))
        request = asyncio.create_task(http.get(url))
        await asyncio.sleep(0.05)
        in_flight.set()
        try:
            await asyncio.wait_for(request, 10)
        except httpx.ReadTimeout:
            return "ReadTimeout"
        return "answered"

    async def use_then_close(answering: str, silent: str) -> str:
        assert (await transport.handle_async_request(httpx.Request("GET", answering))).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            other = pool.submit(asyncio.run, hang(silent))
            assert await asyncio.to_thread(in_flight.wait, 10)
            await transport.aclose()  # this loop's own session; the other loop's is left to it
            return await asyncio.wrap_future(other)

    with raw_server(_answer_after(30)) as silent, raw_server(_answer_after(0)) as answering:
        assert asyncio.run(use_then_close(answering, silent)) == "ReadTimeout"


def test_a_check_that_runs_late_looks_after_the_loop_has_read_its_sockets() -> None:
    # A stall that starts just before a check is due: when the loop is back, the overdue check would run
    # in the same turn as the stall, before the socket is read; the answer, there at 0.2 s (read 0.5),
    # must count.
    async def get_with_a_stall_before_a_check(url: str) -> int:
        transport = AiohttpTransport()
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=0.5)) as http:
            await http.get(url)  # a connection in the pool
            request = asyncio.create_task(http.get(url))
            clock = transport._clock
            assert clock is not None
            while not clock._watches:
                await asyncio.sleep(0)
            started = loop.time()
            while not started + 0.1 < clock._check_at < started + 0.2:  # a check due 0.1-0.2 s in
                await asyncio.sleep(0.001)
            loop.call_at(clock._check_at - 0.0003, time.sleep, 0.7)  # in the check's turn, just before it
            return (await request).status_code

    with raw_server(_answer_after(0.2)) as url:
        assert asyncio.run(get_with_a_stall_before_a_check(url)) == 200


def test_two_loops_taking_the_transport_over_at_once_each_keep_their_timeouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Loop B makes its session while loop A sends: A must send through a session and a clock of its own
    # loop, not B's clock with A's session. B is held inside ClientSession() while A goes on.
    b_making, a_in_flight = threading.Event(), threading.Event()
    making = aiohttp.ClientSession.__init__

    def held_in_b(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "loop-b":
            b_making.set()
            a_in_flight.wait(10)
        making(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", held_in_b)
    transport = AiohttpTransport()
    timeout = httpx.Timeout(5, read=0.3).as_dict()

    async def get(url: str) -> int:
        request = httpx.Request("GET", url, extensions={"timeout": timeout})
        return (await transport.handle_async_request(request)).status_code

    async def on_a(answering: str, silent: str) -> str:
        assert await get(answering) == 200  # loop A's session
        assert await asyncio.to_thread(b_making.wait, 10)
        request = asyncio.create_task(get(silent))
        await asyncio.sleep(0.05)
        a_in_flight.set()
        try:
            await asyncio.wait_for(request, 10)
        except httpx.ReadTimeout:
            return "ReadTimeout"
        return "answered"

    results: dict[str, object] = {}

    def run(name: str, work: Callable[[], Awaitable[object]]) -> threading.Thread:
        thread = threading.Thread(target=lambda: results.update({name: asyncio.run(work())}), name=name)
        thread.start()
        return thread

    with raw_server(_answer_after(30)) as silent, raw_server(_answer_after(0)) as answering:
        threads = [run("loop-a", lambda: on_a(answering, silent)), run("loop-b", lambda: get(answering))]
        for thread in threads:
            thread.join(20)
    assert results == {"loop-a": "ReadTimeout", "loop-b": 200}


@pytest.mark.asyncio
async def test_closing_after_the_session_was_closed_elsewhere_is_quiet(
    app: tuple[str, web.Application],
) -> None:
    url, _ = app
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.get(f"{url}/ok")).status_code == 200
        assert transport._session is not None
        await transport._session.close()  # e.g. by code holding on to it: it lets its connector go
    assert transport._session is None  # the client's aclose() went through
