"""The fake's OAuth knows whose token it is: logins, refreshes and seeded users keep their identity."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hh_async.testing.oauth import Clock, OAuthServer


def _server() -> OAuthServer:
    return OAuthServer({"app": "secret"}, Clock(), access_ttl=60)


def test_a_login_and_its_refreshes_belong_to_the_user_who_logged_in() -> None:
    server = _server()
    status, location = server.authorize({"response_type": "code", "client_id": "app", "login_as": "42"})
    assert status == 302
    code = parse_qs(urlsplit(location).query)["code"][0]
    grant = {"client_id": "app", "client_secret": "secret"}
    status, pair = server.token({"grant_type": "authorization_code", "code": code, **grant})
    assert status == 200 and server.user_of(f"Bearer {pair['access_token']}") == "42"
    server.clock.advance(61)
    assert server.user_of(f"Bearer {pair['access_token']}") is None  # expired: nobody's any more
    status, renewed = server.token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert status == 200 and server.user_of(f"Bearer {renewed['access_token']}") == "42"


def test_seeded_users_are_distinct_and_can_start_expired() -> None:
    server = _server()
    first, second = server.issue_user_token("app"), server.issue_user_token("app", expired=True)
    assert server.user_of(f"Bearer {first['access_token']}") not in (None, "")
    assert server.check(f"Bearer {second['access_token']}") == "token_expired"
    status, renewed = server.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert status == 200
    assert server.user_of(f"Bearer {renewed['access_token']}") != server.user_of(
        f"Bearer {first['access_token']}"
    )
    assert server.user_of(None) is None and server.user_of("Bearer nonsense") is None


def test_the_role_chosen_at_login_stays_with_the_token_and_its_refreshes() -> None:
    server = _server()
    params = {"response_type": "code", "client_id": "app", "role": "employer"}
    code = parse_qs(urlsplit(server.authorize(params)[1]).query)["code"][0]
    grant = {"client_id": "app", "client_secret": "secret"}
    pair = server.token({"grant_type": "authorization_code", "code": code, **grant})[1]
    assert server.role_of(f"Bearer {pair['access_token']}") == "employer"
    server.clock.advance(61)
    renewed = server.token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})[1]
    assert server.role_of(f"Bearer {renewed['access_token']}") == "employer"
    assert server.authorize({**params, "role": "admin"})[0] == 400
