"""The fake HH's webhook side: per-user subscriptions and a sender that delivers the way HH describes.

HH POSTs each event to the subscribed URL and waits at most 2 seconds; ``2xx`` or ``409`` is success,
anything else (another code, no answer in time, no connection) is retried later with growing gaps; a
subscription failing for long is blocked and sending stops; a success in the meantime clears it. Delivery
is not guaranteed, duplicates happen, order is not kept. ``DeliveryPolicy`` sets how much of each, by seed,
and ``time_scale`` compresses HH's minutes-long gaps for tests (0.001: a one-minute gap takes 60 ms).

Everything a test asserts on is recorded: ``attempts``, ``acked`` (with the latency of the answer),
``undelivered``. ``emit`` is safe to call from any thread; the sender runs on the server's event loop.
``served.ServedApp`` serves a receiver under uvicorn for it to deliver to; ``webhook_load`` builds load
runs on these.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import attrs
import httpx

log = logging.getLogger("hh_async.testing.webhooks")


@attrs.define
class DeliveryPolicy:
    timeout: float = 2.0
    """HH waits this long for an answer (not scaled: the receiver's 2 seconds are real)."""
    time_scale: float = 1.0
    """Multiplies every gap below: 0.001 in tests."""
    first_gap: float = 60.0
    """The gap before the first retry; each next one doubles, up to ``max_gap``."""
    max_gap: float = 3600.0
    block_after: float = 24 * 3600.0
    """A subscription failing this long (nothing accepted in between) is blocked: sending stops."""
    duplicate_rate: float = 0.0
    """Chance an event is sent twice (a second copy a little later, retried on its own)."""
    reorder_rate: float = 0.0
    """Chance an event is held back by up to ``reorder_window``, so later ones overtake it."""
    reorder_window: float = 5.0
    fail_rate: float = 0.0
    """Chance an attempt is lost in transit: half never reach the receiver, half lose its answer."""
    lose_rate: float = 0.0
    """Chance an event is never sent at all ("webhooks are not a means of guaranteed delivery")."""
    concurrency: int = 32
    """Deliveries in flight at once (more reordering the higher)."""
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "fail_rate", "lose_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)}")
        if self.timeout <= 0 or self.time_scale <= 0 or self.concurrency < 1:
            raise ValueError("timeout and time_scale must be positive, concurrency at least 1")

    def gap(self, failures: int) -> float:
        return float(min(self.max_gap, self.first_gap * 2 ** (failures - 1)) * self.time_scale)


@attrs.define
class FakeSubscription:
    id: str
    user: str
    url: str
    actions: list[dict[str, Any]]
    blocked: bool = False
    failing_since: float | None = None

    def wants(self, action_type: str) -> bool:
        return not self.blocked and any(a.get("type") == action_type for a in self.actions)

    def as_item(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "actions": self.actions}


@attrs.frozen
class Attempt:
    event_id: str
    subscription_id: str
    copy: int
    number: int
    status: int | None
    """The receiver's answer (None: none in time, no connection, or never sent)."""
    outcome: str
    """``accepted`` (2xx), ``duplicate`` (409), ``refused`` (another code), ``timeout``, ``unreachable``,
    ``lost`` (dropped before sending) or ``answer_lost`` (the receiver answered, HH never heard)."""
    latency: float | None
    at: float
    """When the attempt ended (``time.monotonic()``)."""
    retry_in: float | None = None
    """The gap before the next attempt, when there is one."""


@attrs.define
class _Delivery:
    event_id: str
    subscription_id: str
    body: bytes = attrs.field(repr=False)
    copy: int = 0
    failures: int = 0


class WebhookSender:
    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        self.policy = policy or DeliveryPolicy()
        self.subscriptions: dict[str, FakeSubscription] = {}
        self.emitted: dict[str, dict[str, Any]] = {}
        """Every event made, by id, whether sent or not."""
        self.attempts: list[Attempt] = []
        self.acked: dict[str, float] = {}
        """Event id -> latency of the first answer HH took as success."""
        self.ack_latencies: list[float] = []
        """The latency of every answer HH took as success (duplicates' 409 included)."""
        self.undelivered: set[str] = set()
        """Events never sent (``lose_rate``) or dropped with a blocked subscription."""
        self._ids = itertools.count(1)
        self._subscription_ids = itertools.count(1)
        self._rng = random.Random(self.policy.seed)
        self._queue: list[tuple[float, int, _Delivery]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._lock = threading.Condition()
        self._loop_thread: int | None = None
        self._wake: anyio.Event | None = None  # made on the sending loop: an Event belongs to its loop

    def configure(self, policy: DeliveryPolicy) -> None:
        """Deliver by ``policy`` from now on (its seed restarts the random choices)."""
        with self._lock:
            self.policy = policy
            self._rng = random.Random(policy.seed)

    # --- subscriptions (the API side; users are the fake's user ids) ------------------------------------

    def subscriptions_of(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s.as_item() for s in self.subscriptions.values() if s.user == user]

    def create(self, user: str, url: str, actions: list[dict[str, Any]]) -> str | None:
        """The new subscription's id, or None when the user has one in this app already (HH's rule)."""
        with self._lock:
            if any(s.user == user for s in self.subscriptions.values()):
                return None
            ident = str(next(self._subscription_ids))
            self.subscriptions[ident] = FakeSubscription(ident, user, url, actions)
            return ident

    def update(self, user: str, ident: str, url: str | None, actions: list[dict[str, Any]] | None) -> bool:
        with self._lock:
            found = self.subscriptions.get(ident)
            if found is None or found.user != user:
                return False
            if url is not None:
                found.url = url
            if actions is not None:
                found.actions = actions  # HH replaces the whole list
            return True

    def delete(self, user: str, ident: str) -> bool:
        with self._lock:
            found = self.subscriptions.get(ident)
            if found is None or found.user != user:
                return False
            del self.subscriptions[ident]
            return True

    # --- events -----------------------------------------------------------------------------------------

    def emit(
        self, action_type: str, payload: Mapping[str, Any], *, users: Iterable[str] | None = None
    ) -> list[str]:
        """An event for every live subscription to ``action_type`` (of ``users`` only, if given): the ids
        of the events made. Safe from any thread."""
        chosen = None if users is None else set(users)
        made = []
        policy = self.policy
        with self._lock:
            now = time.monotonic()
            for sub in list(self.subscriptions.values()):
                if not sub.wants(action_type) or (chosen is not None and sub.user not in chosen):
                    continue
                event_id = f"fake-event-{next(self._ids)}"
                body = {
                    "id": event_id,
                    "subscription_id": sub.id,
                    "action_type": action_type,
                    "user_id": sub.user,
                    "payload": dict(payload),
                }
                self.emitted[event_id] = body
                made.append(event_id)
                if self._rng.random() < policy.lose_rate:
                    self.undelivered.add(event_id)
                    continue
                data = json.dumps(body, ensure_ascii=False).encode()
                due = now
                if self._rng.random() < policy.reorder_rate:
                    due += self._rng.random() * policy.reorder_window * policy.time_scale
                self._push(due, _Delivery(event_id, sub.id, data))
                if self._rng.random() < policy.duplicate_rate:
                    later = due + self._rng.random() * policy.reorder_window * policy.time_scale
                    self._push(later, _Delivery(event_id, sub.id, data, copy=1))
            self._lock.notify_all()
        return made

    def _push(self, due: float, delivery: _Delivery) -> None:
        heapq.heappush(self._queue, (due, next(self._order), delivery))
        self._nudge()

    def _nudge(self) -> None:
        """Wake the sending loop, when called on its own thread (anyio's Event is not thread-safe)."""
        if self._wake is not None and threading.get_ident() == self._loop_thread:
            self._wake.set()

    def settled(self) -> bool:
        """Nothing waiting to be sent or retried, nothing in flight."""
        with self._lock:
            return not self._queue and not self._in_flight

    def wait_settled(self, timeout: float = 30.0) -> bool:
        """Block (a thread) until ``settled``; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    async def until_settled(self, timeout: float = 30.0) -> None:
        """``wait_settled`` for async tests (either backend): TimeoutError if not settled in time."""
        import anyio.to_thread

        if not await anyio.to_thread.run_sync(self.wait_settled, timeout):
            raise TimeoutError(f"webhook deliveries still pending after {timeout} s")

    # --- the sending loop (on the server's event loop) --------------------------------------------------

    async def run(self) -> None:
        """Send until cancelled. Cancellation stops the attempts in flight (they count as not delivered:
        nothing is retried after shutdown) and closes the connections."""
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        transport: httpx.AsyncBaseTransport | None = None
        try:  # httpx's own pool costs several ms of CPU per request at this concurrency (DESIGN §5)
            from ..aiohttp_transport import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        except ImportError:
            pass
        async with (
            httpx.AsyncClient(transport=transport, limits=limits) as http,
            anyio.create_task_group() as group,
        ):
            self._loop_thread = threading.get_ident()
            self._wake = wake = anyio.Event()
            while True:
                delivery, wait = self._next_due()
                if delivery is None:
                    # Woken by what happens on this loop (a retry scheduled, an attempt done); emit()
                    # from another thread is seen within 50 ms.
                    with anyio.move_on_after(min(wait, 0.05)):
                        await wake.wait()
                    self._wake = wake = anyio.Event()
                    continue
                group.start_soon(self._attempt, http, delivery)

    def _next_due(self) -> tuple[_Delivery | None, float]:
        """The next delivery due now, or None and how long until one is due."""
        with self._lock:
            if not self._queue:
                return None, 0.05
            if self._in_flight >= self.policy.concurrency:
                return None, 0.05  # woken when one ends
            wait = self._queue[0][0] - time.monotonic()
            if wait > 0:
                return None, wait
            self._in_flight += 1
            return heapq.heappop(self._queue)[2], 0.0

    async def _attempt(self, http: httpx.AsyncClient, delivery: _Delivery) -> None:
        try:
            await self._deliver(http, delivery)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()
            self._nudge()

    async def _deliver(self, http: httpx.AsyncClient, delivery: _Delivery) -> None:
        with self._lock:
            sub = self.subscriptions.get(delivery.subscription_id)
        if sub is None or sub.blocked:
            with self._lock:
                self.undelivered.add(delivery.event_id)
            return
        number = delivery.failures + 1
        # Per attempt, not per call order: the same seed loses the same attempts however tasks interleave.
        chance = random.Random(f"{self.policy.seed}:{delivery.event_id}:{delivery.copy}:{number}").random()
        status: int | None = None
        latency: float | None = None
        if chance < self.policy.fail_rate / 2:
            outcome = "lost"
        else:
            started = time.perf_counter()
            outcome = "timeout"
            with anyio.move_on_after(self.policy.timeout):  # HH's 2 s: the whole exchange, not each phase
                try:
                    response = await http.post(
                        sub.url, content=delivery.body, headers={"content-type": "application/json"}
                    )
                    status = response.status_code
                    latency = time.perf_counter() - started
                    outcome = (
                        "accepted" if 200 <= status < 300 else "duplicate" if status == 409 else "refused"
                    )
                except httpx.TimeoutException:
                    outcome = "timeout"
                except httpx.TransportError:
                    outcome = "unreachable"
            if outcome in ("accepted", "duplicate") and chance < self.policy.fail_rate:
                outcome = "answer_lost"
        now = time.monotonic()
        with self._lock:
            record = functools.partial(
                Attempt, delivery.event_id, sub.id, delivery.copy, number, status, outcome, latency, now
            )
            if outcome in ("accepted", "duplicate"):
                assert latency is not None
                self.attempts.append(record())
                self.ack_latencies.append(latency)
                self.acked.setdefault(delivery.event_id, latency)
                sub.failing_since = None  # an expected answer takes it off the way to blocking
                return
            if sub.failing_since is None:
                sub.failing_since = now
            if now - sub.failing_since >= self.policy.block_after * self.policy.time_scale:
                sub.blocked = True
                log.info("fake HH: subscription %s blocked after failing since %s", sub.id, sub.failing_since)
                self.attempts.append(record())
                self.undelivered.add(delivery.event_id)
                return
            delivery.failures += 1
            retry_in = self.policy.gap(delivery.failures)
            self.attempts.append(record(retry_in))
            self._push(now + retry_in, delivery)


def percentile(values: Iterable[float], share: float) -> float | None:
    """The ``share`` (0..1) quantile, nearest rank; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


def summary(sender: WebhookSender) -> dict[str, Any]:
    """What a delivery run did, as JSON: counts by outcome, events acked or not, ack latency p50/p99."""
    with sender._lock:
        outcomes: dict[str, int] = {}
        for attempt in sender.attempts:
            outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
        latencies = list(sender.ack_latencies)
        emitted = len(sender.emitted)
        acked = len(sender.acked)
        undelivered = len(sender.undelivered - sender.acked.keys())
        blocked = sorted(s.id for s in sender.subscriptions.values() if s.blocked)
        pending = len(sender._queue) + sender._in_flight
    return {
        "emitted": emitted,
        "acked": acked,
        "undelivered": undelivered,
        "pending": pending,
        "attempts": outcomes,
        "blocked_subscriptions": blocked,
        "ack_p50": percentile(latencies, 0.5),
        "ack_p99": percentile(latencies, 0.99),
        "ack_max": max(latencies) if latencies else None,
    }
