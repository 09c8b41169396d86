"""Client CPU per request, side by side in one run: raw aiohttp, raw httpx, and hh-async's client.

A static server in another process answers every request with the same 84-byte JSON (an area), so the CPU
this process spends (``time.process_time``) is the client's alone. The clients, at concurrency 1 and then
at ``--concurrency``, are measured in ``--batches`` short batches of ``--batch`` calls taken in turn
(``alternating``): the machine is shared, and its slow spells, longer than a batch, fall on every client
alike. Each figure is a ratio to the floor's batch beside it, printed as the median and the quartiles.
Raw clients decode the JSON (``json.loads``) too; hh-async returns the typed model.

``--body vacancy`` (HH's example vacancy, ~5 KB) and ``--body search`` (a 100-item search page of HH's
field set, ~360 KB) compare hh-async with the floor a user could write by hand, aiohttp + ``orjson.loads``;
``--read`` says what the caller then reads of the model: nothing, ``id`` and ``name`` of every item, or
every field of every model in it.

    python benchmarks/client_cpu.py [--batch 500] [--batches 12] [--concurrency 100]
    python benchmarks/client_cpu.py --body search --read id+name --concurrency 20 --batch 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from reading import read_every_field

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.aiohttp_transport import AiohttpTransport
from hh_async.testing.served import free_port

Call = Callable[[], Awaitable[object]]
Factory = Callable[[str, int], contextlib.AbstractAsyncContextManager[Call]]


@contextlib.asynccontextmanager
async def raw_aiohttp(url: str, concurrency: int) -> AsyncIterator[Call]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> object:
            async with session.get(f"{url}/areas/1") as response:
                return json.loads(await response.read())

        yield call


PATHS = {"small": "/areas/1", "vacancy": "/vacancies/1", "search": "/vacancies"}
READ = "none"  # what a caller reads of a model: none, id+name, all (set by --read)


def read(model: object) -> None:
    """What the caller reads of an answer, as ``--read`` says."""
    if READ == "id+name":
        for item in getattr(model, "items", None) or [model]:
            _ = (item.id, item.name)  # type: ignore[attr-defined]
    elif READ == "all":
        read_every_field(model)


def read_json(decoded: Any) -> None:
    """The same reading, done by hand on the decoded JSON (the floor reads what the caller reads)."""
    if READ == "id+name":
        for item in decoded.get("items") or [decoded]:
            _ = (item["id"], item["name"])
    elif READ == "all":
        stack = [decoded]
        while stack:
            value = stack.pop()
            kind = type(value)
            if kind is list:
                stack.extend(value)
            elif kind is dict:
                stack.extend([value[key] for key in value])


def aiohttp_orjson(path: str) -> Factory:
    """The floor: aiohttp and orjson.loads, and the caller's reading of the decoded JSON."""

    @contextlib.asynccontextmanager
    async def factory(url: str, concurrency: int) -> AsyncIterator[Call]:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def call() -> object:
                async with session.get(f"{url}{path}") as response:
                    decoded = orjson.loads(await response.read())
                read_json(decoded)
                return decoded

            yield call

    return factory


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


def hh_client(
    transport: Callable[[int], httpx.AsyncBaseTransport | None] = lambda c: None,
    ask: Callable[[HHClient], Awaitable[object]] = lambda hh: hh.get_areas_from_specified(area_id="1"),
) -> Factory:
    """HHClient (its default transport unless ``transport(concurrency)`` gives one), each call ``ask(hh)``."""

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
                return await ask(hh)

            yield call

    return factory


async def ask_and_read(hh: HHClient, body: str) -> object:
    """A vacancy or a 100-item search page, read as ``--read`` says."""
    if body == "search":
        model: object = await hh.get_vacancies(per_page=100)
    else:
        model = await hh.get_vacancy(vacancy_id="1")
    read(model)
    return model


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
    "HHClient (default: AiohttpTransport)": hh_client(),
}
# HTTP/2 with prior knowledge: every request is a stream of one connection.
H2_CLIENTS: dict[str, Factory] = {
    "httpx raw, HTTP/2 (hypercorn server)": plain_httpx(lambda c: httpx.AsyncClient(http1=False, http2=True))
}


async def cpu_per_call(call: Call, concurrency: int, requests: int, *, warm_up: int | None = None) -> float:
    """This process's CPU per ``call()``, ``requests`` of them made by ``concurrency`` tasks. First,
    ``warm_up`` calls one after another, or (None) one per task at once, which opens the connections."""
    if warm_up is None:
        await asyncio.gather(*(call() for _ in range(concurrency)))
    for _ in range(warm_up or 0):
        await call()
    per_worker = requests // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / (per_worker * concurrency)


def alternating(
    clients: dict[str, tuple[Factory, str]], concurrency: int, batch: int, batches: int
) -> dict[str, list[float]]:
    """CPU per call of each client (made by its factory, against its URL), measured in ``batches`` short
    batches of ``batch`` calls taken in turn, the order rotating: the machine's slow spells, which last
    longer than a batch, fall on every client alike. Each batch runs on a loop of its own with only its
    client open (what a user's process holds), after ``4 * concurrency`` calls that open the connections
    and are not counted. One figure per batch and client."""
    names = list(clients)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(batches):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            factory, url = clients[name]
            samples[name].append(asyncio.run(one_batch(factory, url, concurrency, batch)))
    return samples


async def one_batch(factory: Factory, url: str, concurrency: int, batch: int) -> float:
    async with factory(url, concurrency) as call:
        await cpu_per_call(call, concurrency, concurrency * 4)
        return await cpu_per_call(call, concurrency, batch, warm_up=0)


def report(samples: dict[str, list[float]], floor: str, unit: float = 1e3, label: str = "ms") -> None:
    """Each client's median CPU per call, and its ratio to the floor's batch beside it: median
    (quartiles)."""
    for name, values in samples.items():
        ratios = [value / base for value, base in zip(values, samples[floor], strict=True)]
        low, median, high = statistics.quantiles(ratios, n=4)
        cost = statistics.median(values) * unit
        print(f"  {name:<38} {cost:8.3f} {label}   {median:6.2f}x {floor} ({low:.2f}-{high:.2f})")


def main() -> None:
    global READ
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=500, help="calls per batch, per client")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--http2", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--body", choices=sorted(PATHS), default="small")
    parser.add_argument("--read", choices=["none", "id+name", "all"], default="none")
    parser.add_argument("--spec", type=Path, default=Path(__file__).resolve().parent.parent / "openapi.yml")
    args = parser.parse_args()
    if args.body != "small":
        READ = args.read
        body_file = Path(tempfile.mkdtemp()) / "body.json"
        write_example_body(args.spec, args.body, body_file)
        compare_bodies(args, body_file)
        return
    servers = [start_server(), start_server("--h2")] if args.http2 else [start_server()]
    try:
        urls = [url for url, _ in servers]
        print(f"client CPU per request, {args.batches} batches of {args.batch} calls per client, in turn")
        for concurrency in (1, args.concurrency):
            clients = {name: (factory, urls[0]) for name, factory in CLIENTS.items()}
            if args.http2:
                clients |= {name: (factory, urls[1]) for name, factory in H2_CLIENTS.items()}
            batch = args.batch if concurrency > 1 else args.batch // 2
            samples = alternating(clients, concurrency, max(batch, concurrency), args.batches)
            print(f"\nC={concurrency}")
            report(samples, "aiohttp raw")
    finally:
        for _, process in servers:
            process.terminate()
            process.wait(timeout=10)


def write_example_body(spec: Path, body: str, path: Path) -> None:
    """``example_body`` written to ``path`` by a child interpreter: the code generator it loads would stay in
    this process's heap, which every full garbage collection of the measured clients walks through."""
    here = Path(__file__).resolve().parent
    script = "import sys; from pathlib import Path; from client_cpu import example_body as e; "
    script += "Path(sys.argv[3]).write_bytes(e(Path(sys.argv[1]), sys.argv[2]))"
    subprocess.run([sys.executable, "-c", script, str(spec), body, str(path)], cwd=here, check=True)


def example_body(spec: Path, body: str) -> bytes:
    """HH's own example (from the spec) of a vacancy, or of a search page grown to 100 items."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from parse_cost import search_page

    if body == "search":
        return search_page(spec)
    from codegen import examples, generate

    doc, _ = generate.overlaid(spec, Path(__file__).resolve().parent.parent / "overlays")
    found = next(v for op, st, _, v in examples.spec_examples(doc) if (op, st) == ("get-vacancy", "200"))
    return json.dumps(found, ensure_ascii=False).encode()


def compare_bodies(args: argparse.Namespace, body_file: Path) -> None:
    url, server = start_server(body=body_file)
    clients = {
        "aiohttp + orjson": (aiohttp_orjson(PATHS[args.body]), url),
        "HHClient": (hh_client(ask=lambda hh: ask_and_read(hh, args.body)), url),
    }
    try:
        samples = alternating(clients, args.concurrency, args.batch, args.batches)
    finally:
        server.terminate()
        server.wait(timeout=10)
    size = body_file.stat().st_size
    print(
        f"{args.body} body ({size} bytes), read: {args.read}, C={args.concurrency}, client CPU per request, "
        f"{args.batches} batches of {args.batch} calls per client, in turn"
    )
    report(samples, "aiohttp + orjson")


SERVE_BODY = """
import asyncio, sys
sys.path.insert(0, sys.argv[3])
import static_server
static_server.BODY = open(sys.argv[2], "rb").read()
static_server.ANSWER = (
    b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json; charset=utf-8\\r\\nContent-Length: "
    + str(len(static_server.BODY)).encode() + b"\\r\\nConnection: keep-alive\\r\\n\\r\\n" + static_server.BODY
)
asyncio.run(static_server.serve(int(sys.argv[1])))
"""


def start_server(*flags: str, body: Path | None = None) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    here = Path(__file__).resolve().parent
    command = [sys.executable, str(here / "static_server.py"), str(port), *flags]
    if body is not None:  # the same server, answering with that body
        command = [sys.executable, "-c", SERVE_BODY, str(port), str(body), str(here)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # "listening"
    return f"http://127.0.0.1:{port}", process


if __name__ == "__main__":
    main()
