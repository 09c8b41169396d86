"""The normalizer's rules: general rewrites that make HH's spec generator-safe and its models tolerant.

Each rule is written against a *pattern* in the spec, never against one schema by name, so it keeps working
when HH publishes the next version. ``RULES`` run in order over the overlaid document, in place;
``TOLERANCE`` names those that make models accept more than the spec allows. Finding one's way through the
document (operations, every schema, an object's properties) is ``walk``'s.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .specfile import HTTP_METHODS, resolve_pointer
from .translit import python_name
from .walk import COMBINERS, Schema, each_schema, media_schemas, object_properties, operations, resolved


def schemaless_json_typed(doc: dict[str, Any]) -> None:
    """A JSON response documented without a schema is a free-form object (an array of them if its example
    is a list): typed, and it keeps every key HH sends."""
    for _path, _method, op in operations(doc):
        for response in (op.get("responses") or {}).values():
            media = (
                (response.get("content") or {}).get("application/json")
                if isinstance(response, dict)
                else None
            )
            if isinstance(media, dict) and not media.get("schema"):
                examples = [
                    e.get("value") for e in (media.get("examples") or {}).values() if isinstance(e, dict)
                ]
                free_form: Schema = {"type": "object", "additionalProperties": True}
                is_list = isinstance(media.get("example"), list) or any(isinstance(e, list) for e in examples)
                media["schema"] = {"type": "array", "items": free_form} if is_list else free_form


def names_from_keys(doc: dict[str, Any]) -> None:
    """Drop schema titles: the generator names classes after titles (Russian, often duplicated, which
    drops whole schemas); without them it names classes after component keys and property paths."""
    for schema in each_schema(doc):
        title = schema.pop("title", None)
        if isinstance(title, str) and "description" not in schema:
            schema["description"] = title


def dates_as_strings(doc: dict[str, Any]) -> None:
    """HH dates look like 2013-10-08T16:13:59+0400, which is not RFC 3339: typing them as datetimes would
    both reject valid bodies and rewrite them on to_dict(). Keep them the strings HH sends."""
    for schema in each_schema(doc):
        if str(schema.get("format", "")).lower() in {"date", "date-time", "datetime"}:
            del schema["format"]


def _is_null_schema(schema: Schema, doc: dict[str, Any]) -> bool:
    """A schema that admits only null: HH writes these as {type: string, nullable: true, enum: [null]}."""
    if "$ref" in schema:
        target = resolve_pointer(doc, schema["$ref"])
        return isinstance(target, dict) and _is_null_schema(target, doc)
    return schema.get("enum") == [None] or schema.get("type") == "null"


def nulls_as_nullable(doc: dict[str, Any]) -> None:
    """``oneOf/anyOf: [X, <null schema>]`` becomes nullable X. The generator cannot make a union member
    out of a string enum whose only value is null."""
    for schema in each_schema(doc):
        for key in ("oneOf", "anyOf"):
            members = schema.get(key)
            if not isinstance(members, list):
                continue
            kept = [m for m in members if not _is_null_schema(m, doc)]
            if len(kept) == len(members):
                continue
            schema["nullable"] = True
            schema.pop("type", None)
            if kept:
                schema[key] = kept
            else:
                del schema[key]


# Keywords of schemas that become classes or unions, i.e. whose values the generator checks.
_SHAPED = ("properties", "allOf", "oneOf", "anyOf", "enum")


PROMISE = "x-hh-promise"
"""What the spec promised about a property before ``tolerant_objects`` loosened it: ``required``,
``nullable`` and, for an array, ``items_nullable``. The model template types a field by it (a required field
without ``| None``, array items not Optional) while parsing stays tolerant."""


def tolerant_objects(doc: dict[str, Any]) -> None:
    """HH's responses omit fields the spec calls required, send null where it promises an object, and gain
    new keys every few months. Every property (and array element) is therefore optional and nullable, and
    every object keeps unknown keys. (The spec's own rules stay available for strict validation, and each
    property keeps the promise in ``x-hh-promise`` for the types.)"""
    # The promises first, all of them: loosening a schema changes what its parents would read.
    promised: dict[tuple[int, str], dict[str, bool]] = {}
    for schema in each_schema(doc):
        required = set(schema.get("required") or ())
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict):
                items = prop.get("items")
                promised[id(schema), name] = {
                    "required": name in required,
                    "nullable": _admits_null(prop, doc),
                    "items_nullable": _admits_null(items, doc) if isinstance(items, dict) else False,
                }
    for schema in each_schema(doc):
        schema.pop("required", None)
        if schema.get("additionalProperties") is False:
            del schema["additionalProperties"]
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            if "$ref" in prop:
                schema["properties"][name] = prop = {"oneOf": [prop], "nullable": True}
            else:
                prop["nullable"] = True
            prop[PROMISE] = promised[id(schema), name]
        # Array elements too: a union with null is what makes the generator keep a value of the wrong shape
        # as it came (and give it back in to_dict) instead of failing on it.
        items = schema.get("items")
        if isinstance(items, dict) and "$ref" in items:
            schema["items"] = {"oneOf": [items], "nullable": True}
        elif isinstance(items, dict) and any(k in items for k in _SHAPED):
            items["nullable"] = True


def _admits_null(schema: Schema, doc: dict[str, Any]) -> bool:
    """Whether the spec lets this schema be null (itself, through its $ref, or a null union member)."""
    target = resolved(schema, doc)
    if schema.get("nullable") or target.get("nullable") or _is_null_schema(target, doc):
        return True
    members = [*(target.get("oneOf") or ()), *(target.get("anyOf") or ())]
    return any(isinstance(m, dict) and _admits_null(m, doc) for m in members)


def nullable_enums_admit_null(doc: dict[str, Any]) -> None:
    """The generator reads an enum's nullability from its values, not from ``nullable`` (which it turns into
    a union of copies of the enum class): a nullable enum lists null among its values instead."""
    for schema in each_schema(doc):
        values = schema.get("enum")
        if isinstance(values, list) and schema.get("nullable"):
            del schema["nullable"]
            if None not in values:
                values.append(None)


def unions_in_allof_merged(doc: dict[str, Any]) -> None:
    """An allOf member that is a union of objects ("fields A or fields B") becomes one object with the
    properties of all its alternatives: the generator can only take allOf over objects, and a tolerant model
    accepts either alternative anyway."""
    for schema in each_schema(doc):
        for index, member in enumerate(schema.get("allOf") or ()):
            target = resolved(member, doc)
            if any(k in target for k in ("oneOf", "anyOf")) and "properties" not in target:
                merged = {name: _not_promised(prop) for name, prop in object_properties(target, doc).items()}
                schema["allOf"][index] = {"type": "object", "properties": merged}


def _not_promised(prop: Any) -> Any:
    """A property of one alternative among several: a body of another alternative need not have it."""
    if not isinstance(prop, dict) or PROMISE not in prop:
        return prop
    return {**prop, PROMISE: {**prop[PROMISE], "required": False}}


def allof_conflicts_resolved(doc: dict[str, Any]) -> None:
    """When allOf members declare the same property differently, the generator refuses to merge them. The
    schema itself then declares that property as the union of the candidates, which overrides them all."""
    for schema in each_schema(doc):
        members = schema.get("allOf")
        if not isinstance(members, list) or len(members) < 2:
            continue
        seen: dict[str, list[Any]] = {}
        for member in members:
            for name, prop in object_properties(member, doc).items():
                seen.setdefault(name, [])
                if prop not in seen[name]:
                    seen[name].append(prop)
        conflicts = {name: props for name, props in seen.items() if len(props) > 1 and _really_differ(props)}
        if not conflicts:
            continue
        override: dict[str, Any] = {}
        for name, props in conflicts.items():
            override[name] = props[-1]
        schema["allOf"] = [_without_properties(m, set(conflicts), doc) for m in members] + [
            {"type": "object", "properties": override}
        ]


def _really_differ(props: list[Any]) -> bool:
    shapes = {repr(_shape(p)) for p in props}
    return len(shapes) > 1


def _shape(prop: Any) -> Any:
    if not isinstance(prop, dict):
        return prop
    refs = [m.get("$ref") for k in ("oneOf", "anyOf") for m in prop.get(k) or ()]
    return (prop.get("$ref"), prop.get("type"), tuple(refs), bool(prop.get("allOf")))


def _without_properties(member: Schema, names: set[str], doc: dict[str, Any]) -> Schema:
    """The member as an inline object lacking ``names`` (a $ref is expanded to do so)."""
    props = object_properties(member, doc)
    if not names & set(props):
        return member
    return {"type": "object", "properties": {k: v for k, v in props.items() if k not in names}}


def nullable_components_at_use(doc: dict[str, Any]) -> None:
    """A nullable component schema is made non-nullable and every reference to it nullable instead
    (``oneOf: [$ref]`` + ``nullable``): the generator cannot build a nullable allOf, and a reference is where
    OpenAPI 3.0 lets nullability be said."""
    schemas = doc.get("components", {}).get("schemas", {})
    nullable = {f"#/components/schemas/{key}" for key, s in schemas.items() if s.pop("nullable", False)}
    nullable |= {f"#/components/schemas/{key}" for key, s in schemas.items() if _null_taken_out(s)}
    for schema in each_schema(doc):
        _wrap_refs(schema, lambda ref: ref in nullable)
        for key in ("oneOf", "anyOf"):
            if any(m.get("$ref") in nullable for m in schema.get(key) or ()):
                schema["nullable"] = True


def _null_taken_out(schema: Schema) -> bool:
    """An enum listing null among other values loses it (True): the place that refers to it says
    nullable instead, or the generator makes the class a union and names it ``…Type1``. ``[null]`` alone is
    HH's null schema, left to the rules about it."""
    values = schema.get("enum")
    if isinstance(values, list) and None in values and len(values) > 1:
        schema["enum"] = [value for value in values if value is not None]
        return True
    return False


def _wrap_refs(schema: Schema, wanted: Callable[[str], bool]) -> None:
    """Rewrite ``$ref`` children of ``schema`` (properties, items, allOf members...) as nullable unions."""

    def wrap(child: Any) -> Any:
        if isinstance(child, dict) and "$ref" in child and wanted(child["$ref"]):
            return {"oneOf": [{"$ref": child["$ref"]}], "nullable": True}
        return child

    for key in ("items", "additionalProperties"):
        if key in schema:
            schema[key] = wrap(schema[key])
    for name, child in list((schema.get("properties") or {}).items()):
        schema["properties"][name] = wrap(child)


def nullable_allof_as_union(doc: dict[str, Any]) -> None:
    """A nullable ``allOf`` becomes a nullable one-member union (the generator fails on nullable allOf)."""
    for schema in each_schema(doc):
        members = schema.get("allOf")
        if isinstance(members, list) and schema.get("nullable"):
            del schema["allOf"]
            schema.pop("type", None)
            schema["oneOf"] = [members[0]] if len(members) == 1 else [{"allOf": members}]


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]+[a-z0-9]*|[a-z0-9]+", name)


def _without_stutter(name: str) -> str:
    """``VacancyDraftVacancyDraftCommon`` -> ``VacancyDraftCommon``: a run of words said twice in a row is
    said once (the longest run first, repeatedly)."""
    words = _words(name)
    changed = True
    while changed:
        changed = False
        for size in range(len(words) // 2, 0, -1):
            for start in range(len(words) - 2 * size + 1):
                if words[start : start + size] == words[start + size : start + 2 * size]:
                    del words[start + size : start + 2 * size]
                    changed = True
                    break
            if changed:
                break
    return "".join(words)


def _joined(parent: str, suffix: str) -> str:
    """A name for what stands at ``suffix`` inside ``parent``, without saying twice what both say
    (``VacancyWorkFormat`` + ``WorkFormatItem`` -> ``VacancyWorkFormatItem``); a field named like its own
    model holds the model's ``…Value`` (``InvalidGrantError.error`` -> ``InvalidGrantErrorValue``)."""
    joined = _without_stutter(parent + suffix)
    return joined if joined != parent else parent + "Value"


def names_without_stutter(doc: dict[str, Any]) -> None:
    """HH's component keys prefix a schema's name with its file's (``Vacancies`` + ``VacanciesItem``), so
    class names say words twice (``VacanciesVacanciesItem``); each key loses its repeated runs
    (``VacanciesItem``), unless that name is taken. Deterministic: keys are taken in sorted order."""
    schemas = doc.get("components", {}).get("schemas", {})
    for key in sorted(schemas):
        new = _without_stutter(key)
        if new != key and new not in schemas:
            rename_component(doc, key, new)


def _is_inline_object(schema: Any) -> bool:
    """An inline object (a free-form one too), allOf or enum: what the generator must turn into a class of
    its own (left inline, a nullable one comes out as ``…Type0``)."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return False
    kind = "properties" in schema or "allOf" in schema or schema.get("type") == "object"
    return kind or bool(schema.get("enum"))


def inline_objects_named(doc: dict[str, Any]) -> None:
    """Every inline object, allOf or enum inside another schema becomes a component schema named after where
    it stands (``VacancyAddressOutput``, ``...Variant2``). The generator cannot build inline objects as union
    members, and nullable ones are unions (a nullable inline enum comes out as ``...Type1``); named components
    make stable, readable class names."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})

    def component(member: Schema, name: str) -> Schema:
        member = copy.deepcopy(member)  # a rule before may have shared it between places
        nullable = _null_taken_out(member) | member.pop("nullable", False)
        promise = member.pop(PROMISE, None)  # about the place it stood, not about the new class
        new = name
        while new in schemas and schemas[new] != member:
            new += "Inline"
        if new not in schemas:  # the same schema met again (allOf siblings repeat fields) is one class
            schemas[new] = member
            hoist(member, new)
        ref: Schema = {"$ref": f"#/components/schemas/{new}"}
        wrapped = {"oneOf": [ref], "nullable": True} if nullable else ref
        return {**wrapped, PROMISE: promise} if promise is not None else wrapped

    def hoist(schema: Schema, name: str) -> None:
        for key in ("oneOf", "anyOf"):
            members = schema.get(key) or []
            for index, member in enumerate(members):
                if _is_inline_object(member):
                    members[index] = component(
                        member, name if len(members) == 1 else f"{name}Variant{index + 1}"
                    )
        for prop, child in (schema.get("properties") or {}).items():
            if _is_inline_object(child):
                schema["properties"][prop] = component(child, _joined(name, _camel(prop)))
            elif isinstance(child, dict):
                hoist(child, _joined(name, _camel(prop)))
        for key, suffix in (("items", "Item"), ("additionalProperties", "Value")):
            child = schema.get(key)
            if isinstance(child, dict) and _is_inline_object(child):
                schema[key] = component(child, _joined(name, suffix))
            elif isinstance(child, dict):
                hoist(child, _joined(name, suffix))
        for member in schema.get("allOf") or ():
            hoist(member, name)

    for key, schema in list(schemas.items()):
        hoist(schema, key)
    for _path, _method, op in operations(doc):
        base = _camel(op.get("operationId", "operation"))
        for status, response in (op.get("responses") or {}).items():
            for schema in media_schemas(response) if isinstance(response, dict) else ():
                hoist(schema, f"{base}Response{status}")
        if isinstance(op.get("requestBody"), dict):
            for schema in media_schemas(op["requestBody"]):
                hoist(schema, f"{base}Body")


def single_unions_collapsed(doc: dict[str, Any]) -> None:
    """A one-member union is its member: inline members merge into the schema; a $ref member stays a union
    only when nullable (a $ref cannot carry ``nullable`` beside it in OpenAPI 3.0), else the schema becomes
    that $ref."""
    for schema in each_schema(doc):
        for key in ("oneOf", "anyOf"):
            members = schema.get(key)
            if not (isinstance(members, list) and len(members) == 1):
                continue
            (member,) = members
            if "$ref" in member:
                if not schema.get("nullable"):
                    schema.clear()
                    schema["$ref"] = member["$ref"]
                continue
            del schema[key]
            for name, value in member.items():
                if name == "nullable":
                    schema["nullable"] = bool(schema.get("nullable")) or bool(value)
                elif name not in schema or name in COMBINERS or name == "type":
                    schema[name] = value


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def rename_component(doc: dict[str, Any], old: str, new: str) -> None:
    """Rename a component schema and every $ref to it."""
    schemas = doc["components"]["schemas"]
    doc["components"]["schemas"] = {(new if k == old else k): v for k, v in schemas.items()}
    old_ref, new_ref = f"#/components/schemas/{old}", f"#/components/schemas/{new}"
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("$ref") == old_ref:
                node["$ref"] = new_ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def models_unlike_their_fields(doc: dict[str, Any]) -> None:
    """A model whose module name equals one of its fields (``Id`` with a field ``id``) makes the generator's
    from_dict() reuse one local name for both; such a component is renamed ``IdObject``."""
    schemas = doc.get("components", {}).get("schemas", {})
    for key in list(schemas):
        if _snake(key) in object_properties(schemas[key], doc):
            new = f"{key}Object"
            while new in schemas:
                new += "Object"
            rename_component(doc, key, new)


def shared_parameter_enums(doc: dict[str, Any]) -> None:
    """An inline enum in a shared parameter (``host``) becomes one component schema, so the generator
    writes one enum class instead of a copy per operation."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for key, param in doc.get("components", {}).get("parameters", {}).items():
        schema = param.get("schema")
        if isinstance(schema, dict) and "enum" in schema and "$ref" not in schema:
            name = key if key not in schemas else f"{key}Parameter"
            schemas[name] = schema
            param["schema"] = {"$ref": f"#/components/schemas/{name}"}


# Headers the client sends itself on every request.
CLIENT_HEADERS = frozenset({"hh-user-agent", "user-agent"})


def client_headers_removed(doc: dict[str, Any]) -> None:
    """``HH-User-Agent`` is declared (required) on every operation; the client sends it once for all."""

    def is_client_header(param: dict[str, Any]) -> bool:
        if "$ref" in param:
            param = resolve_pointer(doc, param["$ref"]) or {}
        return param.get("in") == "header" and str(param.get("name", "")).lower() in CLIENT_HEADERS

    for item in doc.get("paths", {}).values():
        holders = [item, *(op for method, op in item.items() if method in HTTP_METHODS)]
        for holder in holders:
            if isinstance(holder, dict) and "parameters" in holder:
                holder["parameters"] = [p for p in holder["parameters"] if not is_client_header(p)]


_PAGING = frozenset({"page", "per_page"})


def integer_paging(doc: dict[str, Any]) -> None:
    """``page``/``per_page`` are declared ``number``; HH wants whole numbers and a float would send '1.0'."""
    for _path, _method, op in operations(doc):
        for param in op.get("parameters", []):
            schema = param.get("schema") or {}
            if param.get("name") in _PAGING and schema.get("type") == "number":
                schema["type"] = "integer"
                for bound in ("default", "maximum", "minimum"):
                    if isinstance(schema.get(bound), float) and schema[bound].is_integer():
                        schema[bound] = int(schema[bound])


def query_defaults_not_sent(doc: dict[str, Any]) -> None:
    """A default of an optional query parameter is what HH assumes, not something to send: the generator
    would put every default (``premium=false&clusters=false&...``) on every request. It stays documented as
    ``x-hh-default``."""
    shared = list(doc.get("components", {}).get("parameters", {}).values())
    for param in shared + [p for _path, _method, op in operations(doc) for p in op.get("parameters", [])]:
        schema = param.get("schema")
        optional = param.get("in") == "query" and not param.get("required")
        if optional and isinstance(schema, dict) and "default" in schema:
            param["x-hh-default"] = schema.pop("default")


# "Можно указать несколько значений" (several values may be given) — but not "через запятую" (comma-joined,
# one parameter); "один или несколько" (one or several) ids.
_MULTI_VALUE = re.compile(r"можно указать несколько значений(?!\s+через запятую)|один или несколько", re.I)


def repeated_filters(doc: dict[str, Any]) -> None:
    """A scalar query filter documented to take several values becomes an exploded array: HH reads repeated
    parameters (``area=1&area=2``). An overlay may also mark one with ``x-hh-repeated: true``."""
    for _path, _method, op in operations(doc):
        for param in op.get("parameters", []):
            schema = param.get("schema")
            if param.get("in") != "query" or not isinstance(schema, dict):
                continue
            marked = param.pop("x-hh-repeated", None)
            described = _MULTI_VALUE.search(param.get("description") or "")
            if (marked or (described and marked is None)) and schema.get("type") in {"string", "integer"}:
                param["schema"] = {"type": "array", "items": schema}
                param["style"], param["explode"] = "form", True


def enum_values_as_names(doc: dict[str, Any]) -> None:
    """Enum member names come from values; an enum with a value that cannot make an ASCII identifier
    (Cyrillic, say) stays a plain string, its values kept in the description."""
    for schema in each_schema(doc):
        values = schema.get("enum")
        if isinstance(values, list) and any(isinstance(v, str) and not v.isascii() for v in values):
            del schema["enum"]
            listed = ", ".join(str(v) for v in values)
            schema["description"] = f"{schema.get('description', '')}\n\nValues: {listed}".strip()


def ascii_tags(doc: dict[str, Any]) -> None:
    """Tags become module names. Each tag takes the ``x-python-name`` an overlay gave it; a tag that no
    overlay names yet (a new one in a new spec) is transliterated, so the package stays ASCII."""
    names: dict[str, str] = {}
    merged: dict[str, dict[str, Any]] = {}
    for tag in doc.get("tags", []):
        existing = merged.setdefault(tag["name"], {})
        for key, value in tag.items():
            existing.setdefault(key, value)
    for name, tag in merged.items():
        names[name] = tag.get("x-python-name") or python_name(name)
    for _path, _method, op in operations(doc):
        tags = op.get("tags") or ["default"]
        op["tags"] = list(dict.fromkeys(names.get(t) or python_name(t) for t in tags))
    doc["tags"] = [
        {"name": names[name], **{k: v for k, v in tag.items() if k not in ("name", "x-python-name")}}
        for name, tag in merged.items()
    ]
    doc["tags"] = list({t["name"]: t for t in doc["tags"]}.values())


RULES: tuple[Callable[[dict[str, Any]], None], ...] = (
    ascii_tags,
    schemaless_json_typed,
    client_headers_removed,
    shared_parameter_enums,
    integer_paging,
    repeated_filters,
    query_defaults_not_sent,
    names_from_keys,
    names_without_stutter,
    dates_as_strings,
    enum_values_as_names,
    nulls_as_nullable,
    tolerant_objects,
    unions_in_allof_merged,
    nullable_components_at_use,
    nullable_allof_as_union,
    inline_objects_named,
    allof_conflicts_resolved,
    nullable_enums_admit_null,
    single_unions_collapsed,
    models_unlike_their_fields,
)


# Rules that make models accept more than the spec allows; off only to measure what tolerance costs.
TOLERANCE = frozenset({tolerant_objects})


def normalize(doc: dict[str, Any], tolerant: bool = True) -> dict[str, Any]:
    for rule in RULES:
        if tolerant or rule not in TOLERANCE:
            rule(doc)
    return doc
