"""HHClient's cache against the fake HH, as users run it: what the server sent is what counts."""

from __future__ import annotations

import httpx
import pytest

from hh_async import HHClient
from hh_async.testing import FakeHH

UA = "Tests/1.0 (dev@example.com)"


@pytest.mark.anyio
async def test_a_second_get_dictionaries_transfers_no_body(anyio_backend: str) -> None:
    server = FakeHH(vacancies=10)
    async with server, HHClient(user_agent=UA, base_url=server.url) as hh:
        first = await hh.get_dictionaries()
        assert await hh.get_dictionaries() == first  # fresh (max-age=1200): not even a request
        server.etags.max_age = 0  # from now on HH wants every reuse revalidated
        assert await hh.get_dictionaries(extra_headers={"Cache-Control": "no-cache"}) == first
        assert await hh.get_dictionaries() == first
    sent = [(s.status, s.body_bytes > 0) for s in server.etags.sent]
    assert sent == [(200, True), (304, False), (304, False)]


@pytest.mark.anyio
async def test_cache_false_and_no_store_fetch_every_time(anyio_backend: str) -> None:
    async with FakeHH(vacancies=10) as server:
        async with HHClient(user_agent=UA, base_url=server.url, cache=False) as hh:
            await hh.get_dictionaries()
            await hh.get_dictionaries()
        async with HHClient(user_agent=UA, base_url=server.url) as hh:
            await hh.get_dictionaries(extra_headers={"Cache-Control": "no-store"})
            await hh.get_dictionaries(extra_headers={"Cache-Control": "no-store"})
    assert [(s.status, s.body_bytes > 0) for s in server.etags.sent] == [(200, True)] * 4


def test_cache_with_an_own_http_client_is_refused() -> None:
    with pytest.raises(TypeError, match="cache"):
        HHClient(user_agent=UA, http_client=httpx.AsyncClient(), cache=False)
