"""What a ``mypy --strict`` user sees: types that follow the spec (a required field is not Optional, array
items are not Optional, a nullable field stays Optional) and paginators typed by their items.

Each case is a small program checked by mypy with the project's settings (strict); ``assert_type`` makes
mypy itself fail when a type is not the one promised.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import ROOT


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(source), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            str(program),
        ],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_readme_quick_start_type_checks_without_none_guards(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        from typing import assert_type

        from hh_async import HHClient
        from hh_async.models import Unset, VacanciesItem, VacancySalary


        async def main(hh: HHClient) -> None:
            page = await hh.get_vacancies(text="python", per_page=50)
            assert_type(page.items, list[VacanciesItem])  # required, items not Optional
            print(page.items[0].name.upper(), page.found + 1)
            for vacancy in page.items:
                print(vacancy.id, vacancy.name)
                assert_type(vacancy.salary, VacancySalary | None)  # required and nullable
                assert_type(vacancy.response_url, str | None | Unset)  # optional and nullable
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_the_spec_does_not_promise_still_needs_a_check(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        from hh_async import HHClient


        async def main(hh: HHClient) -> None:
            page = await hh.get_vacancies(text="python")
            print(page.items[0].salary.currency)  # salary may be null
            print(page.items[0].nmae)  # no such field: not silently Any
        """,
    )
    assert result.returncode == 1
    assert 'Item "None" of "VacancySalary | None" has no attribute "currency"' in result.stdout
    assert '"VacanciesItem" has no attribute "nmae"' in result.stdout


def test_a_paginator_is_typed_by_the_items_of_its_pages(tmp_path: Path) -> None:
    # The signature HHClient.paginate takes for a method (see hh_async.pagination.Page).
    result = mypy(
        tmp_path,
        """
        from __future__ import annotations

        from collections.abc import Awaitable, Callable
        from typing import TYPE_CHECKING, Any, TypeVar, assert_type

        from hh_async import HHClient
        from hh_async.models import VacanciesItem
        from hh_async.pagination import Page, Paginator

        T = TypeVar("T")


        def paginate(method: Callable[..., Awaitable[Page[T]]], **filters: Any) -> Paginator[T]:
            raise NotImplementedError


        async def main(hh: HHClient) -> None:
            async for vacancy in paginate(hh.get_vacancies, text="x"):
                assert_type(vacancy, VacanciesItem)
                print(vacancy.id.upper())


        if TYPE_CHECKING:  # each paged list's item type, named after its operation, for the client's types
            from hh_async._raw.facade import GetVacanciesItem


        def item(vacancy: GetVacanciesItem) -> None:
            assert_type(vacancy, VacanciesItem)
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hh_paginate_and_the_sweep_yield_typed_items(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        from typing import assert_type

        from hh_async import HHClient
        from hh_async.models import VacanciesItem


        async def main(hh: HHClient) -> None:
            async for vacancy in hh.paginate(hh.get_vacancies, text="x"):
                assert_type(vacancy, VacanciesItem)
                print(vacancy.id, vacancy.name)  # no None guard: HH promises both
            async for found in hh.search_all_vacancies(text="x"):
                assert_type(found, VacanciesItem)
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_enum_parameters_take_their_string_values_too(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        from hh_async import HHClient
        from hh_async.models import Host


        async def main(hh: HHClient) -> None:
            await hh.get_vacancies(host="hh.kz", text="python")
            await hh.get_vacancies(host=Host.HH_KZ, text="python")
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
