"""Paged lists as async iterators: ``hh.paginate(hh.get_vacancies, text="python")``.

    pages = hh.paginate(hh.get_vacancies, text="python", area=["1"])
    async for vacancy in pages:          # items, in HH's order
        save(vacancy, pages.cursor.to_json())
    if pages.truncated: ...              # HH's depth cap (2000 for searches) hid the rest

Every paginated operation of the registry works the same way. ``per_page`` defaults to the operation's
documented maximum; requests never go past the operation's depth cap (HH would answer 400), and ``truncated``
says when the cap hid part of ``found``. Following pages are fetched ahead, ``prefetch`` at a time, and
handed out in order, so at most ``prefetch`` pages are held in memory whatever the size of the list.

Every answer is checked before its items are handed out: one without a body, without an ``items`` list,
with a ``found`` or ``pages`` that is not a count, with more items than ``per_page`` or for another page
is a ``DecodeError`` (a redirect is the client's ``HHError``), never an empty or a short page. Such a page
(a body cut short by a proxy, say) is asked for again as the client's ``RetryPolicy`` allows.

``cursor`` is the position after the last item handed out, also after an error: iterating the same
paginator again, or ``hh.paginate(cursor=Cursor.from_json(saved))`` after a crash, continues from there
with nothing skipped and nothing repeated, as long as the list itself did not change in between.
``changed`` says when a page counted another ``found`` than the first: the list moved during the read,
and offset paging may then have skipped or repeated an item (``search_all_vacancies`` reads such a
slice again).

Pages fetched ahead never outlive the read: the end of the list, an error, a cancelled consumer and
``aclose()`` (or ``async with``) cancel them and wait for them to end. Under asyncio they run as tasks
between calls; an abandoned paginator cancels them when it is collected. Under trio they run together
inside the call that needs the first of them, so nothing runs between calls.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeGuard, TypeVar

import anyio
import attrs
import sniffio

from .errors import DecodeError
from .operations import Operation, registry
from .retry import RetryPolicy

if TYPE_CHECKING:  # a default (PEP 696): a bare ``Paginator`` is ``Paginator[Any]``
    import asyncio

    from typing_extensions import TypeVar as _TypeVarWithDefault

    ItemT = _TypeVarWithDefault("ItemT", default=Any)
    ItemT_co = _TypeVarWithDefault("ItemT_co", covariant=True, default=Any)
else:
    ItemT = TypeVar("ItemT")
    ItemT_co = TypeVar("ItemT_co", covariant=True)


class Page(Protocol[ItemT_co]):
    """What a page of a paged list has for the type checker: its items (the page models of HH's paged
    operations have ``found``, ``pages``... too). ``hh.paginate(hh.get_vacancies)`` is a
    ``Paginator[VacanciesItem]`` because ``get_vacancies`` returns such a page."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...


class Client(Protocol):
    """What paging needs of a client (``HHClient`` is one): its operations as methods, named as the
    registry names them, and the retry policy its calls follow."""

    @property
    def retry_policy(self) -> RetryPolicy | None: ...


HH_DEFAULT_PER_PAGE = 20
"""What HH uses when an operation documents no ``per_page`` default of its own."""
CURSOR_KEYS = ("arguments", "offset", "operation", "page", "per_page")


@attrs.frozen
class Cursor:
    """Where a paged read stands: the next item is item ``offset`` of page ``page``.

    Checked whole when made (``ValueError`` naming the field): a paged operation, arguments it takes
    with JSON values, ``per_page`` within its documented range, ``page`` within its depth cap and
    ``0 <= offset < per_page``."""

    operation: str
    arguments: Mapping[str, Any]
    per_page: int
    page: int = 0
    offset: int = 0

    def __attrs_post_init__(self) -> None:
        problem = cursor_problem(self.operation, self.arguments, self.per_page, self.page, self.offset)
        if problem is not None:
            raise ValueError(f"cursor.{problem}")

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        """The cursor ``to_json`` wrote; anything else is a ``ValueError`` saying what is wrong."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not a saved hh_async cursor: not JSON ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise ValueError(f"not a saved hh_async cursor: a JSON object expected, got {_shown(data)}")
        problem = keys_problem(data, CURSOR_KEYS)
        if problem is None:
            problem = cursor_problem(**data)
        if problem is not None:
            raise ValueError(f"not a saved hh_async cursor: {problem}")
        return cls(**data)


def cursor_problem(
    operation: object, arguments: object, per_page: object, page: object, offset: object
) -> str | None:
    """What is wrong with these cursor fields, as ``field: why``; None when they hold together."""
    if not isinstance(operation, str) or operation not in registry():
        return f"operation: not an operation of this client: {_shown(operation)}"
    op = registry()[operation]
    if not op.paginated:
        return f"operation: {operation} is not a paged list"
    problem = arguments_problem(op, arguments)
    if problem is not None:
        return problem
    maximum = (op.per_page or {}).get("maximum")
    if not _is_int(per_page) or per_page < 1 or (maximum is not None and per_page > maximum):
        return f"per_page: must be 1..{maximum or '∞'} for {operation}, got {_shown(per_page)}"
    last = op.depth_cap // per_page if op.depth_cap else None  # the page after the last one HH serves
    if not _is_int(page) or page < 0 or (last is not None and page > last):
        return f"page: must be 0..{'∞' if last is None else last}, got {_shown(page)}"
    if not _is_int(offset) or not 0 <= offset < per_page:
        return f"offset: must be 0..{per_page - 1}, got {_shown(offset)}"
    return None


def arguments_problem(operation: Operation, arguments: object, path: str = "arguments") -> str | None:
    """Arguments a cursor can hold: names the operation takes (``page``/``per_page`` left to the
    paginator), values JSON can keep (a string, a finite number, a boolean, null, or a list of them)."""
    if not isinstance(arguments, Mapping):
        return f"{path}: a JSON object expected, got {_shown(arguments)}"
    accepted = _accepted(operation.operation_id)
    for name, value in arguments.items():
        if name not in accepted:
            return f"{path}: {operation.function}() takes no {name!r}"
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            if not _plain_scalar(item):
                where = f"{path}.{name}" + (f"[{index}]" if isinstance(value, list) else "")
                return f"{where}: a string, a finite number, a boolean or null expected, got {_shown(item)}"
    return None


def keys_problem(data: Mapping[str, Any], required: tuple[str, ...], path: str = "") -> str | None:
    """Missing or unexpected keys of a saved object, as ``path: ...``."""
    prefix = f"{path}: " if path else ""
    missing = [k for k in required if k not in data]
    if missing:
        return f"{prefix}missing {', '.join(missing)}"
    unexpected = sorted(str(k) for k in data if k not in required)
    if unexpected:
        return f"{prefix}unexpected {', '.join(unexpected)}"
    return None


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


class Paginator(Generic[ItemT]):
    """Items (``async for``) or pages (``.pages()``) of one paged list; see the module's docs. Generic in
    the item type: ``Paginator[VacanciesItem]`` hands out vacancies."""

    @classmethod
    def resume(cls, client: Client, cursor: Cursor, *, prefetch: int = 4) -> Paginator[Any]:
        """The read ``cursor`` describes, from where it stood."""
        operation = registry()[cursor.operation]
        return cls(
            client, operation, cursor.arguments, per_page=cursor.per_page, prefetch=prefetch, start=cursor
        )

    def __init__(
        self,
        client: Client,
        operation: Operation,
        arguments: Mapping[str, Any],
        *,
        per_page: int | None = None,
        prefetch: int = 4,
        start: Cursor | None = None,
    ) -> None:
        self._window: deque[_Fetch] = deque()  # first: __del__ looks at it even when __init__ fails
        _check_arguments(operation, arguments)
        if not _is_int(prefetch) or prefetch < 1:
            raise ValueError(f"prefetch: must be at least 1, got {_shown(prefetch)}")
        declared = operation.per_page or {}
        maximum = declared.get("maximum")
        if per_page is None:
            per_page = maximum or declared.get("default") or HH_DEFAULT_PER_PAGE
        if not _is_int(per_page) or per_page < 1 or (maximum is not None and per_page > maximum):
            raise ValueError(
                f"{operation.operation_id}: per_page must be 1..{maximum or '∞'}, got {_shown(per_page)}"
            )
        if start is not None and (start.operation, start.per_page) != (operation.operation_id, per_page):
            raise ValueError(f"the cursor is for {start.operation} by {start.per_page}, not this list")
        self.operation = operation
        self.arguments = {k: _plain(v) for k, v in arguments.items()}
        self.per_page = per_page
        self.prefetch = prefetch
        self.found: int | None = None
        """How many items HH says match (from the first page read)."""
        self.changed = False
        """True once a page counted another ``found`` than the first: the list moved during the read."""
        self.truncated = False
        """True once the read stopped at HH's depth cap with more items behind it."""
        self._call = getattr(client, operation.function)
        self._policy = _retry_policy(client)
        self._page = start.page if start else 0
        self._offset = start.offset if start else 0
        self.cursor  # noqa: B018 - the arguments must fit a cursor: refused now, not at the first save
        self._last_page: int | None = None  # known after the first answer
        self._next_fetch = self._page
        cap = operation.depth_cap
        self._cap_page = cap // per_page - 1 if cap else None  # (page + 1) * per_page <= cap
        self._items: deque[Any] = deque()

    @property
    def cursor(self) -> Cursor:
        """The position after the last item (or page) handed out."""
        return Cursor(self.operation.operation_id, self.arguments, self.per_page, self._page, self._offset)

    def __aiter__(self) -> Paginator[ItemT]:
        return self

    async def __anext__(self) -> ItemT:
        while not self._items:
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration
            self._items.extend(page.items)
            if not self._items:  # an empty page within `pages` (the list shrank meanwhile): move on
                self._page, self._offset = self._page + 1, 0
        item: ItemT = self._items.popleft()
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
        """Cancel the pages fetched ahead and wait until they have ended (also done when the list ends,
        on an error and on cancellation). The read can go on afterwards: it asks for them again."""
        window, self._window = self._window, deque()
        for fetch in window:
            fetch.cancel()
        tasks = [fetch.task for fetch in window if fetch.task is not None and not fetch.task.done()]
        if tasks:
            with anyio.CancelScope(shield=True):  # short: they are cancelled, only their cleanup runs
                pending = set(tasks)
                while pending:
                    import asyncio  # running under it: already imported, no cost

                    _, pending = await asyncio.wait(pending, timeout=0.05)
                    for task in pending:  # a cancellation can be lost in a library's own shielded step
                        task.cancel()
            for fetch in window:
                fetch.cancel()  # now done: a failure among them is retrieved

    async def __aenter__(self) -> Paginator[ItemT]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Abandoned without aclose(): nothing can be awaited here, but the fetches must not run on.
        for fetch in self._window:
            fetch.cancel()

    # --- fetching ------------------------------------------------------------------------------------------

    async def _next_page(self) -> Any | None:
        """The page at ``self._page`` with the items before ``self._offset`` dropped; None at the end."""
        if self._beyond_end(self._page):
            self.truncated = self._hidden_by_cap()
            await self.aclose()
            return None
        try:
            if not self._window:
                self._next_fetch = self._page
            # One page until the first answer says how many there are; then `prefetch` ahead.
            self._fill_window(1 if self._last_page is None else self.prefetch)
            fetch = self._window[0]
            if not fetch.started:
                await _run_together(self._window)
            page = await fetch.result()
        except BaseException:
            await self.aclose()  # a failed page or a cancelled consumer: nothing fetched ahead runs on
            raise
        self._window.popleft()
        if self.found is None:
            self.found = page.found
        elif page.found != self.found:
            self.changed = True
        if self._last_page is None:
            self._last_page = page.pages - 1
            self._fill_window(self.prefetch)
        if self._offset:
            page.items = page.items[self._offset :]
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
            # The fetch holds the client's method, not the paginator: an abandoned one can be collected.
            make = functools.partial(
                fetch_page,
                self._call,
                self.arguments,
                page=self._next_fetch,
                per_page=self.per_page,
                policy=self._policy,
            )
            self._window.append(_Fetch(make))
            self._next_fetch += 1


async def fetch_page(
    call: Callable[..., Awaitable[Any]],
    arguments: Mapping[str, Any],
    *,
    page: int,
    per_page: int,
    policy: RetryPolicy,
) -> Any:
    """One page, checked (``check_page``); a page that cannot be read is asked for again as ``policy``
    allows, since a body cut short or mangled on the way is worth another try like a dropped connection."""
    name = getattr(call, "__name__", "list")
    started = anyio.current_time()
    for attempt in range(1, max(1, policy.max_attempts) + 1):
        try:
            return check_page(await call(**arguments, page=page, per_page=per_page), name, page, per_page)
        except DecodeError:
            delay = policy.backoff(attempt - 1)
            if attempt >= policy.max_attempts or anyio.current_time() - started + delay > policy.budget:
                raise
        await anyio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def check_page(page: Any, name: str, index: int, per_page: int) -> Any:
    """``page`` if it is a page of HH's shape (``items`` a list of at most ``per_page``, ``found`` and
    ``pages`` counts, ``page`` the one asked for when HH says); otherwise a ``DecodeError``."""
    where = f"{name}(page={index})"
    if page is None:
        raise DecodeError(f"{where}: the answer has no body where a page was expected", field="$")
    items = getattr(page, "items", _MISSING)
    if not isinstance(items, list):
        raise DecodeError(f"{where}: 'items' is {_shown(items)}, not a list", field="items")
    if len(items) > per_page:
        raise DecodeError(f"{where}: {len(items)} items where per_page is {per_page}", field="items")
    for field in ("found", "pages"):
        value = getattr(page, field, _MISSING)
        if not _is_int(value) or value < 0:
            raise DecodeError(f"{where}: '{field}' is {_shown(value)}, not a count", field=field)
    answered = getattr(page, "page", None)
    if _is_int(answered) and answered != index:
        raise DecodeError(f"{where}: HH answered page {answered}", field="page")
    return page


class _Fetch:
    """A page request. Under asyncio it starts at once, as a task; other loops (trio) want a task group
    for concurrency, so there the waiting fetches of the window run together when the first is needed."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._make = make
        self.task: asyncio.Task[Any] | None = None
        self._outcome: tuple[Any, Exception | None] | None = None
        if sniffio.current_async_library() == "asyncio":
            import asyncio  # running under it: already imported, no cost

            self.task = asyncio.ensure_future(make())

    @property
    def started(self) -> bool:
        return self.task is not None or self._outcome is not None

    async def run(self) -> None:
        # A cancelled run leaves no outcome: the fetch is made anew if the read goes on.
        try:
            self._outcome = (await self._make(), None)
        except Exception as exc:  # kept for result(): one failed page must not cancel its neighbours
            self._outcome = (None, exc)

    @property
    def failed(self) -> bool:
        return self._outcome is not None and self._outcome[1] is not None

    async def result(self) -> Any:
        if self.task is not None:
            return await self.task
        if self._outcome is None:
            await self.run()
        assert self._outcome is not None
        value, error = self._outcome
        if error is not None:
            raise error
        return value

    def cancel(self) -> None:
        if self.task is None:
            return
        if not self.task.done():
            with contextlib.suppress(RuntimeError):  # its loop is closed already: nothing runs any more
                self.task.cancel()
        elif not self.task.cancelled():
            self.task.exception()  # dropped unread: not "never retrieved"


async def _run_together(window: deque[_Fetch]) -> None:
    first = window[0]
    async with anyio.create_task_group() as group:

        async def run(fetch: _Fetch) -> None:
            await fetch.run()
            if fetch is first and fetch.failed:  # the read stops at it: the pages after it are not needed
                group.cancel_scope.cancel()

        for fetch in window:
            if not fetch.started:
                group.start_soon(run, fetch)


def _check_arguments(operation: Operation, arguments: Mapping[str, Any]) -> None:
    for name in ("page", "per_page"):
        if name in arguments:
            raise TypeError(f"paginate() sets {name} itself: pass per_page=... to paginate, or a cursor")
    accepted = _accepted(operation.operation_id)
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise TypeError(
            f"{operation.function}() takes no {', '.join(unknown)}; it takes {', '.join(sorted(accepted))}"
        )


@functools.cache
def _accepted(operation_id: str) -> frozenset[str]:
    operation = registry()[operation_id]
    names = set(operation.by_python_name) | {"extra_query", "extra_headers"}
    if operation.request_body is not None:
        names.add("body")
    return frozenset(names - {"page", "per_page"})


def _retry_policy(client: Client) -> RetryPolicy:
    """The policy the client's calls retry by (a ``with_options`` view's own first)."""
    return client.retry_policy or RetryPolicy()


def _plain(value: Any) -> Any:
    """A value the cursor can hold as JSON (enums by value, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _plain_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)  # bool is an int


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


_MISSING = object()


def _shown(value: object) -> str:
    """A value as an error message shows it: short, and its kind when it is not a number or a string."""
    if value is _MISSING or type(value).__name__ == "Unset":
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


__all__ = ["Cursor", "Page", "Paginator", "check_page", "fetch_page", "resolve"]
