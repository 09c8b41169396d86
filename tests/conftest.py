from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPECS = Path(os.environ.get("HH_SPECS_DIR", ROOT.parent / "shared" / "spec"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """A client generated from another spec than openapi.yml would make every test speak of the wrong API."""
    from hh_async.operations import stale

    if stale(ROOT / "hh_async"):
        pytest.exit(
            "hh_async/_raw is stale: openapi.yml changed since it was generated; run `make generate`", 2
        )


@pytest.fixture(scope="session")
def shared_specs() -> list[Path]:
    """The published spec versions the pipeline must handle (the repo never holds a copy)."""
    specs = sorted(SHARED_SPECS.glob("*.yml"))
    if len(specs) < 2:
        pytest.fail(f"expected HH's published specs in {SHARED_SPECS} (set HH_SPECS_DIR)")
    return specs


@pytest.fixture(scope="session")
def current_spec() -> Path:
    """The spec the importable hh_async was generated from (HH_TEST_SPEC when a test generated another)."""
    spec = Path(os.environ.get("HH_TEST_SPEC", ROOT / "openapi.yml"))
    if not spec.is_file():
        pytest.fail("openapi.yml is missing: run `make install` first")
    return spec


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Runtime tests marked ``anyio`` run under both event loops the client supports."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on loopback for this test session (never fakeredis: see DESIGN.md §7)."""
    from hh_async.testing.redis_server import redis_server

    with redis_server() as url:
        yield url


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    """A redis-py asyncio client of that server, closed after the test (files whose tests run on anyio
    rather than pytest-asyncio define their own)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
