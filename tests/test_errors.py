"""HH's error bodies become typed exceptions with their fields (unit tests, no network)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest

from codegen import specfile
from codegen.walk import operations
from hh_async import errors as e


def answer(status: int, body: Any = None, *, text: str | None = None, headers: dict[str, str] | None = None):
    request = httpx.Request(
        "GET", "https://api.hh.ru/vacancies", headers={"Authorization": "Bearer SECRET-TOKEN"}
    )
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            {"errors": [{"type": "bad_argument", "value": "per_page"}], "bad_arguments": []},
            e.BadArgumentError,
        ),
        (
            400,
            {"errors": [{"type": "bad_json_data", "value": "salary", "pointer": "/salary/from"}]},
            e.BadJsonDataError,
        ),
        (400, {"errors": [{"type": "bad_user_agent", "value": "blacklisted"}]}, e.BadUserAgentError),
        (
            403,
            {"errors": [{"type": "oauth", "value": "token_expired"}], "oauth_error": "token-expired"},
            e.TokenExpiredError,
        ),
        (403, {"errors": [{"type": "oauth", "value": "token_revoked"}]}, e.TokenRevokedError),
        (403, {"errors": [{"type": "oauth", "value": "bad_authorization"}]}, e.TokenRevokedError),
        (403, {"errors": [{"type": "oauth", "value": "user_auth_expected"}]}, e.AuthorizationError),
        (
            403,
            {
                "errors": [
                    {
                        "type": "captcha_required",
                        "value": "captcha_required",
                        "captcha_url": "https://hh.ru/account/captcha?state=x",
                    }
                ]
            },
            e.CaptchaRequiredError,
        ),
        (403, {"errors": [{"type": "vacancies", "value": "creation_forbidden"}]}, e.ForbiddenError),
        (404, {"errors": [{"type": "not_found"}]}, e.NotFoundError),
        (409, {"errors": [{"type": "conflict"}]}, e.ConflictError),
        (429, {"errors": [{"type": "resumes", "value": "view_limit_exceeded"}]}, e.LimitExceededError),
        (400, {"errors": [{"type": "negotiations", "value": "limit_exceeded"}]}, e.LimitExceededError),
        (429, None, e.RateLimitedError),
        (503, {"errors": [{"type": "service_unavailable"}]}, e.ServerError),
        (
            400,
            {"error": "invalid_grant", "error_description": "token has already been refreshed"},
            e.ReauthorizationRequired,
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "token not expired"},
            e.ReauthorizationRequired,
        ),
        (
            403,
            {"error": "forbidden", "error_description": "app token refresh too early"},
            e.AppTokenTooEarlyError,
        ),
        (
            400,
            {"error": "invalid_client", "error_description": "client_id or client_secret not found"},
            e.OAuthError,
        ),
    ],
)
def test_error_classes(status: int, body: Any, cls: type[e.HHError]) -> None:
    error = e.error_from_response(answer(status, body))
    assert type(error) is cls
    assert error.status == status


def test_fields_are_carried() -> None:
    body = {
        "errors": [{"type": "bad_argument", "value": "per_page", "description": "must be at most 100"}],
        "request_id": "1700000000abc",
    }
    error = e.error_from_response(answer(400, body))
    assert isinstance(error, e.BadArgumentError)
    assert error.argument == "per_page"
    assert error.request_id == "1700000000abc"
    assert error.errors == (
        e.ErrorDetail("bad_argument", "per_page", {"description": "must be at most 100"}),
    )
    assert error.description == "must be at most 100"
    assert str(error) == "bad_argument/per_page: must be at most 100; status 400; request_id 1700000000abc"

    pointer = e.error_from_response(answer(400, {"errors": [{"type": "bad_json_data", "pointer": "/a/0"}]}))
    assert isinstance(pointer, e.BadJsonDataError) and pointer.pointer == "/a/0"

    oauth = e.error_from_response(
        answer(400, {"error": "invalid_grant", "error_description": "token was revoked"})
    )
    assert (oauth.oauth_error, oauth.description) == ("invalid_grant", "token was revoked")
    assert str(oauth) == "OAuth invalid_grant: token was revoked; status 400"


def test_captcha_urls_and_backurl() -> None:
    body = {
        "errors": [
            {
                "type": "captcha_required",
                "value": "captcha_required",
                "captcha_url": "https://hh.ru/account/captcha?state=abc",
                "fallback_url": "https://hh.ru/account/captcha/fallback",
            }
        ]
    }
    error = e.error_from_response(answer(403, body))
    assert isinstance(error, e.CaptchaRequiredError)
    assert error.fallback_url == "https://hh.ru/account/captcha/fallback"
    assert error.captcha_url_with_backurl("https://my.app/done?x=1") == (
        "https://hh.ru/account/captcha?state=abc&backurl=https%3A%2F%2Fmy.app%2Fdone%3Fx%3D1"
    )
    with pytest.raises(ValueError, match="scheme"):
        error.captcha_url_with_backurl("/done")


@pytest.mark.parametrize(
    ("status", "text", "cls"),
    [
        (502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", e.ServerError),
        (500, '{"errors": [{"type": "inte', e.ServerError),  # truncated JSON
        (403, "", e.ForbiddenError),
    ],
)
def test_bodies_that_are_not_json(status: int, text: str, cls: type[e.HHError]) -> None:
    error = e.error_from_response(answer(status, text=text, headers={"X-Request-Id": "req-1"}))
    assert type(error) is cls
    assert error.status == status and error.request_id == "req-1"
    if text:
        assert "not JSON" in str(error) and text[:20].split()[0] in str(error)


def test_no_secret_in_str_or_repr() -> None:
    error = e.error_from_response(answer(403, {"errors": [{"type": "oauth", "value": "token_expired"}]}))
    assert error.response is not None and "SECRET-TOKEN" in error.response.request.headers["Authorization"]
    for text in (str(error), repr(error), str(error.args)):
        assert "SECRET" not in text


# --- every error HH documents, in both shared specs ---------------------------------------------------


def _documented_errors(doc: dict[str, Any]) -> set[tuple[int, str, str | None]]:
    """(status, type, value) of every entry of `errors` that the spec documents for some operation."""

    def resolve(s: Any) -> dict[str, Any]:
        while isinstance(s, dict) and "$ref" in s:
            s = specfile.resolve_pointer(doc, s["$ref"])
        return s if isinstance(s, dict) else {}

    def alternatives(s: Any) -> list[dict[str, Any]]:
        s = resolve(s)
        members = s.get("oneOf") or s.get("anyOf")
        return [a for m in members for a in alternatives(m)] if members else [s]

    def field(s: Any, name: str) -> list[Any]:
        s = resolve(s)
        found = (
            [resolve((s.get("properties") or {}).get(name))] if name in (s.get("properties") or {}) else []
        )
        for member in s.get("allOf") or ():
            found += field(member, name)
        return found

    def values(s: dict[str, Any]) -> set[Any]:
        out = set(s.get("enum") or ()) or ({s["example"]} if "example" in s else set())
        for key in ("oneOf", "anyOf", "allOf"):
            for member in s.get(key) or ():
                out |= values(resolve(member))
        return out

    found = set()
    for _path, _method, op in operations(doc):
        for status, response in (op.get("responses") or {}).items():
            if not str(status).isdigit() or int(status) < 400:
                continue
            schema = ((resolve(response).get("content") or {}).get("application/json") or {}).get("schema")
            for body in alternatives(schema) if schema else ():
                for errors in field(body, "errors"):
                    for item in alternatives(errors.get("items")):
                        types = set().union(*map(values, field(item, "type"))) or {None}
                        vals = set().union(*map(values, field(item, "value"))) or {None}
                        found |= {(int(status), t, v) for t, v in itertools.product(types, vals) if t}
    return found


def test_every_documented_error_maps_to_its_class(shared_specs: list[Path]) -> None:
    documented: set[tuple[int, str, str | None]] = set()
    for spec in shared_specs:
        documented |= _documented_errors(specfile.load(spec))
    assert len(documented) > 150
    for status, kind, value in sorted(documented, key=str):
        body = {
            "errors": [{"type": kind, **({"value": value} if value is not None else {})}],
            "request_id": "r",
        }
        error = e.error_from_response(answer(status, body))
        label = (status, kind, value)
        assert error.status == status and error.request_id == "r", label
        assert error.errors[0].type == kind and error.errors[0].value == value, label
        if "captcha_required" in (kind, value):
            assert isinstance(error, e.CaptchaRequiredError), label
        elif value and value.endswith(("limit_exceeded", "quota_exceeded")):
            assert isinstance(error, e.LimitExceededError), label
        elif value == "token_expired":
            assert isinstance(error, e.TokenExpiredError), label
        elif value in ("token_revoked", "bad_authorization"):
            assert isinstance(error, e.TokenRevokedError), label
        elif value == "application_not_found":
            assert isinstance(error, e.ApplicationNotApprovedError), label
        elif kind == "oauth":
            assert isinstance(error, e.AuthorizationError), label
        elif (status, kind) == (400, "bad_argument"):
            assert isinstance(error, e.BadArgumentError) and error.argument == value, label
        elif (status, kind) == (400, "bad_json_data"):
            assert isinstance(error, e.BadJsonDataError), label
        else:
            expected = {
                400: e.BadRequestError,
                403: e.ForbiddenError,
                404: e.NotFoundError,
                409: e.ConflictError,
                429: e.RateLimitedError,
            }.get(status, e.HHError)
            assert type(error) is expected, label
