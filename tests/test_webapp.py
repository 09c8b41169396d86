"""The example web app under real uvicorn workers, a real Redis and the fake HH: many users whose tokens
expired, many concurrent requests, exactly one refresh per user and nobody asked to log in again."""

from __future__ import annotations

from examples.webapp import loadrun


def test_every_user_is_refreshed_once_across_worker_processes() -> None:
    users, requests = 40, 400
    result = loadrun.run(workers=2, users=users, requests=requests)
    assert result["statuses"] == {200: requests}, result
    assert result["refreshes"] == users  # one per user, whichever worker got their requests first
    assert result["relogin_users"] == []
    assert result["wrong_user"] == 0  # each answer is the profile HH gave for that very user's token
    assert result["locks_held_after_run"] == []


def test_webhooks_are_handled_once_each_though_a_worker_is_killed() -> None:
    """HH's deliveries, duplicated, lost and reordered, reach the app's workers; one worker is SIGKILLed
    mid-run and restarted by uvicorn: every event is acknowledged and handled exactly once."""
    events = 400
    result = loadrun.run_webhooks(workers=2, events=events, kill_one=True)
    assert result["killed_worker"] is not None and result["settled"]
    assert result["acked"] == events and result["undelivered"] == 0
    assert result["attempts"].get("duplicate", 0) > 0  # HH's duplicates happened, and were answered 409
    assert (result["handled_once"], result["handled_twice_or_more"], result["never_handled"]) == (
        events,
        0,
        0,
    )


def test_a_user_logs_in_through_hh_and_sees_their_profile() -> None:
    """/login -> HH's authorize (state, PKCE) -> /callback -> a session cookie -> / shows what HH says of
    that user, fetched with their own token."""
    import httpx

    from hh_async.testing import FakeHH
    from hh_async.testing.redis_server import redis_server

    with (
        redis_server() as redis_url,
        FakeHH(clients={loadrun.CLIENT_ID: loadrun.CLIENT_SECRET}, vacancies=10) as fake,
        loadrun.app_server(redis_url, fake.url, 1) as (url, _),
        httpx.Client(follow_redirects=True, timeout=30) as browser,
    ):
        page = browser.get(f"{url}/login")
        assert page.status_code == 200 and page.url.path == "/"
        profile = page.json()
        assert profile["hh"]["id"] == profile["user"]  # HH's answer for the user the session belongs to
        assert fake.oauth.requests["authorization_code"] == 1
        forged = browser.get(f"{url}/callback", params={"code": "x", "state": "not-ours"})
        assert forged.status_code == 400  # a state we never issued is refused before any token request
        assert fake.oauth.requests["authorization_code"] == 1
