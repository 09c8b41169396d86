"""The README's complete examples work as printed: they pass ``mypy --strict`` and run against the fake HH
(with its URL and credentials in place of HH's)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import httpx
import pytest

from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH

from .conftest import ROOT
from .test_typing import mypy

MARKER = "<!-- checked by tests/test_readme.py"


def checked_examples() -> list[str]:
    """The code blocks the README marks as checked, in order: the quick start, the web app."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(re.escape(MARKER) + r"[^\n]*-->\n```python\n(.*?)```", text, flags=re.S)
    assert len(found) == 2, "the README's checked examples moved: update tests/test_readme.py"
    return found


def against(server: FakeHH, source: str) -> str:
    """The example aimed at the fake: its URL as the client's base_url, its application's credentials."""
    source = source.replace(
        'HHClient(user_agent="MyApp/1.0 (me@example.com)"',
        f'HHClient(base_url={server.url!r}, user_agent="MyApp/1.0 (me@example.com)"',
    )
    return source.replace('"CLIENT_ID"', repr(CLIENT_ID)).replace('"CLIENT_SECRET"', repr(CLIENT_SECRET))


@pytest.mark.parametrize("index", [0, 1], ids=["quick start", "web app"])
def test_the_example_passes_mypy_strict(tmp_path: Path, index: int) -> None:
    result = mypy(tmp_path, checked_examples()[index])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_quick_start_prints_vacancies_from_the_fake(tmp_path: Path) -> None:
    printed = io.StringIO()
    with FakeHH(vacancies=200) as server, contextlib.chdir(tmp_path), contextlib.redirect_stdout(printed):
        exec(compile(against(server, checked_examples()[0]), "README quick start", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert lines and all(re.fullmatch(r"\d+ .+", line) for line in lines)  # "id name" per vacancy
    assert (tmp_path / "app-token.json").is_file()  # the application token, kept where the example says


def test_the_web_app_answers_jobs_from_the_fake(tmp_path: Path) -> None:
    from hh_async.testing.served import ServedApp

    namespace: dict[str, object] = {}
    with FakeHH(vacancies=200) as server, contextlib.chdir(tmp_path):
        exec(compile(against(server, checked_examples()[1]), "README web app", "exec"), namespace)
        with ServedApp(namespace["app"], lifespan="on") as served:
            answer = httpx.get(f"{served.url}/jobs", params={"text": "python"}, timeout=30)
    assert answer.status_code == 200, answer.text
    jobs = answer.json()
    assert jobs and all(set(job) == {"id", "name"} for job in jobs)
    os.remove(tmp_path / "app-token.json")  # the example kept its token where it said
