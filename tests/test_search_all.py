"""search_all_vacancies() against the fake HH: every vacancy once past the cap, resumable from a state
checked whole, `seen` as users have it, and a completeness check that sees a vacancy missed while the
data moved (the fake's dataset changes mid-run)."""

from __future__ import annotations

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

from hh_async import HHClient, RetryPolicy, Throttle, errors as e
from hh_async.pagination import Cursor
from hh_async.testing import FakeHH, Faults
from hh_async.testing.dataset import MSK

from .test_pagination import streamed

pytestmark = pytest.mark.anyio
UA = "Tests/1.0 (dev@example.com)"
# The fake's 3000 vacancies fall between 2026-10-30 and 2026-11-01; over this range the sweep cuts two
# slices (whatever the day the tests run): the newer (1440 vacancies) is read first, then the older.
RANGE = {"date_from": "2026-10-30T00:00:00+03:00", "date_to": "2026-11-02T00:00:00+03:00"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    """Read only: tests that change the data run a fake of their own."""
    with FakeHH(vacancies=3_000) as running:
        yield running


def client(url: str, **kwargs: Any) -> HHClient:
    kwargs.setdefault("throttle", Throttle(rate=None, concurrency=50))
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0.001, max_attempts=8))
    return HHClient(user_agent=UA, base_url=url, **kwargs)


def every(fake: FakeHH) -> list[str]:
    return sorted(fake.dataset.ident(i) for i in range(fake.dataset.size))


async def test_search_all_reads_past_the_cap_each_vacancy_once(server: FakeHH) -> None:
    seen: list[int] = []
    async with client(server.url) as hh:
        sweep = hh.search_all_vacancies(progress=lambda p: seen.append(p.read))
        ids = [v.id async for v in sweep]
    assert sorted(ids) == every(server)
    assert len(set(ids)) == len(ids) == sweep.report.found == 3000
    assert sweep.report.complete and sweep.report.slices_done >= 2 and sweep.report.rereads == 0
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


# --- resume, and `seen` as users have it --------------------------------------------------------------------


async def test_an_interrupted_sweep_resumes_from_its_state_with_the_ids_as_hh_sent_them(
    server: FakeHH,
) -> None:
    async with client(server.url) as hh:
        first = hh.search_all_vacancies()
        got: list[str] = []
        async for vacancy in first:
            got.append(vacancy.id)
            if len(got) == 2345:
                state = json.dumps(first.state)
                break
        saved = set(got)
        rest = hh.search_all_vacancies(resume=state, seen=saved)
        got += [v.id async for v in rest]
    assert sorted(got) == every(server)  # each once
    assert saved == set(got[:2345])  # the caller's set, untouched
    assert rest.report.read == 3000 and rest.report.complete


@pytest.mark.parametrize("kind", [str, int])
async def test_a_finished_sweep_run_again_with_its_ids_as_seen_yields_nothing(
    server: FakeHH, kind: type
) -> None:
    async with client(server.url) as hh:
        ids = [v.id async for v in hh.search_all_vacancies(text="python")]
        seen = {kind(i) for i in ids}
        again = hh.search_all_vacancies(text="python", seen=seen)
        assert [v.id async for v in again] == []
    assert seen == {kind(i) for i in ids}  # not mutated, no mixed types
    assert again.report.duplicates == len(ids) and again.report.complete


async def test_a_sweep_failing_anywhere_resumes_from_its_state_to_every_vacancy(anyio_backend: str) -> None:
    """Probes, splits and pages fail at 20% with retries off; each failure is HH's error or a transport
    error (not an ExceptionGroup), and the state taken after it continues the sweep."""
    faults = Faults(rate=0.2, kinds=("503", "drop", "truncate"), seed=3)
    async with (
        FakeHH(vacancies=3_000, faults=faults) as flaky,
        client(flaky.url, retry=RetryPolicy(max_attempts=1)) as hh,
    ):
        ids: list[str] = []
        state: dict[str, Any] | None = None
        failures = 0
        while True:
            sweep = hh.search_all_vacancies(resume=state, seen=ids)
            try:
                async for vacancy in sweep:
                    ids.append(vacancy.id)
                break
            except (e.HHError, httpx.TransportError):
                failures += 1
                state = json.loads(json.dumps(sweep.state))
    assert failures > 0  # ~70 requests at 20%: which ones fail depends on the order tasks run in
    assert sorted(ids) == every(flaky)
    assert sweep.report.complete


async def test_a_probe_that_is_not_a_page_stops_the_sweep_instead_of_counting_nothing(server: FakeHH) -> None:
    """A count with no ``found`` was taken for 0: the slice (here the whole range) was skipped and the
    sweep said it was complete."""

    class NoCounts(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            body = json.loads(await response.aread())
            if request.url.params["per_page"] == "1":
                del body["found"]
            return streamed(response.status_code, body)

    async with client(server.url, transport=NoCounts(), retry=RetryPolicy(max_attempts=1)) as hh:
        sweep = hh.search_all_vacancies(text="python")
        with pytest.raises(e.DecodeError, match="'found' is missing, not a count"):
            [v async for v in sweep]
    assert not sweep.report.complete


# --- resume data and arguments are checked whole ------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_state(server: FakeHH) -> dict[str, Any]:
    """A real state, taken mid-slice: the base the broken ones are made from."""

    async def take() -> dict[str, Any]:
        async with client(server.url) as hh:
            sweep = hh.search_all_vacancies(text="python", **RANGE)
            async for _ in sweep:
                if sweep.report.read == 150:
                    return json.loads(json.dumps(sweep.state))
        raise AssertionError("the sweep ended early")

    return anyio.run(take)


def _cursor(state: dict[str, Any], **change: Any) -> str:
    return json.dumps({**json.loads(state["reading"]["cursor"]), **change})


def _nested(depth: int) -> list[Any]:
    value: list[Any] = ["python"]
    for _ in range(depth):
        value = [value]
    return value


def _in_reading(**change: Any) -> Any:
    return lambda state: state["reading"].update(change)


def _cursor_with(**change: Any) -> Any:
    return lambda state: state["reading"].update(cursor=_cursor(state, **change))


def _bound(index: int, value: Any) -> Any:
    return lambda state: state["reading"]["slice"].__setitem__(index, value)


NOT_A_CURSOR = r"reading\.cursor: not a saved hh_async cursor: "
BROKEN_STATES = [
    (
        _in_reading(cursor=Cursor("search-employer", {}, 100).to_json()),
        r"reading\.cursor: a cursor of get-vacancies by 100 expected, got search-employer by 100",
    ),
    (_cursor_with(offset=-3), NOT_A_CURSOR + r"offset: must be 0\.\.99, got -3"),
    (_cursor_with(per_page=0), NOT_A_CURSOR + r"per_page: must be 1\.\.100"),
    (_cursor_with(arguments={}), "reading.cursor: its arguments are not the filters with the slice's dates"),
    (lambda s: s.update(per_page=0), r"per_page: must be 1\.\.100, got 0"),
    (lambda s: s.update(per_page=500), r"per_page: must be 1\.\.100, got 500"),
    (lambda s: s.update(found=-1), "found: a count expected, got -1"),
    (_bound(0, "nan"), r"reading\.slice\.start: a finite POSIX time expected, got 'nan'"),
    (_bound(1, float("nan")), r"reading\.slice\.end: a finite POSIX time expected, got nan"),
    (_bound(1, 1.7e9), r"reading\.slice: start .* is not before end"),
    (_in_reading(counted=-3), r"reading\.counted: a count expected, got -3"),
    (_in_reading(extra=1), "reading: unexpected extra"),
    (lambda s: s.update(pending=[[1.0, 2.0, 3]]), r"pending\[0\]: \[start, end, found, rereads\] expected"),
    (lambda s: s.update(pending={"0": 1}), "pending: a list expected, got an object"),
    (
        lambda s: s.update(done=[[*s["reading"]["slice"], "yes"]]),
        r"done\[0\]: \[start, end, found, rereads, ",
    ),
    (lambda s: s.update(planned="yes"), "planned: true or false expected, got 'yes'"),
    (lambda s: s["filters"].update(text=_nested(10_000)), r"filters\.text\[0\]: a string, .* got a list"),
    (lambda s: s["filters"].update(page=2), "filters: the sweep chooses page itself"),
    (lambda s: s["filters"].update(date_to="tomorrow"), "date_to: ISO 8601 expected"),
    (lambda s: s.update(version=1), "version: 2 expected, got 1"),
    (lambda s: s.pop("done"), "missing done"),
    (lambda s: s.update(current=None), "unexpected current"),
]


@pytest.mark.parametrize(("breaking", "message"), BROKEN_STATES)
def test_a_broken_sweep_state_is_refused_whole_naming_the_field(
    saved_state: dict[str, Any], breaking: Any, message: str
) -> None:
    hh = HHClient(user_agent=UA, base_url="http://127.0.0.1:9")  # nothing listens: no request is made
    assert hh.search_all_vacancies(resume=saved_state).state["reading"] == saved_state["reading"]
    state = json.loads(json.dumps(saved_state))
    breaking(state)
    with pytest.raises(ValueError, match="not a saved sweep state: " + message):
        hh.search_all_vacancies(resume=state)


def test_a_state_that_is_not_json_or_too_deep_is_a_value_error() -> None:
    hh = HHClient(user_agent=UA, base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match=r"not a saved sweep state: not JSON \(RecursionError\)"):
        hh.search_all_vacancies(resume="[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="not a saved sweep state: a JSON object expected, got a list"):
        hh.search_all_vacancies(resume="[]")
    with pytest.raises(ValueError, match=r"not a saved sweep state: not JSON \(JSONDecodeError\)"):
        hh.search_all_vacancies(resume="{")


def test_wrong_sweep_arguments_are_refused_before_any_request() -> None:
    hh = HHClient(user_agent=UA, base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match=r"per_page: must be 1\.\.100, got 0"):
        hh.search_all_vacancies(per_page=0)
    with pytest.raises(ValueError, match=r"per_page: must be 1\.\.100, got 101"):
        hh.search_all_vacancies(per_page=101)
    with pytest.raises(ValueError, match="prefetch: must be at least 1, got 0"):
        hh.search_all_vacancies(prefetch=0)
    with pytest.raises(ValueError, match="ISO 8601 expected"):
        hh.search_all_vacancies(date_from="last tuesday")
    with pytest.raises(ValueError, match=r"filters\.area\[1\]: .* got a list"):
        hh.search_all_vacancies(area=["1", ["2"]])
    with pytest.raises(TypeError, match="chooses page itself"):
        hh.search_all_vacancies(page=2)
    with pytest.raises(TypeError, match="takes no txt"):
        hh.search_all_vacancies(txt="python")
    with pytest.raises(TypeError, match=r"seen: a set \(or list\) of vacancy ids expected, got str"):
        hh.search_all_vacancies(seen="100001")
    with pytest.raises(TypeError, match=r"seen: vacancy ids are strings or ints, got 1\.5"):
        hh.search_all_vacancies(seen={"100001", 1.5})


# --- while the data moves -----------------------------------------------------------------------------------


async def test_a_vacancy_skipped_when_the_pages_shift_is_read_again(anyio_backend: str) -> None:
    """The scenario where counts alone agree: a vacancy already read is archived while its slice is
    read (the later pages shift by one and one vacancy is skipped) and a new one appears in the older
    slice: read == found. The slice's own check sees the change and reads it again."""
    async with FakeHH(vacancies=3_000) as fake, client(fake.url) as hh:
        newcomer = ""
        sweep = hh.search_all_vacancies(per_page=20, **RANGE)
        ids: list[str] = []
        async for vacancy in sweep:
            ids.append(vacancy.id)
            if len(ids) == 50:  # page 3 of 72 in the newer slice: most of its pages are still to come
                fake.dataset.archive(ids[0])
                oldest = fake.dataset.published(fake.dataset.ident(2999))
                newcomer = fake.dataset.publish(oldest + 1)  # into the older slice, read later
    assert sorted(ids) == every(fake)  # the 3000 (the archived one read before it left), and the new one
    assert sweep.report.found == len(ids) - 1 and sweep.report.rereads >= 1
    assert newcomer in ids and sweep.report.complete


async def test_a_vacancy_published_into_a_finished_slice_comes_out_at_the_final_count(
    anyio_backend: str,
) -> None:
    """After the newer slice is read, one of its vacancies is archived and a new one published in it:
    its count is what it was; its first page shows the newcomer, so it is read again at the end."""
    async with FakeHH(vacancies=3_000) as fake, client(fake.url) as hh:
        sweep = hh.search_all_vacancies(**RANGE)
        ids: list[str] = []
        newcomer = ""
        async for vacancy in sweep:
            ids.append(vacancy.id)
            if len(ids) == 2000:  # in the older slice
                fake.dataset.archive(ids[100])
                newcomer = fake.dataset.publish(fake.dataset.published(ids[0]) + 60)
    assert sorted(ids) == every(fake) and ids[-1] == newcomer
    assert sweep.report.complete and sweep.report.rereads == 1


async def test_a_slice_that_keeps_changing_is_reported_unsettled(anyio_backend: str) -> None:
    """Each page asked of the newer slice finds one of its vacancies archived: no read of it can be
    exact. The older slice stands still and settles; the sweep ends, and says it is not complete."""
    async with FakeHH(vacancies=3_000) as fake, client(fake.url) as hh:
        newer = iter(range(1439, 0, -1))  # the newer slice's vacancies, from its oldest

        def churn(query: dict[str, list[str]]) -> None:
            if query["per_page"] != ["1"] and query["date_to"] == ["2026-11-01T21:00:00+0000"]:
                fake.dataset.archive(fake.dataset.ident(next(newer)))

        fake.app.before_search = churn
        sweep = hh.search_all_vacancies(**RANGE)
        ids = [vacancy.id async for vacancy in sweep]
    assert len(ids) == len(set(ids))
    assert sweep.report.finished and not sweep.report.complete
    assert sweep.report.unsettled == [("2026-10-31T09:00:00+0000", "2026-11-01T21:00:00+0000")]
    assert sweep.report.rereads == 3  # (it shrank by the final count: nothing new to read there)


# --- at scale -----------------------------------------------------------------------------------------------


async def test_a_sweep_of_50k_with_a_fifth_of_answers_failing_reads_each_vacancy_once(
    anyio_backend: str,
) -> None:
    """Retries on: the client retries errors and dropped connections, the paginator a body cut short."""
    faults = Faults(rate=0.2, kinds=("503", "502_html", "429", "drop", "truncate"), seed=11)
    async with FakeHH(vacancies=50_000, faults=faults) as flaky, client(flaky.url) as hh:
        sweep = hh.search_all_vacancies()
        ids = [v.id async for v in sweep]
    assert len(ids) == len(set(ids)) == 50_000 and sweep.report.complete
    assert set(faults.injected) == set(faults.kinds)  # each kind of fault happened


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
