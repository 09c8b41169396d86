"""CPU per call spent in the client itself: no sockets, a transport that answers at once with a whole body.

What it isolates is the request path (building the request from the registry, auth, throttle, retry,
events, parsing into the model), which the network benchmarks (client_cpu.py) mix with the transport's
cost. Side by side in one run: plain httpx (``AsyncClient.get`` + ``json.loads``) and ``HHClient``; the
ratio is what to compare between versions. For figures that do not move with the machine's load, count
instructions instead of seconds: ``valgrind --tool=callgrind python benchmarks/call_overhead.py --calls
2000`` and again with ``--calls 6000``; the difference over 4000 is the instructions per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics

import httpx
from client_cpu import cpu_per_call  # the same measuring loop as the network benchmarks

from hh_async import AppToken, HHClient, RetryPolicy, StaticToken, Throttle
from hh_async.tokens import MemoryTokenStore, TokenPair

BODY = json.dumps({"id": "1", "name": "Москва", "parent_id": None, "areas": []}).encode()


class Instant(httpx.AsyncBaseTransport):
    reads_whole_bodies = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(b"content-type", b"application/json")]
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(BODY))


def make_auth(kind: str) -> httpx.Auth | None:
    """The same kind of auth for both clients: none, a static token, or an application token already
    obtained (what a scraper's calls carry after the first)."""
    if kind == "static":
        return StaticToken("TOKEN")
    if kind == "app":
        return AppToken("client", "secret", MemoryTokenStore(TokenPair("TOKEN")))
    return None


AUTH = "none"


async def plain_httpx(calls: int, concurrency: int) -> float:
    auth = make_auth(AUTH)
    async with httpx.AsyncClient(base_url="https://api.hh.ru", transport=Instant(), auth=auth) as http:

        async def call() -> object:
            return json.loads((await http.get("/areas/1")).content)

        return await cpu_per_call(call, concurrency, calls, warm_up=100)


async def hh_client(calls: int, concurrency: int) -> float:
    async with HHClient(
        user_agent="bench/1.0 (bench@example.com)",
        throttle=Throttle(rate=None, concurrency=concurrency),
        retry=RetryPolicy(),
        transport=Instant(),
        auth=make_auth(AUTH),
    ) as hh:
        return await cpu_per_call(
            lambda: hh.get_areas_from_specified(area_id="1"), concurrency, calls, warm_up=100
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 100])
    parser.add_argument(
        "--only", choices=["httpx", "hh"], help="run one client (for callgrind: instructions of one path)"
    )
    parser.add_argument("--auth", choices=["none", "static", "app"], default="none")
    args = parser.parse_args()
    global AUTH
    AUTH = args.auth
    print(
        f"client CPU per call, no I/O, auth {args.auth}, {args.calls} calls, "
        f"median of {args.rounds} interleaved rounds"
    )
    clients = {"httpx + json.loads": plain_httpx, "HHClient": hh_client}
    if args.only:
        clients = {name: run for name, run in clients.items() if (args.only == "hh") == (run is hh_client)}
    for concurrency in args.concurrency:
        samples: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, run in clients.items():
                samples[name].append(asyncio.run(run(args.calls, concurrency)))
        base = statistics.median(next(iter(samples.values())))
        print(f"C={concurrency}")
        for name, values in samples.items():
            cost = statistics.median(values)
            spread = f"{min(values) * 1e6:.1f}-{max(values) * 1e6:.1f}"
            print(f"  {name:<20} {cost * 1e6:7.1f} us ({spread})   {cost / base:5.2f}x {next(iter(samples))}")


if __name__ == "__main__":
    main()
