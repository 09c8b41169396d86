"""HH's employer webhooks: parse, deduplicate, store durably, answer within HH's 2 seconds, handle after.

    queue = RedisEventQueue(redis)                      # or PersistStore(your_persist, RedisDedup(redis))
    endpoint = WebhookEndpoint(queue)                   # an ASGI app; starlette.webhook_route for a route
    worker = Worker(queue, handle, concurrency=16)      # await worker.run(): lifespan or own process
    await ensure_subscription(hh_for_user, "https://my.app/hh/webhook", ["NEW_NEGOTIATION_VACANCY"])
    await reconcile_negotiations(hh_for_user, queue, vacancy_ids=[...], since=last_run)

The Starlette/FastAPI adapters live in ``hh_async.webhooks.starlette`` and ``hh_async.webhooks.fastapi``
(the ``web`` extra); the Redis parts need the ``redis`` extra.
"""

from .asgi import Reply, WebhookEndpoint
from .dedup import Dedup, MemoryDedup, RedisDedup
from .events import PAYLOADS, MalformedEvent, WebhookEvent, event_from_dict, parse_event
from .queue import DeadLetter, RedisEventQueue, Worker, WorkerStats
from .reconcile import ReconcileReport, negotiation_event, reconcile_negotiations
from .store import EventStore, PersistStore
from .subscriptions import Subscription, ensure_subscription, normalize_actions, remove_subscriptions

__all__ = [
    "PAYLOADS",
    "DeadLetter",
    "Dedup",
    "EventStore",
    "MalformedEvent",
    "MemoryDedup",
    "PersistStore",
    "ReconcileReport",
    "RedisDedup",
    "RedisEventQueue",
    "Reply",
    "Subscription",
    "WebhookEndpoint",
    "WebhookEvent",
    "Worker",
    "WorkerStats",
    "ensure_subscription",
    "event_from_dict",
    "negotiation_event",
    "normalize_actions",
    "parse_event",
    "reconcile_negotiations",
    "remove_subscriptions",
]
