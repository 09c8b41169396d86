"""The command line: global options, subcommands and their help; what a value must look like is checked here,
before any request, so a wrong one is a usage error (exit 2), never HH's 400 (exit 1).

Global options (``--base-url``, ``--token-file``, the client credentials, ...) go before the subcommand:
``hh-async --token-file me.json call ...``. The examples printed in the help are commands that parse.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

import httpx

from .. import __version__
from ..client import DEFAULT_BASE_URL

DEFAULT_USER_AGENT = f"hh-async-cli/{__version__}"

AUTH_EXAMPLES = """\
The client and the token file are global options: they go before `auth`.

  hh-async --client-id ID --client-secret SECRET --token-file me.json auth login
  hh-async --client-id ID --client-secret SECRET --token-file app.json auth app-token
  hh-async --token-file me.json call get-current-user-info
"""


class UsageError(Exception):
    """A wrong command line that only the command can see (an unknown operation, a file to resume that is
    missing, ...): exit 2 with the message, as argparse does for what it sees itself."""


def base_url(text: str) -> str:
    """``--base-url``: an http(s) URL with a host (the text itself is kept)."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(
            f"an http(s) URL expected, e.g. {DEFAULT_BASE_URL} or http://127.0.0.1:8800, got {text!r}"
        )
    return text


def moment(text: str) -> str:
    """``--date-from``/``--date-to``: ISO 8601, as the sweep reads it (the text itself is kept: it is what
    HH receives and what a resume state compares)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ISO 8601 expected, e.g. 2026-11-01 or 2026-11-01T10:00:00+03:00, got {text!r}"
        ) from None
    return text


def build_parser(description: str | None) -> argparse.ArgumentParser:
    """The parser of ``hh-async``; ``description`` is the overview its ``--help`` starts with."""
    env = os.environ.get
    top = argparse.ArgumentParser(
        prog="hh-async", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument(
        "--base-url",
        type=base_url,
        default=env("HH_BASE_URL", DEFAULT_BASE_URL),
        help="the API (or a fake HH)",
    )
    top.add_argument(
        "--user-agent",
        default=env("HH_USER_AGENT", DEFAULT_USER_AGENT),
        help="HH wants 'AppName/1.0 (you@example.com)'",
    )
    top.add_argument("--token-file", default=env("HH_TOKEN_FILE"), help="a token saved by `auth`")
    top.add_argument(
        "--client-id", default=env("HH_CLIENT_ID"), help="your HH app's id: for `auth`, and to refresh tokens"
    )
    top.add_argument("--client-secret", default=env("HH_CLIENT_SECRET"), help="your HH app's secret")
    top.add_argument(
        "--rate", type=float, default=8.0, help="requests per second at most (HH bans above ~10; 0: no limit)"
    )
    top.add_argument("--version", action="version", version=f"hh-async {__version__}")
    commands = top.add_subparsers(dest="command", required=True)

    search = commands.add_parser("search", help="search vacancies; --all reads past HH's 2000 cap")
    search.add_argument("--text", help="what to look for, in HH's query language: 'python NOT django'")
    search.add_argument("--area", action="append", help="repeatable: --area 1 --area 2")
    search.add_argument("--professional-role", help="an id of HH's professional_roles dictionary")
    search.add_argument(
        "--date-from", type=moment, help="published since: ISO 8601, 2026-11-01 or 2026-11-01T10:00:00+03:00"
    )
    search.add_argument("--date-to", type=moment, help="published before: ISO 8601, as --date-from")
    search.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE", help="any other get-vacancies parameter"
    )
    search.add_argument("--all", action="store_true", help="every match, in date slices under the cap")
    search.add_argument("--jsonl", type=Path, help="write one vacancy per line here (default: stdout)")
    search.add_argument("--resume", action="store_true", help="continue the --jsonl file's interrupted run")
    search.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a progress line on stderr: redrawn on a terminal, every 2 s in a log",
    )

    call = commands.add_parser("call", help="call any operation: call get-vacancy vacancy_id=100001")
    call.add_argument("operation", help="an operationId (see `hh-async operations`)")
    call.add_argument("arguments", nargs="*", metavar="KEY=VALUE", help="repeat a key for a list; body=@file")

    commands.add_parser("operations", help="list the operationIds")

    auth = commands.add_parser(
        "auth",
        help="obtain tokens",
        epilog=AUTH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="flow", required=True)
    login = auth.add_parser(
        "login",
        help="log a user in (authorization code + PKCE, loopback redirect)",
        epilog=AUTH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    login.add_argument("--port", type=int, default=0, help="port of the loopback redirect listener")
    login.add_argument(
        "--redirect-uri", help="the loopback URL registered for your app, e.g. http://127.0.0.1:8765/callback"
    )
    login.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    login.add_argument("--role", choices=["applicant", "employer"], help="the kind of account to log in")
    auth.add_parser(
        "app-token",
        help="obtain the application token (client_credentials)",
        epilog=AUTH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    fake = commands.add_parser("fake-server", help="run the fake HH on loopback (for demos and tests)")
    fake.add_argument("--port", type=int, default=8800, help="the loopback port to listen on")
    fake.add_argument("--vacancies", type=int, default=10_000, help="how many vacancies the fake HH holds")
    fake.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="the share of answers that fail (503, 429, a dropped connection, ...): 0.1 tries the retries",
    )
    return top
