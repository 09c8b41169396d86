"""The load-run tools the 10,000-event acceptance run builds on: the receiver factory uvicorn serves, the
recording worker and the driver, together on loopback, with a real Redis (asyncio: redis-py)."""

from __future__ import annotations

import json
import uuid

import anyio
import pytest

from hh_async.testing import webhook_load as load
from hh_async.testing.served import ServedApp
from hh_async.testing.webhooks import percentile

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_send_reports_every_event_handled_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"load{uuid.uuid4().hex}"
    monkeypatch.setenv("HH_WEBHOOKS_REDIS", redis_url)
    monkeypatch.setenv("HH_WEBHOOKS_QUEUE", queue)
    argv = ["send", "--events", "200", "--duplicates", "0.2", "--failures", "0.1", "--seed", "3"]
    argv += ["--redis", redis_url, "--queue", queue, "--timeout", "60"]
    async with ServedApp(load.receiver_app()) as served, anyio.create_task_group() as group:
        group.start_soon(load._work, redis_url, queue, 8, 0.0)
        await anyio.to_thread.run_sync(load.main, [*argv, "--target", served.url + "/hh/webhook"])
        group.cancel_scope.cancel()
    report = json.loads(capsys.readouterr().out)
    assert report["settled"] and report["emitted"] == report["acked"] == 200
    assert (report["handled_once"], report["handled_more_than_once"], report["never_handled"]) == (200, 0, 0)
    assert report["attempts"]["duplicate"] > 0 and report["attempts"]["lost"] > 0
    assert 0 < report["ack_p50"] <= report["ack_p99"] <= report["ack_max"] < 2.0


def test_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(range(1, 101), 0.99) == 99


async def test_a_worker_killed_mid_run_loses_nothing_and_counts_nothing_twice(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal
    import subprocess
    import sys

    from redis.asyncio import Redis

    from .conftest import ROOT

    queue = f"load{uuid.uuid4().hex}"
    monkeypatch.setenv("HH_WEBHOOKS_REDIS", redis_url)
    monkeypatch.setenv("HH_WEBHOOKS_QUEUE", queue)
    work = ["work", "--redis", redis_url, "--queue", queue, "--delay", "0.01", "--claim-idle", "0.5"]
    doomed = subprocess.Popen([sys.executable, "-m", "hh_async.testing.webhook_load", *work], cwd=ROOT)
    redis = Redis.from_url(redis_url)
    sent = anyio.Event()
    try:
        async with ServedApp(load.receiver_app()) as served, anyio.create_task_group() as group:
            argv = ["send", "--target", served.url + "/hh/webhook", "--events", "400", "--redis", redis_url]
            argv += ["--queue", queue, "--timeout", "60"]

            async def send() -> None:
                await anyio.to_thread.run_sync(load.main, argv)
                sent.set()

            group.start_soon(send)
            with anyio.fail_after(60):
                while await redis.hlen(load._handled_key(queue)) < 100:
                    await anyio.sleep(0.01)
            doomed.send_signal(signal.SIGKILL)  # mid-run, with events in hand
            doomed.wait()
            assert await redis.hlen(load._handled_key(queue)) < 400  # the survivor has work left
            group.start_soon(load._work, redis_url, queue, 8, 0.0, 0.5)
            await sent.wait()
            group.cancel_scope.cancel()
    finally:
        if doomed.poll() is None:
            doomed.kill()
        await redis.aclose()
    report = json.loads(capsys.readouterr().out)
    assert (report["handled_once"], report["handled_more_than_once"], report["never_handled"]) == (400, 0, 0)
