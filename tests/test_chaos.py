"""Chaos: random cancellations and faults across the client, paging and the sweep, on both event loops.

Every case draws what it does, where it is cancelled and which faults the fake answers with from its own
seed, and asserts by behaviour, never by timing:

- no hang: every case runs under a generous bound that only a deadlock can reach;
- no leak: after each case a follow-up request completes and the throttle holds no place (its concurrency
  is small and shared by all cases, so a leaked place would soon hang the next ones), and no asyncio task
  is left running;
- no duplicate, no loss: a read cancelled and resumed again and again from its cursor (or the sweep from
  its state) hands out exactly the items of an undisturbed read.

Cancellation points come from timeouts drawn from the seed, so a failing seed (it is in the failure's
notes, as ``CHAOS_REPLAY=scenario:seed``) replays the same scenario with the same faults, though not always
the same interleaving. ``CHAOS_SEED=n`` shifts every seed to explore new cases:
``CHAOS_SEED=$RANDOM pytest tests/test_chaos.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
import sniffio

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.auth import UserToken, authorization_request, exchange_code
from hh_async.errors import HHError
from hh_async.pagination import Cursor
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH, Faults
from hh_async.testing.faults import KINDS
from hh_async.tokens import MemoryTokenStore

pytestmark = pytest.mark.anyio

UA = "Chaos/1.0 (dev@example.com)"
VACANCIES = 2_600  # past the 2000 cap: the sweep has to cut the range
LATENCY = 0.002  # the fake's round trip: cancellations land before, during and after answers
SEED_BASE = int(os.environ.get("CHAOS_SEED", "0"))
REPLAY = os.environ.get("CHAOS_REPLAY", "")  # scenario:seed, from a failure's notes
ACCESS_TTL = 1_209_600  # the fake's access token lifetime (HH's: 14 days)
CASE_BOUND = 60.0  # seconds; reached only by a hang
FAILURES = (HHError, httpx.TransportError)
"""What a call may end in when faults outlast its retries: an answer, never a hang or a bare error."""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=VACANCIES, spacing=600, faults=Faults(latency=LATENCY)) as running:
        yield running


Scenario = Callable[["Chaos", random.Random], Awaitable[None]]


class Chaos:
    """The clients under test (shared by every case of a run, so leaks add up) and the fake they use."""

    def __init__(self, server: FakeHH, clients: list[HHClient]) -> None:
        self.server = server
        self.clients = clients
        self.expected: dict[tuple[str, int], list[str]] = {}
        self.store = MemoryTokenStore()
        self.auth: UserToken | None = None

    @property
    def throttle(self) -> Throttle:
        return self.clients[0].throttle

    async def user_token(self) -> UserToken:
        """A user logged in once for the whole run (its refreshes follow from case to case)."""
        if self.auth is None:
            login = authorization_request(CLIENT_ID, "https://my.app/callback")
            async with httpx.AsyncClient() as browser:
                redirect = await browser.get(
                    self.server.url + "/oauth/authorize?" + urlsplit(login.url).query
                )
            code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
            self.auth = await exchange_code(
                login,
                code,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                store=self.store,
                token_url=self.server.url + "/token",
                clock=self.server.clock,
            )
        return self.auth

    @asynccontextmanager
    async def faults(self, rng: random.Random, rate: float, routes: str | None = None) -> AsyncIterator[None]:
        self.server.app.faults = Faults(
            rate=rate,
            kinds=KINDS,
            routes=routes,
            slow_seconds=5 * LATENCY,
            latency=LATENCY,
            seed=rng.randrange(2**32),
        )
        try:
            yield
        finally:
            self.server.app.faults = Faults(latency=LATENCY)

    async def run(self, scenario: Scenario, seed: int) -> None:
        rng = random.Random(seed)
        tasks_before = _tasks()
        try:
            with anyio.fail_after(CASE_BOUND):
                await scenario(self, rng)
                await self.check_nothing_leaked(tasks_before)
        except BaseException as exc:
            exc.add_note(f"chaos case seed: replay it with CHAOS_REPLAY={scenario.__name__}:{seed}")
            raise

    async def check_nothing_leaked(self, tasks_before: int) -> None:
        for hh in self.clients:
            assert (await hh.get_vacancy(vacancy_id="100001")).id == "100001"
        # Abandoned prefetches may still be finishing on their own: wait for that, bounded by the case.
        while _tasks() > tasks_before or any(hh.throttle.in_flight for hh in self.clients):
            await anyio.sleep(LATENCY)


def _tasks() -> int:
    return len(asyncio.all_tasks()) if sniffio.current_async_library() == "asyncio" else 0


# --- scenarios ---------------------------------------------------------------------------------------------


async def within(timeout: float, rng: random.Random, call: Callable[[], Awaitable[object]]) -> None:
    """``call()`` under a timeout, as a web framework would set one: an anyio scope, or on asyncio
    sometimes ``asyncio.wait_for`` (native cancellation); a failure after retries is an outcome too."""
    try:
        if sniffio.current_async_library() == "asyncio" and rng.random() < 0.5:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call(), timeout)
        else:
            with anyio.move_on_after(timeout):
                await call()
    except FAILURES:
        pass


async def calls_cancelled_anywhere(chaos: Chaos, rng: random.Random) -> None:
    """A few concurrent calls, each with its own timeout, through faults."""

    def call(hh: HHClient) -> Callable[[], Awaitable[object]]:
        if rng.random() < 0.5:
            ident = str(100_000 + rng.randrange(VACANCIES))
            return lambda: hh.get_vacancy(vacancy_id=ident)
        text = rng.choice(["", "python", "engineer"])
        return lambda: hh.get_vacancies(text=text, per_page=50)

    async with chaos.faults(rng, rate=rng.choice([0.0, 0.2, 0.5])), anyio.create_task_group() as group:
        for _ in range(rng.randint(1, 8)):
            group.start_soon(within, rng.uniform(0, 8 * LATENCY), rng, call(rng.choice(chaos.clients)))


async def refreshes_cancelled_anywhere(chaos: Chaos, rng: random.Random) -> None:
    """The user's token expires; concurrent calls that need the refresh are cancelled at random points
    (through faults of the API, not of the token endpoint: an answer lost there is lost for good). The
    session survives: one refresh per expiry, and the next call works with the saved pair."""
    auth = await chaos.user_token()
    refreshes = chaos.server.oauth.requests["refresh_token"]
    chaos.server.clock.advance(ACCESS_TTL + 1)
    async with (
        HHClient(user_agent=UA, base_url=chaos.server.url, auth=auth, throttle=chaos.throttle) as hh,
        chaos.faults(rng, rate=rng.choice([0.0, 0.2]), routes=r"^/(?!token)"),
    ):
        async with anyio.create_task_group() as group:
            for _ in range(rng.randint(1, 6)):
                group.start_soon(within, rng.uniform(0, 8 * LATENCY), rng, hh.get_current_user_info)
        chaos.server.app.faults = Faults(latency=LATENCY)
        assert await hh.get_current_user_info() is not None
    assert chaos.server.oauth.requests["refresh_token"] == refreshes + 1
    assert auth.store is chaos.store and (await chaos.store.load()) == (await auth.current())


async def paginate_left_early(chaos: Chaos, rng: random.Random) -> None:
    """``break`` out of a prefetching read, or a timeout around it; closed by ``async with`` or dropped."""
    hh = rng.choice(chaos.clients)
    pages = hh.paginate(hh.get_vacancies, per_page=rng.choice([5, 20, 100]), prefetch=rng.randint(1, 8))
    stop_after = rng.randrange(0, 300)
    close = rng.random() < 0.7
    async with chaos.faults(rng, rate=rng.choice([0.0, 0.2])):
        with anyio.move_on_after(rng.uniform(0, 30 * LATENCY)):
            try:
                count = 0
                async for _ in pages:
                    count += 1
                    if count >= stop_after:
                        break
            except FAILURES:
                pass
            finally:
                if close:
                    with anyio.CancelScope(shield=True):
                        await pages.aclose()


async def read_until_done(reader: Any, got: list[str], timeout: float) -> bool:
    """Read ``reader`` into ``got`` until it ends (True), a timeout cuts it or faults outlast the retries."""
    with anyio.move_on_after(timeout):
        try:
            async for item in reader:
                got.append(item.id)
            return True
        except FAILURES:
            pass
    return False


async def paginate_resumed_after_every_interruption(chaos: Chaos, rng: random.Random) -> None:
    """A read cut again and again (timeouts, faults), resumed from its cursor: every item once, in order."""
    hh = rng.choice(chaos.clients)
    text, per_page = rng.choice(["python", "developer", "engineer"]), rng.choice([7, 20, 50])
    expected = await chaos_expected(chaos, hh, text, per_page)
    got: list[str] = []
    cursor: Cursor | None = None
    async with chaos.faults(rng, rate=rng.choice([0.1, 0.3])):
        for _ in range(10_000):
            pages = (
                hh.paginate(cursor=cursor, prefetch=rng.randint(1, 6))
                if cursor
                else hh.paginate(hh.get_vacancies, text=text, per_page=per_page, prefetch=rng.randint(1, 6))
            )
            async with pages:
                finished = await read_until_done(pages, got, rng.uniform(0, 40 * LATENCY))
            cursor = pages.cursor
            if finished:
                break
    assert got == expected


async def chaos_expected(chaos: Chaos, hh: HHClient, text: str, per_page: int) -> list[str]:
    key = (text, per_page)
    if key not in chaos.expected:
        chaos.expected[key] = [
            v.id async for v in hh.paginate(hh.get_vacancies, text=text, per_page=per_page)
        ]
        assert 100 < len(chaos.expected[key]) < 2000
    return chaos.expected[key]


async def sweep_resumed_after_every_interruption(chaos: Chaos, rng: random.Random) -> None:
    """The whole search past the cap, cut again and again and resumed from its state: each id once."""
    hh = rng.choice(chaos.clients)
    got: list[str] = []
    state: dict[str, Any] | None = None
    async with chaos.faults(rng, rate=rng.choice([0.1, 0.2])):
        for _ in range(10_000):
            sweep = hh.search_all_vacancies(prefetch=rng.randint(1, 4), resume=state, seen=set(got))
            finished = await read_until_done(sweep, got, rng.uniform(0, 100 * LATENCY))
            state = sweep.state
            if finished:
                break
    assert len(got) == len(set(got)), "a vacancy was handed out twice"
    assert sorted(got) == sorted(chaos.server.dataset.ident(i) for i in range(VACANCIES))
    assert sweep.report.complete


SCENARIOS: list[tuple[Scenario, int]] = [
    (calls_cancelled_anywhere, 250),
    (paginate_left_early, 180),
    (paginate_resumed_after_every_interruption, 60),
    (sweep_resumed_after_every_interruption, 12),
    (refreshes_cancelled_anywhere, 60),
]
"""Each scenario with its number of cases per event loop (562 in all)."""


@pytest.mark.parametrize(("scenario", "cases"), SCENARIOS, ids=[s.__name__ for s, _ in SCENARIOS])
async def test_chaos(server: FakeHH, scenario: Scenario, cases: int, anyio_backend: str) -> None:
    retry = RetryPolicy(max_attempts=3, backoff_base=LATENCY)
    throttle = Throttle(rate=500, concurrency=3)  # few places: a leaked one shows within a few cases
    clients = [HHClient(user_agent=UA, base_url=server.url, retry=retry, throttle=throttle)]
    if anyio_backend == "asyncio":  # httpx's own streaming transport too (trio always uses it)
        clients.append(
            HHClient(
                user_agent=UA,
                base_url=server.url,
                retry=retry,
                throttle=throttle,
                transport=httpx.AsyncHTTPTransport(),
            )
        )
    chaos = Chaos(server, clients)
    seeds = [
        SEED_BASE * 1_000_003 + zlib.crc32(f"{scenario.__name__}/{case}".encode()) for case in range(cases)
    ]
    if REPLAY:
        name, _, seed = REPLAY.partition(":")
        seeds = [int(seed)] if name == scenario.__name__ else []
    try:
        for seed in seeds:
            await chaos.run(scenario, seed)
    finally:
        for hh in clients:
            await hh.aclose()
