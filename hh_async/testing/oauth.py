"""The fake server's OAuth: HH's token rules exactly as ``../shared/hh-api-facts.md`` describes them.

``OAuthTransport`` serves the same rules in-process (no server thread, no socket) with hooks around every
token request, so a test can hold one, or cancel its caller, before or after HH has spent a token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import anyio.lowlevel
import attrs
import httpx

from ..facts import ACCESS_TOKEN_LIFETIME, APP_TOKEN_INTERVAL

ROLES = ("applicant", "employer")
"""What a user logs in as (HH's ``role`` of the authorize page)."""


class Clock:
    """The fake server's time: real time plus whatever a test ``advance``s it by (to expire tokens)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@attrs.define
class _Token:
    kind: str  # "user" or "app"
    client_id: str
    expires_at: float | None
    refresh_token: str | None = None
    revoked: bool = False
    user_id: str | None = None  # whose token it is (user tokens); a refresh keeps it
    role: str = "applicant"  # what the user logged in as: "applicant" or "employer"


@attrs.define
class _Code:
    client_id: str
    redirect_uri: str | None
    challenge: str | None
    user_id: str
    role: str = "applicant"
    used: bool = False


def _oauth_error(status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "error_description": description}


class OAuthServer:
    def __init__(self, clients: Mapping[str, str], clock: Clock, access_ttl: float = ACCESS_TOKEN_LIFETIME):
        self.clients = dict(clients)
        self.clock = clock
        self.access_ttl = access_ttl
        self.requests: Counter[str] = Counter()
        """Token requests by grant type, for assertions."""
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, str | None] = {}  # refresh token -> its access token (None once used)
        self._app_issued: dict[str, float] = {}
        self._users = 0

    # --- the authorize page -----------------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> tuple[int, str]:
        """(status, Location or error text) for ``GET /oauth/authorize``: the user always agrees."""
        client_id = params.get("client_id", "")
        if params.get("response_type") != "code" or client_id not in self.clients:
            return 400, "response_type=code and a known client_id are required"
        redirect_uri = params.get("redirect_uri")
        if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
            return 400, "only code_challenge_method=S256 is supported"
        code = secrets.token_urlsafe(16)
        user_id = params.get("login_as") or self._new_user()  # the fake's stand-in for who logged in
        role = params.get("role") or "applicant"
        if role not in ROLES:
            return 400, f"role must be one of {', '.join(ROLES)}"
        self._codes[code] = _Code(client_id, redirect_uri, params.get("code_challenge"), user_id, role)
        target = redirect_uri or "https://example.invalid/oauth/callback"
        state = f"&state={params['state']}" if "state" in params else ""
        return 302, f"{target}{'&' if '?' in target else '?'}code={code}{state}"

    # --- the token endpoint -------------------------------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        self.requests[grant] += 1
        if grant == "refresh_token":
            return self._refresh_grant(form)
        client_id = form.get("client_id", "")
        if self.clients.get(client_id) != form.get("client_secret") or not client_id:
            return _oauth_error(400, "invalid_client", "client_id or client_secret not found")
        if grant == "authorization_code":
            return self._code_grant(form, client_id)
        if grant == "client_credentials":
            return self._app_grant(client_id)
        return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type")

    def _new_user(self) -> str:
        self._users += 1
        return str(self._users)

    def issue_user_token(
        self, client_id: str, user_id: str | None = None, *, expired: bool = False, role: str = "applicant"
    ) -> dict[str, Any]:
        """A user's token answer as if they had just logged in (for tests and load runs that need many
        users without the browser step); ``expired`` issues one whose access token has already expired."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        answer = self._issue("user", client_id, user_id or self._new_user(), role)
        if expired:
            self._access[answer["access_token"]].expires_at = self.clock() - 1
        return answer

    def role_of(self, authorization: str | None) -> str | None:
        """``"applicant"``, ``"employer"`` or ``"application"`` for a valid token; None otherwise."""
        if self.check(authorization) is not None or authorization is None:
            return None
        token = self._access[authorization.partition(" ")[2]]
        return "application" if token.kind == "app" else token.role

    def user_of(self, authorization: str | None) -> str | None:
        """The user a valid user token belongs to (None for an app token, a bad or a missing one)."""
        if self.check(authorization) is not None or authorization is None:
            return None
        return self._access[authorization.partition(" ")[2]].user_id

    def _issue(
        self, kind: str, client_id: str, user_id: str | None = None, role: str = "applicant"
    ) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        if kind == "app":
            self._access[access] = _Token("app", client_id, None)
            return {"access_token": access, "token_type": "bearer"}
        refresh = secrets.token_urlsafe(24)
        expires_at = self.clock() + self.access_ttl
        self._access[access] = _Token("user", client_id, expires_at, refresh, user_id=user_id, role=role)
        self._refresh[refresh] = access
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.access_ttl),
            "refresh_token": refresh,
        }

    def _code_grant(self, form: Mapping[str, str], client_id: str) -> tuple[int, dict[str, Any]]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "code not found")
        if code.used:
            return _oauth_error(400, "invalid_grant", "code has already been used")
        if code.redirect_uri and form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "invalid_request", "bad redirect url")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != code.challenge:
                return _oauth_error(400, "invalid_grant", "code verifier mismatch")
        code.used = True
        return 200, self._issue("user", client_id, code.user_id, code.role)

    def _refresh_grant(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        refresh = form.get("refresh_token", "")
        if refresh not in self._refresh:
            return _oauth_error(400, "invalid_grant", "token not found")
        access = self._refresh[refresh]
        if access is None:
            return _oauth_error(400, "invalid_grant", "token has already been refreshed")
        token = self._access[access]
        if token.revoked:
            return _oauth_error(400, "invalid_grant", "token was revoked")
        if token.expires_at is not None and self.clock() < token.expires_at:
            return _oauth_error(400, "invalid_grant", "token not expired")
        self._refresh[refresh] = None  # the old access token stays what it is: expired
        return 200, self._issue("user", token.client_id, token.user_id, token.role)

    def _app_grant(self, client_id: str) -> tuple[int, dict[str, Any]]:
        last = self._app_issued.get(client_id)
        if last is not None and self.clock() - last < APP_TOKEN_INTERVAL:
            return _oauth_error(403, "forbidden", "app token refresh too early")
        for token in self._access.values():  # a new application token revokes the previous one
            if token.kind == "app" and token.client_id == client_id:
                token.revoked = True
        self._app_issued[client_id] = self.clock()
        return 200, self._issue("app", client_id)

    # --- API calls ----------------------------------------------------------------------------------------

    def check(self, authorization: str | None) -> str | None:
        """The ``oauth`` error value for a request's Authorization header, or None when it is fine."""
        if authorization is None:
            return None
        scheme, _, access = authorization.partition(" ")
        token = self._access.get(access) if scheme.lower() == "bearer" else None
        if token is None:
            return "bad_authorization"
        if token.revoked:
            return "token_revoked"
        if token.expires_at is not None and self.clock() >= token.expires_at:
            return "token_expired"
        return None

    def invalidate(self, authorization: str | None) -> bool:
        """``DELETE /token``: only a live user token; its refresh token dies with it."""
        access = (authorization or "").partition(" ")[2]
        token = self._access.get(access)
        if token is None or token.kind != "user" or self.check(authorization) is not None:
            return False
        token.revoked = True
        if token.refresh_token:
            self._refresh[token.refresh_token] = None
        return True


class OAuthTransport(httpx.AsyncBaseTransport):
    """An httpx transport answering from an ``OAuthServer`` in-process: ``POST /token`` by its rules, any
    other request ``200 {}`` to a valid token and HH's ``403 oauth`` error otherwise; like HH, ``400
    bad_user_agent`` to any request without ``User-Agent`` or ``HH-User-Agent``.

    Every answer passes ``checkpoints`` event-loop checkpoints before and after the rules run (places where
    a test's cancellation lands); ``before_token`` and ``after_token``, when set, are awaited just before
    and just after the server handles a token request (before: nothing spent yet; after: HH has spent the
    old token, the answer has not reached the client).
    """

    def __init__(self, server: OAuthServer, *, checkpoints: int = 2) -> None:
        self.server = server
        self.checkpoints = checkpoints
        self.before_token: Callable[[], Awaitable[object]] | None = None
        self.after_token: Callable[[], Awaitable[object]] | None = None
        self.requests: Counter[str] = Counter()
        """Requests by ``METHOD path``, for assertions (token requests by grant: ``server.requests``)."""
        self.token_requests: list[httpx.Request] = []
        """The token requests as they came (their URL and headers; the form holds secrets)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[f"{request.method} {request.url.path}"] += 1
        body = await request.aread()
        await self._pause()
        if request.method == "POST" and request.url.path == "/token":
            self.token_requests.append(request)
        if not (request.headers.get("hh-user-agent") or request.headers.get("user-agent")):
            status, answer = 400, {"errors": [{"type": "bad_user_agent", "value": "unset"}]}
        elif request.method == "POST" and request.url.path == "/token":
            if self.before_token is not None:
                await self.before_token()
            status, answer = self.server.token({k: v[0] for k, v in parse_qs(body.decode()).items()})
            if self.after_token is not None:
                await self.after_token()
        else:
            problem = self.server.check(request.headers.get("authorization"))
            status, answer = (200, {}) if problem is None else (403, _api_error(problem))
        await self._pause()
        return httpx.Response(status, json=answer, request=request)

    async def _pause(self) -> None:
        for _ in range(self.checkpoints):
            await anyio.lowlevel.checkpoint()


def _api_error(value: str) -> dict[str, Any]:
    return {"errors": [{"type": "oauth", "value": value}], "request_id": "fake-request"}
