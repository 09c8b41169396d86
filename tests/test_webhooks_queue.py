"""The Redis stream queue and its workers, on a real redis-server: each event handled exactly once across
duplicates, a worker killed mid-run (SIGKILL, in a process of its own), retries and dead letters; and the
endpoint's answer never waits for a handler. asyncio only: redis-py's asyncio client does not run on trio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from hh_async.webhooks import RedisEventQueue, WebhookEndpoint, WebhookEvent, Worker, parse_event

from .conftest import ROOT
from .test_webhooks_events import callback

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    from redis.asyncio import BlockingConnectionPool, Redis

    # A pool that waits for a free connection rather than failing: what a busy endpoint needs too.
    client = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=32))
    yield client
    await client.aclose()


def negotiation(i: int) -> WebhookEvent:
    return parse_event(
        callback(
            f"e-{i}",
            topic_id=f"t-{i}",
            chat_id="1",
            resume_id="r",
            vacancy_id="1",
            employer_id="1",
            negotiation_date="2026-11-26T10:00:00+0300",
        )
    )


async def until(condition: Any, timeout: float = 20.0) -> None:
    """Wait for a condition (polled), failing the test after ``timeout``."""
    with anyio.fail_after(timeout):
        while not await condition():
            await anyio.sleep(0.01)


async def test_put_stores_each_event_once_however_many_deliveries_race(redis: Any) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    results: list[bool] = []

    async def deliver(event: WebhookEvent) -> None:
        results.append(await queue.put(event))

    async with anyio.create_task_group() as group:
        for i in range(300):
            for _copy in range(1 + i % 3):  # up to three deliveries of the same event at once
                group.start_soon(deliver, negotiation(i))
    assert results.count(True) == 300
    assert await queue.backlog() == 300
    assert await queue.seen("NEW_NEGOTIATION_VACANCY:t-7")


WORKER_SCRIPT = """
import asyncio, sys
from redis.asyncio import Redis
from hh_async.webhooks import RedisEventQueue, Worker

async def main(url, name, held):
    redis = Redis.from_url(url)
    queue = RedisEventQueue(redis, name)

    async def handle(event):
        if event.id in held:
            await redis.sadd(name + ":started", event.id)
            await asyncio.sleep(3600)  # killed in here
        await redis.hincrby(name + ":handled", event.id, 1)

    await Worker(queue, handle, consumer="doomed", concurrency=8, claim_idle=0.5, block=0.1).run()

asyncio.run(main(sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))))
"""


async def test_each_event_is_handled_once_though_a_worker_is_killed_mid_run(
    redis: Any, redis_url: str
) -> None:
    name = f"q{uuid.uuid4().hex}"
    queue = RedisEventQueue(redis, name)
    held = {f"e-{i}" for i in range(5)}
    for i in range(100):
        await queue.put(negotiation(i))
        await queue.put(negotiation(i))  # HH's duplicate: not stored again
    doomed = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, redis_url, name, ",".join(sorted(held))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        async def doomed_is_mid_run() -> bool:
            return bool(
                await redis.hlen(name + ":handled") == 95 and await redis.scard(name + ":started") == 5
            )

        await until(doomed_is_mid_run, timeout=60)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()

    async def handle(event: WebhookEvent) -> None:
        await redis.hincrby(name + ":handled", event.id, 1)

    survivor = Worker(queue, handle, consumer="survivor", claim_idle=0.5, block=0.1)
    async with anyio.create_task_group() as group:
        group.start_soon(survivor.run)

        async def all_handled() -> bool:
            return bool(await redis.hlen(name + ":handled") == 100)

        await until(all_handled)
        group.cancel_scope.cancel()
    counts = {k.decode(): int(v) for k, v in (await redis.hgetall(name + ":handled")).items()}
    assert counts == {f"e-{i}": 1 for i in range(100)}
    assert survivor.stats.taken_over == 5  # what the killed worker held, and nothing else
    assert await queue.backlog() == 0


async def test_a_restarted_consumer_takes_back_what_it_held(redis: Any) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    for i in range(10):
        await queue.put(negotiation(i))
    finished: Counter[str] = Counter()
    started: set[str] = set()

    async def stuck(event: WebhookEvent) -> None:
        started.add(event.id)
        await anyio.sleep_forever()

    async def handle(event: WebhookEvent) -> None:
        finished[event.id] += 1

    first = Worker(queue, stuck, consumer="web-1", concurrency=4, block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(first.run)
        await until(lambda: _true(len(started) == 4))
        group.cancel_scope.cancel()  # a deploy stops it mid-handling
    again = Worker(queue, handle, consumer="web-1", block=0.05)  # claim_idle left at a minute
    async with anyio.create_task_group() as group:
        group.start_soon(again.run)
        await until(lambda: _true(sum(finished.values()) == 10))
        group.cancel_scope.cancel()
    assert finished == Counter({f"e-{i}": 1 for i in range(10)})
    assert again.stats.taken_over == 0


async def _record(counter: Counter[str], event: WebhookEvent) -> None:
    counter[event.id] += 1


async def _true(value: bool) -> bool:
    return value


async def test_failures_are_retried_then_dead_lettered(redis: Any) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    for i in range(20):
        await queue.put(negotiation(i))
    calls: Counter[str] = Counter()
    finished: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        calls[event.id] += 1
        if event.id == "e-3":
            raise RuntimeError("the CRM rejects it")
        if event.id == "e-4" and calls[event.id] < 3:
            raise ConnectionError("the CRM is restarting")
        finished[event.id] += 1

    worker = Worker(queue, handle, max_attempts=3, backoff=0.001, block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await until(lambda: _true(worker.stats.handled == 19 and worker.stats.dead == 1))
        group.cancel_scope.cancel()
    assert finished == Counter({f"e-{i}": 1 for i in range(20) if i != 3})
    assert calls["e-3"] == 3 and calls["e-4"] == 3
    dead = await queue.dead_letters()
    assert [(parse_event(d.event).id, d.attempts) for d in dead] == [("e-3", 3)]
    assert "the CRM rejects it" in dead[0].error
    assert await queue.backlog() == 0

    assert await queue.replay(dead[0].entry_id)
    assert not await queue.replay(dead[0].entry_id)  # once
    fixed = Worker(queue, lambda event: _record(finished, event), block=0.05)  # the handler, fixed
    async with anyio.create_task_group() as group:
        group.start_soon(fixed.run)
        await until(lambda: _true(finished["e-3"] == 1))
        group.cancel_scope.cancel()
    assert await queue.dead_letters() == [] and await queue.backlog() == 0


async def test_the_answer_does_not_wait_for_a_ten_second_handler(redis: Any) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    started: list[str] = []
    finished: list[str] = []

    async def slow(event: WebhookEvent) -> None:
        started.append(event.id)
        await anyio.sleep(10)
        finished.append(event.id)

    endpoint = WebhookEndpoint(queue)
    worker = Worker(queue, slow, block=0.05)
    transport = httpx.ASGITransport(app=endpoint)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://app") as http,
        anyio.create_task_group() as group,
    ):
        group.start_soon(worker.run)
        first = await http.post("/hook", content=negotiation(1).to_json())
        assert first.status_code == 200
        await until(lambda: _true(started == ["e-1"]))
        # The first handler is mid-way through its 10 s: the next delivery is answered all the same.
        second = await http.post("/hook", content=negotiation(2).to_json())
        assert second.status_code == 200 and finished == []
        await until(lambda: _true(started == ["e-1", "e-2"]))
        assert finished == []
        group.cancel_scope.cancel()


async def test_bad_names_and_settings_are_refused(redis: Any) -> None:
    with pytest.raises(ValueError, match="queue name"):
        RedisEventQueue(redis, "a:b")
    with pytest.raises(ValueError):
        Worker(RedisEventQueue(redis), lambda e: anyio.sleep(0), concurrency=0)


async def test_an_event_whose_handling_keeps_being_interrupted_is_buried(redis: Any) -> None:
    """A handler that kills its worker (out of memory, say) must not take every worker down in turn."""
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    await queue.ensure_group()
    await queue.put(negotiation(1))
    assert len(await queue.read("crashed-1", 10, block=None)) == 1
    for n in range(2, 5):  # three more workers took it over and died with it
        assert len(await queue.take_over(f"crashed-{n}", 0, 10)) == 1
    called: list[str] = []

    async def handle(event: WebhookEvent) -> None:
        called.append(event.id)

    worker = Worker(queue, handle, claim_idle=0.05, block=0.05, max_deliveries=3)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await until(lambda: _true(worker.stats.dead == 1))
        group.cancel_scope.cancel()
    assert called == []
    (dead,) = await queue.dead_letters()
    assert "interrupted 4 times" in dead.error


async def test_a_worker_rides_out_a_redis_outage(redis: Any) -> None:
    from redis.exceptions import ConnectionError as RedisDown

    class Flaky(RedisEventQueue):
        outages = 3

        async def read(self, *args: Any, **kwargs: Any) -> Any:
            if self.outages and not kwargs.get("own"):
                self.outages -= 1
                raise RedisDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return await super().read(*args, **kwargs)

    queue = Flaky(redis, f"q{uuid.uuid4().hex}")
    for i in range(5):
        await queue.put(negotiation(i))
    finished: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        finished[event.id] += 1

    worker = Worker(queue, handle, block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await until(lambda: _true(sum(finished.values()) == 5))
        group.cancel_scope.cancel()
    assert queue.outages == 0 and finished == Counter({f"e-{i}": 1 for i in range(5)})


async def test_cancelled_at_random_points_each_event_still_finishes_once(redis: Any) -> None:
    """Deploys stop workers anywhere: in a handler, between the handler and its acknowledgement, in a
    read. A handler that finished is acknowledged (shielded); one that did not runs again later."""
    import random

    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    for i in range(60):
        await queue.put(negotiation(i))
    finished: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        finished[event.id] += 1

    rng = random.Random(5)
    for _round in range(15):
        worker = Worker(queue, handle, consumer="deployed", concurrency=4, block=0.01)
        with anyio.move_on_after(rng.uniform(0.0, 0.03)):
            await worker.run()
    last = Worker(queue, handle, consumer="deployed", block=0.01)
    async with anyio.create_task_group() as group:
        group.start_soon(last.run)
        await until(lambda: _true(len(finished) == 60))
        await until(lambda: _backlog_empty(queue))
        group.cancel_scope.cancel()
    assert finished == Counter({f"e-{i}": 1 for i in range(60)})


async def _backlog_empty(queue: RedisEventQueue) -> bool:
    return await queue.backlog() == 0


async def test_a_finished_handler_is_acknowledged_though_the_worker_is_cancelled_right_then(
    redis: Any,
) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    await queue.put(negotiation(1))
    finished: Counter[str] = Counter()
    scope = anyio.CancelScope()

    async def handle(event: WebhookEvent) -> None:
        finished[event.id] += 1
        scope.cancel()  # the deploy's stop lands as the handler returns, before the acknowledgement

    with scope:
        await Worker(queue, handle, consumer="w", block=0.01).run()
    assert await queue.backlog() == 0  # acknowledged: nobody will run it again
    again = Worker(queue, handle, consumer="w", block=0.01)
    with anyio.move_on_after(0.3):
        await again.run()
    assert finished == Counter({"e-1": 1})


async def test_a_worker_makes_its_group_again_when_redis_comes_back_empty(redis: Any) -> None:
    """Redis restarted without its data (no persistence, a flush, an evicted key): the stream and its
    consumer group are gone. Events accepted after that are still handled."""
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    finished: Counter[str] = Counter()
    worker = Worker(queue, lambda event: _record(finished, event), block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await queue.put(negotiation(1))
        await until(lambda: _true(finished["e-1"] == 1))
        await redis.delete(queue.stream)  # what a restart without persistence leaves: nothing
        for i in range(2, 6):
            await queue.put(negotiation(i))
        await until(lambda: _true(sum(finished.values()) == 5))
        group.cancel_scope.cancel()
    assert finished == Counter({f"e-{i}": 1 for i in range(1, 6)})


async def test_a_worker_started_while_redis_is_down_waits_for_it(caplog: pytest.LogCaptureFixture) -> None:
    from redis.asyncio import Redis

    from hh_async.testing.served import free_port

    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    worker = Worker(RedisEventQueue(down, "nowhere"), lambda event: anyio.lowlevel.checkpoint(), block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)  # would raise ConnectionError at once, taking the app down with it
        await until(lambda: _true(caplog.text.count("cannot read the queue") >= 2))
        group.cancel_scope.cancel()
    assert "Connection" in caplog.text  # the cause is said, not only its type
    await down.aclose()


async def test_a_handler_that_lets_out_a_cancelled_error_fails_and_the_worker_goes_on(redis: Any) -> None:
    """A handler awaiting a future cancelled elsewhere raises CancelledError without anyone cancelling
    the worker: that is the handler failing, not the worker stopping (it used to return, silently)."""
    import asyncio

    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    for i in range(3):
        await queue.put(negotiation(i))
    finished: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        if event.id == "e-1":
            cancelled = asyncio.get_running_loop().create_future()
            cancelled.cancel()
            await cancelled
        finished[event.id] += 1

    worker = Worker(queue, handle, max_attempts=2, backoff=0.001, block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await until(lambda: _true(worker.stats.handled == 2 and worker.stats.dead == 1))
        await queue.put(negotiation(9))  # the worker still runs
        await until(lambda: _true(finished["e-9"] == 1))
        group.cancel_scope.cancel()
    (dead,) = await queue.dead_letters()
    assert parse_event(dead.event).id == "e-1" and "CancelledError" in dead.error


async def test_a_handler_past_its_timeout_is_a_failed_attempt(redis: Any) -> None:
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    await queue.put(negotiation(1))
    calls: Counter[str] = Counter()

    async def handle(event: WebhookEvent) -> None:
        calls[event.id] += 1
        if calls[event.id] == 1:
            await anyio.sleep_forever()  # hangs: without a timeout it would hold the event for good

    worker = Worker(queue, handle, handler_timeout=0.2, backoff=0.001, block=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await until(lambda: _true(worker.stats.handled == 1))
        group.cancel_scope.cancel()
    assert calls["e-1"] == 2 and worker.stats.retried == 1 and await queue.backlog() == 0
    with pytest.raises(ValueError, match="handler_timeout"):
        Worker(queue, handle, handler_timeout=0)


async def test_take_over_reaches_idle_entries_behind_many_busy_ones(redis: Any) -> None:
    """A live worker holds 25 events (kept busy); a dead one left 3 newer ones idle. Redis looks at about
    ten pending entries per XAUTOCLAIM with COUNT 1: each take-over must go on where the last stopped."""
    queue = RedisEventQueue(redis, f"q{uuid.uuid4().hex}")
    await queue.ensure_group()
    for i in range(28):
        await queue.put(negotiation(i))
    assert len(await queue.read("busy", 25, block=None)) == 25
    orphans = await queue.read("dead", 3, block=None)
    ids: list[Any] = [entry.entry_id for entry in orphans]
    await redis.xclaim(queue.stream, queue.GROUP, "dead", 0, ids, idle=600_000, justid=True)  # long idle
    taken: list[str] = []
    for _ in range(8):
        taken += [entry.entry_id for entry in await queue.take_over("rescuer", 60.0, 1)]
    assert sorted(taken) == sorted(ids)
