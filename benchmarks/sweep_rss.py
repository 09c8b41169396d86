"""RSS while ``search_all_vacancies`` reads 100 000 fake vacancies, and each id exactly once.

The fake HH runs in its own process, so the RSS read here (psutil) is the client's: it must stay flat,
whatever the number of vacancies, since pages are held only within the prefetch window.

    python benchmarks/sweep_rss.py [--vacancies 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time

import psutil

from hh_async import HHClient, Throttle


async def sweep(url: str) -> tuple[int, int, int, float, float]:
    process = psutil.Process()
    async with HHClient(
        user_agent="bench/1.0 (bench@example.com)", base_url=url, throttle=Throttle(rate=None)
    ) as hh:
        await hh.get_vacancies(per_page=1)  # warm: connections and models loaded before the baseline
        before = peak = process.memory_info().rss
        ids: set[str] = set()
        count = 0
        started = time.perf_counter()
        search = hh.search_all_vacancies()
        async for vacancy in search:
            count += 1
            ids.add(vacancy.id)
            if count % 5000 == 0:
                peak = max(peak, process.memory_info().rss)
        elapsed = time.perf_counter() - started
        peak = max(peak, process.memory_info().rss)
        return count, len(ids), search.report.found, (peak - before) / 2**20, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vacancies", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "hh_async.testing", "--port", str(port), "--vacancies", str(args.vacancies)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        count, distinct, found, growth, elapsed = asyncio.run(sweep(f"http://127.0.0.1:{port}"))
        if args.json:
            figures = {"read": count, "distinct": distinct, "found": found, "rss_growth_mb": round(growth, 1)}
            print(json.dumps({**figures, "per_second": round(count / elapsed)}))
            return
        print(
            f"search_all_vacancies over {args.vacancies} fake vacancies: read {count}, distinct {distinct}, "
            f"found {found}; RSS growth {growth:.1f} MB (ids kept by the benchmark included); "
            f"{count / elapsed:.0f} vacancies/s"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
