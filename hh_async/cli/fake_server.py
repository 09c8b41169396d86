"""``fake-server``: the fake HH of :mod:`hh_async.testing` on loopback, started by its own command line.
Imported only when asked for: it needs the ``testing`` extra (uvicorn), which the other commands do not."""

from __future__ import annotations

import argparse


def fake_server(args: argparse.Namespace) -> int:
    from ..testing.__main__ import main as serve  # runs until Ctrl-C

    serve(
        ["--port", str(args.port), "--vacancies", str(args.vacancies), "--fault-rate", str(args.fault_rate)]
    )
    return 0
