"""pytest plugin (registered as ``hh_async``): the ``fake_hh`` fixture, a running fake HH per test.

def test_my_app(fake_hh):
    client = HHClient(user_agent="test", base_url=fake_hh.url)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeHH


@pytest.fixture
def fake_hh() -> Iterator[FakeHH]:
    with FakeHH(vacancies=2_000) as server:
        yield server
