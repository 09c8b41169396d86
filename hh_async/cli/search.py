"""``search``: vacancies to JSONL, up to HH's cap with ``paginate``, or every match with ``--all`` (the
sweep); ``--resume`` goes on from the saved position with the same query; a progress line on stderr."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import IO, Any

from ..client import HHClient
from ..operations import registry
from ..pagination import Cursor, Paginator
from ..search_all import Progress, VacancySweep
from .call import coerce_arguments, key_value_pairs
from .output import Output
from .parser import UsageError


async def search(hh: HHClient, args: argparse.Namespace) -> int:
    output = Output(args.jsonl, resume=args.resume)
    progress = ProgressLine(sys.stderr, enabled=args.progress)
    state = output.load_state()  # and the ids already written: the run goes on from them
    reader = Reader(hh, args, state, output.seen, progress)
    with output:
        saved = reader.position()
        try:
            async for vacancy in reader.items:
                if output.write(vacancy):
                    saved = reader.position()
                    if output.written % 100 == 0:
                        output.save_state(saved)
                        if not args.all:
                            progress.update_count(output.written)
            output.save_state({**reader.position(), "done": True})
        except BaseException:
            output.save_state(saved)  # the position after the last line written: nothing lost, nothing twice
            raise
        finally:
            await reader.aclose()
            progress.finish()
    reader.warn_if_incomplete(output.written)
    return 0


class Reader:
    """The vacancies of a search: ``paginate`` (up to the cap), or with ``--all`` the sweep past it; and
    the position to resume from. Makes no request until iterated."""

    def __init__(
        self,
        hh: HHClient,
        args: argparse.Namespace,
        state: dict[str, Any] | None,
        written: set[int | str],
        progress: ProgressLine,
    ) -> None:
        mode = "sweep" if args.all else "cursor"
        if state is not None and mode not in state:
            raise UsageError(f"the state file is not from a run {'with' if args.all else 'without'} --all")
        self.sweep: VacancySweep | None = None
        self.pages: Paginator | None = None
        try:
            if args.all:
                # The sweep keeps its own set: it marks an id before the output writes it.
                options: dict[str, Any] = {"resume": state["sweep"]} if state else _search_filters(args)
                self.sweep = hh.search_all_vacancies(progress=progress.update, seen=set(written), **options)
                self.items: AsyncIterator[Any] = aiter(self.sweep)
                saved_query = self.sweep.state["filters"]
            else:
                cursor = Cursor.from_json(state["cursor"]) if state else None
                filters = {} if cursor else _search_filters(args)
                self.pages = hh.paginate(None if cursor else hh.get_vacancies, cursor=cursor, **filters)
                self.items = aiter(self.pages)
                saved_query = self.pages.arguments
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if state is not None:
            _refuse_another_search(saved_query, _search_filters(args))
            if self.sweep is not None:
                progress.update(self.sweep.report)  # the line starts from what the file holds

    async def aclose(self) -> None:
        """Ends the pages fetched ahead. Needed when the reading stops for a reason of its own (stdout closed,
        a disk full): the fetches would otherwise run on past the client, on a connection of their own."""
        close = getattr(self.items, "aclose", None)  # the paginator, or the sweep's generator
        if close is not None:
            await close()

    def position(self) -> dict[str, Any]:
        if self.sweep is not None:
            return {"sweep": self.sweep.state}
        assert self.pages is not None
        return {"cursor": self.pages.cursor.to_json()}

    def warn_if_incomplete(self, written: int) -> None:
        if self.sweep is not None:
            report = self.sweep.report
            if report.over_cap:
                hidden = ", ".join(f"{a}..{b} ({n})" for a, b, n in report.over_cap)
                print(f"warning: slices over the cap were read in part: {hidden}", file=sys.stderr)
            if report.unsettled:  # read again and again, and still changing: some may be missed
                moving = ", ".join(f"{a}..{b}" for a, b in report.unsettled)
                warning = f"warning: slices kept changing while read, some may be missed: {moving}"
                print(warning, file=sys.stderr)
        if self.pages is not None and self.pages.truncated:
            note = f"note: HH found {self.pages.found}; its cap allowed {written}: --all reads the rest"
            print(note, file=sys.stderr)


def _refuse_another_search(saved: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """``--resume`` continues the saved search: with another query the file would mix two searches."""
    saved, given = _as_json(saved), _as_json(given)

    def shown(query: Mapping[str, Any], name: str) -> str:
        return json.dumps(query[name], ensure_ascii=False) if name in query else "not given"

    differences = [
        f"{name} (saved: {shown(saved, name)}, now: {shown(given, name)})"
        for name in sorted(saved.keys() | given.keys())
        if saved.get(name) != given.get(name)
    ]
    if differences:
        raise UsageError(
            "--resume continues the saved search with the same options; this one differs in "
            + ", ".join(differences)
        )


def _as_json(query: Mapping[str, Any]) -> Any:
    """The query as the state file holds it (enums as their values, tuples as lists)."""
    return json.loads(json.dumps(dict(query), ensure_ascii=False))


def _search_filters(args: argparse.Namespace) -> dict[str, Any]:
    named = {
        "text": args.text,
        "area": args.area,
        "professional_role": args.professional_role,
        "date_from": args.date_from,
        "date_to": args.date_to,
    }
    filters = {k: v for k, v in named.items() if v is not None}
    operation = registry()["get-vacancies"]
    filters.update(coerce_arguments(operation, key_value_pairs(args.filter)))
    return filters


class ProgressLine:
    """``1234/100000 vacancies, 12 slices to go`` on stderr: redrawn in place on a terminal, a line every
    few seconds otherwise (logs)."""

    def __init__(self, stream: IO[str], *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self._last = -math.inf  # the first line shows at once
        self._text = ""

    def update(self, progress: Progress) -> None:
        share = f" {100 * progress.read / progress.found:5.1f}%" if progress.found else ""
        pending = f", {progress.slices_pending} slices to go" if progress.slices_pending else ""
        self._show(f"{progress.read}/{progress.found} vacancies{share}{pending}")

    def update_count(self, count: int) -> None:
        self._show(f"{count} vacancies")

    def _show(self, text: str, force: bool = False) -> None:
        self._text = text
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < (0.1 if self.tty else 2.0)):
            return
        self._last = now
        self.stream.write(f"\r{text}\x1b[K" if self.tty else f"{text}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._text:
            self._show(self._text, force=True)
            if self.tty and self.enabled:
                self.stream.write("\n")
