"""A load run of the example web app, all on loopback: a real redis-server, the fake HH, the app under real
uvicorn with several worker processes, and many users whose tokens have expired.

    python examples/webapp/loadrun.py --workers 4 --users 1000 --requests 10000 [--kill-one]
    python examples/webapp/loadrun.py --workers 4 --webhooks 10000 [--kill-one]

Every user's access token has expired at the fake, so the first request of each user makes the app
refresh it: exactly one refresh per user must reach the fake's token endpoint, however the requests spread
over the workers, and every request must be answered for its own user. ``--kill-one`` SIGKILLs one worker
mid-run: requests it held fail at the socket and are sent again (uvicorn starts a new worker); the run
counts users who lost their session (their refresh was spent at HH but never saved) and locks left held.

``--webhooks N``: the fake subscribes the app (through ``ensure_subscription``, as a user) and delivers N
events as HH does (10% sent twice, 5% of attempts lost, some out of order, retries); each must be handled
exactly once by the app's workers, and the fake reports how fast the app acknowledged (HH waits 2 s).
With ``--kill-one`` a worker is SIGKILLed a third of the way in, and its events must still be handled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from hh_async.redis_tokens import RedisTokenStore
from hh_async.testing import FakeHH
from hh_async.testing.redis_server import redis_server
from hh_async.testing.served import free_port
from hh_async.tokens import TokenPair

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "webapp-load", "webapp-load-secret"
PREFIX = "webapp"


@contextmanager
def app_server(
    redis_url: str, hh_url: str, workers: int, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The example app under ``uvicorn --workers``; yields its URL once it answers, and the supervisor."""
    port = free_port()
    env = {
        **os.environ,
        "HH_CLIENT_ID": CLIENT_ID,
        "HH_CLIENT_SECRET": CLIENT_SECRET,
        "HH_REDIRECT_URI": f"http://127.0.0.1:{port}/callback",
        "HH_USER_AGENT": "webapp-load/1.0 (load@example.com)",
        "HH_BASE_URL": hh_url,
        "REDIS_URL": redis_url,
        "HH_RATE": "0",  # the fake is local: no pacing, and a cap (shared by all workers) the fake can take
        "HH_CONCURRENCY": "64",
        "WEBAPP_PREFIX": PREFIX,
        "WEBAPP_CLAIM_IDLE": "5",  # a killed worker's events are taken over after 5 s (default 60)
        **settings,
    }
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--factory", "app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/login", timeout=2).status_code == 302:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a condition (the app answers), not timing a result
    raise RuntimeError("the app did not answer within 30 s (see its errors above)")


def worker_pids(supervisor: int) -> list[int]:
    import psutil

    # uvicorn's workers are multiprocessing children; the supervisor's resource tracker is one too.
    return [
        child.pid
        for child in psutil.Process(supervisor).children()
        if any("spawn_main" in part for part in child.cmdline())
    ]


async def seed(redis_url: str, fake: FakeHH, users: int) -> None:
    """``users`` logged-in users: a session cookie each and a token pair in Redis whose access token HH
    (the fake) already considers expired."""
    redis = aioredis.Redis.from_url(redis_url)
    try:
        now = time.time()
        for index in range(users):
            user = f"u{index}"
            answer = fake.oauth.issue_user_token(CLIENT_ID, user, expired=True)
            # Through the store, so the pair is stored exactly as the app reads it.
            await RedisTokenStore.for_user(redis, user, prefix=f"{PREFIX}:tokens").save(
                TokenPair.from_response(answer, now)
            )
            await redis.set(f"{PREFIX}:session:s{index}", user)
    finally:
        await redis.aclose()


async def fire(url: str, users: int, requests: int, on_progress: Any = None) -> dict[str, Any]:
    """``requests`` concurrent GET /api/me, spread over the users; a request cut at the socket (a killed
    worker) is sent again, up to 5 times. Returns statuses, the users answered 401, and latencies."""
    statuses: Counter[int | str] = Counter()
    relogin: set[str] = set()
    wrong_user = 0
    latencies: list[float] = []
    resent = 0
    done = 0
    connector = aiohttp.TCPConnector(limit=400)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def one(index: int) -> None:
            nonlocal wrong_user, resent, done
            user = index % users
            for attempt in range(5):
                started = time.perf_counter()
                try:
                    async with http.get(f"{url}/api/me", cookies={"hh_session": f"s{user}"}) as answer:
                        text = await answer.text()
                        statuses[answer.status] += 1
                        latencies.append(time.perf_counter() - started)
                        if answer.status == 401:
                            relogin.add(f"u{user}")
                        elif answer.status == 200 and json.loads(text)["hh"].get("id") != f"u{user}":
                            wrong_user += 1
                        break
                except (TimeoutError, aiohttp.ClientConnectionError):
                    resent += attempt < 4
                    if attempt == 4:
                        statuses["connection failed"] += 1
            done += 1
            if on_progress is not None:
                on_progress(done)

        await asyncio.gather(*(one(i) for i in range(requests)))
    return {
        "statuses": dict(statuses),
        "relogin_users": sorted(relogin),
        "wrong_user": wrong_user,
        "resent": resent,
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1)
        if len(latencies) > 1
        else None,
    }


async def held_locks(redis_url: str) -> list[float]:
    """The refresh locks still held, as seconds each has left before it expires on its own."""
    redis = aioredis.Redis.from_url(redis_url)
    try:
        return [await redis.pttl(key) / 1000 async for key in redis.scan_iter(f"{PREFIX}:tokens:*:lock")]
    finally:
        await redis.aclose()


def run(
    workers: int, users: int, requests: int, kill_one: bool = False, kill_at: float = 1 / 3
) -> dict[str, Any]:
    with (
        redis_server() as redis_url,
        FakeHH(clients={CLIENT_ID: CLIENT_SECRET}, vacancies=10) as fake,
        app_server(redis_url, fake.url, workers) as (url, supervisor),
    ):
        asyncio.run(seed(redis_url, fake, users))
        before = fake.oauth.requests["refresh_token"]
        killed: list[int] = []

        def maybe_kill(done: int) -> None:
            if kill_one and not killed and done >= requests * kill_at:
                victim = worker_pids(supervisor.pid)[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        started = time.perf_counter()
        result = asyncio.run(fire(url, users, requests, maybe_kill))
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["refreshes"] = fake.oauth.requests["refresh_token"] - before
        result["killed_worker"] = killed[0] if killed else None
        # A lock left by the killed worker expires after its timeout (a positive TTL); no lock lives forever.
        result["locks_held_after_run"] = asyncio.run(held_locks(redis_url))
        result["users_whose_refresh_died_with_the_worker"] = len(result["relogin_users"])
        return result


async def handled(redis_url: str, emitted: list[str], timeout: float) -> dict[str, int]:
    """Wait (up to ``timeout``) until the app's workers handled every emitted event; count how often each
    was handled (recorded in the acknowledgement's transaction: see ``record_handled`` in app.py)."""
    redis = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout
        while await redis.hlen(f"{PREFIX}:handled") < len(emitted) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # polling a condition (all handled), not timing a result
        raw = await redis.hgetall(f"{PREFIX}:handled")
    finally:
        await redis.aclose()
    counts = {key.decode(): int(value) for key, value in raw.items()}
    return {
        "handled_once": sum(counts.get(event) == 1 for event in emitted),
        "handled_twice_or_more": sum(counts.get(event, 0) > 1 for event in emitted),
        "never_handled": sum(event not in counts for event in emitted),
    }


async def subscribe(hh_url: str, fake: FakeHH, target: str) -> None:
    """The employer subscribes the app's endpoint, as the app would for a user who logged in."""
    from hh_async import HHClient, StaticToken
    from hh_async.webhooks import ensure_subscription

    token = fake.oauth.issue_user_token(CLIENT_ID, "employer-1")["access_token"]
    async with HHClient(user_agent="webapp-load/1.0 (load@example.com)", base_url=hh_url) as hh:
        await ensure_subscription(
            hh.with_options(auth=StaticToken(token)), target, ["NEW_NEGOTIATION_VACANCY"]
        )


def run_webhooks(workers: int, events: int, kill_one: bool = False, timeout: float = 600.0) -> dict[str, Any]:
    from hh_async.testing import DeliveryPolicy
    from hh_async.testing.webhooks import summary

    policy = DeliveryPolicy(
        duplicate_rate=0.1, fail_rate=0.05, reorder_rate=0.2, time_scale=0.001, concurrency=64, seed=1
    )
    with (
        redis_server() as redis_url,
        FakeHH(clients={CLIENT_ID: CLIENT_SECRET}, vacancies=10, webhooks=policy) as fake,
        app_server(redis_url, fake.url, workers) as (url, supervisor),
    ):
        asyncio.run(subscribe(fake.url, fake, f"{url}/webhooks/hh"))
        started = time.perf_counter()
        emitted: list[str] = []
        killed = None
        for index in range(events):
            emitted += fake.app.add_negotiation("100001", users=["employer-1"])[1]
            if kill_one and killed is None and index >= events // 3:
                killed = worker_pids(supervisor.pid)[0]
                os.kill(killed, signal.SIGKILL)
        settled = fake.app.webhooks.wait_settled(timeout)
        result: dict[str, Any] = {**summary(fake.app.webhooks), "settled": settled}
        result.update(asyncio.run(handled(redis_url, emitted, timeout)))
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["killed_worker"] = killed
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one worker a third of the way in")
    parser.add_argument("--kill-at", type=float, default=1 / 3, help="when to kill: the share of answers in")
    parser.add_argument("--webhooks", type=int, metavar="N", help="deliver N webhook events instead")
    args = parser.parse_args()
    if args.webhooks:
        result = run_webhooks(args.workers, args.webhooks, args.kill_one)
    else:
        result = run(args.workers, args.users, args.requests, args.kill_one, args.kill_at)
    for key, value in result.items():
        shown = value if not isinstance(value, list) or len(value) < 20 else f"{len(value)} users"
        print(f"{key:>22}: {shown}")


if __name__ == "__main__":
    main()
