"""Models built from a body are lazy: a field is converted when first read, once, and what was never read
goes back out of ``to_dict()`` as it came. Everything else a user relies on holds as for plain models."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from codegen import examples, generate
from hh_async import OPERATIONS
from hh_async.models import UNSET, CredsAnswersInline, VacanciesItem, VacancySalary

from .conftest import ROOT


@pytest.fixture(scope="module")
def search_page(current_spec: Path) -> dict[str, Any]:
    """HH's own example of a search page (get-vacancies, 200): three items with every documented field."""
    doc, _ = generate.overlaid(current_spec, ROOT / "overlays")
    page = next(v for op, st, _, v in examples.spec_examples(doc) if (op, st) == ("get-vacancies", "200"))
    assert isinstance(page, dict) and page["items"]
    first = page["items"][0]
    page["items"] = [{**copy.deepcopy(first), "id": str(1000 + i)} for i in range(3)]
    return page


def page_model() -> Any:
    return OPERATIONS["get-vacancies"].responses["200"]


class Watched(dict[str, Any]):
    """A decoded object that records which keys were read."""

    def __init__(self, data: dict[str, Any], reads: set[str]) -> None:
        super().__init__(data)
        self.reads = reads

    def __getitem__(self, key: str) -> Any:
        self.reads.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.add(key)
        return super().get(key, default)


def test_a_nested_object_is_read_only_when_asked_for(search_page: dict[str, Any]) -> None:
    reads: set[str] = set()
    salary = Watched(search_page["items"][0]["salary"], reads)
    item = VacanciesItem.from_dict({**search_page["items"][0], "salary": salary})
    assert item.name == search_page["items"][0]["name"]
    assert reads == set()  # building the item and reading its name left the salary alone
    assert isinstance(item.salary, VacancySalary)
    assert item.salary.currency == search_page["items"][0]["salary"]["currency"]
    assert "currency" in reads


def test_a_field_is_converted_once(search_page: dict[str, Any]) -> None:
    page = page_model().from_dict(search_page)
    items = page.items
    assert items is page.items  # the same list: converted on the first read only
    first = items[0]
    assert isinstance(first, VacanciesItem)
    assert first.salary is first.salary
    assert isinstance(first.salary, VacancySalary)
    assert first.salary.to_dict() == search_page["items"][0]["salary"]


def test_what_was_never_read_goes_back_as_it_came(search_page: dict[str, Any]) -> None:
    page = page_model().from_dict(search_page)
    assert page.found == search_page["found"]
    out = page.to_dict()
    assert out == search_page
    assert out["items"] is search_page["items"]  # not rebuilt: nothing in it was read


def test_read_and_changed_fields_are_written_back(search_page: dict[str, Any]) -> None:
    body = copy.deepcopy(search_page)
    page = page_model().from_dict(body)
    page.items[0].name = "Renamed"
    page.items[1].salary = None
    page.found = UNSET  # a field set to UNSET leaves the body
    out = page.to_dict()
    assert out["items"][0]["name"] == "Renamed" and out["items"][1]["salary"] is None
    assert "found" not in out
    assert out["items"][2:] == search_page["items"][2:] and out["pages"] == search_page["pages"]
    assert body == search_page  # the decoded body itself was not changed


def test_unknown_keys_are_kept_read_or_not(search_page: dict[str, Any]) -> None:
    body = {**search_page["items"][0], "ai_summary": {"text": "new in 2027"}}
    item = VacanciesItem.from_dict(body)
    assert item.to_dict() == body
    assert item.additional_properties["ai_summary"] == {"text": "new in 2027"}
    assert "id" not in item.additional_properties  # declared fields are not "additional"
    item["ai_rank"] = 3
    del item["ai_summary"]
    assert item.to_dict() == {**search_page["items"][0], "ai_rank": 3}


def test_a_value_of_another_shape_is_kept_when_read(search_page: dict[str, Any]) -> None:
    body = {**search_page["items"][0], "salary": [1, "x"], "area": "Moscow", "professional_roles": None}
    item = VacanciesItem.from_dict(body)
    assert item.salary == [1, "x"]  # type: ignore[comparison-overlap]
    assert item.area == "Moscow"  # type: ignore[comparison-overlap]
    assert item.professional_roles is None
    assert item.to_dict() == body


def test_equality_repr_and_pickling_see_every_field(search_page: dict[str, Any]) -> None:
    lazy = page_model().from_dict(search_page)
    other = page_model().from_dict(copy.deepcopy(search_page))
    assert lazy == other
    other.items[0].name = "Renamed"
    assert lazy != other
    assert "Renamed" in repr(other)
    back = pickle.loads(pickle.dumps(page_model().from_dict(search_page)))
    assert back == lazy and back.to_dict() == search_page


def test_a_model_built_by_the_caller_is_plain() -> None:
    salary = VacancySalary(currency="RUR", from_=100, gross=True)
    assert salary.to_dict() == {"currency": "RUR", "from": 100, "gross": True}
    assert salary == VacancySalary.from_dict({"currency": "RUR", "from": 100, "gross": True})


def test_from_dict_refuses_what_is_not_an_object() -> None:
    with pytest.raises(TypeError):
        VacancySalary.from_dict([1, 2])  # type: ignore[arg-type]


class MySalary(VacancySalary):
    """A caller's subclass of a generated model, with a method of its own."""

    def label(self) -> str:
        return f"{self.from_}-{self.to} {self.currency}"


def test_a_subclass_of_a_model_is_built_as_itself() -> None:
    body = {"currency": "RUR", "from": 1, "to": 2, "mode": "x"}
    mine = MySalary.from_dict(body)
    assert type(mine) is MySalary and mine.label() == "1-2 RUR"
    assert mine.to_dict() == body and MySalary(currency="RUR").to_dict() == {"currency": "RUR"}


class ListKeyed(Mapping[str, Any]):
    """A mapping whose keys() is a plain list, as older mapping types give."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(self.data)


@pytest.mark.parametrize("body", [{"currency": "RUR", "from": 1}, {"currency": "RUR", "unknown": [1]}])
def test_any_mapping_is_a_body(body: dict[str, Any]) -> None:
    salary = VacancySalary.from_dict(ListKeyed(body))
    assert salary.currency == "RUR" and salary.to_dict() == body


@pytest.mark.parametrize("odd", [None, "text", 3, [1, {"a": 1}]])
def test_typed_unknown_keys_of_another_shape_go_back_as_they_came(odd: Any) -> None:
    # CredsAnswersInline keeps unknown keys as models: a value that is no object stays as HH sent it
    body = {"a": {"b": 1}, "odd": odd}
    model = CredsAnswersInline.from_dict(body)
    assert model.additional_properties["odd"] == odd
    assert model.to_dict() == body and pickle.loads(pickle.dumps(model)).to_dict() == body


def test_evolve_keeps_unknown_keys_and_changes_what_it_is_told() -> None:
    body = {"currency": "RUR", "from": 1, "new_in_2027": {"x": 1}}
    salary = VacancySalary.from_dict(body)
    changed = attrs.evolve(salary, to=5)
    assert changed.to_dict() == {**body, "to": 5} and salary.to_dict() == body
    built = VacancySalary(currency="RUR", additional_properties={"k": 1})
    assert built.to_dict() == {"currency": "RUR", "k": 1}
