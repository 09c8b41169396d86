"""``hh-async``: the HH API from a shell.

    hh-async search --text python --area 1 --all --jsonl vacancies.jsonl     # every match, past the cap
    hh-async search ... --jsonl vacancies.jsonl --resume                      # after Ctrl-C or a failure
    hh-async call get-vacancy vacancy_id=100001                                # any operation, JSON out
    hh-async --client-id ID --client-secret SECRET --token-file me.json auth login
    hh-async --client-id ID --client-secret SECRET --token-file app.json auth app-token
    hh-async fake-server --port 8800                                           # the offline HH
    hh-async --base-url http://127.0.0.1:8800 search --text python             # ... and against it

Global options go before the command. Settings may come from the environment: HH_BASE_URL, HH_USER_AGENT,
HH_TOKEN_FILE, HH_CLIENT_ID, HH_CLIENT_SECRET. Exit codes: 0 done, 1 HH or the network failed, 2 bad usage,
130 interrupted (Ctrl-C), 143 stopped by SIGTERM (wound down as for Ctrl-C), 141 the reader of the output
left early (`| head`), as for any tool stopped by SIGPIPE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

import anyio
import httpx

from ..errors import HHError
from ..tokens import TokenFileError
from .call import call, operations
from .connection import connect
from .fake_server import fake_server
from .login import app_token, login
from .parser import UsageError, build_parser
from .search import search

__all__ = ["main"]

OUTPUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `cat` in `cat big | head`; pipefail sees it


def main(argv: list[str] | None = None) -> int:
    args = build_parser(__doc__).parse_args(argv)
    try:
        status = _run(args)
        sys.stdout.flush()  # a reader gone shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        _discard_stdout()
        return OUTPUT_CLOSED
    except KeyboardInterrupt as exc:
        resume = " (continue with --resume)" if getattr(args, "jsonl", None) else ""
        print(f"\ninterrupted{resume}", file=sys.stderr)
        return 128 + (exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT)
    except UsageError as exc:
        print(f"hh-async: {exc}", file=sys.stderr)
        return 2
    except (HHError, httpx.HTTPError, TokenFileError) as exc:
        print(f"hh-async: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "fake-server":
        return fake_server(args)
    return asyncio.run(_interruptible(args))


async def _interruptible(args: argparse.Namespace) -> int:
    """Ctrl-C, and SIGTERM (``timeout``, systemd, docker stop), cancel the command through an anyio scope:
    unlike asyncio's own one-shot cancellation it holds at every later await, so no step can swallow it
    and keep the run going, while shielded work (a token refresh and its save, the resume state) finishes
    first. A second signal of the same kind interrupts at once."""
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []
    with anyio.CancelScope() as scope:

        def interrupt(signum: int) -> None:
            loop.remove_signal_handler(signum)  # the next one: Python's own default (exit at once)
            stopped_by.append(signum)
            scope.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no signals here
                loop.add_signal_handler(signum, interrupt, signum)
        try:
            return await _run_async(args)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    raise KeyboardInterrupt(stopped_by[0] if stopped_by else signal.SIGINT)  # the scope was cancelled


async def _run_async(args: argparse.Namespace) -> int:
    if args.command == "operations":
        return operations()
    if args.command == "auth":
        return await (login(args) if args.flow == "login" else app_token(args))
    async with connect(args) as hh:
        if args.command == "call":
            return await call(hh, args)
        return await search(hh, args)


def _discard_stdout() -> None:
    """What is still buffered for a closed pipe goes nowhere: the interpreter's last flush would otherwise
    fail again and print "Exception ignored ... BrokenPipeError" on the way out."""
    with contextlib.suppress(OSError):  # a stdout without a descriptor (main() called in a test) is left be
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
