"""Client-wide pacing as an httpx transport wrapper: ``ThrottleTransport(inner, Throttle(rate=8))``.

One ``Throttle`` is shared by every task of a client: requests start at most ``rate`` per second (evenly
spaced) and at most ``concurrency`` are in flight; a waiter cancelled before its turn gives the turn to
the next caller. On a 429 the rate halves; each calm response wins back a twentieth of the configured
rate (additive increase, multiplicative decrease), so a scraper settles just under what HH tolerates
(about 10 requests per second per IP) instead of hammering it.

``Throttle`` keeps all of it in this process. HH counts per IP, so processes that share one (several
workers, several scrapers) share one budget: ``redis_throttle.RedisThrottle`` keeps the same pacing, cap
and slow-down in Redis for all of them. Any object with ``ThrottleBackend``'s three members will do.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import anyio
import httpx

from .events import THROTTLE_WAIT_REPORTED, Events, events_of

_Send = Callable[[httpx.Request], Awaitable[httpx.Response]]


class ThrottleBackend(Protocol):
    """What ``ThrottleTransport`` needs of a throttle: a place and a turn before each request, the place
    back (with HH's status, None if there was no answer) after it."""

    @property
    def rate(self) -> float | None:
        """Requests per second now in force (None: unpaced); for the ``slowdown`` event."""
        ...

    async def acquire(self, borrower: object) -> float:
        """Wait for a place and a turn; the seconds waited. Cancelled or failed: nothing is held."""
        ...

    async def release(self, borrower: object, status: int | None) -> None:
        """Give ``borrower``'s place back; a 429 slows the rate down. Called once per ``acquire``."""
        ...


class Throttle:
    def __init__(
        self,
        rate: float | None = 8.0,
        concurrency: int = 20,
        *,
        min_rate: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive (requests per second) or None, got {rate!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        self.target = rate
        self.rate = rate
        """The rate now in force: below ``target`` after 429s, climbing back while calm."""
        self.min_rate = min(min_rate, rate) if rate else min_rate
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._next_start = 0.0
        self._free: list[float] = []  # turns given up by cancelled waiters, for the next callers
        self._clock, self._sleep = clock, sleep

    @property
    def concurrency(self) -> int:
        return int(self._limiter.total_tokens)

    @property
    def in_flight(self) -> int:
        return int(self._limiter.borrowed_tokens)

    async def acquire(self, borrower: object) -> float:
        """Wait for a free place and for this request's turn under the rate; the seconds it waited. A wait
        that is cancelled (or fails) holds nothing afterwards: neither the place nor, when no one queued
        behind it, the slot."""
        asked: float | None = None
        try:  # a free place costs no trip through the event loop (nor a look at the clock)
            self._limiter.acquire_on_behalf_of_nowait(borrower)
        except anyio.WouldBlock:
            asked = self._clock()
            await self._limiter.acquire_on_behalf_of(borrower)  # cancelled here: nothing was taken
        if self.rate is None:
            return 0.0 if asked is None else self._clock() - asked
        now = self._clock()
        start = self._free_turn(now) if self._free else None
        reserved: float | None = None
        if start is None:
            start = max(now, self._next_start)
            reserved = self._next_start = start + 1 / self.rate  # reserved before sleeping: no lock needed
        if start <= now:
            return 0.0 if asked is None else now - asked
        try:
            await self._sleep(start - now)
        except BaseException:
            self._limiter.release_on_behalf_of(borrower)
            if reserved is not None and self._next_start == reserved:  # the last slot handed out
                self._next_start = start
            else:  # a turn in the middle of the queue: the next caller takes it, no hole is left
                heapq.heappush(self._free, start)
            raise
        return start - (now if asked is None else asked)

    def _free_turn(self, now: float) -> float | None:
        """The earliest turn a cancelled waiter gave up that has not passed yet (a passed one is lost: using
        it late would send two requests at once)."""
        while self._free:
            turn = heapq.heappop(self._free)
            if turn > now:
                return turn
        return None

    async def release(self, borrower: object, status: int | None) -> None:
        """Give the place back; a 429 slows the rate down, a calm answer lets it climb back. Never
        suspends, so it completes even in a task being cancelled."""
        self._limiter.release_on_behalf_of(borrower)
        if status is not None:
            self._observe(status)

    def _observe(self, status: int) -> None:
        if self.rate is None or self.target is None:
            return
        if status == 429:
            self.rate = max(self.min_rate, self.rate / 2)
        elif self.rate < self.target:
            self.rate = min(self.target, self.rate + self.target / 20)


class ThrottleTransport(httpx.AsyncBaseTransport):
    def __init__(self, transport: httpx.AsyncBaseTransport, throttle: ThrottleBackend) -> None:
        self.transport = transport
        self.throttle = throttle

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        borrower = object()
        waited = await self.throttle.acquire(borrower)
        if waited > THROTTLE_WAIT_REPORTED:
            message = f"waited {waited:.1f} s for its turn"
            events_of(request).emit("throttle_wait", message, request=request, elapsed=waited)
        try:
            response = await self.transport.handle_async_request(request)
        except BaseException:
            await self.throttle.release(borrower, None)
            raise

        if isinstance(response.stream, httpx.ByteStream):  # the body is in memory already (AiohttpTransport)
            await self._finish(borrower, request, response)
            return response
        # The place is held until the body has been read or the response closed, not only until headers.
        stream = _ReleasingStream(response.stream, lambda: self._finish(borrower, request, response))
        return httpx.Response(
            response.status_code, headers=response.headers, stream=stream, extensions=response.extensions
        )

    @contextlib.asynccontextmanager
    async def turn(self, events: Events) -> AsyncIterator[_Send]:
        """A place and a turn for one request sent later, through the transport below (no retry above it):
        ``async with throttle_transport.turn(events) as send: ... await send(request)``. For token
        requests: waiting for the turn stays cancellable (nothing is spent yet), while the exchange inside
        may run shielded. The place is given back once the answer is read, or on leaving unsent."""
        borrower = object()
        waited = await self.throttle.acquire(borrower)
        if waited > THROTTLE_WAIT_REPORTED:
            message = f"a token request waited {waited:.1f} s for its turn"
            events.emit("throttle_wait", message, elapsed=waited)
        held = True

        async def send(request: httpx.Request) -> httpx.Response:
            nonlocal held
            if not held:
                raise RuntimeError("a throttle turn sends one request")
            try:
                response = await self.transport.handle_async_request(request)
                await response.aread()
            except BaseException:
                held = False
                await self.throttle.release(borrower, None)
                raise
            held = False
            await self._finish(borrower, request, response)
            return response

        try:
            yield send
        finally:
            if held:
                await self.throttle.release(borrower, None)

    async def _finish(self, borrower: object, request: httpx.Request, response: httpx.Response) -> None:
        """Give the place back; a 429 halves the rate, which is worth a record."""
        await self.throttle.release(borrower, response.status_code)
        if response.status_code == 429:
            rate = self.throttle.rate
            slower = f"rate lowered to {rate:.2f} requests/s" if rate else "no rate limit set"
            events_of(request).emit(
                "slowdown", f"HTTP 429: {slower}", request=request, response=response, rate=rate
            )

    async def aclose(self) -> None:
        await self.transport.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """The body of a response that holds a throttle place: the place is given back exactly once, when the
    body has been read to its end, when reading it fails (a connection dropped mid-body) or when the
    response is closed, whichever comes first."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], Awaitable[None]]
    ) -> None:
        self._stream = stream
        self._release: Callable[[], Awaitable[None]] | None = release

    async def _release_once(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            await release()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        try:
            async for chunk in self._stream:
                yield chunk
        finally:  # read to the end, failed, cancelled, or abandoned: the place is free either way
            await self._release_once()

    async def aclose(self) -> None:
        try:
            if isinstance(self._stream, httpx.AsyncByteStream):
                await self._stream.aclose()
        finally:
            await self._release_once()
