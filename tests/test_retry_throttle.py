"""Retries and throttling as transport wrappers, on a virtual clock, under asyncio and trio."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from hh_async.retry import RetryPolicy, RetryTransport, retry_after
from hh_async.throttle import Throttle, ThrottleTransport

pytestmark = pytest.mark.anyio

Step = httpx.Response | Exception


class VirtualClock:
    """Time that passes only when the code under test sleeps: no real waiting, exact figures."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class Script(httpx.AsyncBaseTransport):
    """Answers each request with the next step of a script: a response or an exception to raise."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client(script: Script, clock: VirtualClock, policy: RetryPolicy | None = None) -> httpx.AsyncClient:
    transport = RetryTransport(script, policy, clock=clock, sleep=clock.sleep, rng=lambda: 0.5)
    return httpx.AsyncClient(transport=transport, base_url="https://api.hh.ru")


def status(code: int, **kwargs: Any) -> httpx.Response:
    return httpx.Response(code, **kwargs)


async def test_503_503_200_succeeds_on_the_third_attempt() -> None:
    clock = VirtualClock()
    script = Script(status(503), status(503), status(200, json={"ok": True}))
    async with client(script, clock) as http:
        response = await http.get("/vacancies")
    assert response.json() == {"ok": True}
    assert len(script.requests) == 3
    assert clock.sleeps == [0.25, 0.5]  # full jitter at rng=0.5 of 0.5 * 2**n


async def test_post_is_not_retried_unless_the_caller_opts_in() -> None:
    clock = VirtualClock()
    script = Script(status(503), status(200))
    async with client(script, clock) as http:
        assert (await http.post("/negotiations", json={})).status_code == 503
    assert len(script.requests) == 1

    script = Script(status(503), status(200))
    async with client(script, clock, RetryPolicy(retry_post=True)) as http:
        assert (await http.post("/negotiations", json={"a": 1})).status_code == 200
    assert [r.content for r in script.requests] == [b'{"a":1}', b'{"a":1}']


async def test_retry_after_seconds_is_honoured() -> None:
    clock = VirtualClock()
    script = Script(status(429, headers={"Retry-After": "2"}), status(200))
    async with client(script, clock) as http:
        assert (await http.get("/vacancies")).status_code == 200
    assert clock.sleeps == [2.0]


def test_retry_after_as_an_http_date() -> None:
    now = time.time()
    when = email.utils.formatdate(now + 30, usegmt=True)
    waited = retry_after(status(503, headers={"Retry-After": when}), now=lambda: now)
    assert waited is not None and 29 <= waited <= 30
    assert retry_after(status(503, headers={"Retry-After": "soon"})) is None
    assert retry_after(status(503)) is None


async def test_the_budget_stops_retries() -> None:
    clock = VirtualClock()
    script = Script(status(503, headers={"Retry-After": "5"}), status(200))
    async with client(script, clock, RetryPolicy(budget=3)) as http:
        assert (await http.get("/vacancies")).status_code == 503
    assert clock.sleeps == [] and len(script.requests) == 1


async def test_attempts_are_bounded_and_the_last_answer_returned() -> None:
    clock = VirtualClock()
    script = Script(*[status(502) for _ in range(3)])
    async with client(script, clock, RetryPolicy(max_attempts=3)) as http:
        assert (await http.get("/vacancies")).status_code == 502
    assert len(script.requests) == 3


async def test_connection_errors_and_timeouts_are_retried_then_raised() -> None:
    clock = VirtualClock()
    script = Script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), status(200))
    async with client(script, clock) as http:
        assert (await http.get("/vacancies")).status_code == 200

    script = Script(*[httpx.RemoteProtocolError("dropped") for _ in range(2)])
    async with client(script, clock, RetryPolicy(max_attempts=2)) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/vacancies")
    assert len(script.requests) == 2


async def test_a_spent_daily_quota_is_not_retried() -> None:
    clock = VirtualClock()
    body = {"errors": [{"type": "resumes", "value": "view_limit_exceeded"}]}
    script = Script(status(429, json=body), status(200))
    async with client(script, clock) as http:
        assert (await http.get("/resumes/1")).status_code == 429
    assert len(script.requests) == 1


async def test_a_policy_per_call() -> None:
    clock = VirtualClock()
    script = Script(status(503), status(200))
    async with client(script, clock) as http:
        request = http.build_request(
            "GET", "/vacancies", extensions={"hh_retry": RetryPolicy(max_attempts=1)}
        )
        assert (await http.send(request)).status_code == 503


# --- throttle -----------------------------------------------------------------------------------------------


async def test_requests_are_spaced_by_the_rate() -> None:
    clock = VirtualClock()
    throttle = Throttle(rate=10, clock=clock, sleep=clock.sleep)
    for index in range(5):
        await throttle.acquire(index)
        await throttle.release(index, 200)
    # the clock stood at 0 for the first, then each start waited for its own slot
    assert [round(s, 6) for s in clock.sleeps] == [0.1, 0.1, 0.1, 0.1]


async def test_429_halves_the_rate_and_calm_answers_restore_it() -> None:
    clock = VirtualClock()
    throttle = Throttle(rate=8, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        await throttle.acquire("a")
        await throttle.release("a", 429)
    assert throttle.rate == 2
    for _ in range(100):
        await throttle.acquire("b")
        await throttle.release("b", 200)
    assert throttle.rate == 8


async def test_concurrency_cap_holds_until_bodies_are_read() -> None:
    gate = anyio.Event()
    peak = 0
    throttle = Throttle(rate=None, concurrency=3)

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal peak
        peak = max(peak, throttle.in_flight)
        await gate.wait()
        return httpx.Response(200, json={"n": request.url.params["n"]})

    transport = ThrottleTransport(httpx.MockTransport(handler), throttle)
    results: list[Any] = []
    async with httpx.AsyncClient(transport=transport, base_url="https://api.hh.ru") as http:

        async def one(n: int) -> None:
            results.append((await http.get("/vacancies", params={"n": n})).json())

        async with anyio.create_task_group() as group:
            for n in range(10):
                group.start_soon(one, n)
            while throttle.in_flight < 3:
                await anyio.lowlevel.checkpoint()
            gate.set()
    assert peak == 3
    assert throttle.in_flight == 0
    assert sorted(int(r["n"]) for r in results) == list(range(10))


class DroppedMidBody(httpx.AsyncByteStream):
    """A body that stops half-way, as when the server drops the connection."""

    closed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"items": ['
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    async def aclose(self) -> None:
        DroppedMidBody.closed += 1


@pytest.mark.parametrize("attempts", [1, 3])
async def test_a_body_dropped_mid_read_gives_its_place_back(attempts: int) -> None:
    """A streamed body (httpx's own transport) that fails half-way frees its throttle place and is
    closed, retried or not: with 2 places, 6 drops in a row would otherwise leave every later request
    waiting forever."""
    clock = VirtualClock()
    throttle = Throttle(rate=None, concurrency=2)
    drops = [httpx.Response(200, stream=DroppedMidBody()) for _ in range(6)]
    script = Script(*drops, status(200, json={"ok": True}))
    policy = RetryPolicy(max_attempts=attempts, backoff_base=0.0)
    transport = RetryTransport(ThrottleTransport(script, throttle), policy, clock=clock, sleep=clock.sleep)
    DroppedMidBody.closed = 0
    with anyio.fail_after(10):  # a leak shows as a hang: bounded, so it fails instead
        async with httpx.AsyncClient(transport=transport, base_url="https://api.hh.ru") as http:
            for _ in range(6 // attempts):
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get("/vacancies")
                assert throttle.in_flight == 0
            assert (await http.get("/vacancies")).json() == {"ok": True}
    assert throttle.in_flight == 0
    assert DroppedMidBody.closed == 6


async def test_a_request_cancelled_while_it_waits_for_its_rate_slot_keeps_nothing() -> None:
    """A caller's timeout (or a ``break`` that cancels prefetched pages) while a request waits for its
    turn gives back its place and its slot: the next request starts at once."""
    clock = VirtualClock()
    forever = anyio.Event()

    async def sleep(seconds: float) -> None:
        await forever.wait()  # the rate wait that the caller gives up on

    throttle = Throttle(rate=1, concurrency=3, clock=clock, sleep=sleep)
    await throttle.acquire("first")  # starts at once and reserves the next slot (t=1)
    await throttle.release("first", 200)
    for round_ in range(10):
        with anyio.move_on_after(0) as scope:
            await throttle.acquire(("waiting", round_))
        assert scope.cancelled_caught
        assert throttle.in_flight == 0
    clock.now = 1.0  # the slot reserved by the first request has come: nobody else holds it
    with anyio.fail_after(5):
        await throttle.acquire("next")
    assert throttle.in_flight == 1


async def test_a_turn_given_up_in_the_middle_of_the_queue_goes_to_the_next_caller() -> None:
    """Waiters cancelled before their turn leave no hole in the schedule (a web app's timeouts, a
    ``break`` out of a prefetching read): the next caller gets the earliest turn given up."""
    clock = VirtualClock()
    asked: list[float] = []
    forever = anyio.Event()

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await forever.wait()

    throttle = Throttle(rate=1, concurrency=5, clock=clock, sleep=sleep)
    await throttle.acquire("first")  # t=0
    scopes = {name: anyio.CancelScope() for name in ("a", "b", "c")}

    async def wait(name: str) -> None:
        with scopes[name]:
            await throttle.acquire(name)

    async with anyio.create_task_group() as group:
        for name in ("a", "b"):  # turns at t=1 and t=2
            group.start_soon(wait, name)
            await anyio.wait_all_tasks_blocked()
        scopes["a"].cancel()
        await anyio.wait_all_tasks_blocked()
        group.start_soon(wait, "c")  # t=1 again, not t=3
        await anyio.wait_all_tasks_blocked()
        assert asked == [1, 2, 1]
        group.cancel_scope.cancel()
    assert throttle.in_flight == 1
    clock.now = 3.5  # every turn given up has passed: they are lost, not sent all at once
    assert await throttle.acquire("late") == 0.0
    with anyio.move_on_after(0):
        await throttle.acquire("right after")
    assert asked[-1] == 1.0  # spaced after "late", not let through on a turn that has passed


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Throttle(rate=0)
    with pytest.raises(ValueError, match="concurrency"):
        Throttle(concurrency=0)
