"""Every vacancy of a search, past HH's cap of 2000: ``hh.search_all_vacancies(text="python")``.

HH hands out at most 2000 results of one query. The sweep cuts the publication-date range
(``date_from``/``date_to``) in halves until each slice finds at most 2000, reads each slice with
``paginate`` and drops the ids already handed out (slices share their boundary instant):

    sweep = hh.search_all_vacancies(text="python", area=["1"], progress=print)
    async for vacancy in sweep: ...
    sweep.report  # found, read, duplicates, slices read again, over the cap or unsettled; complete

Slices are aligned to 5 minutes (HH rounds ``date_from`` to 5 minutes); a 5-minute slice that still finds
more than 2000 is read to the cap and listed in ``report.over_cap``. Without ``date_from`` the sweep starts
with the last 32 days and reaches further back until the range holds everything the search finds; the
range ends at ``date_to``, or an hour past the start of the sweep.

``sweep.state`` is a JSON-able snapshot (without the ids: keep what you wrote) from which
``search_all_vacancies(resume=state, seen=ids_written)`` continues; it is checked whole when loaded.
``seen`` takes ids as HH sends them (strings) or as ints; the sweep keeps its own copy.

While HH's data moves
---------------------
Offset paging is exact while a list stands still. When a vacancy leaves a slice during its read, the
later pages shift and one vacancy can be skipped; when one arrives, another can come twice (dropped) or the
newcomer itself can be missed. So each read of a slice is checked: every page must count the same
``found``, and the distinct ids the pages handed out (those already seen in a neighbouring slice or passed
as ``seen`` included) must number exactly that. A slice that fails changed while it was read: it is read
again, up to 3 times (only vacancies not yet handed out come out), and one that never settles is listed in
``report.unsettled``. When all are read, the final count asks every slice for its first page once more:
one that grew, or whose first page shows a vacancy not handed out, is read again; that brings what was
published into the range while the sweep ran.

What this guarantees:

- no vacancy comes out twice (across ``resume=`` too, given ``seen``);
- when ``report.complete`` is true (the sweep ended, no slice stayed over the cap, every slice settled),
  every vacancy that was in the search from the start of the sweep to its final count came out, unless
  some slice, while it was read or between its read and the final count, lost vacancies and gained as
  many others, and its first page at the final count showed only vacancies already handed out. Then the
  counts balance and offset paging cannot tell. New publications arrive at the head of the newest slice,
  on its first page, so they are caught; a vacancy indexed late under an older date while another left
  the same slice is not.

Not covered: vacancies archived during the sweep (they may or may not come out), and anything that appears
after the final count or past the range's end. ``report.found`` is HH's count at the start: with the data
moving, ``read`` may differ from it, complete or not.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Generic

import anyio
import attrs

from .errors import DecodeError
from .facts import SEARCH_DEPTH
from .operations import registry
from .pagination import (
    Client,
    Cursor,
    ItemT,
    Paginator,
    _check_arguments,
    _is_int,
    _plain,
    _retry_policy,
    _shown,
    arguments_problem,
    fetch_page,
    keys_problem,
)

OPERATION = "get-vacancies"
GRID = 300
"""Slice boundaries fall on 5-minute marks: HH rounds ``date_from`` to 5 minutes."""
FIRST_LOOKBACK = 32 * 86_400
OLDEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
MSK = timezone(timedelta(hours=3))
"""HH reads a date without an offset as Moscow time."""
REREADS = 3
"""How many times a slice that changed while it was read is read again before it is left unsettled."""
STATE_VERSION = 2
CHOSEN = ("page", "per_page", "period")


@attrs.frozen
class Slice:
    """A publication-date range, what the search finds in it, and how often it was read again."""

    start: float
    end: float
    found: int
    rereads: int = 0

    def filters(self) -> dict[str, str]:
        return _dates(self.start, self.end)

    def row(self) -> list[Any]:
        return [self.start, self.end, self.found, self.rereads]


@attrs.define
class Progress:
    """What the sweep has done so far; handed to the ``progress`` callback."""

    found: int = 0
    """What HH said the whole search finds, at the start."""
    read: int = 0
    """Distinct vacancies handed out (with the ``seen`` ids given on resume)."""
    duplicates: int = 0
    slices_done: int = 0
    slices_pending: int = 0
    rereads: int = 0
    """Slices read again because they changed while they were read, or by the final count."""
    over_cap: list[tuple[str, str, int]] = attrs.field(factory=list)
    """Slices of 5 minutes that still find more than the cap: (date_from, date_to, found)."""
    unsettled: list[tuple[str, str]] = attrs.field(factory=list)
    """Slices that kept changing while they were read, after every reread: (date_from, date_to)."""
    finished: bool = False

    @property
    def complete(self) -> bool:
        """The sweep ended with every slice settled and none over the cap (the module says what that
        guarantees while HH's data moves)."""
        return self.finished and not self.over_cap and not self.unsettled


@attrs.define
class _Reading:
    """The slice being read: where, what its first page counted, distinct ids handed out so far."""

    piece: Slice
    cursor: Cursor
    first_found: int | None = None
    counted: int = 0


class VacancySweep(Generic[ItemT]):
    """Every vacancy of a search, each once; see the module's docs. Generic in the item type, like
    ``Paginator``: ``VacancySweep[VacanciesItem]``."""

    def __init__(
        self,
        client: Client,
        filters: Mapping[str, Any],
        *,
        progress: Callable[[Progress], object] | None = None,
        per_page: int = 100,
        prefetch: int = 4,
        resume: Mapping[str, Any] | str | None = None,
        seen: Iterable[int | str] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        for name in CHOSEN:
            if name in filters:
                raise TypeError(f"search_all_vacancies() chooses {name} itself")
        if not _is_int(prefetch) or prefetch < 1:
            raise ValueError(f"prefetch: must be at least 1, got {_shown(prefetch)}")
        self._client = client
        self._progress = progress
        self._prefetch = prefetch
        self._now = now
        self._policy = _retry_policy(client)
        self._search: Callable[..., Awaitable[Any]] = client.get_vacancies  # type: ignore[attr-defined]
        self.report = Progress()
        self._seen = _seen_keys(seen)  # a copy: the caller's set stays as it was
        self._paginator: Paginator[ItemT] | None = None
        self._reading: _Reading | None = None
        self._pending: list[Slice] = []
        self._done: list[tuple[Slice, bool]] = []  # finished slices, their count at the end, settled
        self._planned = self._rechecked = False
        if resume is not None:
            self._load(resume)
            self.report.read = len(self._seen)
        else:
            _check_arguments(registry()[OPERATION], filters)  # a name get_vacancies() does not take
            self.filters = {name: _plain(value) for name, value in filters.items()}
            problem = _per_page_problem(per_page) or _filters_problem(self.filters, "")
            if problem is not None:
                raise ValueError(problem)
            self.per_page = per_page
        self._tally()

    @property
    def state(self) -> dict[str, Any]:
        """Where the sweep stands, as JSON-able data for ``resume=`` (the ids seen are not in it: keep
        what you wrote, and pass its ids as ``seen``)."""
        reading = None
        if self._reading is not None:
            cursor = self._paginator.cursor if self._paginator is not None else self._reading.cursor
            reading = {
                "slice": self._reading.piece.row(),
                "cursor": cursor.to_json(),
                "first_found": self._reading.first_found,
                "counted": self._reading.counted,
            }
        return {
            "version": STATE_VERSION,
            "filters": self.filters,
            "per_page": self.per_page,
            "found": self.report.found,
            "planned": self._planned,
            "pending": [piece.row() for piece in self._pending],
            "reading": reading,
            "done": [[*piece.row(), settled] for piece, settled in self._done],
            "over_cap": [list(entry) for entry in self.report.over_cap],
            "rechecked": self._rechecked,
        }

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._sweep()

    async def _sweep(self) -> AsyncIterator[ItemT]:
        if not self._planned:
            await self._plan()
        while True:
            if self._reading is None:
                if self._pending:
                    piece = self._pending[-1]
                    if piece.found == 0:  # nothing to read (the final count looks at it again)
                        self._done.append((self._pending.pop(), True))
                        continue
                    halves = await self._split(piece)  # a failure here leaves the piece pending
                    self._pending.pop()
                    if halves is not None:
                        self._pending += halves
                        continue
                    cursor = Cursor(OPERATION, {**self.filters, **piece.filters()}, self.per_page)
                    self._reading = _Reading(piece, cursor)
                elif not self._rechecked:
                    await self._recheck()
                    continue
                else:
                    break
            # Read inline, not in a generator of its own: closing the sweep must close the paginator.
            reading = self._reading
            ids: set[int | str] = set()  # distinct ids of this read, seen before or not
            paginator = self._paginator = Paginator.resume(
                self._client, reading.cursor, prefetch=self._prefetch
            )
            try:
                async for vacancy in paginator:
                    if reading.first_found is None:
                        reading.first_found = paginator.found
                    key = _key_of(vacancy)
                    if key not in ids:
                        ids.add(key)
                        reading.counted += 1
                    if key in self._seen:
                        self.report.duplicates += 1
                        continue
                    self._seen.add(key)
                    self.report.read += 1
                    yield vacancy
                    if self.report.read % self.per_page == 0:
                        self._tell()
            finally:
                reading.cursor = paginator.cursor
                self._paginator = None
                await paginator.aclose()
            if reading.first_found is None:
                reading.first_found = paginator.found  # an empty slice
            # Steady: every page counted what the first did (before a resume too; None: no page was read).
            steady = not paginator.changed and paginator.found in (None, reading.first_found)
            self._settle(reading, steady=steady, truncated=paginator.truncated)
            self._tell()
        self.report.finished = True
        self._tell()

    def _settle(self, reading: _Reading, *, steady: bool, truncated: bool) -> None:
        """The slice is done if its read was exact; otherwise it goes back to be read again."""
        piece, found = reading.piece, reading.first_found or 0
        self._reading = None
        if truncated and piece.end - piece.start <= GRID:  # too short to cut: the rest stays hidden
            dates = piece.filters()
            self.report.over_cap.append((dates["date_from"], dates["date_to"], found))
        elif steady and reading.counted == found:
            self._done.append((attrs.evolve(piece, found=found), True))
        elif truncated or piece.rereads < REREADS:  # (a slice that grew past the cap is cut again)
            self._pending.append(attrs.evolve(piece, found=found, rereads=piece.rereads + 1))
            self.report.rereads += 1
        else:
            self._done.append((attrs.evolve(piece, found=found), False))

    async def _recheck(self) -> None:
        """The final count: a finished slice that grew, or whose first page holds a vacancy not handed
        out, is read again."""
        answers = await self._gather([functools.partial(self._first_page, piece) for piece, _ in self._done])
        kept: list[tuple[Slice, bool]] = []
        for (piece, settled), (found, first) in zip(self._done, answers, strict=True):
            if found > piece.found or not first <= self._seen:
                self._pending.append(attrs.evolve(piece, found=found, rereads=piece.rereads + 1))
                self.report.rereads += 1
            else:
                kept.append((piece, settled))
        self._done = kept
        self._rechecked = True
        self._tell()

    async def _plan(self) -> None:
        """The whole range to sweep, checked against what the search finds with no dates at all."""
        # The caller's dates stay in the filters: each slice's own dates override them in its requests.
        given_from, given_to = self.filters.get("date_from"), self.filters.get("date_to")
        end = _parse(given_to) if given_to else _ceil(self._now() + 3600)
        if given_from:
            start = _floor(_parse(given_from))
            whole = await self._count(start, end)
        else:
            total = await self._count_filters(self.filters)  # the caller's date_to, if any, included
            lookback = FIRST_LOOKBACK
            while True:
                start = max(OLDEST, _floor(end - lookback))
                whole = await self._count(start, end)
                if whole >= total or start <= OLDEST:
                    break
                lookback *= 4
        self.report.found = whole
        self._pending = [Slice(start, end, whole)]
        self._planned = True
        self._tell()

    async def _split(self, piece: Slice) -> list[Slice] | None:
        """None when ``piece`` can be read whole (or is 5 minutes long); otherwise its halves with their
        counts, older first (the newer is read first)."""
        if piece.found <= self._cap() or piece.end - piece.start <= GRID:
            return None
        middle = _floor(piece.start + (piece.end - piece.start) / 2)
        if middle <= piece.start:
            middle = piece.start + GRID
        bounds = [(piece.start, middle), (middle, piece.end)]
        counts = await self._gather([functools.partial(self._count, *bound) for bound in bounds])  # together
        return [Slice(s, e, n, piece.rereads) for (s, e), n in zip(bounds, counts, strict=True)]

    async def _gather(self, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        """The results of these calls, made ``prefetch`` at a time; the first failure is raised as itself
        (not inside an ExceptionGroup) once all have ended."""
        results: list[Any] = [None] * len(calls)
        failures: list[Exception] = []
        limiter = anyio.CapacityLimiter(self._prefetch)

        async def run(index: int) -> None:
            async with limiter:
                try:
                    results[index] = await calls[index]()
                except Exception as exc:
                    failures.append(exc)

        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(run, index)
        if failures:
            raise failures[0]
        return results

    def _cap(self) -> int:
        cap = registry()[OPERATION].depth_cap or SEARCH_DEPTH
        return cap - cap % self.per_page

    async def _count(self, start: float, end: float) -> int:
        return await self._count_filters({**self.filters, **_dates(start, end)})

    async def _count_filters(self, filters: Mapping[str, Any]) -> int:
        page = await fetch_page(self._search, filters, page=0, per_page=1, policy=self._policy)
        found: int = page.found
        return found

    async def _first_page(self, piece: Slice) -> tuple[int, set[int | str]]:
        """A slice's count now and the ids of its first page (its newest vacancies)."""
        filters = {**self.filters, **piece.filters()}
        page = await fetch_page(self._search, filters, page=0, per_page=self.per_page, policy=self._policy)
        return page.found, {_key_of(vacancy) for vacancy in page.items}

    def _tell(self) -> None:
        self._tally()
        if self._progress is not None:
            self._progress(self.report)

    def _tally(self) -> None:
        self.report.slices_done = len(self._done) + len(self.report.over_cap)
        self.report.slices_pending = len(self._pending) + (1 if self._reading is not None else 0)
        self.report.unsettled = [
            (dates["date_from"], dates["date_to"])
            for piece, settled in self._done
            if not settled and (dates := piece.filters())
        ]

    # --- resume -----------------------------------------------------------------------------------------

    def _load(self, resume: Mapping[str, Any] | str) -> None:
        """Take up a saved ``state``, checked whole: a ValueError names the first field that is wrong."""
        try:
            state = json.loads(resume) if isinstance(resume, str) else resume
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not a saved sweep state: not JSON ({type(exc).__name__})") from None
        problem = _state_problem(state)
        if problem is not None:
            raise ValueError(f"not a saved sweep state: {problem}")
        self.filters = dict(state["filters"])
        self.per_page = state["per_page"]
        self.report.found = state["found"]
        self._planned = state["planned"]
        self._rechecked = state["rechecked"]
        self._pending = [Slice(*row) for row in state["pending"]]
        self._done = [(Slice(*row[:4]), row[4]) for row in state["done"]]
        self.report.over_cap = [(a, b, n) for a, b, n in state["over_cap"]]
        if state["reading"] is not None:
            saved = state["reading"]
            cursor = Cursor.from_json(saved["cursor"])
            self._reading = _Reading(Slice(*saved["slice"]), cursor, saved["first_found"], saved["counted"])


def seen_key(ident: object) -> int | str:
    """How an id is kept in a ``seen`` set: ints take a third of the memory of 100 000 strings.
    ``"123"`` and ``123`` are the same id; anything else (``"0123"``, ``"x1"``) stays a string."""
    text = str(ident)
    if text.isascii() and text.isdigit() and (text == "0" or text[0] != "0"):
        return int(text)
    return text


def _seen_keys(seen: Iterable[int | str] | None) -> set[int | str]:
    if seen is None:
        return set()
    if isinstance(seen, str | bytes | Mapping):
        raise TypeError(f"seen: a set (or list) of vacancy ids expected, got {type(seen).__name__}")
    keys: set[int | str] = set()
    for ident in seen:
        if not (isinstance(ident, str) or _is_int(ident)):
            raise TypeError(f"seen: vacancy ids are strings or ints, got {_shown(ident)}")
        keys.add(seen_key(ident))
    return keys


def _key_of(vacancy: Any) -> int | str:
    ident = getattr(vacancy, "id", None)
    if not (isinstance(ident, str) and ident) and not _is_int(ident):
        raise DecodeError(f"get_vacancies: a vacancy without an id: {_shown(vacancy)}", field="items[].id")
    return seen_key(ident)


# --- checks of what the caller gives ------------------------------------------------------------------------


def _per_page_problem(per_page: object, path: str = "per_page") -> str | None:
    maximum = (registry()[OPERATION].per_page or {}).get("maximum", 100)
    if not _is_int(per_page) or not 1 <= per_page <= maximum:
        return f"{path}: must be 1..{maximum}, got {_shown(per_page)}"
    return None


def _filters_problem(filters: object, path: str) -> str | None:
    if isinstance(filters, Mapping):
        for name in CHOSEN:
            if name in filters:
                return f"{path}filters: the sweep chooses {name} itself"
        for name in ("date_from", "date_to"):
            value = filters.get(name)
            if value is not None and (not isinstance(value, str) or _parse_or_none(value) is None):
                return f"{path}{name}: ISO 8601 expected (2026-11-26T10:00:00+03:00), got {_shown(value)}"
    return arguments_problem(registry()[OPERATION], filters, f"{path}filters")


def _state_problem(state: object) -> str | None:
    """What is wrong with a saved state, as ``path: why``; None when it holds together."""
    if not isinstance(state, Mapping):
        return f"a JSON object expected, got {_shown(state)}"
    keys = (
        "version",
        "filters",
        "per_page",
        "found",
        "planned",
        "pending",
        "reading",
        "done",
        "over_cap",
        "rechecked",
    )
    if problem := keys_problem(state, keys):
        return problem
    if state["version"] != STATE_VERSION:
        return f"version: {STATE_VERSION} expected, got {_shown(state['version'])}"
    if problem := _filters_problem(state["filters"], "") or _per_page_problem(state["per_page"]):
        return problem
    if not _is_int(state["found"]) or state["found"] < 0:
        return f"found: a count expected, got {_shown(state['found'])}"
    for name in ("planned", "rechecked"):
        if not isinstance(state[name], bool):
            return f"{name}: true or false expected, got {_shown(state[name])}"
    for name in ("pending", "done", "over_cap"):
        if not isinstance(state[name], list):
            return f"{name}: a list expected, got {_shown(state[name])}"
    for index, row in enumerate(state["pending"]):
        if problem := _slice_problem(row, f"pending[{index}]"):
            return problem
    for index, row in enumerate(state["done"]):
        path = f"done[{index}]"
        if not isinstance(row, list) or len(row) != 5 or not isinstance(row[4], bool):
            return f"{path}: [start, end, found, rereads, settled] expected, got {_shown(row)}"
        if problem := _slice_problem(row[:4], path):
            return problem
    for index, row in enumerate(state["over_cap"]):
        if not (
            isinstance(row, list)
            and len(row) == 3
            and all(isinstance(d, str) and _parse_or_none(d) is not None for d in row[:2])
            and _is_int(row[2])
            and row[2] >= 0
        ):
            return f"over_cap[{index}]: [date_from, date_to, found] expected, got {_shown(row)}"
    if state["reading"] is not None and (problem := _reading_problem(state)):
        return problem
    busy = state["pending"] or state["reading"] or state["done"] or state["over_cap"] or state["rechecked"]
    if not state["planned"] and busy:
        return "planned: false, yet slices are listed"
    return None


def _slice_problem(row: object, path: str) -> str | None:
    if not isinstance(row, list) or len(row) != 4:
        return f"{path}: [start, end, found, rereads] expected, got {_shown(row)}"
    start, end, found, rereads = row
    for name, moment in (("start", start), ("end", end)):
        if not isinstance(moment, int | float) or isinstance(moment, bool) or not math.isfinite(moment):
            return f"{path}.{name}: a finite POSIX time expected, got {_shown(moment)}"
        if not OLDEST <= moment <= 4102444800:  # 2000..2100
            return f"{path}.{name}: {moment} is not a time of HH's vacancies"
    if start >= end:
        return f"{path}: start {start} is not before end {end}"
    if not _is_int(found) or found < 0:
        return f"{path}.found: a count expected, got {_shown(found)}"
    if not _is_int(rereads) or not 0 <= rereads <= REREADS + 1:
        return f"{path}.rereads: 0..{REREADS + 1} expected, got {_shown(rereads)}"
    return None


def _reading_problem(state: Mapping[str, Any]) -> str | None:
    reading = state["reading"]
    if not isinstance(reading, Mapping):
        return f"reading: an object or null expected, got {_shown(reading)}"
    if problem := keys_problem(reading, ("slice", "cursor", "first_found", "counted"), "reading"):
        return problem
    if problem := _slice_problem(reading["slice"], "reading.slice"):
        return problem
    first_found, counted = reading["first_found"], reading["counted"]
    if first_found is not None and (not _is_int(first_found) or first_found < 0):
        return f"reading.first_found: a count or null expected, got {_shown(first_found)}"
    if not _is_int(counted) or counted < 0:
        return f"reading.counted: a count expected, got {_shown(counted)}"
    try:
        cursor = Cursor.from_json(reading["cursor"])
    except ValueError as exc:
        return f"reading.cursor: {exc}"
    if cursor.operation != OPERATION or cursor.per_page != state["per_page"]:
        expected, got = f"{OPERATION} by {state['per_page']}", f"{cursor.operation} by {cursor.per_page}"
        return f"reading.cursor: a cursor of {expected} expected, got {got}"
    start, end = reading["slice"][:2]
    if dict(cursor.arguments) != {**state["filters"], **_dates(start, end)}:
        return "reading.cursor: its arguments are not the filters with the slice's dates"
    return None


# --- dates ------------------------------------------------------------------------------------------------


def _dates(start: float, end: float) -> dict[str, str]:
    return {"date_from": _hh_time(start), "date_to": _hh_time(end)}


def _hh_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def _parse(text: str) -> float:
    moment = _parse_or_none(text)
    if moment is None:
        raise ValueError(f"date_from/date_to: ISO 8601 expected (2026-11-26T10:00:00+03:00), got {text!r}")
    return moment


def _parse_or_none(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=MSK)).timestamp()


def _floor(moment: float) -> float:
    return float(int(moment) // GRID * GRID)


def _ceil(moment: float) -> float:
    return -_floor(-moment)


__all__ = ["Progress", "Slice", "VacancySweep", "seen_key"]
