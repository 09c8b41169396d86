"""Paged lists as async iterators: ``hh.paginate(hh.get_vacancies, text="python")``.

    pages = hh.paginate(hh.get_vacancies, text="python", area=["1"])
    async for vacancy in pages:          # items, in HH's order
        save(vacancy, pages.cursor.to_json())
    if pages.truncated: ...              # HH's depth cap (2000 for searches) hid the rest

Every paginated operation of the registry works the same way. ``per_page`` defaults to the operation's
documented maximum; requests never go past the operation's depth cap (HH would answer 400), and ``truncated``
says when the cap hid part of ``found``. Following pages are fetched ahead, ``prefetch`` at a time, and
handed out in order, so at most ``prefetch`` pages are held in memory whatever the size of the list.

``cursor`` is the position after the last item handed out; ``hh.paginate(cursor=Cursor.from_json(saved))``
continues from there after a crash or a spent retry budget: nothing skipped, nothing repeated (as long as
the list itself did not change in between: use date windows, as ``search_all_vacancies`` does, for lists
that grow while you read them).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import sniffio

from .operations import Operation, registry

if TYPE_CHECKING:
    from .client import HHClient

HH_DEFAULT_PER_PAGE = 20
"""What HH uses when an operation documents no ``per_page`` default of its own."""


@attrs.frozen
class Cursor:
    """Where a paged read stands: the next item is item ``offset`` of page ``page``."""

    operation: str
    arguments: Mapping[str, Any]
    per_page: int
    page: int = 0
    offset: int = 0

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        try:
            data = json.loads(text)
            cursor = cls(
                operation=str(data["operation"]),
                arguments=dict(data["arguments"]),
                per_page=int(data["per_page"]),
                page=int(data["page"]),
                offset=int(data["offset"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a saved hh_async cursor: {exc}") from None
        if cursor.operation not in registry():
            raise ValueError(f"the cursor names an unknown operation: {cursor.operation!r}")
        return cursor


def resolve(method: Callable[..., Awaitable[Any]] | str) -> Operation:
    """The paginated operation behind ``hh.get_vacancies`` (or its operationId)."""
    operations = registry()
    if isinstance(method, str):
        operation = operations.get(method)
        if operation is None:
            raise ValueError(f"unknown operation {method!r}")
    else:
        name = getattr(method, "__name__", "")
        operation = next((op for op in operations.values() if op.function == name), None)
        if operation is None:
            raise TypeError(
                f"pass a method of the client (hh.get_vacancies) or an operationId, not {method!r}"
            )
    if not operation.paginated:
        paged = sorted(op.function for op in operations.values() if op.paginated)
        raise ValueError(f"{operation.operation_id} is not a paged list; these are: {', '.join(paged)}")
    return operation


class Paginator:
    """Items (``async for``) or pages (``.pages()``) of one paged list; see the module's docs."""

    def __init__(
        self,
        client: HHClient,
        operation: Operation,
        arguments: Mapping[str, Any],
        *,
        per_page: int | None = None,
        prefetch: int = 4,
        start: Cursor | None = None,
    ) -> None:
        _check_arguments(operation, arguments)
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        declared = operation.per_page or {}
        maximum = declared.get("maximum")
        if per_page is None:
            per_page = maximum or declared.get("default") or HH_DEFAULT_PER_PAGE
        if per_page < 1 or (maximum is not None and per_page > maximum):
            raise ValueError(
                f"{operation.operation_id}: per_page must be 1..{maximum or '∞'}, got {per_page}"
            )
        self.operation = operation
        self.arguments = {k: _plain(v) for k, v in arguments.items()}
        self.per_page = per_page
        self.prefetch = prefetch
        self.found: int | None = None
        """How many items HH says match (from the first page read)."""
        self.truncated = False
        """True once the read stopped at HH's depth cap with more items behind it."""
        self._client = client
        self._call = getattr(client, operation.function)
        self._page = start.page if start else 0
        self._offset = start.offset if start else 0
        self._last_page: int | None = None  # known after the first answer
        self._next_fetch = self._page
        cap = operation.depth_cap
        self._cap_page = cap // per_page - 1 if cap else None  # (page + 1) * per_page <= cap
        self._window: deque[_Fetch] = deque()
        self._items: deque[Any] = deque()
        self._started = False

    @property
    def cursor(self) -> Cursor:
        """The position after the last item (or page) handed out."""
        return Cursor(self.operation.operation_id, self.arguments, self.per_page, self._page, self._offset)

    def __aiter__(self) -> Paginator:
        return self

    async def __anext__(self) -> Any:
        while not self._items:
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration
            self._items.extend(page.items)
            if not self._items:  # an empty page within `pages`: move on
                self._page, self._offset = self._page + 1, 0
        item = self._items.popleft()
        self._offset += 1
        if not self._items:
            self._page, self._offset = self._page + 1, 0
        return item

    async def pages(self) -> AsyncIterator[Any]:
        """The page models themselves (``found``, ``pages``, ``items``...); a resumed read's first page
        holds only the items not yet handed out."""
        if self._items:
            raise RuntimeError("pages() cannot continue a read that has handed out items of a page")
        while (page := await self._next_page()) is not None:
            self._page, self._offset = self._page + 1, 0
            yield page

    async def aclose(self) -> None:
        """Cancel the pages fetched ahead (also done when the list ends)."""
        while self._window:
            self._window.popleft().cancel()

    async def __aenter__(self) -> Paginator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- fetching ------------------------------------------------------------------------------------------

    async def _next_page(self) -> Any | None:
        """The page at ``self._page`` with the items before ``self._offset`` dropped; None at the end."""
        if self._beyond_end(self._page):
            self.truncated = self._hidden_by_cap()
            await self.aclose()
            return None
        if not self._window:
            self._next_fetch = self._page
            self._fill_window(1)
        elif self._started:
            self._fill_window(self.prefetch)
        fetch = self._window[0]
        if not fetch.started:
            await _run_together(self._window)
        page = await fetch.result()
        self._window.popleft()
        if not self._started:
            self._started = True
            self.found = _int(getattr(page, "found", None))
            pages = _int(getattr(page, "pages", None))
            self._last_page = pages - 1 if pages is not None else None
            self._fill_window(self.prefetch)
        items = list(getattr(page, "items", None) or [])
        if not items and self._last_page is None:
            return None  # no page count given: an empty page is the end
        page.items = items[self._offset :] if self._offset else items
        return page

    def _beyond_end(self, index: int) -> bool:
        if self._cap_page is not None and index > self._cap_page:
            return True
        return self._last_page is not None and index > self._last_page

    def _hidden_by_cap(self) -> bool:
        if self._cap_page is None or self.found is None:
            return False
        return self.found > (self._cap_page + 1) * self.per_page

    def _fill_window(self, size: int) -> None:
        """Start fetching the next pages, up to ``size`` waiting or in flight."""
        while len(self._window) < size and not self._beyond_end(self._next_fetch):
            call = self._call(**self.arguments, page=self._next_fetch, per_page=self.per_page)
            self._window.append(_Fetch(call))
            self._next_fetch += 1


class _Fetch:
    """A page request. Under asyncio it starts at once, as a task; other loops (trio) want a task group
    for concurrency, so there the waiting fetches of the window run together when the first is needed."""

    def __init__(self, call: Awaitable[Any]) -> None:
        self._call = call
        self._task: asyncio.Future[Any] | None = None
        self._outcome: tuple[Any, Exception | None] | None = None
        if sniffio.current_async_library() == "asyncio":
            self._task = asyncio.ensure_future(call)

    @property
    def started(self) -> bool:
        return self._task is not None or self._outcome is not None

    async def run(self) -> None:
        try:
            self._outcome = (await self._call, None)
        except Exception as exc:  # kept for result(): one failed page must not cancel its neighbours
            self._outcome = (None, exc)

    async def result(self) -> Any:
        if self._task is not None:
            return await self._task
        if self._outcome is None:
            await self.run()
        assert self._outcome is not None
        value, error = self._outcome
        if error is not None:
            raise error
        return value

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        elif self._outcome is None and inspect.iscoroutine(self._call):
            self._call.close()


async def _run_together(window: deque[_Fetch]) -> None:
    async with anyio.create_task_group() as group:
        for fetch in window:
            if not fetch.started:
                group.start_soon(fetch.run)


def _check_arguments(operation: Operation, arguments: Mapping[str, Any]) -> None:
    for name in ("page", "per_page"):
        if name in arguments:
            raise TypeError(f"paginate() sets {name} itself: pass per_page=... to paginate, or a cursor")
    accepted = set(inspect.signature(operation.endpoint()._get_kwargs).parameters) - {"page", "per_page"}
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise TypeError(
            f"{operation.function}() takes no {', '.join(unknown)}; it takes {', '.join(sorted(accepted))}"
        )


def _plain(value: Any) -> Any:
    """A value the cursor can hold as JSON (enums by value, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["Cursor", "Paginator", "resolve"]
