"""The operation registry: every operation of the generated client, by HH's operationId.

Built from the plain data that codegen writes into ``_raw/registry.py``; model classes are imported only
when ``Operation.responses`` is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import MappingProxyType

import attrs

RAW = f"{__package__}._raw"

ResponseModel = type | tuple[type, ...] | None
"""The model class of a body (of its items, when the body is an array); a tuple when HH documents several
shapes for one status; None when the body is not JSON or has no model."""


@attrs.frozen
class Parameter:
    """One parameter of an operation, as the spec declares it (fields in the order codegen writes them)."""

    name: str
    """As HH spells it on the wire (``only_with_salary``)."""
    python_name: str
    """The method's keyword for it."""
    location: str
    """``path``, ``query`` or ``header``."""
    type: str
    """``string``, ``integer``, ``number``, ``boolean``, ``enum``, ``date`` or ``date-time``."""
    repeated: bool
    """A list of values: the key is sent once per value (``area=1&area=2``)."""
    required: bool
    enum: tuple[str, ...] | None
    """The values HH documents, for an ``enum``."""


@attrs.frozen
class Body:
    media: str
    """``json``, ``form`` (``application/x-www-form-urlencoded``) or ``multipart`` (``form-data``)."""
    model_ref: str | tuple[str, ...] | None = attrs.field(repr=False)
    required: bool


@attrs.frozen
class Operation:
    operation_id: str
    method: str
    path: str
    tags: tuple[str, ...]
    paginated: bool
    """A paged list: ``page``/``per_page`` in, ``{items, found, pages, page, per_page}`` out."""
    per_page: Mapping[str, int] | None
    """``per_page``'s ``default`` and ``maximum`` as the spec declares them."""
    depth_cap: int | None
    """How deep HH lets the list go: ``(page + 1) * per_page`` may not exceed it (2000 for searches)."""
    function: str
    model_refs: Mapping[str, str | tuple[str, ...] | None] = attrs.field(repr=False)
    parameters: tuple[Parameter, ...] = attrs.field(repr=False, default=())
    request_body: Body | None = attrs.field(repr=False, default=None)

    @functools.cached_property
    def by_python_name(self) -> Mapping[str, Parameter]:
        return MappingProxyType({p.python_name: p for p in self.parameters})

    @functools.cached_property
    def body(self) -> ResponseModel:
        """The model class of the request body, if the operation takes one."""
        return _resolve(self.request_body.model_ref) if self.request_body is not None else None

    @functools.cached_property
    def responses(self) -> Mapping[str, ResponseModel]:
        """Status code (as HH writes it, e.g. '200') -> model class of the body."""
        return MappingProxyType({status: _resolve(ref) for status, ref in self.model_refs.items()})


def _resolve(ref: str | tuple[str, ...] | None) -> ResponseModel:
    if ref is None:
        return None
    if isinstance(ref, tuple):
        return tuple(_model_class(r) for r in ref)
    return _model_class(ref)


def _model_class(ref: str) -> type:
    module, name = ref.split(":")
    cls: type = getattr(import_module(f"{RAW}.models.{module}"), name)
    return cls


def stale(package: Path) -> bool:
    """Whether, in a checkout, ``_raw`` was generated from another ``openapi.yml`` than the one beside it
    (by the spec's sha256 it recorded): its methods would speak of another API. False for an installed
    package, which has no spec beside it."""
    spec, made = package.parent / "openapi.yml", package / "_raw" / "generation.json"
    try:
        generated_from = json.loads(made.read_text(encoding="utf-8")).get("spec_sha256")
        return bool(generated_from != hashlib.sha256(spec.read_bytes()).hexdigest())
    except (OSError, ValueError):
        return False


def warn_if_stale(package: Path) -> None:
    """Say so, once, when the client a checkout imports is :func:`stale` (under a millisecond to check)."""
    if stale(package):
        warnings.warn(
            f"hh_async/_raw was generated from another spec than {package.parent / 'openapi.yml'}: "
            f"run `make generate`",
            StaleClientWarning,
            stacklevel=3,
        )


class StaleClientWarning(UserWarning):
    """The generated client is older than the spec beside it (a checkout that was not regenerated)."""


@functools.cache
def registry() -> Mapping[str, Operation]:
    try:
        data = import_module(f"{RAW}.registry").OPERATIONS
    except ModuleNotFoundError as exc:  # pragma: no cover - a checkout that never ran `make generate`
        raise ImportError("hh_async._raw is missing: run `make generate` (see README)") from exc
    warn_if_stale(Path(__file__).resolve().parent)
    return MappingProxyType(
        {
            op_id: Operation(
                operation_id=op_id,
                method=entry["method"],
                path=entry["path"],
                tags=tuple(entry["tags"]),
                paginated=entry["paginated"],
                per_page=MappingProxyType(entry["per_page"]) if entry["per_page"] else None,
                depth_cap=entry.get("depth_cap"),
                function=entry["function"],
                model_refs=entry["responses"],
                parameters=tuple(Parameter(*fields) for fields in entry["parameters"]),
                request_body=Body(**body) if (body := entry["body"]) else None,
            )
            for op_id, entry in data.items()
        }
    )
