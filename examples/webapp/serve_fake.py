"""The example web app against the offline fake HH, on loopback: a real redis-server, the fake, and the
app under uvicorn with several workers. Open the printed /login URL in a browser (the fake's HH login
agrees at once), then see your profile at /; Ctrl-C stops everything.

    python examples/webapp/serve_fake.py [--workers 2]
"""

from __future__ import annotations

import argparse
import signal
import threading

from loadrun import CLIENT_ID, CLIENT_SECRET, app_server

from hh_async.testing import FakeHH
from hh_async.testing.redis_server import redis_server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        redis_server() as redis_url,
        FakeHH(clients={CLIENT_ID: CLIENT_SECRET}) as fake,
        app_server(redis_url, fake.url, args.workers) as (url, _),
    ):
        print(
            f"fake HH:  {fake.url}\nredis:    {redis_url}\nweb app:  {url}/login  (Ctrl-C stops)", flush=True
        )
        stop.wait()


if __name__ == "__main__":
    main()
