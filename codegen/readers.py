"""How a lazy model reads a field of the shapes HH's models are made of, in a few plain lines.

The generator's own parsing code (the property templates' ``construct``) handles every shape, with a nested
function and a ``try`` per value; a model, an enum or a list of them (each maybe null, as tolerance makes
every field) is read as well by a line that keeps a value of another shape as it came, which is what that
code does too. Other shapes keep the generator's code.
"""

from __future__ import annotations

from typing import Any

from openapi_python_client.parser.properties.enum_property import EnumProperty
from openapi_python_client.parser.properties.list_property import ListProperty
from openapi_python_client.parser.properties.model_property import ModelProperty
from openapi_python_client.parser.properties.none import NoneProperty
from openapi_python_client.parser.properties.union import UnionProperty


def _single(prop: Any) -> Any:
    """The one non-null member of a nullable union (the property itself when it is no union)."""
    if isinstance(prop, UnionProperty):
        members = [p for p in prop.inner_properties if not isinstance(p, NoneProperty)]
        return members[0] if len(members) == 1 else None
    return prop


def _value(prop: Any, name: str) -> str | None:
    """An expression converting ``name`` to a model or an enum member, or keeping it as it came."""
    if isinstance(prop, ModelProperty):
        return f"{prop.class_info.name}._read({name})"  # keeps a value that is no object as it came
    if isinstance(prop, EnumProperty) and prop.value_type is str:
        return f"{prop.class_info.name}({name}) if isinstance({name}, str) else {name}"
    return None


def fast_load(prop: Any, source: str) -> list[str] | None:
    """Lines of a function body that return ``source`` read as ``prop``; None for the generator's code."""
    single = _single(prop)
    if single is None:
        return None
    if isinstance(single, ListProperty):
        item = _single(single.inner_property)
        expression = _value(item, "hh_item") if item is not None else None
        if expression is None:
            return None
        return [
            f"if not isinstance({source}, list):",
            f"    return {source}",
            f"return [{expression} for hh_item in {source}]",
        ]
    expression = _value(single, source)
    return None if expression is None else [f"return {expression}"]


def model_read(prop: Any) -> str | None:
    """``Class._read`` for a field holding one model (maybe null), which a first read can call as it is
    once the class is imported: no function of the field's own in between; None for other shapes."""
    single = _single(prop)
    return f"{single.class_info.name}._read" if isinstance(single, ModelProperty) else None


def tolerant_dump(prop: Any, source: str) -> list[str] | None:
    """Lines of a function body writing ``source`` back to JSON for a property that is a model, or a list
    of models, and not a union; None for other shapes. The generator's own code calls ``to_dict()`` on
    such a value unconditionally, but the reader kept a value of another shape as it came (a string
    where HH documents an object), and ``to_dict()`` of the model holding it must give it back as well."""
    if isinstance(prop, ModelProperty):
        return [f"return {source}.to_dict() if isinstance({source}, Model) else {source}"]
    if isinstance(prop, ListProperty) and isinstance(prop.inner_property, ModelProperty):
        return [
            f"if not isinstance({source}, list):",
            f"    return {source}",
            f"return [hh_item.to_dict() if isinstance(hh_item, Model) else hh_item for hh_item in {source}]",
        ]
    return None
