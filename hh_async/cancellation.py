"""Keeping a caller's cancellation where it belongs, on asyncio as on trio.

anyio's cancel scopes (and trio's) are cooperative: a shielded scope holds, and libraries clean up inside
shields of their own. asyncio's native ``task.cancel()`` — what ``asyncio.wait_for``, ``asyncio.timeout``
and many web frameworks use — knows nothing of those shields and goes straight through them. Measured here:
300 requests natively cancelled at random points leave httpx's connection pool (httpcore) with connections
it believes busy, and the next request waits for one forever; cancelled through an anyio scope, none leak.

So work that must not see a native cancellation runs in a child task of its own, in an anyio task group:
a native cancel of the caller reaches the group, which cancels the child the anyio way (shields honoured)
and waits for it. Under trio there is no native cancellation and the work runs in the caller's task.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import sniffio

T = TypeVar("T")


def being_cancelled() -> bool:
    """Is the current task being cancelled, the anyio way (its scope) or natively (``task.cancel()``)?
    Tells a cancellation meant for this task from a ``CancelledError`` that code it awaited merely let
    out (a future cancelled elsewhere)."""
    if anyio.current_effective_deadline() == -math.inf:
        return True
    if sniffio.current_async_library() == "asyncio":
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0
    return False


async def isolated(work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, cancellable only the anyio way: a caller cancelled natively waits for ``work``
    to wind down cleanly (its own shields held) before the cancellation goes on."""
    if sniffio.current_async_library() != "asyncio":
        return await work()
    return await _in_child(work, shield=False)


async def shielded(work: Callable[[], Awaitable[T]], *, timeout: float) -> T:
    """``await work()`` to its end whatever happens to the caller, but for at most ``timeout`` seconds
    (then ``TimeoutError``): for state changes that must not be lost half-way, such as a token refresh
    and the save of the new pair. The caller's cancellation, of either kind, is raised once it is done."""
    if sniffio.current_async_library() != "asyncio":
        with anyio.fail_after(timeout, shield=True):
            return await work()
    return await _in_child(work, shield=True, timeout=timeout)


async def _in_child(work: Callable[[], Awaitable[T]], *, shield: bool, timeout: float | None = None) -> T:
    outcome: list[T] = []
    failure: list[BaseException] = []

    async def child() -> None:
        try:
            with anyio.fail_after(timeout, shield=shield):
                outcome.append(await work())
        except Exception as exc:  # raised in the caller as itself, not inside an ExceptionGroup
            failure.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(child)
    if failure:
        raise failure[0]
    return outcome[0]


__all__ = ["isolated", "shielded"]
