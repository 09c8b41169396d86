"""The fake HH sends webhooks to receivers served by real uvicorn, as HH describes: retries with growing
gaps, duplicates, losses, out of order, a 2 s limit, blocking after long failure. The kit on the other end
handles each event once; the subscription helper converges; reconciliation catches a lost delivery."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from hh_async import HHClient, MemoryTokenStore, RetryPolicy, Throttle, UserToken, errors as e
from hh_async.auth import authorization_request, exchange_code
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH
from hh_async.testing.dataset import MSK
from hh_async.testing.served import ServedApp
from hh_async.testing.webhooks import DeliveryPolicy, FakeSubscription, summary
from hh_async.webhooks import (
    EventStore,
    MemoryDedup,
    PersistStore,
    RedisEventQueue,
    WebhookEndpoint,
    WebhookEvent,
    Worker,
    ensure_subscription,
    reconcile_negotiations,
    remove_subscriptions,
)
from hh_async.webhooks.starlette import webhook_route
from hh_async.webhooks.subscriptions import ActionSpec

pytestmark = pytest.mark.anyio
UA = "Tests/1.0 (dev@example.com)"
FAST = {"time_scale": 0.0005, "timeout": 2.0}  # HH's one-minute gap takes 30 ms


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=200) as running:
        yield running


@pytest.fixture(autouse=True)
def fast_policy(server: FakeHH) -> Iterator[None]:
    server.app.webhooks.configure(DeliveryPolicy(**FAST))  # type: ignore[arg-type]
    yield
    # A test's receivers are gone: its subscriptions go too, so that no retry outlives the test.
    server.app.webhooks.subscriptions.clear()
    assert server.app.webhooks.wait_settled(10)


async def login(server: FakeHH) -> tuple[UserToken, str]:
    """A new fake user logged in the way HH's users are; their auth and fake user id."""
    request = authorization_request(CLIENT_ID, "https://my.app/callback")
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(server.url + "/oauth/authorize?" + urlsplit(request.url).query)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    auth = await exchange_code(
        request,
        code,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        store=MemoryTokenStore(),
        token_url=server.url + "/token",
    )
    pair = await auth.current()
    user = server.oauth.user_of(f"Bearer {pair.access_token}")
    assert user is not None
    return auth, user


def client(server: FakeHH, auth: UserToken) -> HHClient:
    return HHClient(
        user_agent=UA,
        base_url=server.url,
        auth=auth,
        throttle=Throttle(rate=None, concurrency=20),
        retry=RetryPolicy(backoff_base=0.001),
    )


def receiver(store: EventStore) -> Starlette:
    return Starlette(routes=[webhook_route("/hh/webhook", WebhookEndpoint(store))])


class Recorder:
    """A persist callback that fails the first ``fail_first`` tries of each event id."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.stored: list[WebhookEvent] = []
        self.tries: Counter[str] = Counter()
        self.fail_first = fail_first
        self.delay = delay

    async def __call__(self, event: WebhookEvent) -> None:
        self.tries[event.id] += 1
        if self.delay and self.tries[event.id] == 1:
            await anyio.sleep(self.delay)
        if self.tries[event.id] <= self.fail_first:
            raise ConnectionError("the database is down")
        self.stored.append(event)


async def test_subscriptions_are_per_user_and_the_helper_converges_from_any_state(
    server: FakeHH, anyio_backend: str
) -> None:
    auth, user = await login(server)
    other_auth, _ = await login(server)
    requests = server.app.requests
    async with client(server, auth) as hh, client(server, other_auth) as other:
        first = await ensure_subscription(hh, "https://a.example/hook", ["NEW_NEGOTIATION_VACANCY"])
        assert first.outcome == "created" and first.id
        writes = (
            requests["POST /webhook/subscriptions"] + requests["PUT /webhook/subscriptions/{subscription_id}"]
        )
        again = await ensure_subscription(
            hh,
            "https://a.example/hook",
            [{"type": "NEW_NEGOTIATION_VACANCY", "settings": {"vacancies_only_mine": False}}],
        )
        assert again.outcome == "unchanged" and again.id == first.id
        assert (
            requests["POST /webhook/subscriptions"] + requests["PUT /webhook/subscriptions/{subscription_id}"]
            == writes
        )
        assert (await other.get_webhook_subscriptions()).items == []  # another user sees nothing of it

        with pytest.raises(e.HHError):  # HH: one subscription per user and application
            await hh.post_webhook_subscription(body=_create("https://b.example/hook", ["VACANCY_CHANGE"]))

        wanted: list[ActionSpec] = [
            "VACANCY_CHANGE",
            {"type": "NEW_NEGOTIATION_VACANCY", "settings": {"vacancies_only_mine": True}},
        ]
        changed = await ensure_subscription(hh, "https://b.example/hook", wanted)
        assert changed.outcome == "updated" and changed.id == first.id
        items = [i.to_dict() for i in (await hh.get_webhook_subscriptions()).items or [] if i]
        assert items == [
            {
                "id": first.id,
                "url": "https://b.example/hook",
                "actions": [
                    {"type": "NEW_NEGOTIATION_VACANCY", "settings": {"vacancies_only_mine": True}},
                    {"type": "VACANCY_CHANGE"},
                ],
            }
        ]

        # A state HH can leave behind (another subscription of the user, a resume one, say): removed.
        server.app.webhooks.subscriptions["stray"] = FakeSubscription("stray", user, "https://old/", [])
        converged = await ensure_subscription(hh, "https://b.example/hook", ["CHAT_MESSAGE_CREATED"])
        assert converged.outcome == "updated" and converged.removed == ("stray",)
        assert [i.to_dict()["actions"] for i in (await hh.get_webhook_subscriptions()).items or [] if i] == [
            [{"type": "CHAT_MESSAGE_CREATED"}]
        ]

        assert (await remove_subscriptions(hh)).outcome == "deleted"
        assert (await remove_subscriptions(hh)).outcome == "absent"
        assert (await ensure_subscription(hh, "https://c.example/", ["VACANCY_CHANGE"])).outcome == "created"
        with pytest.raises(ValueError, match="at least one action"):
            await ensure_subscription(hh, "https://c.example/", [])
        with pytest.raises(ValueError, match="absolute"):
            await ensure_subscription(hh, "/relative", ["VACANCY_CHANGE"])


async def test_two_replicas_ensuring_at_once_both_succeed(server: FakeHH, anyio_backend: str) -> None:
    auth, _ = await login(server)
    outcomes: list[str] = []
    async with client(server, auth) as hh:

        async def replica() -> None:
            outcomes.append((await ensure_subscription(hh, "https://a.example/", ["VACANCY_CHANGE"])).outcome)

        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(replica)
        items = (await hh.get_webhook_subscriptions()).items or []
    assert outcomes.count("created") == 1 and len(outcomes) == 4
    assert len(items) == 1


def _create(url: str, actions: list[str]) -> Any:
    from hh_async._raw.models.webhook_subscription_create import WebhookSubscriptionCreate

    return WebhookSubscriptionCreate.from_dict({"url": url, "actions": [{"type": a} for a in actions]})


async def test_an_app_token_cannot_subscribe(server: FakeHH, anyio_backend: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"User-Agent": UA}) as http:
        answer = await http.get("/webhook/subscriptions")
    assert answer.status_code == 403 and answer.json()["errors"][0]["value"] == "user_auth_expected"


async def test_a_store_failure_is_redelivered_and_stored_once(server: FakeHH, anyio_backend: str) -> None:
    recorder = Recorder(fail_first=1)  # every event's first delivery: 503
    auth, user = await login(server)
    async with (
        ServedApp(receiver(PersistStore(recorder, MemoryDedup()))) as served,
        client(server, auth) as hh,
    ):
        await ensure_subscription(
            hh, served.url + "/hh/webhook", ["NEW_NEGOTIATION_VACANCY", "VACANCY_ARCHIVATION"]
        )
        made: list[str] = []
        for _ in range(20):
            made += server.app.add_negotiation("100001", users=[user])[1]
        await hh.add_vacancy_to_archive(employer_id="1455", vacancy_id="100002")  # an API call makes one too
        await server.app.webhooks.until_settled()
    stored = Counter(ev.id for ev in recorder.stored)
    assert len(stored) == 21 and set(stored.values()) == {1}
    assert set(made) < set(stored)
    archived = [ev for ev in recorder.stored if ev.action_type == "VACANCY_ARCHIVATION"]
    assert [ev.payload.vacancy_id for ev in archived] == ["100002"]  # type: ignore[union-attr]
    outcomes = [a.outcome for a in server.app.webhooks.attempts if a.event_id in stored]
    assert outcomes.count("refused") >= 21 and outcomes.count("accepted") == 21


async def test_no_answer_within_the_limit_is_retried_and_answered_409(
    server: FakeHH, anyio_backend: str
) -> None:
    server.app.webhooks.configure(DeliveryPolicy(time_scale=0.0005, timeout=0.2))
    recorder = Recorder(delay=1.0)  # the first store of each event outlasts HH's patience
    auth, user = await login(server)
    async with (
        ServedApp(receiver(PersistStore(recorder, MemoryDedup()))) as served,
        client(server, auth) as hh,
    ):
        await ensure_subscription(hh, served.url + "/hh/webhook", ["CHAT_MESSAGE_CREATED"])
        (event_id,) = server.app.post_chat_message("42", users=[user])
        await server.app.webhooks.until_settled()
    outcomes = [a.outcome for a in server.app.webhooks.attempts if a.event_id == event_id]
    assert outcomes[0] == "timeout" and outcomes[-1] == "duplicate"
    assert [ev.id for ev in recorder.stored] == [event_id]


async def test_a_subscription_failing_for_long_is_blocked(server: FakeHH, anyio_backend: str) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server.app.webhooks.configure(DeliveryPolicy(time_scale=0.001, first_gap=10, block_after=200))
    auth, user = await login(server)
    async with ServedApp(broken, lifespan="off") as served, client(server, auth) as hh:
        sub = await ensure_subscription(hh, served.url, ["VACANCY_CHANGE"])
        (event_id,) = server.app.change_vacancy("100003", users=[user])
        await server.app.webhooks.until_settled()
        assert server.app.webhooks.subscriptions[str(sub.id)].blocked
        assert server.app.change_vacancy("100003", users=[user]) == []  # sending has stopped
    attempts = [a for a in server.app.webhooks.attempts if a.event_id == event_id]
    assert len(attempts) >= 4 and {a.outcome for a in attempts} == {"refused"}
    planned = [a.retry_in for a in attempts[:-1]]
    assert planned == [0.01 * 2**n for n in range(len(planned))]  # HH's growing gaps, scaled
    assert attempts[-1].retry_in is None  # blocked: no more
    waited = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert all(
        w >= (p or 0) * 0.9 for w, p in zip(waited, planned, strict=True)
    )  # (never early; late under load)
    assert (
        event_id in summary(server.app.webhooks)["blocked_subscriptions"]
        or event_id in server.app.webhooks.undelivered
    )


async def test_an_unknown_action_type_passes_through(server: FakeHH, anyio_backend: str) -> None:
    recorder = Recorder()
    auth, user = await login(server)
    async with (
        ServedApp(receiver(PersistStore(recorder, MemoryDedup()))) as served,
        client(server, auth) as hh,
    ):
        sub = await ensure_subscription(hh, served.url + "/hh/webhook", ["VACANCY_CHANGE"])
        actions = [{"type": "VACANCY_CHANGE"}, {"type": "RESUME_SOMETHING_NEW"}]
        server.app.webhooks.update(user, str(sub.id), None, actions)  # HH starts sending a new kind
        server.app.webhooks.emit(
            "RESUME_SOMETHING_NEW", {"resume_id": "r1", "deep": {"x": [1]}}, users=[user]
        )
        await server.app.webhooks.until_settled()
    (event,) = recorder.stored
    assert not event.known and event.payload == {"resume_id": "r1", "deep": {"x": [1]}}


async def test_fake_stops_cleanly_with_deliveries_in_flight(anyio_backend: str) -> None:
    """Stopping the server cancels the sender: the attempt in flight is dropped (the receiver sees its
    connection go), the server thread ends."""
    import threading

    reached, disconnected = threading.Event(), threading.Event()

    async def hangs(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

    with ServedApp(hangs, lifespan="off") as served:
        fake = FakeHH(vacancies=10).start()
        try:
            subscription = FakeSubscription("1", "u", served.url, [{"type": "VACANCY_CHANGE"}])
            fake.app.webhooks.subscriptions["1"] = subscription
            fake.app.change_vacancy("100001")
            assert await anyio.to_thread.run_sync(reached.wait, 10)
        finally:
            await anyio.to_thread.run_sync(fake.stop)  # raises if the server's thread did not end
        assert await anyio.to_thread.run_sync(disconnected.wait, 10)
        assert fake.app.webhooks.attempts == []  # never answered: not counted as an attempt made


async def test_the_test_api_drives_a_fake_in_another_process(server: FakeHH, anyio_backend: str) -> None:
    recorder = Recorder()
    auth, user = await login(server)
    async with (
        ServedApp(receiver(PersistStore(recorder, MemoryDedup()))) as served,
        client(server, auth) as hh,
        httpx.AsyncClient(base_url=server.url) as control,
    ):
        await ensure_subscription(hh, served.url + "/hh/webhook", ["VACANCY_CHANGE", "CHAT_MESSAGE_CREATED"])
        policy = await control.put(
            "/_fake/webhooks/policy", json={"duplicate_rate": 1.0, "time_scale": 0.001}
        )
        assert policy.status_code == 204
        made = await control.post(
            "/_fake/events", json={"kind": "vacancy_change", "count": 3, "users": [user]}
        )
        chat = await control.post(
            "/_fake/events", json={"kind": "chat_message", "chat_id": "5", "users": [user]}
        )
        await server.app.webhooks.until_settled()
        report = (await control.get("/_fake/webhooks")).json()
        bad = await control.put("/_fake/webhooks/policy", json={"fail_rate": 2})
        unknown = await control.post("/_fake/events", json={"kind": "meteor"})
    events = made.json()["events"] + chat.json()["events"]
    assert len(events) == 4 and sorted(e.id for e in recorder.stored) == sorted(events)
    assert report["attempts"]["duplicate"] >= 4 and report["pending"] == 0 and report["ack_p99"] < 2
    assert bad.status_code == 400 and "probability" in bad.json()["error"]
    assert unknown.status_code == 400


async def test_reconciliation_with_your_own_store(server: FakeHH, anyio_backend: str) -> None:
    """Without Redis, on either event loop: the endpoint and the reconciliation share one PersistStore."""
    recorder = Recorder()
    store = PersistStore(recorder, MemoryDedup())
    since = datetime.now(MSK) - timedelta(minutes=1)
    auth, user = await login(server)
    vacancy = f"v{uuid.uuid4().hex[:8]}"
    async with ServedApp(receiver(store)) as served, client(server, auth) as hh:
        await ensure_subscription(hh, served.url + "/hh/webhook", ["NEW_NEGOTIATION_VACANCY"])
        delivered, _ = server.app.add_negotiation(vacancy, users=[user])
        server.app.webhooks.configure(DeliveryPolicy(lose_rate=1.0, **FAST))  # type: ignore[arg-type]
        lost, _ = server.app.add_negotiation(vacancy, users=[user])
        await server.app.webhooks.until_settled()
        report = await reconcile_negotiations(hh, store, vacancy_ids=[vacancy, "no-responses"], since=since)
    assert report.recovered == [lost] and report.already == 1
    topics = [ev.payload.topic_id for ev in recorder.stored]  # type: ignore[union-attr]
    assert topics == [delivered, lost]
    assert recorder.stored[1].subscription_id == "reconciliation"


# --- with the Redis queue and workers (asyncio only: redis-py) ---------------------------------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    from redis.asyncio import BlockingConnectionPool, Redis

    client = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=32))
    yield client
    await client.aclose()


def redis_receiver(redis_url: str, name: str) -> Starlette:
    """The receiving app as a web app has it: its own Redis client, on its own event loop."""
    from redis.asyncio import BlockingConnectionPool, Redis

    redis = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=64))
    return receiver(RedisEventQueue(redis, name))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_thousand_events_with_duplicates_and_failures_are_each_handled_once(
    server: FakeHH, redis: Any, redis_url: str, anyio_backend: str
) -> None:
    name = f"q{uuid.uuid4().hex}"
    server.app.webhooks.configure(
        DeliveryPolicy(
            time_scale=0.0005,
            duplicate_rate=0.10,
            fail_rate=0.05,
            reorder_rate=0.2,
            reorder_window=60,
            seed=7,
        )
    )
    handled: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        handled[event.id] += 1

    auth, user = await login(server)
    worker = Worker(RedisEventQueue(redis, name), handle, concurrency=32, block=0.05)
    async with (
        ServedApp(redis_receiver(redis_url, name)) as served,
        client(server, auth) as hh,
        anyio.create_task_group() as group,
    ):
        await ensure_subscription(hh, served.url + "/hh/webhook", ["NEW_NEGOTIATION_VACANCY"])
        group.start_soon(worker.run)
        before = len(server.app.webhooks.attempts)
        made = [server.app.add_negotiation("100010", users=[user])[1][0] for _ in range(1000)]
        await server.app.webhooks.until_settled(120)
        with anyio.fail_after(60):
            while len(handled) < 1000:
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert handled == Counter({event_id: 1 for event_id in made})
    attempts = server.app.webhooks.attempts[before:]
    outcomes = Counter(a.outcome for a in attempts)
    # The faults happened: duplicates answered 409, attempts lost both ways, deliveries out of order.
    assert outcomes["duplicate"] > 50 and outcomes["lost"] > 5 and outcomes["answer_lost"] > 5
    firsts = [a.event_id for a in attempts if a.copy == 0 and a.number == 1]
    assert firsts != sorted(firsts, key=made.index)
    latencies = sorted(
        a.latency for a in attempts if a.latency is not None and a.outcome in ("accepted", "duplicate")
    )
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"\n1000 events, {len(attempts)} attempts {dict(outcomes)}")
    print(f"ack latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_reconciliation_finds_the_delivery_that_was_lost(
    server: FakeHH, redis: Any, redis_url: str, anyio_backend: str
) -> None:
    name = f"q{uuid.uuid4().hex}"
    queue = RedisEventQueue(redis, name)
    since = datetime.now(MSK) - timedelta(minutes=1)
    auth, user = await login(server)
    handled: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        handled[event.body["payload"]["topic_id"]] += 1

    async with ServedApp(redis_receiver(redis_url, name)) as served, client(server, auth) as hh:
        await ensure_subscription(hh, served.url + "/hh/webhook", ["NEW_NEGOTIATION_VACANCY"])
        topics = [server.app.add_negotiation("100020", users=[user])[0] for _ in range(5)]
        server.app.webhooks.configure(DeliveryPolicy(lose_rate=1.0, **FAST))  # type: ignore[arg-type]
        lost, _ = server.app.add_negotiation("100020", users=[user])
        server.app.webhooks.configure(DeliveryPolicy(**FAST))  # type: ignore[arg-type]
        topics += [server.app.add_negotiation("100020", users=[user])[0] for _ in range(4)]
        await server.app.webhooks.until_settled()

        report = await reconcile_negotiations(hh, queue, vacancy_ids=["100020"], since=since, per_page=3)
        assert report.recovered == [lost] and report.already == 9 and report.seen == 10
        again = await reconcile_negotiations(hh, queue, vacancy_ids=["100020"], since=since)
        assert again.recovered == [] and again.already == 10

        worker = Worker(queue, handle, block=0.05)
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            with anyio.fail_after(20):
                while len(handled) < 10:
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()
    assert handled == Counter({topic: 1 for topic in [*topics, lost]})
