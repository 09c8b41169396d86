"""The webhook endpoint without HH: parsing, dedup (memory and a real Redis), storing before answering."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from hh_async.webhooks import (
    MalformedEvent,
    MemoryDedup,
    PersistStore,
    RedisDedup,
    WebhookEndpoint,
    WebhookEvent,
    parse_event,
)
from hh_async.webhooks.events import PAYLOADS

pytestmark = pytest.mark.anyio


def callback(event_id: str = "e-1", action: str = "NEW_NEGOTIATION_VACANCY", **payload: Any) -> bytes:
    body = {
        "id": event_id,
        "subscription_id": "22",
        "action_type": action,
        "user_id": "0",
        "payload": payload
        or {
            "chat_id": "9",
            "topic_id": "777",
            "resume_id": "r1",
            "vacancy_id": "100001",
            "employer_id": "1455",
            "negotiation_date": "2026-11-26T10:00:00+0300",
        },
    }
    return json.dumps(body).encode()


def test_a_known_action_gets_its_own_payload_model() -> None:
    event = parse_event(callback())
    assert type(event.payload).__name__ == "WebhookPayloadNewNegotiationVacancy"
    assert event.payload.topic_id == "777"  # type: ignore[union-attr]
    change = parse_event(
        callback(action="VACANCY_CHANGE", vacancy_id="5", change_date="2026-11-26T10:00:00+0300")
    )
    assert type(change.payload).__name__ == "WebhookPayloadVacancyChange"
    assert event.known and len(PAYLOADS) == 8


def test_an_unknown_action_is_kept_whole_not_rejected() -> None:
    event = parse_event(callback(action="RESUME_SHOWN", resume_id="r9", extra={"deep": [1, 2]}))
    assert not event.known
    assert event.payload == {"resume_id": "r9", "extra": {"deep": [1, 2]}}
    assert parse_event(event.to_json()).body == event.body  # stored and read back losslessly


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (json.dumps({"subscription_id": "1", "action_type": "X", "payload": {}}).encode(), "'id' is missing"),
        (json.dumps({"id": "", "subscription_id": "1", "action_type": "X", "payload": {}}).encode(), "'id'"),
        (
            json.dumps({"id": "1", "subscription_id": "1", "action_type": "X", "payload": [1]}).encode(),
            "payload",
        ),
        (
            json.dumps({"id": "1", "subscription_id": 5, "action_type": "X", "payload": {}}).encode(),
            "subscription",
        ),
    ],
)
def test_a_malformed_body_says_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(body)


def test_events_naming_their_subject_share_a_key_with_the_same_fact_found_elsewhere() -> None:
    delivered = parse_event(callback("hh-1"))
    reconciled = parse_event(callback("other-id"))
    assert set(delivered.keys) & set(reconciled.keys) == {"NEW_NEGOTIATION_VACANCY:777"}
    change = parse_event(callback("hh-2", action="VACANCY_CHANGE", vacancy_id="5", change_date="x"))
    assert change.keys == ("id:hh-2",)


class Recorder:
    """A user's persist callback: keeps what it got; fails while ``failing`` holds ids."""

    def __init__(self) -> None:
        self.stored: list[WebhookEvent] = []
        self.failing: set[str] = set()
        self.gate: anyio.Event | None = None
        self.entered = anyio.Event()

    async def __call__(self, event: WebhookEvent) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if event.id in self.failing:
            raise ConnectionError("database at postgres://user:s3cret@db/app is down")
        self.stored.append(event)


def endpoint_client(endpoint: WebhookEndpoint) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint), base_url="http://app")


async def test_endpoint_answers_200_then_409_to_a_duplicate(anyio_backend: str) -> None:
    recorder = Recorder()
    endpoint = WebhookEndpoint(PersistStore(recorder, MemoryDedup()))
    async with endpoint_client(endpoint) as http:
        first = await http.post("/hook", content=callback("e-1"))
        again = await http.post("/hook", content=callback("e-1"))
        same_topic = await http.post("/hook", content=callback("e-2"))
        bad = await http.post("/hook", content=b'{"id": 1}')
        wrong_method = await http.get("/hook")
    assert (first.status_code, again.status_code, same_topic.status_code) == (200, 409, 409)
    assert bad.status_code == 400 and "'id'" in bad.json()["reason"]
    assert wrong_method.status_code == 405
    assert [e.id for e in recorder.stored] == ["e-1"]


async def test_an_event_not_stored_is_not_acknowledged_nor_seen(anyio_backend: str, caplog: Any) -> None:
    recorder = Recorder()
    recorder.failing.add("e-1")
    endpoint = WebhookEndpoint(PersistStore(recorder, MemoryDedup()))
    async with endpoint_client(endpoint) as http:
        failed = await http.post("/hook", content=callback("e-1"))
        recorder.failing.clear()
        retried = await http.post("/hook", content=callback("e-1"))  # HH's retry
    assert failed.status_code == 503 and retried.status_code == 200
    assert [e.id for e in recorder.stored] == ["e-1"]
    assert "s3cret" not in failed.text and "s3cret" not in caplog.text


async def test_a_cancelled_request_still_finishes_storing(anyio_backend: str) -> None:
    """A web server's timeout or a client gone mid-store: the store finishes, so the event is either
    stored and seen (HH's retry gets 409) or neither; never seen but lost."""
    recorder = Recorder()
    recorder.gate = anyio.Event()
    endpoint = WebhookEndpoint(PersistStore(recorder, MemoryDedup()))
    async with anyio.create_task_group() as group:
        group.start_soon(endpoint.accept, callback("e-1"))
        await recorder.entered.wait()
        group.cancel_scope.cancel()
        recorder.gate.set()
    assert [e.id for e in recorder.stored] == ["e-1"]
    recorder.gate = None
    assert (await endpoint.accept(callback("e-1"))).status == 409


async def test_too_big_a_body_is_refused(anyio_backend: str) -> None:
    endpoint = WebhookEndpoint(PersistStore(Recorder(), MemoryDedup()), max_body=100)
    async with endpoint_client(endpoint) as http:
        answer = await http.post("/hook", content=b" " * 101)
    assert answer.status_code == 413


async def test_memory_dedup_forgets_after_ttl_and_past_its_bound(anyio_backend: str) -> None:
    now = [0.0]
    dedup = MemoryDedup(ttl=10, max_keys=3, clock=lambda: now[0])
    assert await dedup.claim(["a", "b"])
    assert not await dedup.claim(["c", "a"])  # all or nothing: "c" not taken
    assert await dedup.claim(["c"])
    now[0] = 11
    assert await dedup.claim(["a"])  # expired
    for key in "defg":
        assert await dedup.claim([key])
    assert len(dedup) == 3


def test_dedup_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        MemoryDedup(ttl=0)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis-py's asyncio client
async def test_redis_dedup_claims_all_keys_or_none(anyio_backend: str, redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        dedup = RedisDedup(redis, prefix="test:dedup:{t1}:", ttl=60)
        await redis.delete(*[f"test:dedup:{{t1}}:{k}" for k in "abc"])
        assert await dedup.claim(["a", "b"])
        assert not await dedup.claim(["c", "b"])
        assert not await redis.exists("test:dedup:{t1}:c")
        assert 0 < await redis.ttl("test:dedup:{t1}:a") <= 60
        await dedup.release(["a", "b"])
        assert await dedup.claim(["b"])
        results = []

        async def racer() -> None:
            results.append(await dedup.claim(["race"]))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(racer)
        assert results.count(True) == 1
    finally:
        await redis.aclose()


async def test_starlette_and_fastapi_routes_answer_like_the_endpoint(anyio_backend: str) -> None:
    from fastapi import FastAPI
    from starlette.applications import Starlette

    from hh_async.webhooks.fastapi import webhook_router
    from hh_async.webhooks.starlette import webhook_route

    recorder = Recorder()
    endpoint = WebhookEndpoint(PersistStore(recorder, MemoryDedup()))
    starlette_app = Starlette(routes=[webhook_route("/hh/webhook", endpoint)])
    fastapi_app = FastAPI()
    fastapi_app.include_router(webhook_router("/hh/webhook", endpoint))
    for app, event_id in ((starlette_app, "s-1"), (fastapi_app, "f-1")):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            first = await http.post(
                "/hh/webhook", content=callback(event_id, action="VACANCY_CHANGE", vacancy_id="1")
            )
            again = await http.post(
                "/hh/webhook", content=callback(event_id, action="VACANCY_CHANGE", vacancy_id="1")
            )
            bad = await http.post("/hh/webhook", content=b"nope")

            async def chunks() -> Any:  # no content-length: the adapter must stop reading by itself
                for _ in range(100):
                    yield b" " * 1024

            huge = await http.post("/hh/webhook", content=chunks())
        assert (first.status_code, again.status_code, bad.status_code) == (200, 409, 400)
        assert huge.status_code == 413
    assert "/hh/webhook" not in json.dumps(fastapi_app.openapi())
    assert [e.id for e in recorder.stored] == ["s-1", "f-1"]


async def test_a_store_slower_than_its_budget_is_not_acknowledged_nor_seen(anyio_backend: str) -> None:
    """HH gives up after 2 s: a persist still running at ``timeout`` is abandoned and rolled back (503),
    so HH's retry is accepted rather than answered 409 for an event never stored."""
    recorder = Recorder()
    recorder.gate = anyio.Event()  # the database hangs
    seen: list[tuple[int, float]] = []
    endpoint = WebhookEndpoint(
        PersistStore(recorder, MemoryDedup(), timeout=0.05), observe=lambda r, s: seen.append((r.status, s))
    )
    assert (await endpoint.accept(callback("e-1"))).status == 503
    recorder.gate = None
    assert (await endpoint.accept(callback("e-1"))).status == 200
    assert [status for status, _ in seen] == [503, 200] and all(s >= 0 for _, s in seen)
    assert [e.id for e in recorder.stored] == ["e-1"]


def test_json_nested_past_pythons_limit_is_malformed_not_a_crash() -> None:
    """Under the size limit but nested deeper than Python parses: a 400 for the sender, not a 500."""
    with pytest.raises(MalformedEvent, match="nested too deep"):
        parse_event(b"[" * 50_000 + b"]" * 50_000)


def test_a_lone_surrogate_in_a_field_is_stored_and_read_back_as_sent() -> None:
    """``"\\ud800"`` is valid JSON though not text: storing it must not fail (HH would retry for ever)."""
    sent = json.loads(callback())
    sent["payload"]["chat_id"] = "\ud800 9"
    event = parse_event(json.dumps(sent).encode())
    stored = event.to_json()
    assert parse_event(stored).body == event.body == sent


@pytest.mark.parametrize("delivered_as", ["NEW_NEGOTIATION_VACANCY", "NEW_RESPONSE_OR_INVITATION_VACANCY"])
async def test_a_reconciled_response_is_a_duplicate_of_either_callback_delivered(
    anyio_backend: str, delivered_as: str
) -> None:
    """Reconciliation makes up a NEW_NEGOTIATION_VACANCY; a subscriber to NEW_RESPONSE_OR_INVITATION_VACANCY
    whose webhook came already must not get the same response a second time."""
    from hh_async.webhooks.reconcile import negotiation_event

    stored: list[WebhookEvent] = []

    async def persist(event: WebhookEvent) -> None:
        stored.append(event)

    store = PersistStore(persist, MemoryDedup())
    assert await store.put(parse_event(callback("e-1", delivered_as)))  # its payload's topic_id: 777
    made_up = negotiation_event({"id": "777", "created_at": "2026-11-27T10:00:00+0300"}, "100001")
    assert not await store.put(made_up)
    assert await store.put(
        negotiation_event({"id": "778", "created_at": "2026-11-27T10:01:00+0300"}, "100001")
    )
    assert [event.id for event in stored] == ["e-1", "reconciled-778"]
