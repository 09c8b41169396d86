"""``auth login`` (authorization code with PKCE: the browser comes back to a one-page listener on
127.0.0.1) and ``auth app-token`` (client credentials); both save the token to ``--token-file``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import webbrowser
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

from ..auth import AppToken, authorization_request, exchange_code
from ..tokens import JsonFileTokenStore
from .connection import authorize_url, token_url
from .parser import UsageError


async def app_token(args: argparse.Namespace) -> int:
    client_id, client_secret = _credentials(args)
    store = JsonFileTokenStore(args.token_file)
    auth = AppToken(client_id, client_secret, store, token_url=token_url(args), user_agent=args.user_agent)
    await auth.token()
    print(f"application token saved to {args.token_file}", file=sys.stderr)
    return 0


async def login(args: argparse.Namespace) -> int:
    client_id, client_secret = _credentials(args)
    port = args.port
    if args.redirect_uri:  # the listener must be where HH will send the browser
        target = urlsplit(args.redirect_uri)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost") or not target.port:
            raise UsageError(
                "--redirect-uri must be a loopback URL with a port: http://127.0.0.1:8765/callback"
            )
        port = target.port
    async with _redirect_listener(port) as (listener_uri, codes):
        redirect_uri = args.redirect_uri or listener_uri
        request = authorization_request(
            client_id, redirect_uri, role=args.role, authorize_url=authorize_url(args)
        )
        print(f"Open this page to log in:\n{request.url}", file=sys.stderr, flush=True)
        if not args.no_browser:
            webbrowser.open(request.url)
        query = await codes.get()
    if "error" in query:
        print(f"hh-async: HH refused the login: {query['error']}", file=sys.stderr)
        return 1
    try:
        request.check_state(query.get("state"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    await exchange_code(
        request,
        query.get("code", ""),
        client_id=client_id,
        client_secret=client_secret,
        store=JsonFileTokenStore(args.token_file),
        token_url=token_url(args),
        user_agent=args.user_agent,  # HH refuses token requests without one
    )
    print(f"logged in; tokens saved to {args.token_file}", file=sys.stderr)
    return 0


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    if not (args.client_id and args.client_secret):
        raise UsageError("--client-id and --client-secret (or HH_CLIENT_ID/HH_CLIENT_SECRET) are required")
    if not args.token_file:
        raise UsageError("--token-file (or HH_TOKEN_FILE) says where to save the token")
    try:  # before the login: afterwards its code is spent, and a token that cannot be saved is lost
        JsonFileTokenStore(args.token_file).check_writable()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = args.token_file
        raise UsageError(f"cannot save tokens to {where} ({reason}): choose another --token-file") from None
    return args.client_id, args.client_secret


@contextlib.asynccontextmanager
async def _redirect_listener(port: int) -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, str]]]]:
    """A one-page HTTP server on 127.0.0.1 that takes HH's redirect (``?code=...&state=...``)."""
    codes: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ValueError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode("ascii", "replace")
            query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            if "code" in query or "error" in query:
                body = b"Logged in: you can close this window and return to the terminal.\n"
                codes.put_nowait(query)
            else:
                body = b"Waiting for HH's redirect.\n"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{bound}/callback", codes
