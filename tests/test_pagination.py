"""paginate() and search_all_vacancies() against the fake HH: every item once, in order, resumable."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import anyio
import httpx
import pytest

from hh_async import HHClient, RetryPolicy, Throttle
from hh_async import errors as e
from hh_async.operations import registry
from hh_async.pagination import Cursor
from hh_async.testing import FakeHH, Faults
from hh_async.testing.app import DEPTH_CAPS
from hh_async.testing.dataset import MSK

from .test_fake_server import _required_query

pytestmark = pytest.mark.anyio
UA = "Tests/1.0 (dev@example.com)"
LISTED = 2_500


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=3_000) as running:
        running.app.list_size = LISTED  # past the 2000 cap, short of search-employer's 5000
        yield running


def client(url: str, **kwargs: Any) -> HHClient:
    kwargs.setdefault("throttle", Throttle(rate=None, concurrency=50))
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0.001, max_attempts=8))
    return HHClient(user_agent=UA, base_url=url, **kwargs)


PAGED = sorted(op.operation_id for op in registry().values() if op.paginated)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio reads pages through the same code
@pytest.mark.parametrize("operation_id", PAGED)
async def test_every_paged_list_reads_to_its_end_or_its_cap(server: FakeHH, operation_id: str) -> None:
    """From the registry, not a hand list: per_page at the documented maximum, never past the cap."""
    operation = registry()[operation_id]
    accepted = inspect.signature(operation.endpoint()._get_kwargs).parameters
    arguments: dict[str, Any] = {name: "1" for name, p in accepted.items() if p.default is p.empty}
    arguments.update({k: v for k, v in _required_query(operation_id).items() if k in accepted})
    if operation_id == "get-vacancies":
        arguments = {}
    async with client(server.url) as hh:
        pages = hh.paginate(operation_id, **arguments)
        sizes = [len(page.items) async for page in pages.pages()]
    declared = operation.per_page or {}
    per_page = declared.get("maximum") or declared.get("default") or 20
    assert pages.per_page == per_page
    listed = 3_000 if operation_id == "get-vacancies" else LISTED
    cap = operation.depth_cap
    if operation_id in DEPTH_CAPS:  # the caps HH documents, as read by codegen from the spec's text
        assert cap == DEPTH_CAPS[operation_id]
    reachable = min(listed, cap - cap % per_page) if cap else listed
    assert sum(sizes) == reachable and all(size == per_page for size in sizes[:-1])
    assert pages.found == listed and pages.truncated == (reachable < listed)


async def test_items_come_in_hh_order_each_once_and_stop_cleanly_at_the_cap(server: FakeHH) -> None:
    async with client(server.url) as hh:
        pages = hh.paginate(hh.get_vacancies, per_page=30, prefetch=3)
        ids = [vacancy.id async for vacancy in pages]
    expected = [server.dataset.ident(i) for i in range(1980)]  # 66 pages of 30: page 66 would be a 400
    assert ids == expected
    assert pages.truncated and pages.found == 3000
    assert pages.cursor == Cursor("get-vacancies", {}, 30, page=66, offset=0)


async def test_a_short_list_is_not_truncated_and_filters_pass_through(server: FakeHH) -> None:
    async with client(server.url) as hh:
        pages = hh.paginate(hh.get_vacancies, text="python")
        found = [v async for v in pages]
    assert len(found) == pages.found and 0 < len(found) < 2000
    assert not pages.truncated and all("python" in v.name.lower() for v in found)


async def test_wrong_arguments_are_refused_before_any_request() -> None:
    hh = HHClient(user_agent=UA, base_url="http://127.0.0.1:9")  # nothing listens: no request is made
    with pytest.raises(ValueError, match=r"per_page must be 1\.\.100"):
        hh.paginate(hh.get_vacancies, per_page=500)
    with pytest.raises(TypeError, match="takes no txt"):
        hh.paginate(hh.get_vacancies, txt="python")
    with pytest.raises(TypeError, match="sets page itself"):
        hh.paginate(hh.get_vacancies, page=3)
    with pytest.raises(ValueError, match="not a paged list"):
        hh.paginate(hh.get_areas)
    with pytest.raises(ValueError, match="not a saved hh_async cursor"):
        Cursor.from_json('{"page": 1}')
    with pytest.raises(ValueError, match="ISO 8601 expected"):
        hh.search_all_vacancies(date_from="last tuesday")
    with pytest.raises(ValueError, match="not a saved sweep state"):
        hh.search_all_vacancies(resume='{"filters": {}}')
    with pytest.raises(TypeError, match="chooses page itself"):
        hh.search_all_vacancies(page=2)
    await hh.aclose()


class _CountingTransport(httpx.AsyncBaseTransport):
    """In-process HH answering get-vacancies pages; records how many requests are in flight at once."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.in_flight = self.most_in_flight = self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(3):  # let the other waiting requests start, as a network round trip would
            await anyio.sleep(0)
        self.in_flight -= 1
        page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
        first = page * per_page
        items = [{"id": str(n)} for n in range(first, min(first + per_page, self.total))]
        pages = -(-self.total // per_page)
        body = {"items": items, "found": self.total, "pages": pages, "page": page, "per_page": per_page}
        return httpx.Response(200, json=body)


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_pages_are_fetched_ahead_within_the_window(prefetch: int, anyio_backend: str) -> None:
    transport = _CountingTransport(total=1000)
    async with client("https://api.hh.ru", transport=transport) as hh:
        pages = hh.paginate(hh.get_vacancies, prefetch=prefetch)
        ids = [int(v.id) async for v in pages]
    assert ids == list(range(1000))
    assert transport.requests == 10  # no page fetched twice, none past the end
    assert transport.most_in_flight == prefetch


@pytest.mark.parametrize("per_page", [100, 7])
async def test_a_read_resumed_from_its_cursor_matches_an_uninterrupted_one(
    server: FakeHH, per_page: int, anyio_backend: str
) -> None:
    """Failures injected at 20% with retries off: each failure ends the read, the saved cursor continues
    it, and the ids come out exactly as from one clean read."""
    async with client(server.url) as hh:
        clean = [v.id async for v in hh.paginate(hh.get_vacancies, per_page=per_page)]
    with FakeHH(vacancies=3_000, faults=Faults(rate=0.2, kinds=("503", "drop", "truncate"), seed=5)) as flaky:
        async with client(flaky.url, retry=RetryPolicy(max_attempts=1)) as hh:
            saved = hh.paginate(hh.get_vacancies, per_page=per_page).cursor.to_json()
            resumed: list[str] = []
            interruptions = 0
            while True:
                pages = hh.paginate(cursor=Cursor.from_json(saved))
                try:
                    async for vacancy in pages:
                        resumed.append(vacancy.id)
                    break
                except (e.HHError, httpx.TransportError):
                    interruptions += 1
                    saved = pages.cursor.to_json()
                finally:
                    await pages.aclose()
    assert interruptions > 0
    assert resumed == clean


async def test_search_all_reads_past_the_cap_each_vacancy_once(server: FakeHH, anyio_backend: str) -> None:
    seen: list[int] = []
    async with client(server.url) as hh:
        sweep = hh.search_all_vacancies(progress=lambda p: seen.append(p.read))
        ids = [v.id async for v in sweep]
    assert sorted(ids) == sorted(server.dataset.ident(i) for i in range(3000))
    assert len(set(ids)) == len(ids) == sweep.report.found == 3000
    assert sweep.report.complete and sweep.report.slices_done >= 2
    assert seen == sorted(seen) and seen[-1] == 3000  # progress only goes forward


async def test_search_all_keeps_the_callers_filters_and_dates(server: FakeHH) -> None:
    async with client(server.url) as hh:
        python = [v.id async for v in hh.paginate(hh.get_vacancies, text="python")]
        swept = [v.id async for v in hh.search_all_vacancies(text="python")]
        newest = [v async for v in hh.search_all_vacancies(date_from="2026-11-01T00:00:00+03:00")]
    assert sorted(swept) == sorted(python)
    assert newest and all(v.published_at >= "2026-11-01T00:00:00+0300" for v in newest)
    since = datetime(2026, 11, 1, tzinfo=MSK).timestamp()
    assert len(newest) == len([i for i in range(3000) if server.dataset._published[i] >= since])


async def test_a_five_minute_slice_over_the_cap_is_read_to_the_cap_and_reported() -> None:
    """2500 vacancies published within 25 seconds: no date slice can split them under 2000."""
    async with FakeHH(vacancies=2_500, spacing=0.01) as dense, client(dense.url) as hh:
        sweep = hh.search_all_vacancies()
        ids = [v.id async for v in sweep]
    assert len(ids) == len(set(ids)) == 2000
    assert sweep.report.found == 2500 and not sweep.report.complete
    [(date_from, date_to, found)] = sweep.report.over_cap
    assert found == 2500 and date_from < date_to


async def test_an_interrupted_sweep_resumes_from_its_state(server: FakeHH) -> None:
    async with client(server.url) as hh:
        first = hh.search_all_vacancies()
        got: list[str] = []
        async for vacancy in first:
            got.append(vacancy.id)
            if len(got) == 2345:
                state = json.dumps(first.state)
                break
        rest = hh.search_all_vacancies(resume=state, seen={int(i) for i in got})
        got += [v.id async for v in rest]
    assert sorted(got) == sorted(server.dataset.ident(i) for i in range(3000))
    assert rest.report.read == 3000 and rest.report.complete


async def test_a_sweep_failing_anywhere_resumes_from_its_state_to_every_vacancy(anyio_backend: str) -> None:
    """Probes, splits and pages fail at 20% with retries off; each failure is HH's error or a transport
    error (not an ExceptionGroup), and the state taken after it continues the sweep."""
    faults = Faults(rate=0.2, kinds=("503", "drop"), seed=3)
    async with (
        FakeHH(vacancies=3_000, faults=faults) as flaky,
        client(flaky.url, retry=RetryPolicy(max_attempts=1)) as hh,
    ):
        ids: list[str] = []
        state: dict[str, Any] | None = None
        failures = 0
        while True:
            sweep = hh.search_all_vacancies(resume=state, seen={int(i) for i in ids})
            try:
                async for vacancy in sweep:
                    ids.append(vacancy.id)
                break
            except (e.HHError, httpx.TransportError):
                failures += 1
                state = sweep.state
    assert failures > 0  # ~70 requests at 20%: which ones fail depends on the order tasks run in
    assert sorted(ids) == sorted(flaky.dataset.ident(i) for i in range(3000))
    assert sweep.report.complete


def test_search_all_over_100k_vacancies_each_once_with_flat_memory() -> None:
    """The acceptance run: benchmarks/sweep_rss.py on 100 000 fake vacancies (server in its own process)."""
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "sweep_rss.py")
    out = subprocess.run(
        [sys.executable, script, "--vacancies", "100000", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    result = json.loads(out.splitlines()[-1])
    assert result["read"] == result["distinct"] == result["found"] == 100_000
    assert result["rss_growth_mb"] < 50
