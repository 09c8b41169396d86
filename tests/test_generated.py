"""The generated client (from the spec `make install` fetched): importable, complete, faithful, lazy."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen import generate, report, specfile

from .conftest import ROOT


def test_every_generated_module_imports() -> None:
    import hh_async._raw as raw

    names = [m.name for m in pkgutil.walk_packages(raw.__path__, prefix=f"{raw.__name__}.")]
    assert len(names) > 600
    for name in names:
        importlib.import_module(name)


def test_registry_covers_every_operation(current_spec: Path) -> None:
    from hh_async import OPERATIONS

    doc = specfile.load(current_spec)
    ids = {
        op["operationId"]
        for item in doc["paths"].values()
        for m, op in item.items()
        if m in specfile.HTTP_METHODS
    }
    assert set(OPERATIONS) == ids
    search = OPERATIONS["get-vacancies"]
    assert (search.method, search.path, search.paginated) == ("GET", "/vacancies", True)
    assert search.per_page == {"default": 10, "maximum": 100}
    page = search.responses["200"]
    assert isinstance(page, type)
    assert {"items", "found", "pages", "page", "per_page"} <= set(page.__annotations__)
    assert not OPERATIONS["get-vacancy"].paginated
    area = search.by_python_name["area"]
    assert (area.name, area.location, area.type, area.repeated) == ("area", "query", "string", True)
    assert OPERATIONS["get-vacancy"].by_python_name["vacancy_id"].location == "path"


def test_every_spec_example_round_trips(current_spec: Path) -> None:
    doc, _ = generate.prepare(current_spec, ROOT / "overlays")
    figures = report.build(doc, specfile.sha256(current_spec), ROOT / "hh_async")
    assert figures["examples_failures"] == []
    assert figures["examples_total"] > 50
    assert figures["responses_2xx_json_typed"] == figures["responses_2xx_json_total"]
    assert figures["operations_generated"] == figures["operations_total"]
    assert figures["generator_warnings"] == 0
    assert figures["non_ascii_identifiers"] == 0


def test_import_is_lazy() -> None:
    """`import hh_async` loads none of the generated models; the registry loads none either."""
    code = (
        "import sys, hh_async\n"
        "before = sorted(m for m in sys.modules if m.startswith('hh_async._raw'))\n"
        "ops = hh_async.OPERATIONS\n"
        "after = sorted(m for m in sys.modules if m.startswith('hh_async._raw.models.'))\n"
        "print(__import__('json').dumps([before, after, len(ops)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    before, after, count = json.loads(out.stdout)
    assert before == []
    assert after == []
    assert count > 100


def test_models_keep_what_hh_sends_beyond_the_spec() -> None:
    from hh_async import OPERATIONS

    models = OPERATIONS["get-vacancy"].responses["200"]
    assert isinstance(models, tuple)  # HH documents two shapes: for applicants and for managers
    model = models[0]
    body = {
        "id": "1",
        "name": None,  # null where the spec promises a string
        "brand_new_field": {"nested": [1, 2]},  # a key the spec does not list
        "type": {"id": "some_future_type", "name": "?"},  # an enum value the spec does not list
    }
    assert model.from_dict(body).to_dict() == body


@pytest.mark.parametrize("value", ["hh.ru", "hh.example"])
def test_enums_keep_unknown_values(value: str) -> None:
    from hh_async._raw.models import Host

    host = Host(value)
    assert host.value == value
    assert host.is_known == (value == "hh.ru")


def test_a_request_carries_only_what_the_caller_gave() -> None:
    """Multi-value filters repeat (area=1&area=2); HH's defaults are not sent on the caller's behalf."""
    from hh_async import OPERATIONS
    from hh_async.wire import build

    parts = build(OPERATIONS["get-vacancies"], {"text": "python", "area": ["1", "2"]})
    assert (parts.method, parts.path) == ("GET", "/vacancies?text=python&area=1&area=2")
    assert parts.headers == {} and parts.json is None and parts.form is None


def test_only_models_registry_and_facade_are_generated() -> None:
    """The generator's endpoint modules and Client would be code nothing runs: the client builds every
    request from the registry."""
    raw = ROOT / "hh_async" / "_raw"
    assert not (raw / "api").exists() and not (raw / "client.py").exists()
    assert {"models", "registry.py", "facade.py", "types.py"} <= {p.name for p in raw.iterdir()}


def test_signatures_show_unset_as_unset_and_it_survives_pickling() -> None:
    import inspect
    import pickle

    from hh_async import HHClient
    from hh_async._raw.types import UNSET

    assert "host: 'Host | str | Unset' = UNSET" in str(inspect.signature(HHClient.get_vacancy))
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
