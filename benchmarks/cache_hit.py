"""What the HTTP cache costs and saves, client CPU per call, side by side in one run.

A small server in another process answers ``/plain`` with a small JSON object and no caching headers (a
search, a vacancy: what HH does not cache), and ``/fresh`` and ``/stale`` with a dictionary-sized body,
an ``ETag`` and ``max-age=3600`` or ``max-age=0``; it answers a matching ``If-None-Match`` with a bodiless
304. The client side is HHClient's transport stack (retries over the throttle over the default transport)
driven as ``HHClient._exchange`` drives it, with and without ``CacheTransport`` on top, so the figures
are the cache's own cost and not diluted by parsing. Rounds alternate between the cases and the medians
are printed, as ratios to an uncached call of ``/plain`` without the cache:

- (a) ``/plain`` through the cache: the price every uncacheable call pays (should read 1.00);
- (b) a fresh hit on ``/fresh``; (c) a 304 revalidation of ``/stale``; (d) ``/stale`` fetched whole
  without the cache, what (b) and (c) replace.

    python benchmarks/cache_hit.py [--calls 200] [--rounds 25] [--body-kb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

import httpx

from hh_async.cache import CacheTransport
from hh_async.client import cancel_safe, default_transport
from hh_async.retry import RetryTransport
from hh_async.throttle import Throttle, ThrottleTransport

PLAIN = b'{"id":"1","parent_id":null,"name":"Moscow","areas":[]}'
TAG = b'W/"bench-1"'


def _answer(status: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + extra
        + b"Connection: keep-alive\r\n\r\n"
        + body
    )


class _Server(asyncio.Protocol):
    """HTTP/1.1 keep-alive, GETs only: just enough parsing to pick the answer."""

    answers: ClassVar[dict[tuple[bytes, bool], bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            conditional = TAG in head and b"if-none-match" in head.lower()
            self.transport.write(self.answers[(path, conditional)])


def serve(port: int, body_kb: int) -> None:
    entry = b'{"id":"x","name":"a dictionary entry"}'
    dictionary = b'{"items":[' + b",".join([entry] * (body_kb * 25)) + b"]}"
    fresh = b"ETag: " + TAG + b"\r\nCache-Control: max-age=3600\r\n"
    stale = b"ETag: " + TAG + b"\r\nCache-Control: max-age=0\r\n"
    _Server.answers = {
        (b"/plain", False): _answer(b"200 OK", PLAIN),
        (b"/fresh", False): _answer(b"200 OK", dictionary, fresh),
        (b"/fresh", True): _answer(b"304 Not Modified", b"", fresh),
        (b"/stale", False): _answer(b"200 OK", dictionary, stale),
        (b"/stale", True): _answer(b"304 Not Modified", b"", stale),
    }

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Server, "127.0.0.1", port)
        print("listening", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def _stack() -> httpx.AsyncBaseTransport:
    inner = cancel_safe(default_transport(httpx.Limits(max_connections=10)))
    return RetryTransport(ThrottleTransport(inner, Throttle(rate=None)))


async def _exchange(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> bytes:
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response.content


async def measure(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    plain, cached = _stack(), CacheTransport(_stack())
    headers = httpx.Headers({"User-Agent": "b", "HH-User-Agent": "b", "Authorization": "Bearer t"})

    def request(path: str) -> httpx.Request:
        return httpx.Request("GET", url + path, headers=headers, extensions={"timeout": {}})

    cases: dict[str, Callable[[], Awaitable[bytes]]] = {
        "baseline: /plain, no cache": lambda: _exchange(plain, request("/plain")),
        "(a) /plain through the cache": lambda: _exchange(cached, request("/plain")),
        "(b) fresh hit": lambda: _exchange(cached, request("/fresh")),
        "(c) 304 revalidation": lambda: _exchange(cached, request("/stale")),
        "(d) /stale whole, no cache": lambda: _exchange(plain, request("/stale")),
    }
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():  # warm up: connections open, entries kept
        for _ in range(50):
            await call()
    order = list(cases.items())
    for round_ in range(rounds):  # short rounds, order turned each time: the machine's drift hits all alike
        turn = round_ % len(order)
        for name, call in order[turn:] + order[:turn]:
            started = time.process_time()
            for _ in range(calls):
                await call()
            figures[name].append((time.process_time() - started) / calls)
    await plain.aclose()
    await cached.aclose()
    return figures


class _Prepared(httpx.AsyncBaseTransport):
    """An inner transport that costs nothing: the same small answer, already whole."""

    def __init__(self) -> None:
        self.answer = httpx.Response(200, headers={"Content-Type": "application/json"}, content=PLAIN)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.answer


async def wrapper_alone(calls: int) -> dict[str, float]:
    """Microseconds the wrapper itself adds, over an inner transport that costs nothing (best of 7)."""
    headers = httpx.Headers(
        {"Host": "api.hh.ru", "User-Agent": "b", "HH-User-Agent": "b", "Authorization": "Bearer t"}
    )
    url = "https://api.hh.ru/vacancies?text=python&area=1&per_page=100"
    get, post = httpx.Request("GET", url, headers=headers), httpx.Request("POST", url, headers=headers)
    inner = _Prepared()
    cached = CacheTransport(inner)

    async def best(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> float:
        times = []
        for _ in range(7):
            started = time.process_time()
            for _ in range(calls):
                await transport.handle_async_request(request)
            times.append((time.process_time() - started) / calls)
        return min(times)

    bare = await best(inner, get)
    return {
        "uncacheable GET": (await best(cached, get) - bare) * 1e6,
        "POST": (await best(cached, post) - bare) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--body-kb", type=int, default=100, help="size of the cacheable body")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.body_kb)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--body-kb", str(args.body_kb)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        figures = asyncio.run(measure(f"http://127.0.0.1:{port}", args.calls, args.rounds))
        added = asyncio.run(wrapper_alone(args.calls * 20))
    finally:
        server.terminate()
        server.wait()
    base = statistics.median(figures["baseline: /plain, no cache"])
    print(f"client CPU per call over loopback, medians of {args.rounds} rounds of {args.calls} calls")
    print(f"(dictionary body {args.body_kb} KB; ratios to the baseline)")
    for name, values in figures.items():
        median = statistics.median(values)
        spread = f"{min(values) * 1e6:.0f}-{max(values) * 1e6:.0f}"
        print(f"  {name:30} {median * 1e6:8.1f} us  (spread {spread:>11} us)  {median / base:5.2f}x")
    print("the wrapper alone, over an inner transport that costs nothing (best of 7):")
    for name, micros in added.items():
        print(f"  {name:30} +{micros:6.2f} us per call")


if __name__ == "__main__":
    main()
