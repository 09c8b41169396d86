"""Types that follow the spec, parsing that stays tolerant.

``normalize.tolerant_objects`` makes every property optional and nullable so that the generator's parsing
code accepts whatever HH really sends; before it does, it writes what the spec promised into the property
(``x-hh-promise``). The model template annotates each field from that promise instead of from the tolerant
schema: a required field has no ``| Unset``, a field that may not be null has no ``| None``, array items
are not Optional. Types say what HH promises; ``hh_async.validation.validate()`` says whether a body kept
the promise (at runtime a field may still hold ``UNSET``, ``None`` or a value of another shape, kept so that
``to_dict()`` gives the body back unchanged).
"""

from __future__ import annotations

from typing import Any

import attrs
from openapi_python_client.parser.properties.list_property import ListProperty
from openapi_python_client.parser.properties.model_property import ModelProperty
from openapi_python_client.parser.properties.none import NoneProperty
from openapi_python_client.parser.properties.union import UnionProperty

from .normalize import PROMISE
from .walk import object_properties


@attrs.frozen
class Promise:
    required: bool
    nullable: bool
    items_nullable: bool = False


EXACT = Promise(required=True, nullable=False)
"""A whole body: there, not null, its items (of an array body) not null."""

# Properties whose value is kept as decoded: no conversion on read, none on to_dict().
_PLAIN = frozenset({"StringProperty", "IntProperty", "FloatProperty", "BooleanProperty", "AnyProperty"})


def promises(spec: dict[str, Any], model: ModelProperty) -> dict[str, Promise]:
    """JSON name -> promise, for the properties of the component schema ``model`` was generated from."""
    key = text(model.name).rsplit("/", 1)[-1]  # the generator names a component by its reference path
    schema = spec.get("components", {}).get("schemas", {}).get(key)
    if not isinstance(schema, dict):
        return {}
    found = {}
    for name, prop in object_properties(schema, spec).items():
        recorded = prop.get(PROMISE) if isinstance(prop, dict) else None
        if isinstance(recorded, dict):
            found[name] = Promise(**recorded)
    return found


def annotation(prop: Any, promise: Promise | None) -> str:
    """The type a field is declared with: what ``promise`` says, or the tolerant type when none was
    recorded (a free-form object's values, a spec generated without tolerance)."""
    tolerant = str(prop.get_type_string().as_unembedded_code())
    if promise is None:
        return tolerant
    types = _bare(prop, promise.items_nullable)
    if not types:
        return tolerant
    joined = _join(types)
    if promise.nullable:
        joined += " | None"
    if not promise.required:
        joined += " | Unset"
    return joined


def _bare(prop: Any, items_nullable: bool) -> set[str]:
    """Type strings of ``prop`` without None and Unset (array items: None only if ``items_nullable``)."""
    if isinstance(prop, NoneProperty):
        return set()
    if isinstance(prop, UnionProperty):
        return set().union(*(_bare(inner, items_nullable) for inner in prop.inner_properties))
    if isinstance(prop, ListProperty):
        inner = _bare(prop.inner_property, False)
        if not inner:
            return {str(prop.get_type_string(no_optional=True).as_unembedded_code())}
        return {f"list[{_join(inner)}{' | None' if items_nullable else ''}]"}
    return {str(prop.get_type_string(no_optional=True).as_unembedded_code())}


def text(value: Any) -> str:
    """Names from the spec come wrapped as untrusted strings (for templates); plain text here."""
    getter = getattr(value, "get_untrusted_value", None)
    return str(getter() if getter is not None else value)


def _join(types: set[str]) -> str:
    return " | ".join(sorted(types, key=str.lower))


def converts(prop: Any) -> bool:
    """Whether a decoded value needs converting to be read (a model, an enum, a list of them)."""
    if isinstance(prop, UnionProperty):
        return any(converts(inner) for inner in prop.inner_properties)
    if isinstance(prop, ListProperty):
        return converts(prop.inner_property)
    return not isinstance(prop, NoneProperty) and type(prop).__name__ not in _PLAIN
