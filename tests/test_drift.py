"""Drift warnings: what HH sends beyond the spec is logged once per field, never raised."""

from __future__ import annotations

import logging

import pytest

from hh_async import OPERATIONS
from hh_async.drift import DriftMonitor


def model(operation_id: str, status: str = "200") -> type:
    found = OPERATIONS[operation_id].responses[status]
    cls = found[0] if isinstance(found, tuple) else found
    assert isinstance(cls, type)
    return cls


def test_undocumented_fields_and_values_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    page = model("get-vacancies")
    body = {
        "found": 2,
        "items": [
            {"id": "1", "name": "A", "ai_summary": "new in 2027"},
            {"id": "2", "name": "B", "ai_summary": "again", "area": {"id": "1", "timezone": "MSK"}},
        ],
    }
    monitor = DriftMonitor()
    with caplog.at_level(logging.WARNING, logger="hh_async.drift"):
        for _ in range(3):  # the same drift in every response: still one line per field
            monitor.observe(page.from_dict(body))
    messages = sorted(r.getMessage() for r in caplog.records if "does not describe" in r.getMessage())
    assert len(messages) == 2
    assert "'ai_summary'" in messages[0] and "'timezone'" in messages[1]
    assert all("which the spec does not describe" in m for m in messages)


def test_unknown_enum_value_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    token = model("authorize")
    monitor = DriftMonitor()
    with caplog.at_level(logging.WARNING, logger="hh_async.drift"):
        monitor.observe(token.from_dict({"access_token": "x", "token_type": "bearer"}))
        assert not [r for r in caplog.records if "token_type" in r.getMessage()]
        monitor.observe(token.from_dict({"access_token": "x", "token_type": "mac"}))
    (record,) = [r for r in caplog.records if "token_type" in r.getMessage()]
    assert "'mac'" in record.getMessage() and "token_type" in record.getMessage()


def test_documented_bodies_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    body = {"found": 0, "items": [], "page": 0, "pages": 0, "per_page": 20}
    with caplog.at_level(logging.WARNING, logger="hh_async.drift"):
        DriftMonitor().observe(model("get-vacancies").from_dict(body))
    assert caplog.records == []


def test_broken_promises_are_logged_once_and_the_body_kept(caplog: pytest.LogCaptureFixture) -> None:
    # The types say `found: int` and `items: list[...]`; HH leaving one out or nulling it still parses,
    # keeps the body as it came, and tells the maintainer once.
    body = {"found": None, "items": [], "page": 0, "per_page": 20}
    monitor = DriftMonitor()
    with caplog.at_level(logging.WARNING, logger="hh_async.drift"):
        for _ in range(2):
            page = model("get-vacancies").from_dict(body)
            monitor.observe(page)
            assert page.to_dict() == body
    messages = sorted(r.getMessage() for r in caplog.records)
    assert len(messages) == 2, messages
    assert "left out" in messages[0] and ".pages" in messages[0]
    assert "null for" in messages[1] and ".found" in messages[1]
