"""httpx's pool, connect and read timeouts for ``AiohttpTransport``'s requests, kept by one clock.

aiohttp keeps a read timeout by re-arming a timer on every chunk that arrives, and its connect timeout
by one more timer per request: for a small answer, three timers and three cancellations, each ordered
in asyncio's heap through a Python-level comparison. That was a tenth of a small call's CPU
(``benchmarks/request_path.py``). Here one check, run a few times per second while requests are in
flight, looks at all of them instead, so a request costs a dictionary entry rather than timers.

What it keeps, as httpx means it, for each attempt aiohttp makes at a connection:
- ``pool`` + ``connect``: a request still without a connection that long after it asked for one fails
  with ``httpx.ConnectTimeout`` (aiohttp still bounds each connection attempt by ``connect`` itself);
- ``read``: once connected, nothing may stand still for ``read`` seconds: neither the wait for the answer
  nor any pause in it (its status line and headers included), else ``httpx.ReadTimeout``. Progress is
  what the connection has received, counted by its protocol as the bytes arrive.

A timeout never fires early, and at most a fifth late: the check runs ten times per shortest timeout in
flight, and progress is seen at a check, not as it arrives. A request that times out is cancelled as
``asyncio.timeout`` does it (its task cancelled, the cancellation taken back and turned into the timeout
error), so a cancellation from elsewhere arriving at the same time still wins, an anyio cancel scope's
included. Requests that send a body keep aiohttp's own timers: only aiohttp knows when the body has gone
out and the wait for the answer starts.
"""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
from aiohttp.client_proto import ResponseHandler

CHECKS_PER_TIMEOUT = 10
LATE = 0.02
"""Seconds past its time after which a check counts as run late (the loop was busy): it then looks once
more after the loop has read its sockets, so an answer that came during the stall is not missed."""


class Watch:
    """One request in flight: how far it got, and since when."""

    __slots__ = (
        "cancelling",
        "connect",
        "expired",
        "finished",
        "protocol",
        "quiet_since",
        "read",
        "seen",
        "started",
        "taken_back",
        "task",
    )

    def __init__(self, task: asyncio.Task[Any], started: float, connect: float, read: float) -> None:
        self.task = task
        self.cancelling = task.cancelling()  # cancellations asked before ours: not ours to take back
        self.started = started
        """When the current attempt at a connection began."""
        self.connect = connect
        """Seconds from asking for a connection to having one (``pool`` + ``connect``); inf for no limit."""
        self.read = read
        self.protocol: _CountingHandler | None = None
        """The connection's protocol once there is one: what it has received so far tells progress."""
        self.quiet_since = 0.0
        """When something (the connection, bytes of the answer) last came."""
        self.seen = 0
        self.expired: type[httpx.TimeoutException] | None = None
        self.taken_back = False
        self.finished = False
        """Set once the answer is whole: from then on nothing here cancels the request."""

    def take_back(self) -> bool:
        """Take back the cancellation an expiry made (once); whether another one is pending."""
        if not self.taken_back:
            self.taken_back = True
            return self.task.uncancel() > self.cancelling
        return self.task.cancelling() > self.cancelling

    def deadline(self, now: float) -> float:
        if self.protocol is None:
            return self.started + self.connect
        got = self.protocol.received
        if got != self.seen:  # bytes came since the last check: quiet from now on, at the latest
            self.seen, self.quiet_since = got, now
        return self.quiet_since + self.read


class RequestClock:
    """The timeouts of every watched request on one event loop, checked together."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.enabled = True
        """Whether requests are watched here (their connector counts what they receive)."""
        self._watches: dict[asyncio.Task[Any], Watch] = {}
        self._check_at = math.inf
        self._handle: asyncio.TimerHandle | None = None
        self._deferred = False

    def watch(self, connect: float | None, read: float | None) -> Watch:
        task = asyncio.current_task(self._loop)  # given the loop: no get_running_loop(), no getpid()
        assert task is not None, "a request runs in a task"
        now = self._loop.time()
        watch = Watch(task, now, math.inf if connect is None else connect, math.inf if read is None else read)
        self._watches[task] = watch
        step = min(watch.connect, watch.read) / CHECKS_PER_TIMEOUT
        if now + step < self._check_at:
            self._schedule(now + step)
        return watch

    def connecting(self) -> Watch | None:
        """The current task's request asks for a connection (again, when aiohttp retries on a new one):
        the pool + connect limit counts from now, and no read is waited for meanwhile."""
        watch = self._watches.get(asyncio.current_task(self._loop))  # type: ignore[arg-type]
        if watch is not None:
            watch.protocol, watch.started = None, self._loop.time()
        return watch

    def connected(self, watch: Watch, protocol: _CountingHandler) -> None:
        """``watch``'s request has a connection: from now on it waits for bytes on it."""
        watch.protocol = protocol
        watch.seen, watch.quiet_since = protocol.received, self._loop.time()

    def forget(self, watch: Watch) -> None:
        if self._watches.get(watch.task) is watch:
            del self._watches[watch.task]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._check_at = math.inf

    def _schedule(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if math.isinf(when):
            self._handle, self._check_at = None, math.inf
        else:
            self._handle, self._check_at = self._loop.call_at(when, self._check), when

    def _check(self) -> None:
        due, self._handle, self._check_at = self._check_at, None, math.inf
        now = self._loop.time()
        if now - due > LATE and not self._deferred:
            # The loop was busy past the check's time: what arrived meanwhile is read at the next select.
            # Look again right after it (a timer due now runs after the select, a call_soon before it).
            self._deferred = True
            self._schedule(now)
            return
        self._deferred = False
        step = math.inf
        for watch in list(self._watches.values()):
            if watch.finished or watch.expired is not None:
                continue
            if now >= watch.deadline(now):
                watch.expired = httpx.ReadTimeout if watch.protocol is not None else httpx.ConnectTimeout
                watch.task.cancel()
            else:
                step = min(step, watch.connect, watch.read)
        self._schedule(now + step / CHECKS_PER_TIMEOUT)


def timeout_for(watch: Watch, exc: BaseException, request: httpx.Request) -> httpx.TimeoutException | None:
    """The timeout to raise instead of ``exc`` when the watch expired, its cancellation taken back; None
    when it did not, or when another cancellation came too (then ``exc`` goes on)."""
    if watch.expired is None:
        return None
    if watch.take_back() and isinstance(exc, asyncio.CancelledError):
        return None
    if watch.protocol is None:
        message = f"no connection within {watch.connect:g} s (pool + connect timeouts)"
    else:
        message = f"nothing received for {watch.read:g} s (read timeout)"
    return watch.expired(message, request=request)


async def let_cancel_scopes_act() -> None:
    """A checkpoint, when an anyio cancel scope around the request was cancelled at the moment it timed
    out: the clock's cancellation got there first, so anyio held its own back; it is delivered here, and
    the scope ends as it would have (``move_on_after`` moves on) instead of letting the timeout out."""
    if anyio.current_effective_deadline() == -math.inf:
        await anyio.lowlevel.checkpoint()


class _CountingHandler(ResponseHandler):
    """aiohttp's protocol for a connection, counting what it receives: the clock's sign of progress
    (status line and headers included, which the response's own byte count leaves out)."""

    received = 0

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        super().data_received(data)


class WatchingConnector(aiohttp.TCPConnector):
    """aiohttp's connector, telling the clock when a request asks for a connection and when it has one,
    and making connections whose protocol counts the bytes received."""

    def __init__(self, clock: RequestClock, **options: Any) -> None:
        super().__init__(**options)
        self.clock = clock
        """The clock of this connector's requests, on the loop of its session."""
        factory = getattr(self, "_factory", None)  # how aiohttp makes each connection's protocol
        self.counts_bytes = isinstance(factory, functools.partial) and factory.func is ResponseHandler
        """False with an aiohttp that makes its protocols otherwise: then nothing here can see progress,
        and the transport leaves every timeout to aiohttp's own timers."""
        if self.counts_bytes:
            assert isinstance(factory, functools.partial)
            counting: Any = functools.partial(_CountingHandler, *factory.args, **factory.keywords)
            self._factory = counting

    async def connect(self, *args: Any, **kwargs: Any) -> aiohttp.connector.Connection:
        watch = self.clock.connecting()
        connection = await super().connect(*args, **kwargs)
        if watch is not None and isinstance(connection.protocol, _CountingHandler):
            self.clock.connected(watch, connection.protocol)
        return connection


__all__ = ["RequestClock", "Watch", "WatchingConnector", "let_cancel_scopes_act", "timeout_for"]
