"""Every vacancy of a search, past HH's cap of 2000: ``hh.search_all_vacancies(text="python")``.

HH hands out at most 2000 results of one query. The sweep cuts the publication-date range
(``date_from``/``date_to``) in halves until each slice finds at most 2000, reads each slice with
``paginate``, drops ids already seen (slices share their boundary instant), and reconciles what it read
with what HH says the whole search ``found``:

    sweep = hh.search_all_vacancies(text="python", area=["1"], progress=print)
    async for vacancy in sweep: ...
    sweep.report  # found, read, duplicates dropped, slices that stayed over the cap

Slices are aligned to 5 minutes (HH rounds ``date_from`` to 5 minutes); a 5-minute slice that still finds
more than 2000 is read to the cap and listed in ``report.over_cap``. Without ``date_from`` the sweep starts
with the last 32 days and reaches further back until the range holds everything the search finds.
``sweep.state`` is a JSON-able snapshot from which ``search_all_vacancies(resume=...)`` continues.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .operations import registry
from .pagination import Cursor, Paginator

if TYPE_CHECKING:
    from .client import HHClient

OPERATION = "get-vacancies"
GRID = 300
"""Slice boundaries fall on 5-minute marks: HH rounds ``date_from`` to 5 minutes."""
FIRST_LOOKBACK = 32 * 86_400
OLDEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
MSK = timezone(timedelta(hours=3))
"""HH reads a date without an offset as Moscow time."""


@attrs.frozen
class Slice:
    """A publication-date range and what the search finds in it."""

    start: float
    end: float
    found: int

    def filters(self) -> dict[str, str]:
        return _dates(self.start, self.end)


@attrs.define
class Progress:
    """What the sweep has done so far; handed to the ``progress`` callback."""

    found: int = 0
    """What HH says the whole search finds."""
    read: int = 0
    """Distinct vacancies handed out."""
    duplicates: int = 0
    slices_done: int = 0
    slices_pending: int = 0
    over_cap: list[tuple[str, str, int]] = attrs.field(factory=list)
    """Slices of 5 minutes that still find more than the cap: (date_from, date_to, found)."""

    @property
    def complete(self) -> bool:
        """Everything HH found was read (false when slices stayed over the cap, or the list changed)."""
        return self.read >= self.found and not self.over_cap


class VacancySweep:
    def __init__(
        self,
        client: HHClient,
        filters: Mapping[str, Any],
        *,
        progress: Callable[[Progress], object] | None = None,
        per_page: int = 100,
        prefetch: int = 4,
        resume: Mapping[str, Any] | str | None = None,
        seen: set[int | str] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        for name in ("page", "per_page", "period"):
            if name in filters:
                raise TypeError(f"search_all_vacancies() chooses {name} itself")
        self._client = client
        self._progress = progress
        self._prefetch = prefetch
        self._now = now
        self.report = Progress()
        self._seen: set[int | str] = seen if seen is not None else set()
        self._paginator: Paginator | None = None
        if resume is not None:
            try:
                state = json.loads(resume) if isinstance(resume, str) else dict(resume)
                self.filters = dict(state["filters"])
                self.per_page = int(state["per_page"])
                self._pending = [Slice(*s) for s in state["pending"]]
                self._current = Cursor.from_json(state["current"]) if state["current"] else None
                self.report.found = int(state["found"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"not a saved sweep state: {exc!r}") from None
            self.report.read = len(self._seen)
            self._planned = bool(state.get("planned", True))
        else:
            for name in ("date_from", "date_to"):
                if filters.get(name) is not None:
                    _parse(str(filters[name]))  # a wrong date fails here, not after the first requests
            self.filters = dict(filters)
            self.per_page = per_page
            self._pending = []
            self._current = None
            self._planned = False

    @property
    def state(self) -> dict[str, Any]:
        """Where the sweep stands, as JSON-able data for ``resume=`` (the ids seen are not in it: keep
        what you wrote, and pass its ids as ``seen``)."""
        cursor = self._paginator.cursor if self._paginator is not None else self._current
        return {
            "filters": self.filters,
            "per_page": self.per_page,
            "found": self.report.found,
            "pending": [attrs.astuple(s) for s in self._pending],
            "current": cursor.to_json() if cursor is not None else None,
            "planned": self._planned,
        }

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._sweep()

    async def _sweep(self) -> AsyncIterator[Any]:
        if not self._planned:
            await self._plan()
        while self._current is not None or self._pending:
            if self._current is None:
                piece = self._pending[-1]
                halves = await self._split(piece)  # a failure here leaves the piece pending
                self._pending.pop()
                if halves is not None:
                    self._pending += halves
                    self.report.slices_done += 0 if halves else 1
                    continue
                self._current = Cursor(OPERATION, {**self.filters, **piece.filters()}, self.per_page)
            paginator = self._paginator = self._client.paginate(cursor=self._current, prefetch=self._prefetch)
            try:
                async for vacancy in paginator:
                    key = seen_key(getattr(vacancy, "id", ""))
                    if key in self._seen:
                        self.report.duplicates += 1
                        continue
                    self._seen.add(key)
                    self.report.read += 1
                    yield vacancy
                    if self.report.read % self.per_page == 0:
                        self._tell()
                if paginator.truncated:  # a 5-minute slice over the cap: report what stayed hidden
                    dates = self._current.arguments
                    found = paginator.found or 0
                    self.report.over_cap.append((dates["date_from"], dates["date_to"], found))
            finally:
                self._current = paginator.cursor
                self._paginator = None
                await paginator.aclose()
            self._current = None
            self.report.slices_done += 1
            self._tell()
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
        counts, older first (the newer is read first); none when it finds nothing."""
        if piece.found == 0:
            return []
        if piece.found <= self._cap() or piece.end - piece.start <= GRID:
            return None
        middle = _floor(piece.start + (piece.end - piece.start) / 2)
        if middle <= piece.start:
            middle = piece.start + GRID
        bounds = [(piece.start, middle), (middle, piece.end)]
        counts = [0, 0]
        failures: list[Exception] = []

        async def count(index: int) -> None:
            try:
                counts[index] = await self._count(*bounds[index])
            except Exception as exc:  # raised as itself below, not inside an ExceptionGroup
                failures.append(exc)

        async with anyio.create_task_group() as group:  # one round trip for both halves
            group.start_soon(count, 0)
            group.start_soon(count, 1)
        if failures:
            raise failures[0]
        return [Slice(start, end, n) for (start, end), n in zip(bounds, counts, strict=True)]

    def _cap(self) -> int:
        cap = registry()[OPERATION].depth_cap or 2000
        return cap - cap % self.per_page

    async def _count(self, start: float, end: float) -> int:
        return await self._count_filters({**self.filters, **_dates(start, end)})

    async def _count_filters(self, filters: Mapping[str, Any]) -> int:
        page = await self._client.get_vacancies(**filters, page=0, per_page=1)
        found = getattr(page, "found", None)
        return found if isinstance(found, int) else 0

    def _tell(self) -> None:
        self.report.slices_pending = len(self._pending) + (1 if self._current is not None else 0)
        if self._progress is not None:
            self._progress(self.report)


def seen_key(ident: object) -> int | str:
    """How an id is kept in a ``seen`` set: ints take a third of the memory of 100 000 strings."""
    text = str(ident)
    return int(text) if text.isdigit() else text


def _dates(start: float, end: float) -> dict[str, str]:
    return {"date_from": _hh_time(start), "date_to": _hh_time(end)}


def _hh_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def _parse(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"date_from/date_to: ISO 8601 expected (2026-11-26T10:00:00+03:00), got {text!r}"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=MSK)).timestamp()


def _floor(moment: float) -> float:
    return float(int(moment) // GRID * GRID)


def _ceil(moment: float) -> float:
    return -_floor(-moment)


__all__ = ["Progress", "Slice", "VacancySweep", "seen_key"]
