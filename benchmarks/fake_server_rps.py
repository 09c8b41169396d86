"""Requests per second the fake HH serves, measured from a separate load process.

The server runs as ``python -m hh_async.testing`` (its own process, as a user's demo would run it); a second
process keeps ``--connections`` keep-alive connections busy with small requests for ``--seconds``.

    python benchmarks/fake_server_rps.py [--connections 32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time


async def load(host: str, port: int, path: str, connections: int, seconds: float) -> int:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            done += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=8891)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "hh_async.testing", "--port", str(args.port), "--vacancies", "1000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # the "fake HH at ..." line: it is listening
        for path in ("/areas/1", "/vacancies/100001", "/vacancies?per_page=20"):
            asyncio.run(load("127.0.0.1", args.port, path, 4, 0.5))  # warm up
            count = asyncio.run(load("127.0.0.1", args.port, path, args.connections, args.seconds))
            print(f"{path:<28} {count / args.seconds:8.0f} requests/s  ({args.connections} connections)")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
