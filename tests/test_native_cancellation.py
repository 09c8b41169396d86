"""asyncio's native cancellation (``task.cancel()``, ``asyncio.wait_for``, ``asyncio.timeout``): what web
frameworks and plain asyncio code use, and what anyio's shields do not stop (see ``hh_async.cancellation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator

import anyio
import httpx
import pytest

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async.testing import FakeHH, Faults
from hh_async.tokens import MemoryTokenStore

from .test_auth import ME, TTL, app_token, fake_hh, log_in, user_token

UA = "Tests/1.0 (dev@example.com)"
LATENCY = 0.002
pytestmark = pytest.mark.asyncio  # native cancellation is asyncio's alone


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=100, faults=Faults(latency=LATENCY)) as running:
        yield running


@pytest.mark.parametrize("transport", ["httpx", "default"])
async def test_requests_cancelled_natively_leave_connections_and_places_free(
    server: FakeHH, transport: str
) -> None:
    """300 requests natively cancelled at random points; then the next one completes. Over httpx's own
    pool this used to leave connections it believed busy, until every request waited forever."""
    rng = random.Random(7)
    throttle = Throttle(rate=None, concurrency=4)
    inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=3)) if transport == "httpx" else None
    async with HHClient(
        user_agent=UA,
        base_url=server.url,
        throttle=throttle,
        transport=inner,
        retry=RetryPolicy(max_attempts=1),
    ) as hh:
        for _ in range(300):
            task = asyncio.ensure_future(hh.get_vacancy(vacancy_id="100001"))
            await asyncio.sleep(rng.uniform(0, 3 * LATENCY))  # somewhere before, in or after the exchange
            task.cancel()  # (or it finished first: either is fine, what follows is the test)
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if rng.random() < 0.3:  # asyncio.wait_for's native timeout, too
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hh.get_vacancy(vacancy_id="100001"), rng.uniform(0, 3 * LATENCY))
        async with asyncio.timeout(30):  # a leak shows as a hang: bounded, so it fails instead
            assert (await hh.get_vacancy(vacancy_id="100001")).id == "100001"
            while throttle.in_flight:  # cancelled exchanges may still be winding down
                await asyncio.sleep(LATENCY)


@pytest.mark.parametrize("kind", ["user", "app"])
async def test_a_token_obtained_for_a_natively_cancelled_caller_is_saved_and_used(kind: str) -> None:
    """As with an anyio timeout: the caller's task is cancelled after HH answered the token request (the
    old refresh token is spent, or the old app token revoked); the answer is saved all the same."""
    server, transport = fake_hh()
    store = MemoryTokenStore(log_in(server) if kind == "user" else None)
    server.clock.advance(TTL + 1)
    auth = (user_token if kind == "user" else app_token)(server, transport, store)
    answered, release = anyio.Event(), anyio.Event()

    async def hold() -> None:
        answered.set()
        await release.wait()

    transport.after_token = hold
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        caller = asyncio.ensure_future(http.get(ME))
        await answered.wait()
        caller.cancel()
        await asyncio.sleep(0)  # the cancellation is delivered while HH's answer is being handled
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        transport.after_token = None
        assert (await http.get(ME)).status_code == 200
    grant = "refresh_token" if kind == "user" else "client_credentials"
    assert server.requests[grant] == 1
    saved = await store.load()
    assert saved is not None and server.check(f"Bearer {saved.access_token}") is None
