"""Client CPU per request, side by side in one run: raw aiohttp, raw httpx, and hh-async's client.

A static server in another process answers every request with the same 84-byte JSON (an area), so the CPU
this process spends (``time.process_time``) is the client's alone. Each client makes ``--requests`` calls
at concurrency 1 and at ``--concurrency``; the rounds are interleaved and the median is kept, since the
machine is shared. Raw clients decode the JSON (``json.loads``) too; hh-async returns the typed model.

    python benchmarks/client_cpu.py [--requests 3000] [--concurrency 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.aiohttp_transport import AiohttpTransport

Call = Callable[[], Awaitable[object]]
Factory = Callable[[str, int], contextlib.AbstractAsyncContextManager[Call]]


@contextlib.asynccontextmanager
async def raw_aiohttp(url: str, concurrency: int) -> AsyncIterator[Call]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> object:
            async with session.get(f"{url}/areas/1") as response:
                return json.loads(await response.read())

        yield call


def plain_httpx(make: Callable[[int], httpx.AsyncClient]) -> Factory:
    """httpx.AsyncClient (built by ``make(concurrency)``) with whichever transport, decoding the JSON."""

    @contextlib.asynccontextmanager
    async def factory(url: str, concurrency: int) -> AsyncIterator[Call]:
        async with make(concurrency) as client:

            async def call() -> object:
                return json.loads((await client.get(f"{url}/areas/1")).content)

            yield call

    return factory


def over_httpx_aiohttp(concurrency: int) -> httpx.AsyncClient:
    from httpx_aiohttp import AiohttpTransport as ThirdPartyTransport

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    return httpx.AsyncClient(transport=ThirdPartyTransport(client=session))


def hh_client(transport: Callable[[int], httpx.AsyncBaseTransport | None]) -> Factory:
    @contextlib.asynccontextmanager
    async def factory(url: str, concurrency: int) -> AsyncIterator[Call]:
        async with HHClient(
            user_agent="bench/1.0 (bench@example.com)",
            base_url=url,
            throttle=Throttle(rate=None, concurrency=concurrency),
            retry=RetryPolicy(),
            transport=transport(concurrency),
        ) as hh:

            async def call() -> object:
                return await hh.get_areas_from_specified(area_id="1")

            yield call

    return factory


CLIENTS: dict[str, Factory] = {
    "aiohttp raw": raw_aiohttp,
    "httpx raw (default pool)": plain_httpx(
        lambda c: httpx.AsyncClient(limits=httpx.Limits(max_connections=c, max_keepalive_connections=c))
    ),
    "httpx + httpx-aiohttp": plain_httpx(over_httpx_aiohttp),
    "httpx + hh_async AiohttpTransport": plain_httpx(
        lambda c: httpx.AsyncClient(transport=AiohttpTransport(limits=httpx.Limits(max_connections=c)))
    ),
    "HHClient, httpx default pool": hh_client(
        lambda c: httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=c))
    ),
    "HHClient (default: AiohttpTransport)": hh_client(lambda c: None),
}
# HTTP/2 with prior knowledge: every request is a stream of one connection.
H2_CLIENTS: dict[str, Factory] = {
    "httpx raw, HTTP/2 (hypercorn server)": plain_httpx(lambda c: httpx.AsyncClient(http1=False, http2=True))
}


async def cpu_per_request(factory: Factory, url: str, concurrency: int, requests: int) -> float:
    async with factory(url, concurrency) as call:
        await asyncio.gather(*(call() for _ in range(concurrency)))  # warm: connections open
        per_worker = requests // concurrency

        async def worker() -> None:
            for _ in range(per_worker):
                await call()

        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return (time.process_time() - started) / (per_worker * concurrency)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http2", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    servers = [start_server(), start_server("--h2")] if args.http2 else [start_server()]
    try:
        urls = [url for url, _ in servers]
        print(f"client CPU per request, {args.requests} requests, median of {args.rounds} interleaved rounds")
        for concurrency in (1, args.concurrency):
            clients = [(name, factory, urls[0]) for name, factory in CLIENTS.items()]
            if args.http2:
                clients += [(name, factory, urls[1]) for name, factory in H2_CLIENTS.items()]
            samples: dict[str, list[float]] = {name: [] for name, _, _ in clients}
            requests = args.requests if concurrency > 1 else args.requests // 2
            for _ in range(args.rounds):
                for name, factory, url in clients:
                    samples[name].append(asyncio.run(cpu_per_request(factory, url, concurrency, requests)))
            base = statistics.median(samples["aiohttp raw"])
            print(f"\nC={concurrency}")
            for name, values in samples.items():
                cost = statistics.median(values)
                print(f"  {name:<38} {cost * 1e3:7.3f} ms   {cost / base:6.2f}x aiohttp raw")
    finally:
        for _, process in servers:
            process.terminate()
            process.wait(timeout=10)


def start_server(*flags: str) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("static_server.py")), str(port), *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "listening"
    return f"http://127.0.0.1:{port}", process


if __name__ == "__main__":
    main()
