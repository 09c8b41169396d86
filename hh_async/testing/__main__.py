"""``python -m hh_async.testing --port 8800 --vacancies 50000``: run the fake HH until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import threading

from .faults import KINDS, Faults
from .server import CLIENT_ID, CLIENT_SECRET, FakeHH


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hh_async.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--vacancies", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default="503,502_html,429,drop", help=f"kinds among {', '.join(KINDS)}")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--rps-limit", type=float, default=None, help="answer 429 above this rate")
    args = parser.parse_args(argv)
    faults = Faults(
        rate=args.fault_rate,
        kinds=tuple(args.faults.split(",")),
        rps_limit=args.rps_limit,
        seed=args.seed,
        latency=args.latency,
    )
    server = FakeHH(vacancies=args.vacancies, seed=args.seed, faults=faults, host=args.host, port=args.port)
    with server:
        print(
            f"fake HH at {server.url} ({args.vacancies} vacancies); "
            f"OAuth client: {CLIENT_ID} / {CLIENT_SECRET}; Ctrl-C stops it",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
