"""HH's error answers as typed exceptions.

HH answers errors in two shapes (see the project's API facts):

- API methods: ``{"errors": [{"type": ..., "value": ..., ...}], "request_id": ..., "oauth_error": ...}``,
  with 403 for token problems and for captcha;
- the token endpoint (OAuth): ``{"error": ..., "error_description": ...}``.

``error_from_response`` picks the most specific class; a body that is not JSON (an HTML 502 page from a
proxy, say) still gives an error with the status and a short excerpt. No exception carries request headers,
tokens or secrets: only what HH answered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import httpx


@attrs.frozen
class ErrorDetail:
    """One entry of HH's ``errors`` list."""

    type: str
    value: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    """Other keys of the entry (``captcha_url``, ``pointer``, ``reason``, ...)."""


class HHError(Exception):
    """An error answer from HH (or a body that could not be read)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        errors: Sequence[ErrorDetail] = (),
        oauth_error: str | None = None,
        description: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.errors = tuple(errors)
        self.oauth_error = oauth_error
        self.description = description
        """HH's ``error_description`` (token endpoint) or ``description`` of the first error."""
        self.response = response
        """The raw response (status, headers, body); not part of str() or repr()."""

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(e.type for e in self.errors)

    advice = ""
    """What to do about it, when there is something to do; part of str()."""

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request_id:
            parts.append(f"request_id {self.request_id}")
        if self.advice:
            parts.append(self.advice)
        return "; ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, request_id={self.request_id!r})"
        )


class BadRequestError(HHError):
    """400: HH did not accept the request."""


class BadArgumentError(BadRequestError):
    """400 ``bad_argument``: ``argument`` names the parameter HH rejected."""

    @property
    def argument(self) -> str | None:
        return next((e.value for e in self.errors if e.type == "bad_argument"), None)


class BadJsonDataError(BadRequestError):
    """400 ``bad_json_data``: the request body; ``pointer`` says where, when HH says."""

    @property
    def pointer(self) -> str | None:
        detail = next((e for e in self.errors if e.type == "bad_json_data"), None)
        if detail is None:
            return None
        pointer = detail.extra.get("pointer")
        return str(pointer) if pointer is not None else detail.value


class BadUserAgentError(BadRequestError):
    """400 ``bad_user_agent``: the User-Agent was missing (``unset``) or is blacklisted."""

    advice = "HH wants a User-Agent with your app and a contact: user_agent='MyApp/1.0 (me@example.com)'"


class NotFoundError(HHError):
    """404."""


class ConflictError(HHError):
    """409."""


class ForbiddenError(HHError):
    """403 that is neither a token problem nor a captcha: no right to do this."""


class AuthorizationError(HHError):
    """The token is not accepted: expired, revoked, invalid, or the wrong kind for this method."""


class TokenExpiredError(AuthorizationError):
    """403 ``oauth/token_expired``: refresh the user token (the client does it by itself)."""


class TokenRevokedError(AuthorizationError):
    """The token was revoked or deactivated (e.g. the user changed the password): log in again."""

    advice = "the token no longer works (revoked, or the password changed): log the user in again"


class ApplicationNotApprovedError(AuthorizationError):
    """HH does not know the application (``application_not_found``, a deleted client id), or has not
    approved it yet."""

    advice = (
        "HH does not accept this application: check it at dev.hh.ru/admin "
        "(a new one is reviewed for up to 15 working days)"
    )


class AnonymousAccessRefusedError(ForbiddenError):
    """403 to a call without a token: since April 2026 HH answers anonymous API calls so, from any IP."""

    advice = "HH no longer answers calls without a token: pass auth=AppToken(client_id, client_secret)"


class GeoBlockedError(HHError):
    """451: HH refuses requests from the caller's region (seen for IPs outside Russia since 2026)."""

    advice = "HH refuses this network's region (HTTP 451): call from a network in Russia"


class CaptchaRequiredError(ForbiddenError):
    """403 ``captcha_required``: a person must solve a captcha (asked only of requests without a token)."""

    advice = "a person must solve HH's captcha: open captcha_url_with_backurl(...), or call with a token"

    @property
    def captcha_url(self) -> str | None:
        return self._detail_url("captcha_url")

    @property
    def fallback_url(self) -> str | None:
        return self._detail_url("fallback_url")

    def _detail_url(self, key: str) -> str | None:
        url = next((e.extra.get(key) for e in self.errors if e.extra.get(key)), None)
        return str(url) if url else None

    def captcha_url_with_backurl(self, backurl: str) -> str:
        """The captcha page, returning to ``backurl`` (which HH requires to have a scheme) when solved."""
        if not urlsplit(backurl).scheme:
            raise ValueError(f"backurl must be an absolute URL with a scheme, got {backurl!r}")
        url = self.captcha_url or self.fallback_url
        if url is None:
            raise ValueError("HH sent neither captcha_url nor fallback_url")
        parts = urlsplit(url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("backurl", backurl)]
        return urlunsplit(parts._replace(query=urlencode(query)))


class LimitExceededError(HHError):
    """A quota is spent (daily resume views, searches, drafts, ...): retrying will not help today."""

    advice = "a quota is spent: retrying will not help before it renews"


class RateLimitedError(HHError):
    """429 Too Many Requests: slow down and retry."""


class ServerError(HHError):
    """5xx: HH (or a proxy before it) failed; the body may not be JSON."""


class OAuthError(HHError):
    """The token endpoint refused: ``oauth_error`` is HH's ``error``, ``description`` its explanation."""


class ReauthorizationRequired(OAuthError):
    """``invalid_grant``: the refresh token or code is spent, expired or revoked: the user logs in again."""


class AppTokenTooEarlyError(OAuthError):
    """An application token may be requested at most once per 5 minutes."""


class DecodeError(HHError):
    """HH's body is not valid JSON or does not fit its model; ``field`` says where, when known."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


# --- classification ------------------------------------------------------------------------------------

_TOKEN_REVOKED = frozenset({"token_revoked", "bad_authorization", "token_deactivated"})
_APPLICATION_UNKNOWN = frozenset({"application_not_found", "client-id-deleted"})


def _details(body: Mapping[str, Any]) -> list[ErrorDetail]:
    details = []
    for entry in body.get("errors") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("type"), str):
            value = entry.get("value")
            extra = {k: v for k, v in entry.items() if k not in ("type", "value")}
            details.append(ErrorDetail(entry["type"], None if value is None else str(value), extra))
    return details


def _api_error_class(status: int, details: Sequence[ErrorDetail]) -> type[HHError]:
    pairs = {(d.type, d.value) for d in details}
    types = {d.type for d in details}
    values = {d.value or "" for d in details}
    if "captcha_required" in types or "captcha_required" in values:
        return CaptchaRequiredError
    if any(v.endswith(("limit_exceeded", "quota_exceeded")) for v in values):
        return LimitExceededError
    if ("oauth", "token_expired") in pairs or "token_expired" in values:
        return TokenExpiredError
    if values & _TOKEN_REVOKED:
        return TokenRevokedError
    if values & _APPLICATION_UNKNOWN:
        return ApplicationNotApprovedError
    if "oauth" in types:
        return AuthorizationError
    if "bad_user_agent" in types:
        return BadUserAgentError
    if status == 400 and "bad_argument" in types:
        return BadArgumentError
    if status == 400 and "bad_json_data" in types:
        return BadJsonDataError
    return _by_status(status)


def _by_status(status: int) -> type[HHError]:
    if status == 451:
        return GeoBlockedError
    if status == 400:
        return BadRequestError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return HHError


def _oauth_error_class(error: str, description: str | None) -> type[HHError]:
    if description == "app token refresh too early":
        return AppTokenTooEarlyError
    if error == "invalid_grant":
        return ReauthorizationRequired
    return OAuthError


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def request_id(headers: Mapping[str, str]) -> str | None:
    """HH's id of an answer, which its support asks for: the ``X-Request-ID`` header."""
    value = headers.get("x-request-id")
    return str(value) if value else None


def _refined(cls: type[HHError], response: httpx.Response) -> type[HHError]:
    """A bare 403 to a call without a token is HH's 2026 refusal of anonymous calls."""
    if cls is not ForbiddenError:
        return cls
    try:
        anonymous = "authorization" not in response.request.headers
    except RuntimeError:  # a response built without its request
        return cls
    return AnonymousAccessRefusedError if anonymous else cls


def error_from_response(response: httpx.Response) -> HHError:
    """The exception for an error answer of HH."""
    status = response.status_code
    answer_id = request_id(response.headers)
    try:
        body = json.loads(response.content) if response.content else {}
    except (ValueError, UnicodeDecodeError):
        cls = _refined(_by_status(status), response)
        excerpt = _excerpt(response.content.decode("utf-8", "replace"))
        return cls(
            f"HTTP {status} with a body that is not JSON: {excerpt!r}",
            status=status,
            request_id=answer_id,
            response=response,
        )
    if not isinstance(body, Mapping):
        return _refined(_by_status(status), response)(
            f"HTTP {status}: {_excerpt(response.text)}",
            status=status,
            request_id=answer_id,
            response=response,
        )
    answer_id = str(body.get("request_id") or answer_id or "") or None
    if isinstance(body.get("error"), str) and "errors" not in body:
        error, description = body["error"], body.get("error_description")
        description = str(description) if description is not None else None
        cls = _oauth_error_class(error, description)
        message = f"OAuth {error}" + (f": {description}" if description else "")
        return cls(
            message,
            status=status,
            request_id=answer_id,
            oauth_error=error,
            description=description,
            response=response,
        )
    details = _details(body)
    cls = _refined(_api_error_class(status, details), response)
    described = next((str(d.extra["description"]) for d in details if d.extra.get("description")), None)
    listed = ", ".join(f"{d.type}" + (f"/{d.value}" if d.value else "") for d in details)
    if not listed:  # not HH's shape (a proxy's or gateway's JSON): what it said is all there is to go on
        listed = f"HTTP {status}" + (f": {_excerpt(response.text)}" if body else "")
    oauth_error = body.get("oauth_error")
    return cls(
        listed + (f": {described}" if described else ""),
        status=status,
        request_id=answer_id,
        errors=details,
        oauth_error=str(oauth_error) if oauth_error else None,
        description=described,
        response=response,
    )
