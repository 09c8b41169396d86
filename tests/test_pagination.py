"""paginate() against the fake HH and in-process doubles: every item once, in order, resumable; a bad
page is an error, never a short read; resume data is checked; nothing fetched ahead outlives the read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from hh_async import HHClient, RetryPolicy, StaticToken, Throttle, errors as e
from hh_async.facts import DEPTH_CAPS
from hh_async.operations import registry
from hh_async.pagination import Cursor
from hh_async.testing import CLIENT_ID, FakeHH, Faults

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
    accepted = operation.by_python_name
    arguments: dict[str, Any] = {p.python_name: "1" for p in operation.parameters if p.required}
    arguments.update({k: v for k, v in _required_query(operation_id).items() if k in accepted})
    if operation_id == "get-vacancies":
        arguments = {}
    if operation_id == "get-collection-negotiations-list":  # served from the fake's own data
        for _ in range(LISTED - len(server.app.negotiations.get(arguments["vacancy_id"], []))):
            server.app.add_negotiation(arguments["vacancy_id"])
    token = server.oauth.issue_user_token(CLIENT_ID)["access_token"]  # most lists are a user's own
    async with client(server.url, auth=StaticToken(token)) as hh:
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
    with pytest.raises(ValueError, match=r"per_page must be 1\.\.100, got 0"):
        hh.paginate(hh.get_vacancies, per_page=0)
    with pytest.raises(ValueError, match=r"per_page must be 1\.\.100, got True"):
        hh.paginate(hh.get_vacancies, per_page=True)
    with pytest.raises(ValueError, match="prefetch: must be at least 1, got 0"):
        hh.paginate(hh.get_vacancies, prefetch=0)
    with pytest.raises(ValueError, match=r"cursor\.arguments\.text: a string, a finite number"):
        hh.paginate(hh.get_vacancies, text={"python": 1})  # a cursor could not hold it
    with pytest.raises(ValueError, match=r"cursor\.offset: must be 0\.\.99, got -3"):
        Cursor("get-vacancies", {}, 100, page=1, offset=-3)
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
        return streamed(200, body)


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


# --- pages that are not pages ------------------------------------------------------------------------------


async def until(condition: Callable[[], bool], what: str, checkpoints: int = 10_000) -> None:
    """Wait for ``condition`` by yielding to the loop, not by the clock; fail if it never comes."""
    for _ in range(checkpoints):
        if condition():
            return
        await anyio.sleep(0)
    raise AssertionError(f"never happened: {what}")


def streamed(status: int, body: Any = None, *, content: bytes = b"", **headers: str) -> httpx.Response:
    """A response as a network transport gives it, its body still to be read (a pre-read one, as
    ``httpx.Response(json=...)`` makes, cannot be streamed by the transports that wrap ours)."""
    if body is not None:
        content = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))


def _answer(kind: str, body: dict[str, Any]) -> httpx.Response:
    """A bad answer for a page, as proxies, gateways and HH's bad days give them."""
    if kind == "empty 200":
        return streamed(200)
    if kind == "204":
        return streamed(204)
    if kind == "302":
        return streamed(302, location="https://hh.ru/search/vacancy")
    if kind == "404":
        return streamed(404, {"errors": [{"type": "not_found"}]})
    if kind == "cut short":
        return streamed(200, content=b'{"items": [{"id": "1", "na', **{"content-type": "application/json"})
    changed = {
        "items null": {"items": None},
        "items object": {"items": {str(item["id"]): item for item in body["items"]}},
        "found text": {"found": str(body["found"])},
    }
    if kind == "items missing":
        return streamed(200, {k: v for k, v in body.items() if k != "items"})
    return streamed(200, {**body, **changed[kind]})


class _Pages(httpx.AsyncBaseTransport):
    """In-process HH answering get-vacancies pages of ``total`` items. ``bad`` gives a page bad answers
    on its first attempts; ``held`` pages wait for ``release`` (a bad answer waits until they are all in
    flight). Records the pages asked for, what is in flight and what was cancelled."""

    def __init__(self, total: int, *, bad: dict[int, list[str]] | None = None, held: Any = ()) -> None:
        self.total = total
        self.bad = {page: list(kinds) for page, kinds in (bad or {}).items()}
        self.held = set(held)
        self.release: anyio.Event | None = None
        self.asked: list[int] = []
        self.in_flight = self.held_in_flight = self.held_reached = self.cancelled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
        self.asked.append(page)
        held = page in self.held
        self.in_flight += 1
        self.held_in_flight += held
        self.held_reached += held
        try:
            if held:
                assert self.release is not None
                await self.release.wait()
            elif self.bad.get(page) and self.held:
                await until(lambda: self.held_in_flight == len(self.held), "the held pages in flight")
            else:
                await anyio.sleep(0)  # a checkpoint, as a round trip would give
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
            self.held_in_flight -= held
        first = page * per_page
        items = [{"id": str(n)} for n in range(first, min(first + per_page, self.total))]
        pages = -(-self.total // per_page)
        body = {"items": items, "found": self.total, "pages": pages, "page": page, "per_page": per_page}
        if self.bad.get(page):
            return _answer(self.bad[page].pop(0), body)
        return streamed(200, body)


BAD_PAGES = [
    "empty 200",
    "204",
    "302",
    "items null",
    "items missing",
    "items object",
    "found text",
    "cut short",
]


@pytest.mark.parametrize("kind", BAD_PAGES)
async def test_a_page_that_is_not_a_page_is_an_error_and_the_read_goes_on_from_its_cursor(
    kind: str, anyio_backend: str
) -> None:
    """Never an empty or short page: the pages before it come whole, then a typed error, with the
    cursor at the bad page; reading on (the same paginator, or one from the cursor) skips nothing."""
    transport = _Pages(total=50, bad={2: [kind]})
    async with client("https://api.hh.ru", transport=transport, retry=RetryPolicy(max_attempts=1)) as hh:
        pages = hh.paginate(hh.get_vacancies, per_page=10)
        ids: list[str] = []
        with pytest.raises(e.HHError) as raised:
            async for vacancy in pages:
                ids.append(vacancy.id)
        assert ids == [str(n) for n in range(20)]
        assert pages.cursor == Cursor("get-vacancies", {}, 10, page=2)
        if kind != "302":  # a redirect is refused by the client itself, as an HHError with its status
            assert isinstance(raised.value, e.DecodeError)
        if kind == "items null":
            assert "'items' is null, not a list" in str(raised.value)
        ids += [vacancy.id async for vacancy in pages]  # the page answers now
    assert ids == [str(n) for n in range(50)]


async def test_a_bad_page_is_asked_again_as_the_retry_policy_allows(anyio_backend: str) -> None:
    transport = _Pages(total=50, bad={2: ["items null", "cut short"], 4: ["empty 200"]})
    async with client("https://api.hh.ru", transport=transport, retry=RetryPolicy(backoff_base=0.001)) as hh:
        ids = [vacancy.id async for vacancy in hh.paginate(hh.get_vacancies, per_page=10)]
    assert ids == [str(n) for n in range(50)]
    assert sorted(transport.asked) == [0, 1, 2, 2, 2, 3, 4, 4]

    transport = _Pages(total=50, bad={2: ["items null", "items null"]})
    policy = RetryPolicy(backoff_base=0.001, max_attempts=2)
    async with client("https://api.hh.ru", transport=transport, retry=policy) as hh:
        pages = hh.paginate(hh.get_vacancies, per_page=10)
        with pytest.raises(e.DecodeError, match="'items' is null"):
            [vacancy async for vacancy in pages]
    assert transport.asked.count(2) == 2 and pages.cursor.page == 2


GOOD_CURSOR = {"operation": "get-vacancies", "arguments": {"text": "python"}, "per_page": 100, "page": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"per_page": 0}, r"per_page: must be 1\.\.100 for get-vacancies, got 0"),
        ({"per_page": 101}, r"per_page: must be 1\.\.100 for get-vacancies, got 101"),
        ({"per_page": "100"}, r"per_page: .* got '100'"),
        ({"per_page": True}, r"per_page: .* got True"),
        ({"page": -1}, r"page: must be 0\.\.20, got -1"),
        ({"page": 21}, r"page: must be 0\.\.20, got 21"),
        ({"page": float("nan")}, r"page: must be 0\.\.20, got nan"),
        ({"offset": -3}, r"offset: must be 0\.\.99, got -3"),
        ({"offset": 100}, r"offset: must be 0\.\.99, got 100"),
        ({"operation": "get-areas"}, "operation: get-areas is not a paged list"),
        ({"operation": "get-everything"}, "operation: not an operation of this client: 'get-everything'"),
        ({"operation": ["get-vacancies"]}, "operation: not an operation of this client: a list"),
        ({"arguments": {"txt": "python"}}, "arguments: get_vacancies\\(\\) takes no 'txt'"),
        ({"arguments": {"page": 3}}, "arguments: get_vacancies\\(\\) takes no 'page'"),
        ({"arguments": ["python"]}, "arguments: a JSON object expected, got a list"),
        ({"arguments": {"area": [["1"]]}}, r"arguments\.area\[0\]: .* got a list"),
        ({"arguments": {"salary": float("inf")}}, r"arguments\.salary: .* got inf"),
        ({"shortcut": True}, "unexpected shortcut"),
        ({"offset": None}, "missing offset"),
    ],
)
def test_a_saved_cursor_is_checked_whole_and_the_error_names_the_field(
    change: dict[str, Any], message: str
) -> None:
    saved = {**GOOD_CURSOR, "offset": 5, **change}
    saved = {k: v for k, v in saved.items() if v is not None or k != "offset"}
    with pytest.raises(ValueError, match="not a saved hh_async cursor: " + message):
        Cursor.from_json(json.dumps(saved))
    assert Cursor.from_json(json.dumps({**GOOD_CURSOR, "offset": 5})).offset == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", r"not JSON \(JSONDecodeError\)"),
        ("[" * 100_000 + "]" * 100_000, r"not JSON \(RecursionError\)"),
        ('["get-vacancies", {}, 100, 0, 0]', "a JSON object expected, got a list"),
        (None, r"not JSON \(TypeError\)"),
    ],
)
def test_a_cursor_that_is_not_json_or_too_deep_is_a_value_error(text: Any, message: str) -> None:
    with pytest.raises(ValueError, match="not a saved hh_async cursor: " + message):
        Cursor.from_json(text)


# --- nothing fetched ahead outlives the read ----------------------------------------------------------------


async def test_a_cancelled_reader_leaves_no_fetch_running_and_can_read_on(anyio_backend: str) -> None:
    transport = _Pages(total=100, held={1, 2, 3, 4})
    async with client("https://api.hh.ru", transport=transport) as hh:
        transport.release = anyio.Event()
        pages = hh.paginate(hh.get_vacancies, per_page=10, prefetch=4)
        ids: list[str] = []

        async def read() -> None:
            async for vacancy in pages:
                ids.append(vacancy.id)

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            await until(lambda: transport.in_flight == 4, "pages 1-4 in flight")
            group.cancel_scope.cancel()
        assert transport.in_flight == 0 and transport.cancelled == 4  # cancelled, and waited for
        assert len(ids) == 10 and pages.cursor == Cursor("get-vacancies", {}, 10, page=1)
        transport.release.set()
        ids += [vacancy.id async for vacancy in pages]
    assert ids == [str(n) for n in range(100)]


async def test_aclose_after_break_cancels_and_waits_for_the_pages_fetched_ahead(anyio_backend: str) -> None:
    # asyncio fetches ahead between items; trio only inside the call that needs a page
    ahead = 4 if anyio_backend == "asyncio" else 0
    transport = _Pages(total=100, held={1, 2, 3, 4})
    async with client("https://api.hh.ru", transport=transport) as hh:
        transport.release = anyio.Event()
        pages = hh.paginate(hh.get_vacancies, per_page=10, prefetch=4)
        async for _ in pages:
            await until(lambda: transport.in_flight == ahead, f"{ahead} pages in flight")
            break
        await pages.aclose()
        assert transport.in_flight == 0 and transport.cancelled == ahead
        transport.release.set()


async def test_an_abandoned_paginator_cancels_its_fetches(anyio_backend: str) -> None:
    ahead = 4 if anyio_backend == "asyncio" else 0
    transport = _Pages(total=100, held={1, 2, 3, 4})
    async with client("https://api.hh.ru", transport=transport) as hh:
        transport.release = anyio.Event()
        pages = hh.paginate(hh.get_vacancies, per_page=10, prefetch=4)
        async for _ in pages:
            await until(lambda: transport.in_flight == ahead, f"{ahead} pages in flight")
            break
        del pages  # no aclose(): dropped, as a `break` out of `async for v in hh.paginate(...)` does
        await until(lambda: transport.in_flight == 0, "the fetches cancelled")
        assert transport.cancelled == ahead and transport.asked == [0, 1, 2, 3, 4][: 1 + ahead]
        transport.release.set()


async def test_a_failed_page_ends_the_fetches_ahead_before_its_error_is_raised(anyio_backend: str) -> None:
    """Page 1 fails (once pages 2-4 are in flight): they are cancelled and have ended when the reader
    sees the error; reading on asks for page 1 again."""
    transport = _Pages(total=100, bad={1: ["404"]}, held={2, 3, 4})
    async with client("https://api.hh.ru", transport=transport) as hh:
        transport.release = anyio.Event()
        pages = hh.paginate(hh.get_vacancies, per_page=10, prefetch=4)
        seen: list[tuple[str, int, int]] = []

        async def read() -> None:
            with pytest.raises(e.NotFoundError) as raised:
                async for _ in pages:
                    pass
            seen.append((str(raised.value), transport.in_flight, transport.cancelled))

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            await until(lambda: bool(seen), "the error reaching the reader")
        assert seen == [("not_found; status 404", 0, 3)]
        assert pages.cursor == Cursor("get-vacancies", {}, 10, page=1)
        transport.release.set()
        assert len([vacancy async for vacancy in pages]) == 90
