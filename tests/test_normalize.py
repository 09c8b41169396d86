"""The normalizer's general rules, each on the smallest spec that shows its pattern."""

from __future__ import annotations

import json
from typing import Any

from codegen.facts import depth_cap, per_page_limits
from codegen.normalize import normalize


def spec(
    schemas: dict[str, Any] | None = None, params: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "tags": [{"name": "Поиск вакансий", "x-python-name": "vacancy_search"}],
        "components": {
            "schemas": schemas or {},
            "parameters": {
                "Host": {
                    "in": "query",
                    "name": "host",
                    "schema": {"type": "string", "enum": ["hh.ru", "hh.kz"]},
                },
                "HHUserAgent": {"in": "header", "name": "HH-User-Agent", "required": True, "schema": {}},
            },
        },
        "paths": {
            "/v": {
                "get": {
                    "operationId": "get-v",
                    "tags": ["Поиск вакансий", "Новый раздел"],
                    "parameters": [
                        *(params or []),
                        {"$ref": "#/components/parameters/Host"},
                        {"$ref": "#/components/parameters/HHUserAgent"},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        **extra,
    }


def test_titles_go_so_classes_are_named_after_keys() -> None:
    d = normalize(
        spec(
            {"Vacancy": {"title": "Вакансия", "type": "object", "properties": {"title": {"type": "string"}}}}
        )
    )
    vacancy = d["components"]["schemas"]["Vacancy"]
    assert "title" not in vacancy
    assert vacancy["description"] == "Вакансия"
    assert "title" in vacancy["properties"]  # a field called "title" is not a schema title


def test_tags_become_python_names_or_are_transliterated() -> None:
    d = normalize(spec())
    assert d["paths"]["/v"]["get"]["tags"] == ["vacancy_search", "novyy_razdel"]


def test_client_headers_are_dropped_and_host_is_one_shared_enum() -> None:
    d = normalize(spec())
    params = d["paths"]["/v"]["get"]["parameters"]
    assert params == [{"$ref": "#/components/parameters/Host"}]
    assert d["components"]["parameters"]["Host"]["schema"] == {"$ref": "#/components/schemas/Host"}
    assert d["components"]["schemas"]["Host"]["enum"] == ["hh.ru", "hh.kz"]


def test_paging_is_integer_and_documented_multi_value_filters_repeat() -> None:
    d = normalize(
        spec(
            params=[
                {"in": "query", "name": "page", "schema": {"type": "number", "default": 0}},
                {
                    "in": "query",
                    "name": "area",
                    "description": "Регион. Можно указать несколько значений",
                    "schema": {"type": "string"},
                },
                {
                    "in": "query",
                    "name": "text",
                    "description": "Можно указать несколько значений через запятую",
                    "schema": {"type": "string"},
                },
            ]
        )
    )
    page, area, text = d["paths"]["/v"]["get"]["parameters"][:3]
    assert page["schema"] == {"type": "integer"}
    assert page["x-hh-default"] == 0
    assert area["schema"] == {"type": "array", "items": {"type": "string"}}
    assert area["explode"] is True
    assert text["schema"] == {"type": "string"}


def test_union_with_hh_null_schema_becomes_nullable_reference() -> None:
    d = normalize(
        spec(
            {
                "Null": {"type": "string", "nullable": True, "enum": [None]},
                "Salary": {"type": "object", "properties": {"from": {"type": "integer"}}},
                "Vacancy": {
                    "type": "object",
                    "required": ["salary"],
                    "properties": {
                        "salary": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Salary"},
                                {"$ref": "#/components/schemas/Null"},
                            ]
                        }
                    },
                },
            }
        )
    )
    vacancy = d["components"]["schemas"]["Vacancy"]
    assert vacancy["properties"]["salary"] == {
        "oneOf": [{"$ref": "#/components/schemas/Salary"}],
        "nullable": True,
        # What the spec promised stays, for the field's type: there, and an object or null.
        "x-hh-promise": {"required": True, "nullable": True, "items_nullable": False},
    }
    assert "required" not in vacancy  # HH omits "required" fields: every field parses as optional


def test_inline_objects_become_named_components() -> None:
    d = normalize(
        spec(
            {
                "Base": {"type": "object", "properties": {"id": {"type": "string"}}},
                "Vacancy": {
                    "type": "object",
                    "properties": {
                        "employer": {
                            "nullable": True,
                            "allOf": [
                                {"$ref": "#/components/schemas/Base"},
                                {"properties": {"name": {"type": "string"}}},
                            ],
                        },
                    },
                },
            }
        )
    )
    schemas = d["components"]["schemas"]
    assert d["components"]["schemas"]["Vacancy"]["properties"]["employer"] == {
        "oneOf": [{"$ref": "#/components/schemas/VacancyEmployer"}],
        "nullable": True,
        "x-hh-promise": {"required": False, "nullable": True, "items_nullable": False},
    }
    assert "allOf" in schemas["VacancyEmployer"]
    assert "x-hh-promise" not in schemas["VacancyEmployer"]  # the promise is about the place, not the class


def test_dates_stay_strings_and_closed_objects_open() -> None:
    d = normalize(
        spec(
            {
                "E": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"at": {"type": "string", "format": "date-time"}},
                }
            }
        )
    )
    e = d["components"]["schemas"]["E"]
    assert "additionalProperties" not in e
    assert e["properties"]["at"] == {
        "type": "string",
        "nullable": True,
        "x-hh-promise": {"required": False, "nullable": False, "items_nullable": False},
    }


def test_the_spec_promise_is_kept_for_the_types() -> None:
    d = normalize(
        spec(
            {
                "Item": {"type": "object", "properties": {"id": {"type": "string"}}},
                "Page": {
                    "type": "object",
                    "required": ["items", "found"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "found": {"type": "integer"},
                        "note": {"type": "string", "nullable": True},
                        "tags": {"type": "array", "items": {"type": "string", "nullable": True}},
                    },
                },
            }
        )
    )
    props = d["components"]["schemas"]["Page"]["properties"]
    promised = {name: prop["x-hh-promise"] for name, prop in props.items()}
    assert promised == {
        "items": {"required": True, "nullable": False, "items_nullable": False},
        "found": {"required": True, "nullable": False, "items_nullable": False},
        "note": {"required": False, "nullable": True, "items_nullable": False},
        "tags": {"required": False, "nullable": False, "items_nullable": True},
    }
    assert all(prop["nullable"] for prop in props.values())  # while parsing tolerates anything


def test_schemaless_json_response_is_a_free_form_object() -> None:
    d = spec()
    d["paths"]["/v"]["get"]["responses"]["200"]["content"] = {"application/json": {}}
    normalize(d)
    schema = d["paths"]["/v"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"type": "object", "additionalProperties": True}


def test_query_defaults_are_documented_not_sent() -> None:
    d = normalize(
        spec(params=[{"in": "query", "name": "premium", "schema": {"type": "boolean", "default": False}}])
    )
    premium = d["paths"]["/v"]["get"]["parameters"][0]
    assert premium["schema"] == {"type": "boolean"}
    assert premium["x-hh-default"] is False


def test_paging_limits_stated_only_in_words_are_read() -> None:
    """HH writes some per_page maxima and every depth cap in prose; paginate() relies on both."""
    op = {
        "description": "глубина возвращаемых результатов не может быть больше `5000`. Например, ...",
        "parameters": [
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "number"},
                "description": "Количество элементов на страницу (по умолчанию — 20, максимум — 100 )",
            }
        ],
    }
    assert per_page_limits(op) == {"default": 20, "maximum": 100}
    assert depth_cap(op) == 5000
    declared = {"name": "per_page", "x-hh-default": 10, "schema": {"maximum": 50}}
    declared["description"] = "максимум 7"
    assert per_page_limits({"parameters": [declared]}) == {"default": 10, "maximum": 50}  # the schema wins
    assert depth_cap({"description": "Список"}) is None


def test_class_names_do_not_say_a_word_twice() -> None:
    """HH's keys repeat their file's name (``VacanciesVacanciesItem``) and a field named like its model
    repeated it again (``…WorkFormatWorkFormatItem``); a name that is taken keeps its words."""
    d = normalize(
        spec(
            {
                "VacanciesVacanciesItem": {
                    "type": "object",
                    "properties": {
                        "work_format": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"id": {"type": "string"}}},
                        }
                    },
                },
                "VacanciesWorkFormat": {
                    "type": "object",
                    "properties": {
                        "work_format": {"type": "object", "properties": {"id": {"type": "string"}}}
                    },
                },
                "ErrorsError": {"type": "object", "properties": {}},
                "Errors": {"type": "object", "properties": {}},
                "Holder": {
                    "type": "object",
                    "properties": {"it": {"$ref": "#/components/schemas/VacanciesVacanciesItem"}},
                },
            }
        )
    )
    schemas = d["components"]["schemas"]
    assert "VacanciesItem" in schemas and "VacanciesVacanciesItem" not in schemas
    assert "VacanciesVacanciesItem" not in json.dumps(d)  # every reference follows the new name
    assert "VacanciesItemWorkFormatItem" in schemas  # not VacanciesVacanciesItemWorkFormatItem
    # A field named like its own model holds the model's "…Value", not the model's own name again.
    assert "VacanciesWorkFormatValue" in schemas and "VacanciesWorkFormatWorkFormat" not in schemas
    assert "ErrorsError" in schemas  # "Errors" is taken: the key keeps its words


def test_free_form_objects_and_enums_with_null_get_names_not_type_numbers() -> None:
    """A nullable free-form object or an enum listing null, left inline, comes out of the generator as
    ``…Type0``/``…Type1``; named where they stand, they read as what they are."""
    d = normalize(
        spec(
            {
                "Me": {
                    "type": "object",
                    "properties": {
                        "negotiations_url": {"type": "object", "nullable": True},
                        "relations": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["blacklisted", None]},
                        },
                    },
                }
            }
        )
    )
    schemas = d["components"]["schemas"]
    assert schemas["MeNegotiationsUrl"]["type"] == "object"
    assert schemas["MeRelationsItem"]["enum"] == ["blacklisted"]  # null is said by the place instead
    assert json.dumps(schemas["Me"]["properties"]["relations"]["items"]).count('"nullable": true') == 1
