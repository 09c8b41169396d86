"""A durable queue of webhook events in a Redis stream, and the worker that handles them after HH has its
answer.

``RedisEventQueue.put`` checks the event's dedup keys and appends it to the stream in one Lua script: an
event is either stored and seen, or neither, whatever fails or is cancelled. Workers in any number of
processes share the stream through one consumer group (``XREADGROUP``); each entry goes to one worker,
which acknowledges and deletes it once handled (``XACK`` + ``XDEL`` in one transaction). The entries a
killed worker had taken stay pending and another worker takes them over once idle for ``claim_idle``
seconds (``XAUTOCLAIM``), while a live worker keeps its own from going idle (``XCLAIM`` as a heartbeat).
An event whose handler keeps failing goes to a dead-letter stream with the last error.

Needs the ``redis`` extra (redis-py's asyncio client, so asyncio only: redis-py does not run under trio).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ..cancellation import being_cancelled, shielded
from .dedup import DEFAULT_TTL
from .events import MalformedEvent, WebhookEvent, parse_event

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

log = logging.getLogger("hh_async.webhooks")

Handler = Callable[[WebhookEvent], Awaitable[object]]
OnDone = Callable[["Pipeline", WebhookEvent], object]
"""Queues commands on the acknowledgement's transaction (``pipe.hset(...)``; no await)."""

# KEYS[1]: the stream; KEYS[2..]: the event's dedup keys. ARGV: ttl, the event.
PUT_SCRIPT = """
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return false end
end
local entry = redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], entry, 'EX', ARGV[1])
end
return entry
"""


# KEYS[1]: the dead letters, KEYS[2]: the stream; ARGV[1]: the dead letter's id. Back in one step.
REPLAY_SCRIPT = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return false end
local fields = found[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'event' then
    local entry = redis.call('XADD', KEYS[2], '*', 'event', fields[i + 1])
    redis.call('XDEL', KEYS[1], ARGV[1])
    return entry
  end
end
return false
"""


@attrs.frozen
class DeadLetter:
    entry_id: str
    event: bytes = attrs.field(repr=False)
    error: str
    attempts: int


class RedisEventQueue:
    """The stream ``hh:webhooks:{name}:events``, its dead letters ``…:dead`` and dedup keys ``…:seen:*``
    (one hash tag, one Redis Cluster slot). Give every app its own ``name``."""

    GROUP = "workers"

    def __init__(self, redis: Redis, name: str = "default", *, ttl: float = DEFAULT_TTL) -> None:
        if not name or any(c in name for c in "{}: "):
            raise ValueError(f"queue name {name!r}: use letters, digits, '-' or '_'")
        self.redis = redis
        self.name = name
        prefix = f"hh:webhooks:{{{name}}}:"
        self.stream = prefix + "events"
        self.dead_stream = prefix + "dead"
        self.seen_prefix = prefix + "seen:"
        self.ttl = int(ttl)
        self._put = redis.register_script(PUT_SCRIPT)
        self._replay = redis.register_script(REPLAY_SCRIPT)
        self._claim_from: dict[str, str] = {}  # per consumer: where the next take_over goes on

    def __repr__(self) -> str:
        return f"RedisEventQueue(name={self.name!r})"

    async def put(self, event: WebhookEvent) -> bool:
        keys = [self.stream, *(self.seen_prefix + key for key in event.keys)]
        entry = await self._put(keys=keys, args=[self.ttl, event.to_json()])
        return entry is not None

    async def seen(self, key: str) -> bool:
        """Was an event with this dedup key (``WebhookEvent.keys``) stored within the TTL?"""
        return bool(await self.redis.exists(self.seen_prefix + key))

    async def ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self.redis.xgroup_create(self.stream, self.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def backlog(self) -> int:
        """Events stored and not handled yet (taken by a worker or not)."""
        return int(await self.redis.xlen(self.stream))

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        entries: Any = await self.redis.xrange(self.dead_stream, count=count)
        return [
            DeadLetter(
                entry_id=_text(entry_id),
                event=fields[b"event"],
                error=_text(fields[b"error"]),
                attempts=int(fields[b"attempts"]),
            )
            for entry_id, fields in entries
        ]

    async def replay(self, entry_id: str) -> bool:
        """Put a dead letter back in the queue (its handler fixed, the CRM back up): handled again like a
        new event. False if there is no such dead letter (replayed already)."""
        entry = await self._replay(keys=[self.dead_stream, self.stream], args=[entry_id])
        return entry is not None

    async def read(self, consumer: str, count: int, *, block: float | None, own: bool = False) -> list[Entry]:
        """Up to ``count`` new entries for ``consumer`` (``own``: those it already took and did not ack)."""
        answer: Any = await self.redis.xreadgroup(
            self.GROUP,
            consumer,
            {self.stream: "0" if own else ">"},
            count=count,
            block=None if block is None or own else int(block * 1000),
        )
        return [Entry(_text(i), f[b"event"], own) for _, entries in answer or () for i, f in entries if f]

    async def take_over(self, consumer: str, idle: float, count: int) -> list[Entry]:
        """Entries other consumers took and left idle for ``idle`` seconds (a worker that died). Each call
        goes on where the last one stopped (Redis looks at about ``10 * count`` pending entries a call),
        so idle entries behind many busy ones are reached too."""
        answer: Any = await self.redis.xautoclaim(
            self.stream,
            self.GROUP,
            consumer,
            int(idle * 1000),
            start_id=self._claim_from.get(consumer, "0-0"),
            count=count,
        )
        self._claim_from[consumer] = _text(answer[0])  # "0-0" once the whole list was looked at
        return [Entry(_text(i), f[b"event"], True) for i, f in answer[1] if f]

    async def deliveries(self, entry_id: str) -> int:
        """How many times the entry was handed to a consumer (taking over counts as one)."""
        answer: Any = await self.redis.xpending_range(self.stream, self.GROUP, entry_id, entry_id, 1)
        return int(answer[0]["times_delivered"]) if answer else 0

    async def keep(self, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of entries this consumer is working on, so nobody takes them over."""
        if entry_ids:
            ids: list[Any] = list(entry_ids)
            await self.redis.xclaim(self.stream, self.GROUP, consumer, 0, ids, justid=True)

    async def done(self, entry_id: str, also: Callable[[Pipeline], object] | None = None) -> None:
        """Acknowledge and delete an entry; ``also`` adds commands to the same transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if also is not None:
                also(pipe)
            pipe.xack(self.stream, self.GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()

    async def bury(self, entry_id: str, event: bytes, error: str, attempts: int) -> None:
        """Move an entry to the dead letters, in one transaction with its acknowledgement."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.dead_stream,
                {"event": event, "error": error[:1000], "attempts": attempts, "entry": entry_id},
            )
            pipe.xack(self.stream, self.GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()


class HandlerCancelled(Exception):
    """A handler raised ``CancelledError`` of its own (it awaited something cancelled elsewhere)."""


@attrs.frozen
class Entry:
    entry_id: str
    event: bytes = attrs.field(repr=False)
    recovered: bool = False
    """Taken before by a consumer that did not finish it (a restart, a takeover)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def default_consumer() -> str:
    """host:pid: a restarted process is a new consumer; what the old one held is taken over when idle."""
    return f"{socket.gethostname()}:{os.getpid()}"


@attrs.define
class WorkerStats:
    handled: int = 0
    retried: int = 0
    dead: int = 0
    taken_over: int = 0


class Worker:
    """Handles the queue's events with at most ``concurrency`` handlers at once; a failed handler is
    retried ``max_attempts`` times in all with capped exponential backoff and jitter, then buried.

    ``await worker.run()`` until cancelled (in your app's lifespan, or a process of its own). Cancelled,
    it stops taking entries; those in hand stay pending and are handled again (by this consumer name when
    it comes back, by another worker after ``claim_idle``). So a handler must tolerate being run again for
    an event whose earlier run was interrupted; one that finished is acknowledged in the same step.
    ``claim_idle`` must exceed the longest stall of a live worker's event loop.

    ``on_done(pipe, event)`` queues Redis commands that run in one transaction with the acknowledgement:
    a result recorded there is recorded exactly once, even if the process is killed right after the
    handler returned (the one moment where a finished handler can otherwise run again).
    """

    def __init__(
        self,
        queue: RedisEventQueue,
        handler: Handler,
        *,
        consumer: str | None = None,
        concurrency: int = 16,
        max_attempts: int = 5,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        claim_idle: float = 60.0,
        block: float = 1.0,
        max_deliveries: int = 10,
        on_done: OnDone | None = None,
        handler_timeout: float | None = None,
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")
        if claim_idle <= 0 or block <= 0 or (handler_timeout is not None and handler_timeout <= 0):
            raise ValueError("claim_idle, block and handler_timeout are positive numbers of seconds")
        self.queue = queue
        self.handler = handler
        self.consumer = consumer or default_consumer()
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.claim_idle = claim_idle
        self.block = block
        self.max_deliveries = max_deliveries
        """An entry whose handling was interrupted this often (a handler that kills its process?) is
        buried rather than tried again."""
        self.on_done = on_done
        self.handler_timeout = handler_timeout
        """Seconds one run of the handler may take; past them it counts as a failed attempt (None: no
        limit, and a handler that hangs holds its place, and its event, for good)."""
        self.stats = WorkerStats()
        self._in_hand: set[str] = set()

    def __repr__(self) -> str:
        return f"Worker(queue={self.queue!r}, consumer={self.consumer!r})"

    async def run(self) -> None:
        slots = anyio.Semaphore(self.concurrency)
        async with anyio.create_task_group() as group:
            group.start_soon(self._heartbeat)
            grouped = False  # the consumer group exists (made again if Redis came back empty)
            next_take_over = anyio.current_time()
            outage = 0
            while True:
                free = slots.value
                if free == 0:
                    async with slots:  # wait until one handler is done
                        pass
                    continue
                entries: list[Entry] = []
                try:
                    if not grouped:
                        await self.queue.ensure_group()
                        grouped = True
                        # What this consumer name took before a restart comes first.
                        entries = await self.queue.read(self.consumer, 10_000, block=None, own=True)
                    elif anyio.current_time() >= next_take_over:
                        entries = await self.queue.take_over(self.consumer, self.claim_idle, free)
                        self.stats.taken_over += len(entries)
                        next_take_over = anyio.current_time() + self.claim_idle / 4
                    if not entries:
                        entries = await self.queue.read(self.consumer, free, block=self.block)
                except Exception as exc:  # Redis away (a restart, a failover): wait, then read again
                    if "NOGROUP" in str(exc):  # Redis restarted without its data: the group is made again
                        grouped = False
                    outage += 1
                    name = type(exc).__name__
                    log.warning("webhook worker %s cannot read the queue (%s: %s)", self.consumer, name, exc)
                    await anyio.sleep(min(5.0, 0.1 * 2**outage))
                    continue
                outage = 0
                await self._start_all(group, slots, entries)

    async def _start_all(
        self, group: anyio.abc.TaskGroup, slots: anyio.Semaphore, entries: list[Entry]
    ) -> None:
        for entry in entries:
            if entry.entry_id in self._in_hand:
                continue
            await slots.acquire()
            self._in_hand.add(entry.entry_id)
            group.start_soon(self._process, entry, slots)

    async def _process(self, entry: Entry, slots: anyio.Semaphore) -> None:
        try:
            await self._handle(entry)
        except Exception as exc:
            # Acknowledging or burying failed (Redis away): the entry stays pending and is handled
            # again once taken over; that is the only way a finished handler runs twice.
            log.warning("webhook entry %s left pending (%s)", entry.entry_id, type(exc).__name__)
        finally:
            self._in_hand.discard(entry.entry_id)
            slots.release()

    async def _handle(self, entry: Entry) -> None:
        try:
            event = parse_event(entry.event)
        except MalformedEvent as exc:
            reason = str(exc)
            await shielded(lambda: self.queue.bury(entry.entry_id, entry.event, reason, 0), timeout=10)
            self.stats.dead += 1
            return
        if entry.recovered:
            deliveries = await self.queue.deliveries(entry.entry_id)
            if deliveries > self.max_deliveries:
                reason = f"handling interrupted {deliveries - 1} times (does the handler kill its worker?)"
                log.warning("webhook event %s dead-lettered: %s", event.id, reason)
                await shielded(lambda: self.queue.bury(entry.entry_id, entry.event, reason, 0), timeout=10)
                self.stats.dead += 1
                return
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._run_handler(event)
            except Exception as exc:
                if attempt == self.max_attempts:
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("webhook event %s failed %d times, dead-lettered", event.id, attempt)
                    await shielded(
                        functools.partial(self.queue.bury, entry.entry_id, entry.event, error, attempt),
                        timeout=10,
                    )
                    self.stats.dead += 1
                    return
                self.stats.retried += 1
                pause = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
                await anyio.sleep(pause * random.uniform(0.5, 1.0))
            else:
                # Finished work is acknowledged even if the worker is being cancelled right now.
                await shielded(functools.partial(self._finish, entry, event), timeout=10)
                self.stats.handled += 1
                return

    async def _run_handler(self, event: WebhookEvent) -> None:
        """One run of the handler; a ``CancelledError`` it raises while nobody cancels this worker (it
        awaited a future cancelled elsewhere) is a failure like any other, not a stop of the worker."""
        try:
            with anyio.fail_after(self.handler_timeout):
                await self.handler(event)
        except anyio.get_cancelled_exc_class():
            if being_cancelled():
                raise
            raise HandlerCancelled("the handler raised CancelledError without being cancelled") from None

    async def _finish(self, entry: Entry, event: WebhookEvent) -> None:
        on_done = self.on_done
        if on_done is None:
            await self.queue.done(entry.entry_id)
        else:
            await self.queue.done(entry.entry_id, lambda pipe: on_done(pipe, event))

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.claim_idle / 3)
            try:
                await self.queue.keep(self.consumer, sorted(self._in_hand))
            except Exception:  # a Redis hiccup: the next beat tries again
                log.warning("webhook worker %s could not renew its entries", self.consumer, exc_info=True)
