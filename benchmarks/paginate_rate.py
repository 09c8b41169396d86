"""Pages per second through ``paginate`` with prefetch vs a sequential page loop, side by side.

The fake HH runs in its own process, answering after ``--latency`` seconds (a round trip to the real HH
is about 50 ms) and with no latency at all (loopback: the client's and server's CPU only). Each case
reads the same 2000 capped vacancies (20 pages of 100); rounds are interleaved, medians kept.

    python benchmarks/paginate_rate.py [--latency 0.05] [--rounds 3]
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

from hh_async import HHClient, Throttle

UA = "bench/1.0 (bench@example.com)"


async def sequential(hh: HHClient) -> int:
    """What a hand-written loop does: one page, then the next."""
    pages, page = 0, 0
    while True:
        answer = await hh.get_vacancies(page=page, per_page=100)
        pages += 1
        page += 1
        if page >= answer.pages or (page + 1) * 100 > 2000:
            return pages


def with_prefetch(prefetch: int) -> Callable[[HHClient], Awaitable[int]]:
    async def read(hh: HHClient) -> int:
        return len([page async for page in hh.paginate(hh.get_vacancies, prefetch=prefetch).pages()])

    return read


CASES = {
    "sequential loop": sequential,
    "paginate, prefetch=1": with_prefetch(1),
    "paginate, prefetch=4 (default)": with_prefetch(4),
    "paginate, prefetch=8": with_prefetch(8),
}


async def pages_per_second(url: str, read: Callable[[HHClient], Awaitable[int]]) -> float:
    async with HHClient(user_agent=UA, base_url=url, throttle=Throttle(rate=None)) as hh:
        await hh.get_vacancies(per_page=1)  # connection open, models imported
        started = time.perf_counter()
        pages = await read(hh)
        return pages / (time.perf_counter() - started)


def serve(latency: float) -> tuple[str, subprocess.Popen[str]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "hh_async.testing", "--port", str(port), "--vacancies", "5000"]
    process = subprocess.Popen([*command, "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()
    return f"http://127.0.0.1:{port}", process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for latency in (args.latency, 0.0):
        url, server = serve(latency)
        try:
            samples: dict[str, list[float]] = {name: [] for name in CASES}
            for _ in range(args.rounds):
                for name, read in CASES.items():
                    samples[name].append(asyncio.run(pages_per_second(url, read)))
        finally:
            server.terminate()
            server.wait(timeout=10)
        base = statistics.median(samples["sequential loop"])
        print(f"\n100-vacancy pages per second, server latency {latency * 1000:.0f} ms")
        for name, values in samples.items():
            rate = statistics.median(values)
            print(f"  {name:<32} {rate:7.1f} pages/s   {rate / base:5.2f}x sequential")


if __name__ == "__main__":
    main()
