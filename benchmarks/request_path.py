"""Where a small request's CPU goes on loopback, layer by layer, side by side in one run.

A static server in another process answers every request with the same 84-byte area, so the CPU this
process spends (``time.process_time``) is the client's alone. Each layer adds one part of the path:

- ``aiohttp + orjson``: the floor a user could write by hand (issue 13's reference);
- ``AiohttpTransport``: our bridge alone (one prepared ``httpx.Request``, the answer read as the client
  reads it, to orjson);
- ``HHClient.request``: the whole client without a model (registry-free path, auth, retry, throttle);
- ``HHClient.get_areas_from_specified``: what a user calls, parsed into its model.

They are measured in short batches taken in turn (``client_cpu.alternating``): the machine is shared,
and its slow spells last longer than a batch, so they fall on every layer alike. Each figure is a ratio
to the floor's batch beside it: the median, and the quartiles as the spread. ``--gc frozen`` freezes
what the process holds before the clients (``gc.freeze()``), to tell the collector's share.

    python benchmarks/request_path.py [--batch 1000] [--batches 40] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import httpx
import orjson

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.aiohttp_transport import AiohttpTransport
from hh_async.buffered_transport import read_whole

sys.path.insert(0, str(Path(__file__).parent))
from client_cpu import Call, alternating, report, start_server

UA = "bench/1.0 (bench@example.com)"
Layer = Callable[[str, int], contextlib.AbstractAsyncContextManager[Call]]


@contextlib.asynccontextmanager
async def floor(url: str, concurrency: int) -> AsyncIterator[Call]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> object:
            async with session.get(f"{url}/areas/1") as response:
                return orjson.loads(await response.read())

        yield call


@contextlib.asynccontextmanager
async def bridge(url: str, concurrency: int) -> AsyncIterator[Call]:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=concurrency))
    headers = {"User-Agent": UA, "HH-User-Agent": UA, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
    timeout = httpx.Timeout(30.0, connect=10.0).as_dict()
    request = httpx.Request("GET", f"{url}/areas/1", headers=headers, extensions={"timeout": timeout})

    async def call() -> object:
        response = await transport.handle_async_request(request)
        return orjson.loads(read_whole(response))

    try:
        yield call
    finally:
        await transport.aclose()


def client(method: str) -> Layer:
    @contextlib.asynccontextmanager
    async def layer(url: str, concurrency: int) -> AsyncIterator[Call]:
        throttle = Throttle(rate=None, concurrency=concurrency)
        async with HHClient(user_agent=UA, base_url=url, throttle=throttle, retry=RetryPolicy()) as hh:
            if method == "request":
                yield lambda: hh.request("GET", "/areas/1")
            else:
                yield lambda: hh.get_areas_from_specified(area_id="1")

    return layer


LAYERS: dict[str, Layer] = {
    "aiohttp + orjson": floor,
    "AiohttpTransport": bridge,
    "HHClient.request": client("request"),
    "HHClient.get_areas_...": client("model"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--gc", choices=["on", "frozen"], default="on")
    args = parser.parse_args()
    url, server = start_server()
    if args.gc == "frozen":  # what is in the heap before the clients: not theirs to walk through
        gc.collect()
        gc.freeze()
    try:
        clients = {name: (layer, url) for name, layer in LAYERS.items()}
        samples = alternating(clients, args.concurrency, args.batch, args.batches)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"CPU per request, C={args.concurrency}, gc {args.gc}, {args.batches} batches of {args.batch} "
        f"requests per layer, in turn"
    )
    report(samples, "aiohttp + orjson", unit=1e6, label="us")


if __name__ == "__main__":
    main()
