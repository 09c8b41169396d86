"""Load runs of the webhook kit against the fake HH: the pieces the 10,000-event acceptance run uses.

    HH_WEBHOOKS_REDIS=redis://... uvicorn --factory hh_async.testing.webhook_load:receiver_app \
        --workers 4 --port 8900
    python -m hh_async.testing.webhook_load work --redis redis://... --queue load        (one or more)
    python -m hh_async.testing.webhook_load send --target http://127.0.0.1:8900/hh/webhook --events 10000 \
        --duplicates 0.1 --failures 0.05 --redis redis://... --queue load

``send`` runs a fake HH in-process, subscribes the target, makes the events, waits until every delivery is
settled and prints one JSON object: what the fake did (acks, ack latency p50/p99) and, with ``--redis``,
whether each event was handled exactly once by the workers (which record every handled id in Redis).
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio

from .server import FakeHH
from .webhooks import DeliveryPolicy, FakeSubscription, summary


def receiver_app() -> Any:
    """A Starlette app answering HH's callbacks at ``/hh/webhook`` into a ``RedisEventQueue``
    (``HH_WEBHOOKS_REDIS``, ``HH_WEBHOOKS_QUEUE``): what each uvicorn worker process serves."""
    import contextlib
    import os

    from redis.asyncio import BlockingConnectionPool, Redis
    from starlette.applications import Starlette

    from ..webhooks import RedisEventQueue, WebhookEndpoint
    from ..webhooks.starlette import webhook_route

    url = os.environ.get("HH_WEBHOOKS_REDIS", "redis://127.0.0.1:6379/0")
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=64))
    queue = RedisEventQueue(redis, os.environ.get("HH_WEBHOOKS_QUEUE", "load"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        await redis.aclose()

    return Starlette(routes=[webhook_route("/hh/webhook", WebhookEndpoint(queue))], lifespan=lifespan)


def _handled_key(queue: str) -> str:
    """Event id -> times handled, counted in the acknowledgement's transaction (exactly once, kills
    included: what "handled" means for the acceptance run)."""
    return f"hh:webhooks:{{{queue}}}:handled"


def _runs_key(queue: str) -> str:
    """Event id -> times the handler finished; above 1 only for a worker killed between its handler's
    end and the acknowledgement."""
    return f"hh:webhooks:{{{queue}}}:runs"


async def _work(
    redis_url: str, queue_name: str, concurrency: int, delay: float, claim_idle: float = 5.0
) -> None:
    from redis.asyncio import BlockingConnectionPool, Redis

    from ..webhooks import RedisEventQueue, WebhookEvent, Worker

    redis = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=concurrency + 8))

    async def record(event: WebhookEvent) -> None:
        if delay:
            await anyio.sleep(delay)
        await redis.hincrby(_runs_key(queue_name), event.id, 1)

    def count(pipe: Any, event: WebhookEvent) -> None:
        pipe.hincrby(_handled_key(queue_name), event.id, 1)

    queue = RedisEventQueue(redis, queue_name)
    try:
        await Worker(queue, record, concurrency=concurrency, claim_idle=claim_idle, on_done=count).run()
    finally:
        await redis.aclose()


async def _check(redis_url: str, queue_name: str, emitted: list[str], timeout: float) -> dict[str, Any]:
    """Wait (up to ``timeout``) until every emitted event was handled; how many once, twice, never."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        with anyio.move_on_after(timeout):
            while await redis.hlen(_handled_key(queue_name)) < len(emitted):
                await anyio.sleep(0.1)
        raw: Any = await redis.hgetall(_handled_key(queue_name))
        counts = {k.decode(): int(v) for k, v in raw.items()}
        raw = await redis.hgetall(_runs_key(queue_name))
        runs = {k.decode(): int(v) for k, v in raw.items()}
    finally:
        await redis.aclose()
    return {
        "handled_once": sum(1 for i in emitted if counts.get(i) == 1),
        "handled_more_than_once": sum(1 for i in emitted if counts.get(i, 0) > 1),
        "never_handled": sum(1 for i in emitted if i not in counts),
        "handler_reruns": sum(runs.get(i, 0) - 1 for i in emitted if runs.get(i, 0) > 1),
    }


def _send(args: Any) -> dict[str, Any]:
    policy = DeliveryPolicy(
        duplicate_rate=args.duplicates,
        fail_rate=args.failures,
        reorder_rate=args.reorder,
        time_scale=args.time_scale,
        concurrency=args.concurrency,
        seed=args.seed,
    )
    with FakeHH(vacancies=10) as fake:
        sender = fake.app.webhooks
        sender.configure(policy)
        sender.subscriptions["load"] = FakeSubscription(
            "load", "load-user", args.target, [{"type": "NEW_NEGOTIATION_VACANCY"}]
        )
        started = time.perf_counter()
        emitted: list[str] = []
        for _ in range(args.events):
            emitted += fake.app.add_negotiation("100001", users=["load-user"])[1]
        settled = sender.wait_settled(args.timeout)
        report = {**summary(sender), "settled": settled, "seconds": round(time.perf_counter() - started, 2)}
    if args.redis:
        report.update(anyio.run(_check, args.redis, args.queue, emitted, args.timeout))
    return report


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hh_async.testing.webhook_load", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="deliver events from a fake HH to --target and report")
    send.add_argument("--target", required=True, help="the receiver's webhook URL")
    send.add_argument("--events", type=int, default=1000)
    send.add_argument("--duplicates", type=float, default=0.1)
    send.add_argument("--failures", type=float, default=0.05)
    send.add_argument("--reorder", type=float, default=0.2)
    send.add_argument("--time-scale", type=float, default=0.001)
    send.add_argument("--concurrency", type=int, default=64)
    send.add_argument("--seed", type=int, default=0)
    send.add_argument("--timeout", type=float, default=300.0)
    send.add_argument("--redis", help="check the workers' record of handled events in this Redis")
    send.add_argument("--queue", default="load")
    work = commands.add_parser("work", help="a worker recording each handled event id in Redis")
    work.add_argument("--redis", required=True)
    work.add_argument("--queue", default="load")
    work.add_argument("--concurrency", type=int, default=32)
    work.add_argument("--delay", type=float, default=0.0, help="seconds each handler takes")
    work.add_argument("--claim-idle", type=float, default=5.0, help="take over entries idle this long")
    args = parser.parse_args(argv)
    if args.command == "send":
        print(json.dumps(_send(args), indent=2))
    else:
        import contextlib

        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(_work, args.redis, args.queue, args.concurrency, args.delay, args.claim_idle)


if __name__ == "__main__":
    main()
