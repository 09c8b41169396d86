"""Where a small request's CPU goes on loopback, layer by layer, side by side in one run.

A static server in another process answers every request with the same 84-byte area, so the CPU this
process spends (``time.process_time``) is the client's alone. Each layer adds one part of the path:

- ``aiohttp + orjson``: the floor a user could write by hand (issue 13's reference);
- ``AiohttpTransport``: our bridge alone (one prepared ``httpx.Request``, the answer read as the client
  reads it, to orjson);
- ``HHClient.request``: the whole client without a model (registry-free path, auth, retry, throttle);
- ``HHClient.get_areas_from_specified``: what a user calls, parsed into its model.

Rounds are interleaved and the median kept (the machine is shared); every figure is also a ratio to the
floor measured in the same round. ``--gc frozen`` runs the clients after ``gc.freeze()``, to tell the
collector's share from the code's.

    python benchmarks/request_path.py [--requests 4000] [--concurrency 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.aiohttp_transport import AiohttpTransport
from hh_async.buffered_transport import read_whole

sys.path.insert(0, str(Path(__file__).parent))
from client_cpu import cpu_per_call as measure, start_server

Call = Callable[[], Awaitable[object]]
UA = "bench/1.0 (bench@example.com)"


async def floor(url: str, concurrency: int, requests: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> object:
            async with session.get(f"{url}/areas/1") as response:
                return orjson.loads(await response.read())

        return await measure(call, concurrency, requests)


async def bridge(url: str, concurrency: int, requests: int) -> float:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=concurrency))
    headers = {"User-Agent": UA, "HH-User-Agent": UA, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
    timeout = httpx.Timeout(30.0, connect=10.0).as_dict()
    request = httpx.Request("GET", f"{url}/areas/1", headers=headers, extensions={"timeout": timeout})

    async def call() -> object:
        response = await transport.handle_async_request(request)
        return orjson.loads(read_whole(response))

    try:
        return await measure(call, concurrency, requests)
    finally:
        await transport.aclose()


Layer = Callable[[str, int, int], Coroutine[Any, Any, float]]


def client(method: str) -> Layer:
    async def run(url: str, concurrency: int, requests: int) -> float:
        throttle = Throttle(rate=None, concurrency=concurrency)
        async with HHClient(user_agent=UA, base_url=url, throttle=throttle, retry=RetryPolicy()) as hh:
            if method == "request":
                return await measure(lambda: hh.request("GET", "/areas/1"), concurrency, requests)
            return await measure(lambda: hh.get_areas_from_specified(area_id="1"), concurrency, requests)

    return run


LAYERS: dict[str, Layer] = {
    "aiohttp + orjson": floor,
    "AiohttpTransport": bridge,
    "HHClient.request": client("request"),
    "HHClient.get_areas_...": client("model"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gc", choices=["on", "frozen"], default="on")
    args = parser.parse_args()
    url, server = start_server()
    samples: dict[str, list[float]] = {name: [] for name in LAYERS}
    try:
        for _ in range(args.rounds):
            for name, layer in LAYERS.items():
                if args.gc == "frozen":
                    gc.collect()
                    gc.freeze()
                try:
                    samples[name].append(asyncio.run(layer(url, args.concurrency, args.requests)))
                finally:
                    gc.unfreeze()
    finally:
        server.terminate()
        server.wait(timeout=10)
    base = samples["aiohttp + orjson"]
    print(
        f"CPU per request, C={args.concurrency}, {args.requests} requests, gc {args.gc}, "
        f"median (min-max) of {args.rounds} interleaved rounds"
    )
    for name, values in samples.items():
        ratios = [value / floor for value, floor in zip(values, base, strict=True)]
        print(
            f"  {name:<24} {statistics.median(values) * 1e6:6.1f} us ({min(values) * 1e6:.1f}-"
            f"{max(values) * 1e6:.1f})   {statistics.median(ratios):4.2f}x floor "
            f"({min(ratios):.2f}-{max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
