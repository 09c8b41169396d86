"""What the global options connect to: the client (``--base-url``, ``--user-agent``, ``--rate``, and the
token of ``--token-file``, refreshed when the client credentials are given) and HH's OAuth endpoints, which
follow ``--base-url`` when it points to another HH (a fake one)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx

from ..auth import TOKEN_URL, StaticToken, UserToken, authorize_url_for
from ..client import DEFAULT_BASE_URL, HHClient
from ..throttle import Throttle
from ..tokens import JsonFileTokenStore, TokenFileError


def connect(args: argparse.Namespace) -> HHClient:
    """The client the global options describe; the caller closes it (``async with``)."""
    throttle = Throttle(rate=args.rate or None)
    return HHClient(user_agent=args.user_agent, base_url=args.base_url, auth=_auth(args), throttle=throttle)


def token_url(args: argparse.Namespace) -> str:
    """Where tokens are asked for outside a client (``app-token``, ``login``): HH's, or the other HH's."""
    return TOKEN_URL if args.base_url == DEFAULT_BASE_URL else args.base_url.rstrip("/") + "/token"


def authorize_url(args: argparse.Namespace) -> str:
    return authorize_url_for(args.base_url)


def _auth(args: argparse.Namespace) -> httpx.Auth | None:
    if not args.token_file:
        return None
    store = JsonFileTokenStore(args.token_file)
    data = _read_token_file(Path(args.token_file))
    if data.get("refresh_token") and args.client_id and args.client_secret:
        return UserToken(args.client_id, args.client_secret, store)  # refreshed through the client itself
    return StaticToken(str(data["access_token"]))


def _read_token_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError("no access_token in it")
    except (OSError, ValueError) as exc:
        raise TokenFileError(f"cannot use the token file {path}: {exc}") from None
    return data
