"""One rate and one in-flight cap shared through a real Redis (``RedisThrottle``): processes together stay
under the fake's 10 req/s, a 429 slows all of them, a dead process's places come back after their lease,
and a cancelled request keeps nothing. asyncio only (redis-py); the trio test checks the message."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable

import anyio
import pytest
import redis.asyncio as aioredis

from hh_async import HHClient
from hh_async.redis_support import RedisUnavailableError
from hh_async.redis_throttle import RedisThrottle
from hh_async.retry import RetryPolicy
from hh_async.testing import FakeHH, Faults

from .conftest import ROOT
from .processes import run_together
from .test_redis_tokens import socket_that_refuses
from .test_user_views import recorded

UA = "Tests/1.0 (dev@example.com)"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def key() -> str:
    return f"test:throttle:{uuid.uuid4().hex}"


PROCESSES, TASKS, ANSWERS, RATE = 4, 50, 30, 8.0
"""Each process runs TASKS concurrent requests and stops (cancelling the rest) after ANSWERS answers:
all 200 tasks contend for the shared throttle, and the run stays near 15 s at 8 req/s."""

SEARCH_IN_A_PROCESS = """
import sys, anyio, redis.asyncio as aioredis
from hh_async import HHClient, RetryPolicy
from hh_async.redis_throttle import RedisThrottle
redis_url, fake_url, key = sys.argv[1:4]
tasks, answers, rate = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
async def main():
    redis = aioredis.Redis.from_url(redis_url)
    throttle = RedisThrottle(redis, key=key, rate=rate, concurrency=20)
    statuses = []
    async with HHClient(user_agent="t/1 (t@example.com)", base_url=fake_url, throttle=throttle,
                        retry=RetryPolicy(max_attempts=1)) as hh:  # a 429 shows, it is not retried away
        print("ready", flush=True)
        sys.stdin.readline()  # every process starts at once
        async with anyio.create_task_group() as group:
            async def one():
                raw = await hh.with_raw_response.request("GET", "/vacancies", params={"per_page": 1})
                statuses.append(raw.status_code)
                if len(statuses) >= answers:
                    group.cancel_scope.cancel()  # the tasks still waiting give their places back
            for _ in range(tasks):
                group.start_soon(one)
    await redis.aclose()
    print(" ".join(map(str, statuses)), flush=True)
anyio.run(main, backend="asyncio")
"""


@pytest.mark.asyncio
async def test_4_processes_x_50_tasks_share_8_req_s_and_hh_never_answers_429(
    redis_url: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake answers 429 past 10 requests in any second, as HH does per IP; the processes together
    must stay under it, and the overall rate is printed."""
    server = FakeHH(vacancies=10, faults=Faults(rps_limit=10))
    recorder = recorded(server)
    settings = [str(TASKS), str(ANSWERS), str(RATE)]
    async with server:
        ran = await run_together(
            SEARCH_IN_A_PROCESS, [redis_url, server.url, key, *settings], PROCESSES, ENV, timeout=120
        )
    assert [code for code, _ in ran] == [0] * PROCESSES
    answered = [[int(s) for s in out.split()] for _, out in ran]
    assert all(len(statuses) >= ANSWERS for statuses in answered)
    assert server.faults.injected["429"] == 0
    assert {s for statuses in answered for s in statuses} == {200}
    throttle = RedisThrottle(aioredis.Redis.from_url(redis_url), key=key)
    assert await throttle.in_flight() == 0  # cancelled waiters and finished requests hold nothing
    await throttle.redis.aclose()
    times = recorder.times
    overall = (len(times) - 1) / (times[-1] - times[0])
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    with capsys.disabled():
        print(
            f"\n{PROCESSES} processes x {TASKS} tasks through one RedisThrottle at {RATE} req/s: "
            f"{len(times)} requests, overall {overall:.2f} req/s, at most {busiest} in any second, "
            f"0 answers 429"
        )
    assert overall <= RATE * 1.05  # a loaded machine can only make it slower
    assert busiest <= 10


@pytest.mark.asyncio
async def test_the_cap_holds_across_processes(redis_url: str, key: str) -> None:
    """Two throttles (as in two processes) over one key and a cap of 3: the fourth place waits for a
    release in the other one."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    first, second = (RedisThrottle(c, key=key, rate=None, concurrency=3, poll=0.005) for c in clients)
    try:
        for borrower in range(3):
            await first.acquire(borrower)
        assert await second.in_flight() == 3
        got = anyio.Event()

        async def fourth() -> None:
            await second.acquire("fourth")
            got.set()

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(fourth)
                for _ in range(10):  # it keeps asking Redis, and keeps being told no
                    await anyio.sleep(0.01)
                    assert not got.is_set()
                await first.release(1, 200)
                await got.wait()
        assert await first.in_flight() == 3
        await first.release(0, 200)
        await first.release(2, 200)
        await second.release("fourth", 200)
        assert await first.in_flight() == 0
    finally:
        for c in clients:
            await c.aclose()


@pytest.mark.asyncio
async def test_a_429_in_one_process_slows_them_all_and_calm_answers_restore_the_rate(
    redis_url: str, key: str
) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    one, other = (RedisThrottle(c, key=key, rate=100, concurrency=5, sleep=_no_sleep) for c in clients)
    try:
        await one.acquire("a")
        await one.release("a", 429)
        assert one.rate == 50
        await other.acquire("b")  # learns the shared rate from Redis
        assert other.rate == 50
        await other.release("b", 429)
        assert other.rate == 25
        for n in range(15):
            await one.acquire(n)
            await one.release(n, 200)
        assert one.rate == 100  # +5 per calm answer, capped at the configured rate
        await other.acquire("c")
        await other.release("c", None)  # no answer (a connection error): no change
        assert other.rate == 100
    finally:
        for c in clients:
            await c.aclose()


async def _no_sleep(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


HOLD_PLACES = """
import sys, anyio, redis.asyncio as aioredis
from hh_async.redis_throttle import RedisThrottle
async def main():
    redis = aioredis.Redis.from_url(sys.argv[1])
    throttle = RedisThrottle(redis, key=sys.argv[2], rate=None, concurrency=2, lease=float(sys.argv[3]))
    await throttle.acquire("one")
    await throttle.acquire("two")
    print("held", flush=True)
    await anyio.sleep_forever()
anyio.run(main, backend="asyncio")
"""


@pytest.mark.asyncio
async def test_places_held_by_a_killed_process_come_back_after_their_lease(
    redis: aioredis.Redis, redis_url: str, key: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PLACES, redis_url, key, "1.5"], stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert holder.stdout is not None
        assert await anyio.to_thread.run_sync(holder.stdout.readline) == "held\n"
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding both places
        holder.wait()
    throttle = RedisThrottle(redis, key=key, rate=None, concurrency=2, poll=0.01)
    assert await throttle.in_flight() == 2
    with anyio.fail_after(20):
        await throttle.acquire("mine")
    assert await throttle.in_flight() == 1
    await throttle.release("mine", 200)


async def waiting(throttle: RedisThrottle, borrower: str, scope: anyio.CancelScope) -> None:
    with scope:
        await throttle.acquire(borrower)


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll a condition (not a clock): bounded, so a broken throttle fails instead of hanging."""
    with anyio.fail_after(20):
        while not await condition():
            await anyio.sleep(0.005)


@pytest.mark.asyncio
async def test_a_request_cancelled_before_its_turn_gives_back_its_place_and_slot(
    redis: aioredis.Redis, key: str
) -> None:
    throttle = RedisThrottle(redis, key=key, rate=0.5, concurrency=5)
    await throttle.acquire("first")  # starts at once; the next slot is 2 s later
    next_slot = await redis.hget(f"{key}:pace", "next")
    async with anyio.create_task_group() as group:
        second = anyio.CancelScope()
        group.start_soon(waiting, throttle, "second", second)  # reserves the slot after, waits for it
        await until(lambda: _holding(throttle, 2))
        second.cancel()
    assert await throttle.in_flight() == 1
    assert await redis.hget(f"{key}:pace", "next") == next_slot  # its slot is free for the next caller
    await throttle.release("first", 200)
    assert await throttle.in_flight() == 0


async def _holding(throttle: RedisThrottle, places: int) -> bool:
    return await throttle.in_flight() >= places


@pytest.mark.asyncio
async def test_the_turn_of_a_waiter_cancelled_mid_queue_goes_to_the_next_caller(
    redis: aioredis.Redis, key: str
) -> None:
    """Waiters cancelled before their turn leave no hole in the schedule: the next caller takes it."""
    throttle = RedisThrottle(redis, key=key, rate=0.5, concurrency=5)
    free = f"{key}:free"
    await throttle.acquire("first")  # now; the slots after it are 2 s apart
    async with anyio.create_task_group() as group:
        second, fourth = anyio.CancelScope(), anyio.CancelScope()
        group.start_soon(waiting, throttle, "second", second)  # takes the slot at +2 s
        await until(lambda: _holding(throttle, 2))
        group.start_soon(waiting, throttle, "third", anyio.CancelScope())  # takes the slot at +4 s
        await until(lambda: _holding(throttle, 3))
        last = await redis.hget(f"{key}:pace", "next")
        second.cancel()  # gives up before its turn: +2 s is free again
        await until(lambda: _count(redis, free, 1))
        group.start_soon(waiting, throttle, "fourth", fourth)  # takes +2 s, not +6 s
        await until(lambda: _count(redis, free, 0))
        assert await redis.hget(f"{key}:pace", "next") == last
        group.cancel_scope.cancel()
    await throttle.release("first", 200)
    assert await throttle.in_flight() == 0


async def _count(redis: aioredis.Redis, name: str, expected: int) -> bool:
    return bool(await redis.zcard(name) == expected)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", range(3))
async def test_requests_cancelled_at_random_points_leave_no_place_held(
    redis: aioredis.Redis, key: str, seed: int
) -> None:
    """Requests through an HHClient over a RedisThrottle, cancelled natively or by an anyio scope
    anywhere (waiting for a place, for a turn, for HH, releasing): afterwards no place is held in Redis
    and the next request goes through."""
    rng = random.Random(seed)
    throttle = RedisThrottle(redis, key=key, rate=200, concurrency=3, poll=0.002)
    async with (
        FakeHH(vacancies=10, faults=Faults(latency=0.003)) as server,
        HHClient(
            user_agent=UA, base_url=server.url, throttle=throttle, retry=RetryPolicy(max_attempts=1)
        ) as hh,
    ):

        async def cut(delay: float, native: bool) -> None:
            call = hh.request("GET", "/vacancies", params={"per_page": 1})
            if native:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call, delay)
            else:
                with anyio.move_on_after(delay):
                    await call

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for _ in range(40):
                    group.start_soon(cut, rng.uniform(0, 0.03), rng.random() < 0.5)
            assert await throttle.in_flight() == 0
            assert (await hh.request("GET", "/vacancies", params={"per_page": 1}))["per_page"] == 1
        assert await throttle.in_flight() == 0


@pytest.mark.asyncio
async def test_a_redis_that_is_down_fails_the_request_clearly() -> None:
    with socket_that_refuses() as port:
        redis = aioredis.Redis.from_url(f"redis://:SECRET-PASSWORD@127.0.0.1:{port}/0")
        throttle = RedisThrottle(redis, timeout=5)
        async with HHClient(user_agent=UA, base_url="http://127.0.0.1:9", throttle=throttle) as hh:
            with (
                anyio.fail_after(20),
                pytest.raises(RedisUnavailableError, match=f"127.0.0.1:{port}") as caught,
            ):
                await hh.request("GET", "/vacancies")
        await redis.aclose()
    assert "SECRET-PASSWORD" not in str(caught.value)
    assert "SECRET-PASSWORD" not in repr(throttle)


def test_under_trio_the_throttle_says_it_needs_asyncio() -> None:
    import trio

    async def main() -> None:
        with pytest.raises(RuntimeError, match="asyncio only"):
            await RedisThrottle(aioredis.Redis()).acquire("x")

    trio.run(main)


def test_bad_settings_are_refused() -> None:
    redis = aioredis.Redis()
    with pytest.raises(ValueError, match="rate"):
        RedisThrottle(redis, rate=0)
    with pytest.raises(ValueError, match="concurrency"):
        RedisThrottle(redis, concurrency=0)
    with pytest.raises(ValueError, match="lease"):
        RedisThrottle(redis, lease=0)
