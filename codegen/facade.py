"""The client facade: every operation as a typed, keyword-only method, written into ``_raw/facade.py``.

Two classes come out of one walk over the generator's endpoints: ``Operations`` (methods return the parsed
2xx body) and ``RawOperations`` (methods return the generator's ``Response[T]``: status, headers, bytes and
the parsed body). Both delegate to ``_call(operation_id, arguments, extras...)``, which ``hh_async.HHClient``
provides: the facade names the operation and passes the arguments on, the client builds the request from
the registry.
Models are imported only for type checkers, so importing the facade loads none of them.
"""

from __future__ import annotations

import re
from typing import Any

from openapi_python_client.parser.openapi import Endpoint, GeneratorData
from openapi_python_client.parser.properties.enum_property import EnumProperty
from openapi_python_client.parser.properties.list_property import ListProperty
from openapi_python_client.parser.properties.model_property import ModelProperty

from . import docstrings, promises
from .facts import paginated
from .walk import operations

EXTRAS = (
    "extra_query: Mapping[str, Any] | None = None",
    "extra_headers: Mapping[str, str] | None = None",
    "extra_body: Mapping[str, Any] | None = None",
)
"""The escape hatches every method takes (see ``hh_async.wire.build``)."""


def _code(value: Any) -> str:
    return str(value.as_unembedded_code())


def return_type(endpoint: Endpoint) -> str:
    """The method's result: its 2xx answers' types, as one union (shared with ``codegen diff``)."""
    types = {
        "None"
        if response.source["attribute"] == "None"
        else promises.annotation(response.prop, promises.EXACT)
        for response in endpoint.responses
        if response.status_code.pattern.startswith("2")
    }
    return " | ".join(sorted(types - {"None"}) + (["None"] if "None" in types else [])) or "None"


def _parameter(prop: Any) -> str:
    """A parameter as the signature declares it; an enum's (``host``, ``order``) takes its plain string
    value too (``host="hh.kz"``), as the client sends either."""
    text = _code(prop.to_string())
    inner = prop.inner_property if isinstance(prop, ListProperty) else prop
    if isinstance(inner, EnumProperty):
        name = inner.class_info.name
        text = re.sub(rf"\b{name}\b", f"{name} | str", text, count=1)
    return text


def _signature(endpoint: Endpoint) -> tuple[list[str], list[str]]:
    """Keyword-only parameters (path first, then body, query, header) and the names they pass on."""
    params = [_parameter(p) for p in endpoint.path_parameters]
    names = [str(p.python_name) for p in endpoint.path_parameters]
    if endpoint.bodies:
        body = endpoint.bodies[0].prop
        params.append(f"body: {_code(body.get_type_string())}" + ("" if body.required else " = UNSET"))
        names.append("body")
    for param in [*endpoint.query_parameters, *endpoint.header_parameters]:
        params.append(_parameter(param))
        names.append(str(param.python_name))
    return params, names


def _item_type(endpoint: Endpoint) -> tuple[str, set[str]] | None:
    """The type of an item of a paged list's 200 answer (its ``items`` field), as its model declares it,
    and the imports it needs."""
    for response in endpoint.responses:
        if response.status_code.pattern == "200" and isinstance(response.prop, ModelProperty):
            model = response.prop
            for prop in [*(model.required_properties or ()), *(model.optional_properties or ())]:
                if promises.text(prop.name) == "items":
                    listed = promises.annotation(prop, promises.EXACT)
                    if listed.startswith("list[") and listed.endswith("]"):
                        return listed[5:-1], _class_imports(prop)
    return None


def _class_imports(prop: Any) -> set[str]:
    """``from .models.x import X`` for every generated class a property's type names."""
    found: set[str] = set()
    for inner in [*getattr(prop, "inner_properties", ()), getattr(prop, "inner_property", None)]:
        if inner is not None:
            found |= _class_imports(inner)
    info = getattr(prop, "class_info", None)
    if info is not None:
        found.add(f"from .models.{info.module_name} import {info.name}")
    return found


def _camel(operation_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in operation_id.replace("_", "-").split("-"))


def render(spec: dict[str, Any], data: GeneratorData) -> str:
    ids = {(m.upper(), p): op["operationId"] for p, m, op in operations(spec)}
    by_id = {op["operationId"]: op for _p, _m, op in operations(spec)}
    paged = {op["operationId"] for _p, _m, op in operations(spec) if paginated(op, spec)}
    items: list[str] = []
    imports: set[str] = set()
    methods: list[tuple[str, str, str, list[str], list[str], str]] = []
    for collection in data.endpoint_collections_by_tag.values():
        for endpoint in collection.endpoints:
            operation_id = ids[(endpoint.method.upper(), endpoint.path.get_untrusted_value())]
            for line in endpoint.relative_imports:
                if line.startswith("from ...models") or line.startswith("from ...types import File"):
                    imports.add(line.replace("from ...", "from .", 1))
            item = _item_type(endpoint) if operation_id in paged else None
            if item is not None:
                items.append(f"    {_camel(operation_id)}Item: TypeAlias = {item[0]}")
                imports |= item[1]
            params, names = _signature(endpoint)
            result = return_type(endpoint)
            doc = docstrings.render(endpoint, operation_id, by_id[operation_id], spec)
            methods.append((str(endpoint.name), operation_id, doc, params, names, result))
    methods.sort()
    lines = [
        '"""Every operation of the API as a method: written by codegen/facade.py; do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import TYPE_CHECKING, Any, TypeAlias",
        "",
        "from .types import UNSET, Response, Unset",
        "",
        "if TYPE_CHECKING:",
        *(f"    {line}" for line in sorted(imports)),
        "",
        "    # The item of each paged list (``GetVacanciesItem``), for types that follow it (hh.paginate).",
        *sorted(set(items)),
        "    pass",
        "",
    ]
    for cls, wrap in (("Operations", "{}"), ("RawOperations", "Response[{}]")):
        doc = (
            "parsed 2xx bodies" if cls == "Operations" else "raw responses: status, headers, content, parsed"
        )
        lines += [
            "",
            f"class {cls}:",
            f'    """HH operations, keyword arguments only, returning {doc}.',
            "",
            "    Every method also takes ``extra_query``, ``extra_headers`` and ``extra_body``: what the",
            "    spec does not describe (yet) is sent along, e.g. a parameter HH started requiring before",
            '    its spec listed it."""',
            "",
            "    async def _call(",
            "        self,",
            "        operation_id: str,",
            "        arguments: dict[str, Any],",
            "        extra_query: Mapping[str, Any] | None,",
            "        extra_headers: Mapping[str, str] | None,",
            "        extra_body: Mapping[str, Any] | None,",
            "    ) -> Any:",
            "        raise NotImplementedError",
        ]
        for name, operation_id, doc_line, params, names, returns in methods:
            signature = ", ".join(["self", "*", *params, *EXTRAS])
            arguments = ", ".join(f'"{n}": {n}' for n in names)
            returned = wrap.format(returns)
            lines += [
                "",
                f"    async def {name}({signature}) -> {returned}:",
                f'        """{doc_line.replace(docstrings.RESULT, returned)}"""',
                f"        result: {returned} = await self._call(",
                f"            {operation_id!r}, {{{arguments}}}, extra_query, extra_headers, extra_body",
                "        )",
                "        return result",
            ]
    return "\n".join(lines) + "\n"
