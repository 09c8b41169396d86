"""Retries as an httpx transport wrapper: ``RetryTransport(inner, RetryPolicy(...))``.

Idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS) are retried on connection errors, timeouts, 429 and
502/503/504, with capped exponential backoff and full jitter, honouring ``Retry-After`` (seconds or an HTTP
date) when HH or a proxy sends one. POST is retried only when the caller opts in. A spent quota (what
``errors`` raises as ``LimitExceededError``) is not retried: it will not come back today. Attempts and a
total time budget bound it all; per call, ``request.extensions["hh_retry"]`` may carry another policy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime

import anyio
import attrs
import httpx

from .buffered_transport import read_whole
from .errors import LimitExceededError, error_from_response
from .events import events_of

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@attrs.frozen
class RetryPolicy:
    max_attempts: int = 4
    """Attempts in all, the first included; 1 disables retries."""
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    budget: float = 60.0
    """Seconds from the first attempt after which no retry starts."""
    retry_post: bool = False
    """POST is not idempotent at HH (applying, creating a vacancy...): retry it only when it is safe."""
    statuses: frozenset[int] = RETRY_STATUSES

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)) — attempt 0 is the first retry."""
        return float(rng()) * min(self.backoff_max, self.backoff_base * 2.0**attempt)

    def retries(self, method: str) -> bool:
        return method.upper() in IDEMPOTENT or (self.retry_post and method.upper() == "POST")


def retry_after(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds ``Retry-After`` asks for (a number, or an HTTP date); None if absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError, IndexError):
        return None


def _quota_spent(response: httpx.Response) -> bool:
    """A 429 for a spent quota (``*_limit_exceeded``, ``quota_exceeded``), classified as ``errors`` does."""
    return isinstance(error_from_response(response), LimitExceededError)


async def _read(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """One attempt, body included: a connection dropped mid-body is a failed attempt too. A body that
    cannot be read is closed before the error goes on, so the connection and the throttle place it holds
    are given back whatever the error (a drop, a timeout, a cancellation)."""
    response = await transport.handle_async_request(request)
    if isinstance(response.stream, httpx.ByteStream):  # whole already (our transports): nothing held open
        read_whole(response)
        return response
    try:
        await response.aread()
    except BaseException:
        await response.aclose()
        raise
    return response


class RetryTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.transport = transport
        self.policy = policy or RetryPolicy()
        self._clock, self._sleep, self._rng = clock, sleep, rng

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy: RetryPolicy = request.extensions.get("hh_retry", self.policy)
        if not policy.retries(request.method):
            return await self.transport.handle_async_request(request)
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= policy.max_attempts
            failed: httpx.Response | None = None
            try:
                response = await _read(self.transport, request)
            except httpx.TransportError as exc:  # timeouts included
                delay = policy.backoff(attempt - 1, self._rng)
                if last or self._clock() - started + delay > policy.budget:
                    raise
                reason = type(exc).__name__
            else:
                if response.status_code not in policy.statuses or last:
                    return response
                if response.status_code == 429 and _quota_spent(response):
                    return response
                asked = retry_after(response)
                delay = asked if asked is not None else policy.backoff(attempt - 1, self._rng)
                if self._clock() - started + delay > policy.budget:
                    return response
                failed, reason = response, f"HTTP {response.status_code}"
            events_of(request).emit(
                "retry",
                f"{reason}; attempt {attempt + 1} of {policy.max_attempts} in {delay:.2f} s",
                request=request,
                response=failed,
                attempt=attempt + 1,
                delay=delay,
            )
            await self._sleep(delay)

    async def aclose(self) -> None:
        await self.transport.aclose()
