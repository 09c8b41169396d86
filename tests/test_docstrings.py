"""Each method of the client documents what HH's spec says of it: every parameter, the result, the errors,
and where HH documents the operation."""

from __future__ import annotations

import inspect

from hh_async import HHClient
from hh_async._raw.facade import RawOperations
from hh_async.operations import registry


def test_every_method_documents_every_parameter_and_links_to_hh() -> None:
    for operation in registry().values():
        method = getattr(HHClient, operation.function)
        doc = inspect.getdoc(method) or ""
        assert f"https://api.hh.ru/openapi/redoc#operation/{operation.operation_id}" in doc
        assert f"{operation.method} {operation.path}" in doc
        named = {name for name in inspect.signature(method).parameters if not name.startswith("extra_")}
        for name in named - {"self"}:
            assert f"\n    {name}:" in doc, (operation.operation_id, name)
        assert "Returns:" in doc


def test_limits_defaults_enums_lists_and_errors_come_from_the_spec() -> None:
    doc = inspect.getdoc(HHClient.get_vacancies) or ""
    assert "per_page: Количество элементов. At most 100. HH's default: 10." in " ".join(doc.split("\n"))
    assert "Takes a list (the key repeats)." in doc  # area, professional_role...
    assert "Raises:" in doc and "400" in doc
    host = inspect.getdoc(HHClient.get_current_user_info) or ""
    assert "hh.ru, rabota.by" in host
    assert "](#" not in doc  # HH's relative links are made absolute: the IDE is not on HH's page
    raw = inspect.getdoc(RawOperations.get_vacancies) or ""
    assert "Response[" in raw.split("Returns:")[1]
